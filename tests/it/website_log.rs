//! "Who looked" (`/log`) over real HTTP, against a real mesh: the patient
//! reads who asked about them and what was answered, newest first, in
//! their language and time zone, filtered by period and company, a page at
//! a time; nobody else's entries, and nothing for a visitor not signed in.

use std::net::IpAddr;

use reqwest::StatusCode;

use crate::support::*;
use crate::website::{Browser, company_with_dossier, website_url};

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// The texts of the log's rows, newest first.
fn log_rows(body: &str) -> Vec<&str> {
    body.split("<tr class=\"log-entry")
        .skip(1)
        .map(|row| &row[..row.find("</tr>").unwrap()])
        .collect()
}

#[tokio::test]
async fn the_patient_reads_who_asked_and_what_was_answered() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let linde = company_with_dossier(&mesh, "Huisarts De Linde", &patient).await;
    check_permission(&mesh, &linde, &patient).await.unwrap();
    let stranger = mesh.company_token("Nieuwsgierig BV").await;
    assert!(check_permission(&mesh, &stranger, &patient).await.is_err());
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;

    let page = browser.get("/log").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("aria-current=\"page\">Who looked"));
    for id in ["from", "to", "company_name"] {
        assert!(page.body.contains(&format!("<label for=\"{id}\">")), "{id}");
    }
    let rows = log_rows(&page.body);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[0].contains("Nieuwsgierig BV")
            && rows[0].contains("Refused: it keeps no dossier about you")
    );
    assert!(rows[0].contains("log-refused"));
    assert!(
        rows[1].contains("Asked whether it may see your data") && rows[1].contains("Not allowed")
    );
    assert!(rows[1].contains("You have not chosen yet"), "why");
    assert!(rows[2].contains("Opened a dossier about you"));
    assert!(!page.body.contains(&patient), "no BSN on the page");

    // Only one company's; Dutch.
    let mut dutch = Browser::new(&website_url(&mesh), loopback(2)).dutch();
    dutch.sign_in(&patient, PASSWORD).await;
    let page = dutch.get("/log?company_name=huisarts+de+linde").await;
    assert!(page.body.contains("Wie keek er"));
    let rows_nl = log_rows(&page.body);
    assert_eq!(rows_nl.len(), 2);
    assert!(rows_nl.iter().all(|row| row.contains("Huisarts De Linde")));
    assert!(rows_nl[0].contains("Vroeg of hij uw gegevens mag inzien"));

    // A period before anything happened shows nothing; a bad date says so.
    let empty = browser.get("/log?from=2020-01-01&to=2020-12-31").await;
    assert!(log_rows(&empty.body).is_empty());
    assert!(
        empty
            .body
            .contains("Nothing has been logged about you for this selection.")
    );
    let bad = browser.get("/log?from=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("Enter dates as YYYY-MM-DD."));

    // Another patient's log is their own.
    let other = bsn(2);
    mesh.patient_token(&other).await;
    let mut theirs = Browser::new(&website_url(&mesh), loopback(3));
    theirs.sign_in(&other, PASSWORD).await;
    assert!(log_rows(&theirs.get("/log").await.body).is_empty());

    let mut stranger_browser = Browser::new(&website_url(&mesh), loopback(4));
    let page = stranger_browser.get("/log").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/signin"));
    mesh.stop().await;
}

#[tokio::test]
async fn older_entries_are_a_page_away() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let company = company_with_dossier(&mesh, "Vaak Vragend BV", &patient).await;
    for _ in 0..60 {
        check_permission(&mesh, &company, &patient).await.unwrap();
    }
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;
    let first = browser.get("/log?company_name=Vaak+Vragend+BV").await;
    assert_eq!(log_rows(&first.body).len(), 50);
    let marker = "<a href=\"";
    let older = first.body[first.body.rfind("Older entries").unwrap() - 300..]
        .split(marker)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(older.starts_with("/log?") && older.contains("company_name=Vaak+Vragend+BV"));
    let second = browser.get(&older).await;
    assert_eq!(
        log_rows(&second.body).len(),
        11,
        "the other checks and the CreateDossier"
    );
    assert!(!second.body.contains("Older entries"));
    mesh.stop().await;
}
