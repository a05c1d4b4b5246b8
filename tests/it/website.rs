//! The patient website's pages over real HTTP, against a real mesh: each
//! page, CSRF refusal, the expired and tampered cookie, a service that is
//! down, the headers, both languages, and sign-in throttling per browser.
//!
//! A `Browser` keeps cookies the way a browser does (by name, replaced and
//! removed by `Set-Cookie`) and never follows redirects, so every answer
//! can be inspected. `browser_e2e` drives the same flows in Chromium.

use std::collections::BTreeMap;
use std::net::IpAddr;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::*;
use toestemming::settings::ServiceKind;
use tokio_util::sync::CancellationToken;

use crate::support::jwt;
use crate::support::*;

/// One browser: a cookie jar and an address.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    language: &'static str,
}

/// What the website answered.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the first CSRF field on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("the page has a form") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }

    /// The `Set-Cookie` line for `name`, if the answer sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|line| line.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

impl Browser {
    pub fn new(base: &str, from: IpAddr) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(from)
                .no_proxy()
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
            language: "en",
        }
    }

    pub fn dutch(mut self) -> Self {
        self.language = "nl-NL,nl;q=0.9,en;q=0.5";
        self
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        for line in headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = line.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = line.contains("Max-Age=0") || value.is_empty();
            if removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.language)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.language)
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// Registers through the form; the answer to the POST.
    pub async fn register(&mut self, bsn: &str, first: &str, last: &str, password: &str) -> Page {
        let csrf = self.get("/register").await.csrf();
        self.post(
            "/register",
            &[
                ("csrf_token", &csrf),
                ("bsn", bsn),
                ("first_name", first),
                ("last_name", last),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in through the form; the answer to the POST.
    pub async fn sign_in(&mut self, bsn: &str, password: &str) -> Page {
        let csrf = self.get("/signin").await.csrf();
        self.post(
            "/signin",
            &[("csrf_token", &csrf), ("bsn", bsn), ("password", password)],
        )
        .await
    }
}

pub fn website_url(mesh: &TestMesh) -> String {
    format!("http://{}", mesh.addr(ServiceKind::Website))
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A company's token and a dossier it created for `bsn`.
pub async fn company_with_dossier(mesh: &TestMesh, company: &str, bsn: &str) -> String {
    let token = mesh.company_token(company).await;
    mesh.dossier()
        .create_dossier(authed(CreateDossierRequest { bsn: bsn.into() }, &token))
        .await
        .unwrap();
    token
}

pub async fn permission(mesh: &TestMesh, company: &str, bsn: &str) -> bool {
    mesh.dossier()
        .check_permission(authed(CheckPermissionRequest { bsn: bsn.into() }, company))
        .await
        .unwrap()
        .into_inner()
        .gave_permission
}

#[track_caller]
fn assert_security_headers(page: &Page) {
    let csp = page.header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
}

// ---------------------------------------------------------------------------
// pages and headers

/// The server's own refusals carry the headers too (issue 17): a body past
/// the limit is answered 413 by the layer in front of the routes.
#[tokio::test]
async fn a_body_past_the_limit_is_refused_with_the_security_headers() {
    let mesh = TestMesh::start().await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    let huge = "x".repeat(mesh.settings.limits.max_message_bytes + 1);
    let page = browser.post("/signin", &[("bsn", &huge)]).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_security_headers(&page);
    assert_eq!(page.header("cache-control"), "no-store");
    mesh.stop().await;
}

#[tokio::test]
async fn every_page_is_accessible_markup_with_the_security_headers() {
    let mesh = TestMesh::start().await;
    for path in ["/register", "/signin"] {
        let mut fresh = Browser::new(&website_url(&mesh), loopback(1));
        let page = fresh.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_security_headers(&page);
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        assert!(page.body.contains("<html lang=\"en\">"), "{path}");
        assert!(!page.body.contains("<script"), "{path}");
        assert!(!page.body.contains("style="), "{path}: no inline style");
        // Every input but the hidden CSRF field has a label.
        for id in ["bsn", "password"] {
            assert!(
                page.body.contains(&format!("<label for=\"{id}\">")),
                "{path}: {id}"
            );
            assert!(
                page.body.contains(&format!("id=\"{id}\" name=\"{id}\"")),
                "{path}: {id}"
            );
        }
        let csrf_cookie = page
            .set_cookie("toestemming_csrf")
            .expect("a CSRF nonce cookie");
        assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
        let again = fresh.get(path).await;
        assert!(
            again.set_cookie("toestemming_csrf").is_none(),
            "the nonce is kept"
        );
        assert_eq!(again.csrf(), page.csrf(), "one token per nonce and session");
    }
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    let register = browser.get("/register").await;
    for id in ["first_name", "last_name"] {
        assert!(
            register.body.contains(&format!("<label for=\"{id}\">")),
            "{id}"
        );
    }

    let css = browser.get("/static/style.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").starts_with("text/css"));
    assert_security_headers(&css);

    let missing = browser.get("/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_security_headers(&missing);

    let health = browser.get("/healthz").await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "SERVING")
    );
    mesh.stop().await;
}

#[tokio::test]
async fn dutch_is_chosen_by_accept_language_on_the_same_routes() {
    let mesh = TestMesh::start().await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1)).dutch();
    let page = browser.get("/signin").await;
    assert!(page.body.contains("<html lang=\"nl\">"));
    assert!(page.body.contains("Inloggen"));
    assert!(page.body.contains("name=\"bsn\""), "the field names stay");
    let wrong = browser
        .register("123456780", "Anna", "de Vries", "correct horse battery")
        .await;
    assert!(
        wrong.body.contains("elfproef"),
        "the 11-proof is explained in Dutch"
    );
    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// registering and signing in

