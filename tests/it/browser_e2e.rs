//! The consent flow in a real headless Chromium, driven over WebDriver
//! (chromedriver, fantoccini), against a mesh started in this process:
//! register, sign in, see a dossier a company created over gRPC, Approve
//! (CheckPermission: granted), Decline (not granted), then on the Choices
//! page find a verified company that has not asked yet and approve it (its
//! CreateDossier starts granted, and CheckPermission says why), read who
//! looked (the access log), sign out, and `/` sends the browser to sign
//! in. axe-core checks every page for serious or
//! critical accessibility violations, and the dashboard, the Choices page
//! and "Who looked" are saved as screenshots at desktop and phone width in
//! `target/browser-e2e/`.
//!
//! Chromium, chromedriver and axe-core are installed by
//! `scripts/install-test-deps.sh`, so plain `cargo test` leaves this test
//! out (ignored, with the reason); `scripts/test.sh browser` installs them
//! and runs it. Run without them, it fails and says what to run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::support::*;
use crate::website::{company_with_dossier, permission, website_url};
use toestemming::proto::dossier::v1::{ConsentStatus, DecisionReason};

/// Where the screenshots go, for people to look at.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tool the test needs: `variable`, else `default`; fails with what to run.
pub fn tool(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found (set {variable} or run scripts/install-test-deps.sh, which installs \
         Debian's chromium and chromium-driver and axe-core from npm)",
        path.display()
    );
    path
}

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start() -> Self {
        let binary = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, url }
    }

    /// A headless Chromium session with its own empty profile. The flags
    /// keep it off the network: this machine has none, and Chromium's
    /// background connections would only fail.
    pub async fn browser(&self, profile: &Path) -> Client {
        let chromium = tool("CHROME_BIN", "/usr/bin/chromium");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-extensions",
                    "--lang=en-GB", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": { "intl.accept_languages": "en-GB,en" },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

/// Types `text` into the input with `id`.
pub async fn fill(browser: &Client, id: &str, text: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

pub async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The path (and query) the browser is on.
pub async fn path(browser: &Client) -> String {
    let url = browser.current_url().await.unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Waits until the browser has arrived at `expected` (a form's submission
/// may still be loading when the click returns), and fails if it does not.
pub async fn arrive(browser: &Client, expected: &str) {
    arrive_showing(browser, expected, "").await;
}

/// Waits until the browser is at `expected` showing `text`: after a form
/// that leads back to the same address, the text tells the pages apart.
pub async fn arrive_showing(browser: &Client, expected: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = path(browser).await;
        let ready = browser
            .execute("return document.readyState;", vec![])
            .await
            .unwrap();
        if now == expected
            && ready == json!("complete")
            && browser.source().await.unwrap().contains(text)
        {
            return;
        }
        assert!(Instant::now() < deadline, "at {now}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// axe-core's script, to run in a page.
pub fn axe_core() -> String {
    std::fs::read_to_string(tool(
        "AXE_CORE_JS",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.test-tools/npm/node_modules/axe-core/axe.min.js"
        ),
    ))
    .unwrap()
}

/// The serious and critical axe-core violations of the current page.
pub async fn accessibility_violations(browser: &Client, axe: &str) -> Vec<String> {
    browser.execute(axe, vec![]).await.expect("axe-core loads");
    let outcome = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(
               (results) => done(results.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => v.id + ': ' + v.help + ' (' + v.nodes.length + ' nodes)')),
               (error) => done(['axe failed: ' + error]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(outcome).unwrap()
}

/// Fails when the page is wider than the window: at phone width nothing
/// may need scrolling sideways (WCAG 1.4.10, reflow).
async fn assert_no_sideways_scrolling(browser: &Client, what: &str) {
    let outcome = browser
        .execute(
            "const width = document.documentElement.clientWidth;
             const wide = [...document.querySelectorAll('body *')]
               .filter((e) => e.getBoundingClientRect().right > width + 0.5)
               .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
             return [document.documentElement.scrollWidth, width, wide.slice(0, 8)];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, window, wide): (u64, u64, Vec<String>) = serde_json::from_value(outcome).unwrap();
    assert!(
        scroll <= window,
        "{what}: the page is {scroll}px wide in a {window}px window; wider: {wide:?}"
    );
}

pub async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(output_dir().join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium, chromedriver and axe-core: scripts/test.sh browser"]
async fn the_consent_flow_by_clicking_in_chromium() {
    let axe = axe_core();
    let mesh = TestMesh::start().await;
    let site = website_url(&mesh);
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.browser(profile.path()).await;
    let patient = bsn(7);

    // Register.
    browser.goto(&format!("{site}/register")).await.unwrap();
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/register"
    );
    fill(&browser, "bsn", &patient).await;
    fill(&browser, "first_name", "Anna").await;
    fill(&browser, "last_name", "de Vries").await;
    fill(&browser, "password", PASSWORD).await;
    click(&browser, "form.form button[type=submit]").await;
    arrive(&browser, "/signin?notice=registered").await;
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/signin"
    );

    // A company creates a dossier for her over gRPC.
    let company = company_with_dossier(&mesh, "Huisartsenpraktijk De Linde", &patient).await;
    assert!(!permission(&mesh, &company, &patient).await);

    // Sign in and see it.
    fill(&browser, "bsn", &patient).await;
    fill(&browser, "password", PASSWORD).await;
    click(&browser, "form.form button[type=submit]").await;
    arrive(&browser, "/").await;
    let page = browser.source().await.unwrap();
    assert!(page.contains("Anna de Vries"));
    assert!(page.contains("Huisartsenpraktijk De Linde"));
    let cookies = browser
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert_eq!(cookies, json!(""), "no cookie is readable by script");
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/"
    );
    screenshot(&browser, "dashboard-desktop.png").await;
    browser.set_window_size(390, 844).await.unwrap();
    screenshot(&browser, "dashboard-phone.png").await;
    assert_no_sideways_scrolling(&browser, "/ at phone width").await;
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/ at phone width"
    );
    browser.set_window_size(1280, 900).await.unwrap();

    // Approve: the company now has permission.
    click(&browser, "button.button-approve").await;
    arrive_showing(&browser, "/?notice=saved", "status-granted").await;
    assert!(permission(&mesh, &company, &patient).await);
    screenshot(&browser, "dashboard-approved-desktop.png").await;

    // Decline: it no longer has.
    click(&browser, "button.button-decline").await;
    arrive_showing(&browser, "/?notice=saved", "status-declined").await;
    assert!(!permission(&mesh, &company, &patient).await);

    // The Choices page: find a verified pharmacy that has not asked yet,
    // and approve it before it asks.
    let pharmacy = mesh.company_token("Apotheek Het Kruis").await;
    mesh.verify_company("Apotheek Het Kruis").await;
    click(&browser, "nav.site-nav a[href='/choices']").await;
    arrive(&browser, "/choices").await;
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/choices"
    );
    fill(&browser, "q", "apotheek").await;
    click(&browser, "form.search button[type=submit]").await;
    arrive_showing(&browser, "/choices?q=apotheek", "found-company").await;
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/choices with search results"
    );
    click(&browser, "li.found-company form.approve button").await;
    arrive_showing(
        &browser,
        "/choices?notice=choice_saved",
        "Apotheek Het Kruis",
    )
    .await;
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/choices with choices"
    );
    // Tall windows, so the screenshots show the whole page.
    browser.set_window_size(1280, 2000).await.unwrap();
    screenshot(&browser, "choices-desktop.png").await;
    browser.set_window_size(390, 3000).await.unwrap();
    screenshot(&browser, "choices-phone.png").await;
    assert_no_sideways_scrolling(&browser, "/choices at phone width").await;
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/choices at phone width"
    );
    browser.set_window_size(1280, 900).await.unwrap();
    // The pharmacy asks now: its dossier starts granted, and it is told why.
    let created = create_dossier(&mesh, &pharmacy, &patient).await;
    assert_eq!(created.consent(), ConsentStatus::Granted);
    let answer = check_permission(&mesh, &pharmacy, &patient).await.unwrap();
    assert!(answer.gave_permission);
    assert_eq!(answer.reason(), DecisionReason::CompanyChoice);
    // And the dashboard shows it, with why.
    click(&browser, "nav.site-nav a[href='/']").await;
    arrive_showing(&browser, "/", "Apotheek Het Kruis").await;
    assert!(
        browser
            .source()
            .await
            .unwrap()
            .contains("Your choice for this company")
    );

    // Who looked: every question and choice above, newest first.
    click(&browser, "nav.site-nav a[href='/log']").await;
    arrive_showing(&browser, "/log", "log-entry").await;
    let log = browser.source().await.unwrap();
    assert!(log.contains("Apotheek Het Kruis") && log.contains("Huisartsenpraktijk De Linde"));
    assert!(log.contains("Asked whether it may see your data"));
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/log"
    );
    browser.set_window_size(1280, 1400).await.unwrap();
    screenshot(&browser, "log-desktop.png").await;
    browser.set_window_size(390, 2400).await.unwrap();
    screenshot(&browser, "log-phone.png").await;
    assert_no_sideways_scrolling(&browser, "/log at phone width").await;
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/log at phone width"
    );
    browser.set_window_size(1280, 900).await.unwrap();

    // Sign out: `/` sends the browser to sign in.
    click(&browser, "form.signout button").await;
    arrive(&browser, "/signin?notice=signed_out").await;
    browser.goto(&format!("{site}/")).await.unwrap();
    arrive(&browser, "/signin?notice=signin").await;

    browser.close().await.unwrap();
    mesh.stop().await;
}
