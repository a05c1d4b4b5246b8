//! Signing out revokes the token (issue 17, finding 7): a token saved
//! before sign-out opened the dashboard and called the API for up to 15
//! minutes.
//!
//! RevokeToken puts the caller's `jti` on Identity's list; Identity refuses
//! the token at once, Dossier and the website within 5 s (they read
//! ListRevokedTokens every 2 s), UNAUTHENTICATED `TOKEN_REVOKED`, also when
//! the token comes forwarded. Another token of the same subject still
//! works. The delays are measured and printed.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::identity::v1::identity_service_client::IdentityServiceClient;
use toestemming::proto::identity::v1::*;
use toestemming::settings::ServiceKind;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};

use crate::support::*;
use crate::website::{Browser, website_url};

/// The contract's bound for every service but Identity.
const BOUND: Duration = Duration::from_secs(5);

async fn revoke(mesh: &TestMesh, token: &str) -> Result<(), Status> {
    revoke_at(mesh.identity(), token).await
}

async fn revoke_at(
    mut identity: IdentityServiceClient<tonic::transport::Channel>,
    token: &str,
) -> Result<(), Status> {
    identity
        .revoke_token(authed(RevokeTokenRequest {}, token))
        .await
        .map(drop)
}

async fn my_dossiers(mesh: &TestMesh, patient: &str) -> Result<(), Status> {
    mesh.dossier()
        .list_my_dossiers(authed(ListMyDossiersRequest::default(), patient))
        .await
        .map(drop)
}

async fn my_profile(
    mut identity: IdentityServiceClient<tonic::transport::Channel>,
    patient: &str,
) -> Result<(), Status> {
    identity
        .get_my_profile(authed(GetMyProfileRequest {}, patient))
        .await
        .map(drop)
}

#[track_caller]
fn assert_revoked(outcome: Result<(), Status>, header: &str, what: &str) {
    let status = outcome.expect_err(what);
    assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
    assert_reason(&status, "TOKEN_REVOKED");
    assert_eq!(
        error_metadata(&status, "header").as_deref(),
        Some(header),
        "{what}"
    );
}