#[tokio::test]
async fn registering_keeps_what_was_typed_but_never_the_password_and_explains_the_11_proof() {
    let mesh = TestMesh::start().await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    let password = "a-secret-password-123";
    let bad = browser
        .register("123456780", "Anna", "de Vries", password)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("11-proof"), "{}", bad.body);
    assert!(
        bad.body.contains("value=\"123456780\""),
        "the BSN typed is kept"
    );
    assert!(bad.body.contains("value=\"Anna\"") && bad.body.contains("value=\"de Vries\""));
    assert!(
        !bad.body.contains(password),
        "the password is never sent back"
    );
    assert!(bad.body.contains("aria-invalid=\"true\""));

    let short = browser.register(&bsn(1), "", "de Vries", "short").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(
        short.body.contains("href=\"#first_name\"") && short.body.contains("href=\"#password\"")
    );

    let created = browser
        .register(&bsn(1), "Anna", "de Vries", password)
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    assert_eq!(created.location(), "/signin?notice=registered");
    let notice = browser.get(created.location()).await;
    assert!(notice.body.contains("Your account has been created"));

    let again = browser
        .register(&bsn(1), "Anna", "de Vries", password)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("already exists"));
    mesh.stop().await;
}

#[tokio::test]
async fn a_wrong_password_is_told_plainly_and_sets_no_session() {
    let mesh = TestMesh::start().await;
    mesh.patient_token(&bsn(1)).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    let wrong = browser.sign_in(&bsn(1), "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The BSN or password is not correct."));
    assert!(wrong.body.contains(&format!("value=\"{}\"", bsn(1))));
    assert!(!wrong.body.contains("not the password at all"));
    assert!(browser.cookie("toestemming_session").is_none());

    let empty = browser.sign_in(&bsn(1), "").await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("Enter your password."));

    let invalid = browser.sign_in("12345", "whatever-password").await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(invalid.body.contains("11-proof"));
    mesh.stop().await;
}

#[tokio::test]
async fn the_session_lives_only_in_a_strict_http_only_cookie() {
    let mesh = TestMesh::start().await;
    mesh.patient_token(&bsn(1)).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    let signed_in = browser.sign_in(&bsn(1), PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), "/");
    let cookie = signed_in.set_cookie("toestemming_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=900"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP without a trusted proxy"
    );
    assert!(
        signed_in.set_cookie("toestemming_csrf").is_some(),
        "a new CSRF nonce with the new session"
    );
    let token = browser.cookie("toestemming_session").unwrap().to_owned();
    let dashboard = browser.get("/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(
        !dashboard.body.contains(&token),
        "the token is never in a page"
    );
    assert!(!dashboard.location().contains(&token));
    assert_eq!(dashboard.header("cache-control"), "no-store");
    assert_security_headers(&dashboard);
    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// the dashboard and consent

