//! The patient's choices on the website over real HTTP, against a real
//! mesh: the dashboard's buttons, reasons and "until" dates, the Choices
//! page (finding a company, choosing before it asks, a default, withdrawing,
//! the history), its errors next to the form, and the FHIR download.
//! `browser_e2e` clicks the same in Chromium.

use std::net::IpAddr;

use reqwest::StatusCode;
use toestemming::proto::dossier::v1::*;

use crate::support::*;
use crate::website::{Browser, Page, company_with_dossier, website_url};

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// The `<tr>` of the dashboard row for `company`.
fn dossier_row<'a>(page: &'a Page, company: &str) -> &'a str {
    let at = page
        .body
        .find(&format!(
            "<th scope=\"row\" class=\"company\">{company}</th>"
        ))
        .unwrap_or_else(|| panic!("no row for {company}"));
    let start = page.body[..at].rfind("<tr").unwrap();
    let end = at + page.body[at..].find("</tr>").unwrap();
    &page.body[start..end]
}

/// The dossier id in a dashboard row.
fn dossier_id(row: &str) -> String {
    let marker = "data-dossier-id=\"";
    let start = row.find(marker).unwrap() + marker.len();
    row[start..start + 36].to_owned()
}

async fn check(mesh: &TestMesh, company: &str, patient: &str) -> CheckPermissionResponse {
    check_permission(mesh, company, patient).await.unwrap()
}

#[tokio::test]
async fn the_dashboard_shows_why_until_when_and_only_the_buttons_that_change_something() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let company = company_with_dossier(&mesh, "Huisarts De Linde", &patient).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;

    let page = browser.get("/").await;
    let row = dossier_row(&page, "Huisarts De Linde");
    assert!(row.contains("Waiting for your decision"));
    assert!(row.contains("You have not chosen yet"));
    assert!(row.contains("value=\"approve\"") && row.contains("value=\"decline\""));
    assert!(
        row.contains("<label for=\"expire-date-") && row.contains("name=\"expire_date\""),
        "an approval may carry a date, with a label"
    );
    // Amsterdam's offset now: +01:00 in winter, +02:00 in summer.
    static AMSTERDAM: jiff::tz::TimeZone = jiff::tz::get!("Europe/Amsterdam");
    let offset = jiff::Timestamp::now()
        .to_zoned(AMSTERDAM.clone())
        .strftime("%:z")
        .to_string();
    assert!(
        row.contains(&format!("{offset}\">")),
        "times in Amsterdam ({offset}): {row}"
    );
    let id = dossier_id(row);
    let csrf = page.csrf();

    // Approve until a day next year: granted, until that day, Decline only.
    let next_year = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year()
        + 1;
    let last_day = format!("{next_year}-06-30");
    let approved = browser
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("dossier_id", &id),
                ("decision", "approve"),
                ("expire_date", &last_day),
            ],
        )
        .await;
    assert_eq!(approved.location(), "/?notice=saved");
    let answer = check(&mesh, &company, &patient).await;
    assert!(answer.gave_permission);
    assert_eq!(answer.reason(), DecisionReason::CompanyChoice);
    // The end of 30 June in Amsterdam (summer time): 22:00 UTC.
    let end: jiff::Timestamp = format!("{next_year}-06-30T22:00:00Z").parse().unwrap();
    assert_eq!(answer.expire_time.unwrap().seconds, end.as_second());
    let page = browser.get("/").await;
    let row = dossier_row(&page, "Huisarts De Linde");
    assert!(row.contains("Approved") && row.contains("Your choice for this company"));
    assert!(row.contains(&format!("30 Jun {next_year}")), "{row}");
    assert!(
        !row.contains("value=\"approve\""),
        "approving again changes nothing"
    );
    assert!(row.contains("value=\"decline\""));

    // Decline: Approve only.
    browser
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("dossier_id", &id),
                ("decision", "decline"),
            ],
        )
        .await;
    let page = browser.get("/").await;
    let row = dossier_row(&page, "Huisarts De Linde");
    assert!(row.contains("Declined"));
    assert!(row.contains("value=\"approve\"") && !row.contains("value=\"decline\""));

    // A date that is over is refused, and nothing changes.
    let past = browser
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("dossier_id", &id),
                ("decision", "approve"),
                ("expire_date", "2020-01-01"),
            ],
        )
        .await;
    assert_eq!(past.location(), "/?notice=bad_date");
    assert!(
        browser
            .get(past.location())
            .await
            .body
            .contains("Choose a date from today on")
    );
    assert!(!check(&mesh, &company, &patient).await.gave_permission);
    mesh.stop().await;
}