/// Calls `call` every 20 ms until it is refused TOKEN_REVOKED; how long
/// that took from `since`. Fails the test if it takes longer than the
/// bound or is refused for anything else.
async fn refused_within<F, Fut>(since: Instant, what: &str, mut call: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Status>>,
{
    loop {
        match call().await {
            Ok(()) => {}
            Err(status) if reason(&status).as_deref() == Some("TOKEN_REVOKED") => {
                assert_eq!(status.code(), Code::Unauthenticated);
                return since.elapsed();
            }
            Err(status) => panic!("{what}: refused for another reason: {status:?}"),
        }
        assert!(
            since.elapsed() < BOUND,
            "{what}: a revoked token still accepted after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `jti` claim of a token.
fn jti(token: &str) -> String {
    decode(token).payload["jti"].as_str().unwrap().to_owned()
}

fn exp(token: &str) -> i64 {
    decode(token).payload["exp"].as_i64().unwrap()
}

#[tokio::test]
async fn a_revoked_patient_token_is_refused_by_identity_at_once_and_by_dossier_within_5_s() {
    let mesh = TestMesh::start().await;
    let (_, signed_out) = mesh.patient_token(&bsn(1)).await;
    let other = login(&mesh, &bsn(1), PASSWORD).await.unwrap();
    assert_ne!(jti(&signed_out), jti(&other));
    // Both verified (and cached) everywhere before the revocation.
    for token in [&signed_out, &other] {
        my_profile(mesh.identity(), token).await.unwrap();
        my_dossiers(&mesh, token).await.unwrap();
    }

    revoke(&mesh, &signed_out).await.unwrap();
    let revoked_at = Instant::now();
    assert_revoked(
        my_profile(mesh.identity(), &signed_out).await,
        "authorization",
        "Identity, at once",
    );
    let dossier_delay =
        refused_within(revoked_at, "Dossier", || my_dossiers(&mesh, &signed_out)).await;
    println!(
        "a revoked patient token: Identity refused it at once, Dossier after {} ms",
        dossier_delay.as_millis()
    );

    // The same token in someone else's hands: forwarded by a service of
    // the mesh, it is refused as the forwarded credential.
    let internal = mesh.token(Role::Internal, "internal");
    let forwarded = forwarded_by(&internal, ListCompaniesRequest::default(), &signed_out);
    assert_revoked(
        mesh.identity().list_companies(forwarded).await.map(drop),
        "x-forwarded-authorization",
        "forwarded to Identity",
    );
    let takeover = RecordAccountTakeoverRequest {
        pseudoniem: decode(&signed_out).payload["sub"].as_str().unwrap().into(),
    };
    let forwarded = forwarded_by(&internal, takeover, &signed_out);
    assert_revoked(
        mesh.dossier()
            .record_account_takeover(forwarded)
            .await
            .map(drop),
        "x-forwarded-authorization",
        "forwarded to Dossier",
    );
    // Revoking it again: it is refused like any other call with it.
    assert_revoked(
        revoke(&mesh, &signed_out).await,
        "authorization",
        "RevokeToken again",
    );

    // Another token of the same patient is not affected.
    my_profile(mesh.identity(), &other).await.unwrap();
    my_dossiers(&mesh, &other).await.unwrap();
    mesh.stop().await;
}

#[tokio::test]
async fn a_revoked_company_token_is_refused_by_identity_at_once_and_by_dossier_within_5_s() {
    let mesh = TestMesh::start().await;
    let company = mesh.register_company("Uitlog Zorg BV").await;
    let signed_out = company.token.clone();
    let other = mesh
        .issue_company_token(&company.id, &company.secret)
        .await
        .unwrap();
    create_dossier(&mesh, &signed_out, &bsn(1)).await;
    check_permission(&mesh, &signed_out, &bsn(1)).await.unwrap();

    revoke(&mesh, &signed_out).await.unwrap();
    let revoked_at = Instant::now();
    // The one Identity RPC a company calls with its token.
    assert_revoked(
        revoke(&mesh, &signed_out).await,
        "authorization",
        "Identity, at once",
    );
    let delay = refused_within(revoked_at, "Dossier", || async {
        check_permission(&mesh, &signed_out, &bsn(1))
            .await
            .map(drop)
    })
    .await;
    println!(
        "a revoked company token: Identity refused it at once, Dossier after {} ms",
        delay.as_millis()
    );
    let still = check_permission(&mesh, &other, &bsn(1)).await.unwrap();
    assert!(!still.gave_permission);
    mesh.stop().await;
}

/// An open WatchConsent stream is no new request: Dossier ends it when its
/// token is revoked, and a stream of another token of the company goes on.
#[tokio::test]
async fn an_open_watch_ends_token_revoked_when_its_token_is_revoked() {
    let mesh = TestMesh::start().await;
    let company = mesh.register_company("Kijk Zorg BV").await;
    let other = mesh
        .issue_company_token(&company.id, &company.secret)
        .await
        .unwrap();
    let watch = |token: String| {
        let mut dossier = mesh.dossier();
        async move {
            dossier
                .watch_consent(authed(WatchConsentRequest::default(), &token))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let mut revoked_stream = watch(company.token.clone()).await;
    let mut other_stream = watch(other.clone()).await;

    revoke(&mesh, &company.token).await.unwrap();
    let revoked_at = Instant::now();
    let status = match tokio::time::timeout(BOUND, revoked_stream.message()).await {
        Err(_) => panic!("the stream of a revoked token still open after {BOUND:?}"),
        Ok(Ok(message)) => panic!("a message or end instead of TOKEN_REVOKED: {message:?}"),
        Ok(Err(status)) => status,
    };
    let delay = revoked_at.elapsed();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_reason(&status, "TOKEN_REVOKED");
    println!(
        "an open WatchConsent stream ended TOKEN_REVOKED {} ms after the revocation",
        delay.as_millis()
    );
    // The other token's stream is still open and delivers.
    create_dossier(&mesh, &other, &bsn(1)).await;
    let change = tokio::time::timeout(Duration::from_secs(5), other_stream.message())
        .await
        .expect("a change on the other stream")
        .expect("the other stream is open")
        .expect("a message");
    assert!(!change.dossier_id.is_empty());
    mesh.stop().await;
}

#[tokio::test]
async fn a_revocation_at_one_identity_replica_reaches_another_within_5_s() {
    let mesh = TestMesh::start().await;
    let stop = CancellationToken::new();
    let replica = mesh
        .start_replica(ServiceKind::Identity, stop.clone())
        .await;
    let replica = IdentityServiceClient::new(channel(replica.addr).await);
    let (_, token) = mesh.patient_token(&bsn(1)).await;
    my_profile(replica.clone(), &token).await.unwrap();

    revoke(&mesh, &token).await.unwrap();
    let revoked_at = Instant::now();
    let delay = refused_within(revoked_at, "the other Identity replica", || {
        my_profile(replica.clone(), &token)
    })
    .await;
    println!(
        "a revocation reached the other Identity replica after {} ms",
        delay.as_millis()
    );
    stop.cancel();
    mesh.stop().await;
}

#[tokio::test]
async fn list_revoked_tokens_pages_with_its_cursor_and_refuses_a_bad_one() {
    let mesh = TestMesh::start().await;
    let internal = mesh.token(Role::Internal, "internal");
    let list = |after: String, page_size: i32| {
        let mut identity = mesh.identity();
        let internal = internal.clone();
        async move {
            identity
                .list_revoked_tokens(authed(
                    ListRevokedTokensRequest { after, page_size },
                    &internal,
                ))
                .await
                .map(|r| r.into_inner())
        }
    };

    let empty = list(String::new(), 0).await.unwrap();
    assert!(empty.revoked.is_empty());
    assert!(!empty.cursor.is_empty(), "a cursor to resume from, always");

    let tokens: Vec<String> = (0..5)
        .map(|_| mesh.token(Role::Patient, &uuid::Uuid::new_v4().to_string()))
        .collect();
    for token in &tokens {
        revoke(&mesh, token).await.unwrap();
    }
    // Pages of two, resumed with each answer's cursor.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = list(cursor.clone(), 2).await.unwrap();
        pages += 1;
        assert!(page.revoked.len() <= 2);
        assert!(!page.cursor.is_empty());
        cursor = page.cursor;
        let full = page.revoked.len() == 2;
        seen.extend(page.revoked.into_iter().map(|t| (t.jti, t.exp)));
        if !full {
            break;
        }
    }
    let expected: Vec<(String, i64)> = tokens.iter().map(|t| (jti(t), exp(t))).collect();
    assert_eq!(
        seen, expected,
        "every revocation once, in order, with its exp"
    );
    assert_eq!(pages, 3);

    // Nothing new: nothing, and the same position.
    let again = list(cursor.clone(), 0).await.unwrap();
    assert!(again.revoked.is_empty());
    assert_eq!(again.cursor, cursor);
    // One more revocation: only it, after the cursor.
    let late = mesh.token(Role::HealthcareCompany, "Laat BV");
    revoke(&mesh, &late).await.unwrap();
    let news = list(cursor.clone(), 0).await.unwrap();
    assert_eq!(
        news.revoked
            .iter()
            .map(|t| (t.jti.clone(), t.exp))
            .collect::<Vec<_>>(),
        vec![(jti(&late), exp(&late))]
    );
    // Revoking a token twice lists it once.
    assert_revoked(revoke(&mesh, &late).await, "authorization", "revoked twice");
    assert!(
        list(news.cursor.clone(), 0)
            .await
            .unwrap()
            .revoked
            .is_empty()
    );
    assert_eq!(list(String::new(), 0).await.unwrap().revoked.len(), 6);

    // A cursor that is not one of ours, or of another listing.
    let companies_token = {
        for name in ["Aa BV", "Ab BV"] {
            mesh.register_company(name).await;
            mesh.verify_company(name).await;
        }
        mesh.identity()
            .list_companies(authed(
                ListCompaniesRequest {
                    page_size: 1,
                    ..Default::default()
                },
                &internal,
            ))
            .await
            .unwrap()
            .into_inner()
            .next_page_token
    };
    assert!(!companies_token.is_empty());
    for bad in ["not-a-cursor", "AAAA", companies_token.as_str()] {
        let status = list(bad.to_owned(), 0).await.unwrap_err();
        assert_invalid(&status, &["after"]);
    }
    assert_invalid(&list(String::new(), -1).await.unwrap_err(), &["page_size"]);
    mesh.stop().await;
}

/// A token without a `jti` (signed with the mesh key, but not by Identity's
/// issuer) cannot be named on the list: RevokeToken says so rather than
/// pretend, and the token keeps working until its `exp`.
#[tokio::test]
async fn a_token_without_a_jti_is_not_revocable() {
    let mesh = TestMesh::start().await;
    let mut claims = jwt::claims("Patient", &uuid::Uuid::new_v4().to_string());
    claims.as_object_mut().unwrap().remove("jti");
    let token = jwt::sign(&claims);
    let status = revoke(&mesh, &token).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_reason(&status, "TOKEN_NOT_REVOCABLE");
    my_dossiers(&mesh, &token).await.unwrap();
    mesh.stop().await;
}

/// Concurrent revocations each take their own position (on PostgreSQL a
/// concurrent insert that took the same one is tried again), so a reader
/// resuming from a cursor misses none.
#[tokio::test]
async fn concurrent_revocations_are_each_listed_once() {
    let mesh = TestMesh::start().await;
    let internal = mesh.token(Role::Internal, "internal");
    let tokens: Vec<String> = (0..40)
        .map(|_| mesh.token(Role::Patient, &uuid::Uuid::new_v4().to_string()))
        .collect();
    let mut reader_cursor = String::new();
    let mut listed = Vec::new();
    let calls = tokens.iter().map(|token| revoke(&mesh, token));
    let (outcomes, ()) = tokio::join!(futures_util::future::join_all(calls), async {
        // A reader that resumes while the revocations go on.
        for _ in 0..10 {
            let page = mesh
                .identity()
                .list_revoked_tokens(authed(
                    ListRevokedTokensRequest {
                        after: reader_cursor.clone(),
                        page_size: 0,
                    },
                    &internal,
                ))
                .await
                .unwrap()
                .into_inner();
            listed.extend(page.revoked.into_iter().map(|t| t.jti));
            reader_cursor = page.cursor;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    for outcome in outcomes {
        outcome.unwrap();
    }
    let rest = mesh
        .identity()
        .list_revoked_tokens(authed(
            ListRevokedTokensRequest {
                after: reader_cursor,
                page_size: 0,
            },
            &internal,
        ))
        .await
        .unwrap()
        .into_inner();
    listed.extend(rest.revoked.into_iter().map(|t| t.jti));
    let mut expected: Vec<String> = tokens.iter().map(|t| jti(t)).collect();
    expected.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "each revocation listed exactly once");
    mesh.stop().await;
}

/// Revocations past their `exp` are not listed, and are purged from the
/// table, all but the newest row, from which the next position counts.
#[tokio::test]
async fn expired_revocations_are_not_listed_and_are_purged() {
    let mesh = TestMesh::start().await;
    let internal = mesh.token(Role::Internal, "internal");
    let live = mesh.token(Role::Patient, &uuid::Uuid::new_v4().to_string());
    revoke(&mesh, &live).await.unwrap();
    sqlx::any::install_default_drivers();
    let url = mesh.settings.database_url(ServiceKind::Identity);
    let table = sqlx::AnyPool::connect(url.expose()).await.unwrap();
    let past = now() as i64 - 60;
    for (seq, jti) in [(100_i64, "expired-older"), (101, "expired-newest")] {
        sqlx::query(
            "INSERT INTO revoked_tokens (seq, jti, exp, revoked_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(jti)
        .bind(past)
        .bind(past * 1000)
        .execute(&table)
        .await
        .unwrap();
    }
    let list = |after: String| {
        let mut identity = mesh.identity();
        let internal = internal.clone();
        async move {
            identity
                .list_revoked_tokens(authed(
                    ListRevokedTokensRequest {
                        after,
                        page_size: 0,
                    },
                    &internal,
                ))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let all = list(String::new()).await;
    assert_eq!(
        all.revoked
            .iter()
            .map(|t| t.jti.clone())
            .collect::<Vec<_>>(),
        vec![jti(&live)],
        "expired revocations are not listed"
    );

    // A replica's refresher purges at its start (then every minute).
    let stop = CancellationToken::new();
    mesh.start_replica(ServiceKind::Identity, stop.clone())
        .await;
    let seqs = || async {
        sqlx::query_scalar::<_, i64>("SELECT seq FROM revoked_tokens ORDER BY seq")
            .fetch_all(&table)
            .await
            .unwrap()
    };
    let started = Instant::now();
    while seqs().await.contains(&100) {
        assert!(
            started.elapsed() < BOUND,
            "the expired revocation was not purged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seqs().await, vec![1, 101], "the newest row stays");
    let next = mesh.token(Role::Patient, &uuid::Uuid::new_v4().to_string());
    revoke(&mesh, &next).await.unwrap();
    assert_eq!(
        seqs().await,
        vec![1, 101, 102],
        "positions go on after the newest"
    );
    let news = list(all.cursor).await;
    assert_eq!(
        news.revoked
            .iter()
            .map(|t| t.jti.clone())
            .collect::<Vec<_>>(),
        vec![jti(&next)]
    );
    table.close().await;
    stop.cancel();
    mesh.stop().await;
}

#[tokio::test]
async fn a_cookie_saved_before_sign_out_opens_nothing_after_it() {
    let mesh = TestMesh::start().await;
    mesh.patient_token(&bsn(1)).await;
    let mut browser = Browser::new(&website_url(&mesh), "127.0.0.1".parse().unwrap());
    browser.sign_in(&bsn(1), PASSWORD).await;
    let saved = browser.cookie("toestemming_session").unwrap().to_owned();
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);

    let out = browser
        .post("/signout", &[("csrf_token", &home.csrf())])
        .await;
    let signed_out_at = Instant::now();
    assert_eq!(out.location(), "/signin?notice=signed_out");
    assert!(browser.cookie("toestemming_session").is_none());

    // The saved cookie, in another browser, right after the sign-out.
    let mut thief = Browser::new(&website_url(&mesh), "127.0.0.2".parse().unwrap());
    thief.set_cookie("toestemming_session", &saved);
    let page = thief.get("/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), "/signin?notice=signed_out");
    assert!(
        thief.cookie("toestemming_session").is_none(),
        "the cookie is dropped"
    );
    // The same token, as the website would forward it, or sent directly.
    assert_revoked(
        my_profile(mesh.identity(), &saved).await,
        "authorization",
        "Identity",
    );
    let delay = refused_within(signed_out_at, "Dossier", || my_dossiers(&mesh, &saved)).await;
    println!(
        "after the website's sign-out: the website refused the saved cookie at once, Dossier the token after {} ms",
        delay.as_millis()
    );
    mesh.stop().await;
}

#[tokio::test]
async fn the_website_learns_a_revocation_from_identity_within_5_s() {
    let mesh = TestMesh::start().await;
    mesh.patient_token(&bsn(1)).await;
    let website = website_url(&mesh);
    let signed_in = |token: String| {
        let website = website.clone();
        async move {
            // GET /signin asks no service: it sends a signed-in visitor
            // home, so it shows what the website itself thinks of the
            // cookie.
            let mut visit = Browser::new(&website, "127.0.0.1".parse().unwrap());
            visit.set_cookie("toestemming_session", &token);
            let page = visit.get("/signin").await;
            match page.status {
                StatusCode::SEE_OTHER => true,
                StatusCode::OK => false,
                other => panic!("GET /signin: {other}"),
            }
        }
    };
    let sign_in = || async {
        let mut browser = Browser::new(&website, "127.0.0.1".parse().unwrap());
        browser.sign_in(&bsn(1), PASSWORD).await;
        browser.cookie("toestemming_session").unwrap().to_owned()
    };

    // Revoked at Identity, not through this website's sign-out, and no page
    // that asks a service: the website learns it from ListRevokedTokens.
    let token = sign_in().await;
    assert!(signed_in(token.clone()).await);
    revoke(&mesh, &token).await.unwrap();
    let revoked_at = Instant::now();
    while signed_in(token.clone()).await {
        assert!(
            revoked_at.elapsed() < BOUND,
            "the website still takes the cookie {:?} after the revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delay = revoked_at.elapsed();
    println!(
        "a revocation at Identity reached the website after {} ms",
        delay.as_millis()
    );

    // A page whose service refuses the token TOKEN_REVOKED (Identity, at
    // once) says "signed out", not "expired", and the website refuses the
    // cookie from then on, without waiting for its next refresh.
    let token = sign_in().await;
    revoke(&mesh, &token).await.unwrap();
    let mut visit = Browser::new(&website, "127.0.0.1".parse().unwrap());
    visit.set_cookie("toestemming_session", &token);
    let home = visit.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/signin?notice=signed_out");
    assert!(!signed_in(token.clone()).await);
    mesh.stop().await;
}

#[tokio::test]
async fn signing_out_while_identity_is_down_still_clears_the_cookie() {
    let mesh = TestMesh::start().await;
    let (pseudoniem, _) = mesh.patient_token(&bsn(1)).await;
    // A website whose Identity is gone (nothing listens on the address).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let stop = CancellationToken::new();
    let website = mesh
        .start_extra(ServiceKind::Website, stop.clone(), |settings| {
            settings.peers.identity = dead_url;
        })
        .await;
    let token = mesh.token(Role::Patient, &pseudoniem);
    let mut browser = Browser::new(
        &format!("http://{}", website.addr),
        "127.0.0.1".parse().unwrap(),
    );
    browser.set_cookie("toestemming_session", &token);
    // The choices page needs only Dossier: a page with the sign-out form.
    let page = browser.get("/choices").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let out = browser
        .post("/signout", &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/signin?notice=signed_out");
    assert!(browser.cookie("toestemming_session").is_none());
    // This website refuses the token from now on all the same.
    let mut again = Browser::new(
        &format!("http://{}", website.addr),
        "127.0.0.1".parse().unwrap(),
    );
    again.set_cookie("toestemming_session", &token);
    assert_eq!(
        again.get("/choices").await.location(),
        "/signin?notice=signed_out"
    );
    stop.cancel();
    mesh.stop().await;
}