#[tokio::test]
async fn approve_and_decline_reach_check_permission() {
    approve_and_decline(TestMesh::start().await).await;
}

/// The same under EdDSA: the session cookie verified with the key set the
/// website fetched, the CSRF key made for the process (no shared key).
#[tokio::test]
async fn approve_and_decline_reach_check_permission_under_eddsa() {
    approve_and_decline(TestMesh::start_with(use_eddsa).await).await;
}

async fn approve_and_decline(mesh: TestMesh) {
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let company = company_with_dossier(&mesh, "Huisarts De Linde", &patient).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;

    let dashboard = browser.get("/").await;
    assert!(dashboard.body.contains("Jan Jansen"), "the patient's name");
    assert!(dashboard.body.contains("Huisarts De Linde"));
    assert!(dashboard.body.contains("Waiting for your decision"));
    let id_marker = "name=\"dossier_id\" value=\"";
    let start = dashboard.body.find(id_marker).unwrap() + id_marker.len();
    let dossier_id = dashboard.body[start..start + 36].to_owned();
    let csrf = dashboard.csrf();

    let approved = browser
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("dossier_id", &dossier_id),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    assert_eq!(approved.location(), "/?notice=saved");
    assert!(permission(&mesh, &company, &patient).await);
    assert!(browser.get("/").await.body.contains("Approved"));

    browser
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("dossier_id", &dossier_id),
                ("decision", "decline"),
            ],
        )
        .await;
    assert!(!permission(&mesh, &company, &patient).await);
    assert!(browser.get("/").await.body.contains("Declined"));

    // A dossier that is not the patient's changes nothing.
    let foreign = browser
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("dossier_id", &uuid::Uuid::new_v4().to_string()),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(foreign.location(), "/?notice=gone");
    assert!(!permission(&mesh, &company, &patient).await);
    mesh.stop().await;
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    mesh.patient_token(&patient).await;
    let company = company_with_dossier(&mesh, "Tandarts Noord", &patient).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&patient, PASSWORD).await;
    let dashboard = browser.get("/").await;
    let id_marker = "name=\"dossier_id\" value=\"";
    let start = dashboard.body.find(id_marker).unwrap() + id_marker.len();
    let dossier_id = dashboard.body[start..start + 36].to_owned();
    let good = dashboard.csrf();

    for csrf in ["", "forged", &good[..good.len() - 1]] {
        let refused = browser
            .post(
                "/consent",
                &[
                    ("csrf_token", csrf),
                    ("dossier_id", &dossier_id),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert_security_headers(&refused);
    }
    assert!(
        !permission(&mesh, &company, &patient).await,
        "nothing changed"
    );

    // A token from another browser's session does not fit this one.
    let mut other = Browser::new(&website_url(&mesh), loopback(1));
    let other_csrf = other.get("/register").await.csrf();
    let refused = browser
        .post(
            "/consent",
            &[
                ("csrf_token", &other_csrf),
                ("dossier_id", &dossier_id),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Registration, sign-in and sign-out are guarded the same way.
    let mut fresh = Browser::new(&website_url(&mesh), loopback(1));
    fresh.get("/register").await;
    let register = fresh
        .post(
            "/register",
            &[
                ("bsn", &bsn(2)),
                ("first_name", "A"),
                ("last_name", "B"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(register.status, StatusCode::FORBIDDEN);
    let signin = fresh
        .post("/signin", &[("bsn", &patient), ("password", PASSWORD)])
        .await;
    assert_eq!(signin.status, StatusCode::FORBIDDEN);
    assert!(fresh.cookie("toestemming_session").is_none());
    assert_eq!(
        fresh.sign_in(&bsn(2), PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "the refused registration created no account"
    );
    let signout = browser.post("/signout", &[("csrf_token", "forged")]).await;
    assert_eq!(signout.status, StatusCode::FORBIDDEN);
    assert!(
        browser.cookie("toestemming_session").is_some(),
        "still signed in"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn signing_out_clears_the_session() {
    let mesh = TestMesh::start().await;
    mesh.patient_token(&bsn(1)).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));
    browser.sign_in(&bsn(1), PASSWORD).await;
    let csrf = browser.get("/").await.csrf();
    let out = browser.post("/signout", &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/signin?notice=signed_out");
    assert!(browser.cookie("toestemming_session").is_none());
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert!(home.location().starts_with("/signin"));
    mesh.stop().await;
}

#[tokio::test]
async fn an_expired_tampered_or_missing_cookie_leads_to_sign_in_with_a_message() {
    let mesh = TestMesh::start().await;
    let (pseudoniem, _) = mesh.patient_token(&bsn(1)).await;
    let mut browser = Browser::new(&website_url(&mesh), loopback(1));

    let missing = browser.get("/").await;
    assert_eq!(missing.status, StatusCode::SEE_OTHER);
    assert_eq!(missing.location(), "/signin?notice=signin");
    assert!(
        browser
            .get(missing.location())
            .await
            .body
            .contains("Please sign in")
    );

    let now = now() as i64;
    let mut claims = jwt::claims("Patient", &pseudoniem);
    claims["iat"] = (now - 1000).into();
    claims["nbf"] = (now - 1000).into();
    claims["exp"] = (now - 100).into();
    browser.set_cookie("toestemming_session", &jwt::sign(&claims));
    let expired = browser.get("/").await;
    assert_eq!(expired.location(), "/signin?notice=expired");
    assert!(
        expired
            .set_cookie("toestemming_session")
            .unwrap()
            .contains("Max-Age=0"),
        "the dead cookie is removed"
    );
    let page = browser.get(expired.location()).await;
    assert!(page.body.contains("Your session has expired"));

    let genuine = mesh.token(Role::Patient, &pseudoniem);
    // One signature character changed (not the last, whose low bits may
    // not count).
    let mut tampered = genuine.into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for cookie in [
        tampered.as_str(),
        "garbage",
        &mesh.token(Role::HealthcareCompany, "Zorg BV"),
    ] {
        browser.set_cookie("toestemming_session", cookie);
        let page = browser.get("/").await;
        assert_eq!(page.location(), "/signin?notice=signin", "{cookie}");
    }
    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// services down

#[tokio::test]
async fn a_service_that_is_down_is_a_readable_message_not_an_error_page() {
    let mesh = TestMesh::start().await;
    let (pseudoniem, _) = mesh.patient_token(&bsn(1)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let shutdown = CancellationToken::new();
    let website = mesh
        .start_extra(ServiceKind::Website, shutdown.clone(), |settings| {
            settings.peers.identity = nowhere.clone();
            settings.peers.dossier = nowhere.clone();
        })
        .await;
    let mut browser = Browser::new(&format!("http://{}", website.addr), loopback(1));

    let signin = browser.sign_in(&bsn(1), PASSWORD).await;
    assert_eq!(signin.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        signin.body.contains("not available right now"),
        "{}",
        signin.body
    );
    assert!(
        signin.body.contains(&format!("value=\"{}\"", bsn(1))),
        "the BSN is kept"
    );

    let register = browser
        .register(&bsn(2), "Anna", "de Vries", PASSWORD)
        .await;
    assert_eq!(register.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(register.body.contains("value=\"Anna\""));

    // Signed in (a valid session), but Identity and Dossier are down.
    browser.set_cookie(
        "toestemming_session",
        &mesh.token(Role::Patient, &pseudoniem),
    );
    let dashboard = browser.get("/").await;
    assert_eq!(dashboard.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(dashboard.body.contains("not available right now"));
    shutdown.cancel();
    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// throttling per browser

#[tokio::test]
async fn a_flood_from_one_browser_address_is_throttled_while_another_still_signs_in() {
    let mesh = TestMesh::start_with(|settings| {
        settings.login_throttle.max_failures_per_client = 3;
    })
    .await;
    mesh.patient_token(&bsn(100)).await;
    let url = website_url(&mesh);
    let mut flood = Browser::new(&url, loopback(2));
    // A different (unknown) account each time, so only the address adds up.
    for n in 0..3 {
        let page = flood.sign_in(&bsn(n), "wrong password!").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let throttled = flood.sign_in(&bsn(10), "wrong password!").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.body.contains("Too many failed attempts"));
    let still = flood.sign_in(&bsn(100), PASSWORD).await;
    assert_eq!(
        still.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is locked"
    );

    let mut other = Browser::new(&url, loopback(3));
    let ok = other.sign_in(&bsn(100), PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/");
    mesh.stop().await;
}