#[tokio::test]
async fn a_patient_chooses_on_the_choices_page_before_the_company_asks() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let linde = mesh.company_token("Huisartsenpraktijk De Linde").await;
    mesh.verify_company("Huisartsenpraktijk De Linde").await;
    mesh.company_token("Huisartsenpost Oost").await; // registered, not verified
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;

    let page = browser.get("/choices").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("aria-current=\"page\""));
    assert!(page.body.contains("You have no choice for every company"));
    for id in [
        "q",
        "company_name",
        "expire_date",
        "consent-granted",
        "consent-declined",
        "expire-date-every",
    ] {
        assert!(
            page.body.contains(&format!("<label for=\"{id}\">")),
            "{id} has a label"
        );
    }

    // Find it by the start of its name: verified companies only.
    let found = browser.get("/choices?q=huisarts").await;
    assert!(
        found
            .body
            .contains("<span class=\"company\">Huisartsenpraktijk De Linde</span>")
    );
    assert!(!found.body.contains("Huisartsenpost Oost"), "not verified");

    // Choose by typing the name in another case.
    let csrf = found.csrf();
    let saved = browser
        .post(
            "/choices",
            &[
                ("csrf_token", &csrf),
                ("company_name", "huisartsenpraktijk de linde"),
                ("consent", "GRANTED"),
                ("expire_date", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/choices?notice=choice_saved");
    let page = browser.get(saved.location()).await;
    assert!(page.body.contains("Your choice has been saved."));
    assert!(
        page.body
            .contains("<th scope=\"row\" class=\"company\">Huisartsenpraktijk De Linde</th>"),
        "as Identity spells it"
    );

    // The company asks afterwards: granted, and it is told why.
    let created = create_dossier(&mesh, &linde, &patient).await;
    assert_eq!(created.consent(), ConsentStatus::Granted);
    let answer = check(&mesh, &linde, &patient).await;
    assert!(answer.gave_permission);
    assert_eq!(answer.reason(), DecisionReason::CompanyChoice);
    mesh.stop().await;
}

#[tokio::test]
async fn a_default_for_every_company_can_be_set_limited_and_withdrawn() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let verified = company_with_dossier(&mesh, "Apotheek Het Kruis", &patient).await;
    mesh.verify_company("Apotheek Het Kruis").await;
    let unverified = company_with_dossier(&mesh, "Net Geregistreerd BV", &patient).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1)).dutch();
    browser.sign_in(&patient, PASSWORD).await;
    let csrf = browser.get("/choices").await.csrf();

    let next_year = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year()
        + 1;
    let saved = browser
        .post(
            "/choices",
            &[
                ("csrf_token", &csrf),
                ("every_company", "true"),
                ("consent", "GRANTED"),
                ("expire_date", &format!("{next_year}-12-31")),
            ],
        )
        .await;
    assert_eq!(saved.location(), "/choices?notice=choice_saved");
    let answer = check(&mesh, &verified, &patient).await;
    assert_eq!(
        (answer.gave_permission, answer.reason()),
        (true, DecisionReason::DefaultChoice)
    );
    assert!(
        !check(&mesh, &unverified, &patient).await.gave_permission,
        "a default never covers an unverified company"
    );
    let page = browser.get("/choices").await;
    assert!(page.body.contains("<html lang=\"nl\">"));
    assert!(page.body.contains("Uw keuze voor alle zorgaanbieders"));
    assert!(
        page.body.contains(&format!("31-12-{next_year}")),
        "the last day, Dutch style"
    );
    let dashboard = browser.get("/").await;
    let row = dossier_row(&dashboard, "Apotheek Het Kruis");
    assert!(row.contains("Toegestaan") && row.contains("Uw keuze voor alle zorgaanbieders"));

    let withdrawn = browser
        .post(
            "/choices/clear",
            &[("csrf_token", &csrf), ("every_company", "true")],
        )
        .await;
    assert_eq!(withdrawn.location(), "/choices?notice=choice_withdrawn");
    assert_eq!(
        check(&mesh, &verified, &patient).await.reason(),
        DecisionReason::NoChoice
    );
    let page = browser.get("/choices").await;
    assert!(page.body.contains("Geschiedenis"));
    assert!(
        page.body.matches("class=\"history-version\"").count() == 1,
        "the withdrawn default stays in the history"
    );
    let again = browser
        .post(
            "/choices/clear",
            &[("csrf_token", &csrf), ("every_company", "true")],
        )
        .await;
    assert_eq!(again.location(), "/choices?notice=no_such_choice");
    mesh.stop().await;
}

