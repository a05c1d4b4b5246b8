//! "Sign in with DigiD" in a real headless Chromium against a real OpenID
//! provider (`oidc-provider`, run by scripts/oidc-provider.mjs), with
//! password sign-in off as in the deployments: the patient signs in at the
//! provider, comes back signed in (the `SameSite=Strict` session works
//! right after the cross-site return), sees the dossier a company made for
//! the BSN the provider vouched for, and approves it. Cancelling at the
//! provider, a return that is not this browser's flow, and an account the
//! provider gives no BSN each end on the sign-in page with words, and no
//! session.
//!
//! Ignored by plain `cargo test` (it needs Chromium and Node);
//! `scripts/test.sh browser` installs both and runs it.

use fantoccini::{Client, Locator};

use crate::browser_e2e::{
    Driver, accessibility_violations, arrive, arrive_showing, axe_core, click, screenshot,
};
use crate::support::oidc_provider::{Account, OidcProvider};
use crate::support::*;
use crate::website::{company_with_dossier, permission};
use toestemming::settings::ServiceKind;
use tokio_util::sync::CancellationToken;

/// Signs in at the provider's development login page as `login`.
async fn sign_in_at_provider(browser: &Client, login: &str) {
    let field = browser
        .wait()
        .for_element(Locator::Css("input[name=login]"))
        .await
        .expect("the provider's login page");
    field.send_keys(login).await.unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("any password")
        .await
        .unwrap();
    click(browser, "button.login-submit").await;
}

/// The page's text.
async fn text(browser: &Client) -> String {
    browser
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until the page's main text says `expected`.
async fn shows(browser: &Client, expected: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = match browser.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if now.contains(expected) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page at {} does not say {expected:?}: {now}\n{}",
            browser.current_url().await.unwrap(),
            browser.source().await.unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium, chromedriver, axe-core and Node (oidc-provider): scripts/test.sh browser"]
async fn a_patient_signs_in_through_the_provider_and_approves_in_chromium() {
    let axe = axe_core();
    // The website's address is known first: it is the redirect URI the
    // provider registers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let patient = bsn(21);
    let provider = OidcProvider::start(
        &format!("{site}/signin/callback"),
        &[
            Account {
                login: "anna",
                bsn: Some(&patient),
                given_name: Some("Anna"),
                family_name: Some("de Vries"),
            },
            Account {
                login: "nobsn",
                bsn: None,
                given_name: None,
                family_name: None,
            },
        ],
    );
    let settings = provider.settings();
    let mesh = TestMesh::start_with({
        let settings = settings.clone();
        move |mesh| {
            mesh.patient_sign_in.provider = Some(settings);
            mesh.patient_sign_in.password = false;
        }
    })
    .await;
    let stop = CancellationToken::new();
    let _website = mesh
        .start_extra_on(ServiceKind::Website, listener, stop.clone(), {
            let site = site.clone();
            move |mesh| {
                mesh.patient_sign_in.provider = Some(settings);
                mesh.patient_sign_in.password = false;
                mesh.website_public_url = Some(site);
            }
        })
        .await;
    let company = company_with_dossier(&mesh, "Huisartsenpraktijk De Linde", &patient).await;
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.browser(profile.path()).await;

    // The sign-in page offers the provider only: no password form, and
    // /register leads back to it.
    browser.goto(&format!("{site}/register")).await.unwrap();
    arrive(&browser, "/signin").await;
    assert!(browser.find(Locator::Id("password")).await.is_err());
    assert_eq!(
        accessibility_violations(&browser, &axe).await,
        Vec::<String>::new(),
        "/signin with a provider"
    );
    screenshot(&browser, "signin-provider-desktop.png").await;

    // Cancelling at the provider: a readable message, no session.
    click(&browser, "a.button[href='/signin/provider']").await;
    browser
        .wait()
        .for_element(Locator::Css("input[name=login]"))
        .await
        .unwrap();
    browser
        .find(Locator::LinkText("[ Cancel ]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows(&browser, "You cancelled signing in").await;
    browser.goto(&format!("{site}/")).await.unwrap();
    arrive(&browser, "/signin?notice=signin").await;

    // A return that is not this browser's flow (a planted link, a forged
    // state, a code replayed from elsewhere): refused before any exchange.
    browser
        .goto(&format!("{site}/signin/callback?code=a-code&state=forged"))
        .await
        .unwrap();
    shows(&browser, "could not be verified").await;

    // An account the provider gives no BSN: refused, no session.
    click(&browser, "a.button[href='/signin/provider']").await;
    sign_in_at_provider(&browser, "nobsn").await;
    shows(&browser, "could not be verified").await;
    browser.goto(&format!("{site}/")).await.unwrap();
    arrive(&browser, "/signin?notice=signin").await;
    // The provider remembers who signed in there: forget it.
    browser.goto(&provider.issuer).await.unwrap();
    browser.delete_all_cookies().await.unwrap();

    // The patient: at the provider and back, signed in at once (the
    // provider is another site, so this checks that the session cookie
    // works right after a navigation that began there).
    browser.goto(&format!("{site}/signin")).await.unwrap();
    click(&browser, "a.button[href='/signin/provider']").await;
    sign_in_at_provider(&browser, "anna").await;
    arrive_showing(&browser, "/", "Huisartsenpraktijk De Linde").await;
    assert!(text(&browser).await.contains("Anna"), "greeted by name");
    screenshot(&browser, "dashboard-after-provider-desktop.png").await;
    click(&browser, "button.button-approve").await;
    arrive_showing(&browser, "/?notice=saved", "status-granted").await;
    assert!(permission(&mesh, &company, &patient).await, "approved");

    stop.cancel();
    mesh.stop().await;
}