#[tokio::test]
async fn a_choice_that_cannot_be_made_is_explained_next_to_the_form() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;
    let csrf = browser.get("/choices").await.csrf();

    let unknown = browser
        .post(
            "/choices",
            &[
                ("csrf_token", &csrf),
                ("company_name", "Niemand BV"),
                ("consent", "DECLINED"),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown
            .body
            .contains("No company is registered under that name.")
    );
    assert!(
        unknown.body.contains("value=\"Niemand BV\""),
        "what was typed is kept"
    );
    assert!(unknown.body.contains("href=\"#company_name\""));

    let incomplete = browser
        .post(
            "/choices",
            &[
                ("csrf_token", &csrf),
                ("company_name", ""),
                ("expire_date", "not a date"),
            ],
        )
        .await;
    assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
    for anchor in ["#company_name", "#consent", "#expire_date"] {
        assert!(
            incomplete.body.contains(&format!("href=\"{anchor}\"")),
            "{anchor}"
        );
    }

    let forged = browser
        .post(
            "/choices",
            &[
                ("csrf_token", "forged"),
                ("every_company", "true"),
                ("consent", "GRANTED"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let own = login(&mesh, &patient, PASSWORD).await.unwrap();
    assert!(
        list_choices(&mesh, &own, true).await.unwrap().is_empty(),
        "nothing recorded"
    );

    // Signed out: to sign in.
    let mut stranger = Browser::new(&website_url(&mesh), loopback(2));
    for path in ["/choices", "/choices.fhir.json"] {
        let page = stranger.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(page.location().starts_with("/signin"), "{path}");
    }
    mesh.stop().await;
}

#[tokio::test]
async fn the_fhir_download_holds_every_version_and_no_bsn_or_name() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    let (pseudoniem, token) = mesh.patient_token(&patient).await;
    mesh.company_token("Ziekenhuis Noord").await;
    set_choice(
        &mesh,
        &token,
        Some("Ziekenhuis Noord"),
        ConsentStatus::Declined,
        None,
    )
    .await
    .unwrap();
    set_choice(
        &mesh,
        &token,
        Some("Ziekenhuis Noord"),
        ConsentStatus::Granted,
        None,
    )
    .await
    .unwrap();
    set_choice(&mesh, &token, None, ConsentStatus::Declined, None)
        .await
        .unwrap();
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;

    let download = browser.get("/choices.fhir.json").await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(
        download
            .header("content-type")
            .starts_with("application/fhir+json")
    );
    assert!(
        download
            .header("content-disposition")
            .starts_with("attachment")
    );
    assert!(!download.body.contains(&patient), "no BSN");
    assert!(!download.body.contains("Jansen"), "no name");
    let bundle: serde_json::Value = serde_json::from_str(&download.body).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "one Consent per version");
    let statuses: Vec<&str> = entries
        .iter()
        .map(|entry| entry["resource"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "active").count(), 2);
    assert_eq!(statuses.iter().filter(|s| **s == "inactive").count(), 1);
    for entry in entries {
        let consent = &entry["resource"];
        assert_eq!(consent["resourceType"], "Consent");
        assert_eq!(
            consent["patient"]["identifier"]["value"],
            format!("urn:uuid:{pseudoniem}")
        );
        assert_eq!(consent["scope"]["coding"][0]["code"], "patient-privacy");
    }
    mesh.stop().await;
}
