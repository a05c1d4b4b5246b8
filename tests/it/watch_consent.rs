//! WatchConsent over real gRPC, on SQLite and (in the second pass)
//! PostgreSQL: a company's watcher gets each change of a decision about its
//! dossiers (a patient's choice, a default, an expiry, a new dossier), within
//! a second, and nothing for a deletion or an unchanged decision; a resumed
//! watch replays what it missed, nothing skipped or twice; the stream ends
//! TOKEN_EXPIRED with its token and SHUTTING_DOWN with its server; a company
//! holds a bounded number of watches; a change through one replica reaches
//! a watcher on another.

use std::time::{Duration, Instant};

use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::settings::ServiceKind;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

use crate::support::databases::on_postgres;
use crate::support::*;

/// How long a change may take to reach a connected watcher (the issue's
/// bound).
const WITHIN: Duration = Duration::from_secs(1);
/// How long to wait to be sure that nothing more comes: longer than the
/// streams' poll backstop.
const QUIET: Duration = Duration::from_millis(1500);

async fn watch(
    channel: Channel,
    token: &str,
    after: &str,
) -> Result<Streaming<WatchConsentResponse>, Status> {
    DossierServiceClient::new(channel)
        .watch_consent(authed(
            WatchConsentRequest {
                after: after.into(),
            },
            token,
        ))
        .await
        .map(|response| response.into_inner())
}

/// The next change within `wait`, or `None` when none came; panics if the
/// stream ended.
async fn next(
    stream: &mut Streaming<WatchConsentResponse>,
    wait: Duration,
) -> Option<WatchConsentResponse> {
    match tokio::time::timeout(wait, stream.message()).await {
        Err(_) => None,
        Ok(Ok(Some(change))) => Some(change),
        Ok(Ok(None)) => panic!("the stream ended"),
        Ok(Err(status)) => panic!("the stream failed: {status:?}"),
    }
}

/// The status that ends `stream`, within `wait`.
async fn ending(stream: &mut Streaming<WatchConsentResponse>, wait: Duration) -> Status {
    match tokio::time::timeout(wait, stream.message()).await {
        Err(_) => panic!("the stream did not end within {wait:?}"),
        Ok(Ok(Some(change))) => panic!("a change instead of the end: {change:?}"),
        Ok(Ok(None)) => panic!("the stream ended without a status"),
        Ok(Err(status)) => status,
    }
}

/// A change's decision, to compare.
fn decision(change: &WatchConsentResponse) -> (ConsentStatus, bool, DecisionReason) {
    (change.consent(), change.gave_permission, change.reason())
}

async fn delete_dossier(mesh: &TestMesh, company: &str, patient: &str) {
    mesh.dossier()
        .delete_dossier(authed(
            DeleteDossierRequest {
                bsn: patient.into(),
            },
            company,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn changes_reach_a_watcher_within_a_second_and_a_resumed_watch_misses_nothing() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Wacht Zorg").await;
    let other_company = mesh.company_token("Ander Zorg").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let mut stream = watch(mesh.dossier_channel(), &company, "").await.unwrap();
    let mut others = watch(mesh.dossier_channel(), &other_company, "")
        .await
        .unwrap();

    // A new dossier: its starting decision.
    let dossier = create_dossier(&mesh, &company, &patient_bsn).await;
    let created = next(&mut stream, WITHIN).await.expect("the new dossier");
    assert_eq!(created.dossier_id, dossier.id);
    assert_eq!(
        decision(&created),
        (ConsentStatus::Pending, false, DecisionReason::NoChoice)
    );

    // The patient grants, then withdraws: each reaches the watcher within
    // a second of the patient's call.
    let mut seen = vec![created.clone()];
    for (consent, expected) in [
        (
            ConsentStatus::Granted,
            (ConsentStatus::Granted, true, DecisionReason::CompanyChoice),
        ),
        (
            ConsentStatus::Declined,
            (
                ConsentStatus::Declined,
                false,
                DecisionReason::CompanyChoice,
            ),
        ),
    ] {
        let asked = Instant::now();
        let before = now_millis();
        set_consent(&mesh, &patient, &dossier.id, consent as i32)
            .await
            .unwrap();
        let change = next(&mut stream, WITHIN)
            .await
            .unwrap_or_else(|| panic!("{consent:?} did not arrive within {WITHIN:?}"));
        println!(
            "{consent:?} reached the watcher {:?} after the patient's call began",
            asked.elapsed()
        );
        assert_eq!(change.dossier_id, dossier.id);
        assert_eq!(decision(&change), expected);
        let changed = millis_of(change.change_time.as_ref().unwrap());
        assert!(
            (before..=now_millis()).contains(&changed),
            "change_time is when the patient chose"
        );
        seen.push(change);
    }
    // The same choice again changes no decision: nothing is sent.
    set_consent(&mesh, &patient, &dossier.id, ConsentStatus::Declined as i32)
        .await
        .unwrap();
    assert!(
        next(&mut stream, QUIET).await.is_none(),
        "an unchanged decision"
    );
    let last = seen.last().unwrap().cursor.clone();
    drop(stream);

    // Away: the patient withdraws the choice (back to no choice) and grants
    // again; another company's dossier changes meanwhile.
    clear_choice(&mesh, &patient, Some("Wacht Zorg"))
        .await
        .unwrap();
    set_consent(&mesh, &patient, &dossier.id, ConsentStatus::Granted as i32)
        .await
        .unwrap();
    create_dossier(&mesh, &other_company, &patient_bsn).await;

    let mut resumed = watch(mesh.dossier_channel(), &company, &last)
        .await
        .unwrap();
    let missed = [
        next(&mut resumed, WITHIN).await.expect("the withdrawal"),
        next(&mut resumed, WITHIN).await.expect("the grant"),
    ];
    assert_eq!(
        decision(&missed[0]),
        (ConsentStatus::Pending, false, DecisionReason::NoChoice)
    );
    assert_eq!(
        decision(&missed[1]),
        (ConsentStatus::Granted, true, DecisionReason::CompanyChoice)
    );
    assert!(
        next(&mut resumed, QUIET).await.is_none(),
        "nothing twice, nothing of another company's"
    );
    seen.extend(missed);

    // From the first cursor, the same changes again, in the same order.
    let mut replay = watch(mesh.dossier_channel(), &company, &seen[0].cursor)
        .await
        .unwrap();
    for expected in &seen[1..] {
        assert_eq!(&next(&mut replay, WITHIN).await.unwrap(), expected);
    }
    assert!(next(&mut replay, QUIET).await.is_none());

    // The other company saw its own dossier only.
    let its_own = next(&mut others, WITHIN).await.expect("its new dossier");
    assert_ne!(its_own.dossier_id, dossier.id);
    assert!(next(&mut others, QUIET).await.is_none());

    // A deletion is not a decision.
    delete_dossier(&mesh, &company, &patient_bsn).await;
    assert!(
        next(&mut resumed, QUIET).await.is_none(),
        "no message on delete"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn an_expiring_grant_a_default_and_an_earlier_choice_reach_the_watcher() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Verloop Zorg").await;
    mesh.verify_company("Verloop Zorg").await;
    let unverified = mesh.company_token("Onbekend Zorg").await;
    let patient_bsn = bsn(2);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let mut stream = watch(mesh.dossier_channel(), &company, "").await.unwrap();

    // A grant made before the dossier exists decides it from the start.
    let expires = now_millis() + 3000;
    let expire_time = at_millis(expires);
    set_choice(
        &mesh,
        &patient,
        Some("Verloop Zorg"),
        ConsentStatus::Granted,
        Some(expire_time),
    )
    .await
    .unwrap();
    let dossier = create_dossier(&mesh, &company, &patient_bsn).await;
    let created = next(&mut stream, WITHIN).await.expect("the new dossier");
    assert_eq!(created.dossier_id, dossier.id);
    assert_eq!(
        decision(&created),
        (ConsentStatus::Granted, true, DecisionReason::CompanyChoice)
    );

    // The grant expires with no call at all.
    let expired = next(&mut stream, Duration::from_secs(5))
        .await
        .expect("the expiry");
    let late = now_millis() - expires;
    println!("an expiry reached the watcher {late} ms after the grant's end");
    assert_eq!(
        decision(&expired),
        (ConsentStatus::Granted, false, DecisionReason::ChoiceExpired)
    );
    assert_eq!(millis_of(expired.change_time.as_ref().unwrap()), expires);
    assert!(late < 1000, "{late} ms after the expiry");

    // A default behind the expired company grant changes nothing; once the
    // company grant is withdrawn, the default decides (the company is
    // verified).
    set_choice(&mesh, &patient, None, ConsentStatus::Granted, None)
        .await
        .unwrap();
    assert!(next(&mut stream, QUIET).await.is_none());
    clear_choice(&mesh, &patient, Some("Verloop Zorg"))
        .await
        .unwrap();
    let by_default = next(&mut stream, WITHIN).await.expect("the default");
    assert_eq!(
        decision(&by_default),
        (ConsentStatus::Granted, true, DecisionReason::DefaultChoice)
    );
    // The patient declines everyone by default.
    set_choice(&mesh, &patient, None, ConsentStatus::Declined, None)
        .await
        .unwrap();
    let declined = next(&mut stream, WITHIN).await.expect("the new default");
    assert_eq!(
        decision(&declined),
        (
            ConsentStatus::Declined,
            false,
            DecisionReason::DefaultChoice
        )
    );

    // A default grant does not cover an unverified company: its new
    // dossier starts with no choice.
    set_choice(&mesh, &patient, None, ConsentStatus::Granted, None)
        .await
        .unwrap();
    assert!(next(&mut stream, WITHIN).await.is_some());
    let mut theirs = watch(mesh.dossier_channel(), &unverified, "")
        .await
        .unwrap();
    create_dossier(&mesh, &unverified, &patient_bsn).await;
    let started = next(&mut theirs, WITHIN).await.expect("the new dossier");
    assert_eq!(
        decision(&started),
        (ConsentStatus::Pending, false, DecisionReason::NoChoice)
    );
    mesh.stop().await;
}

#[tokio::test]
async fn the_stream_ends_token_expired_when_the_token_expires() {
    let mesh = TestMesh::start().await;
    let mut claims = jwt::claims("HealthcareCompany", "Kort Zorg");
    claims["exp"] = serde_json::json!(now() + 2);
    let token = jwt::sign(&claims);
    let opened = Instant::now();
    let mut stream = watch(mesh.dossier_channel(), &token, "").await.unwrap();
    let status = ending(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_reason(&status, "TOKEN_EXPIRED");
    assert!(
        opened.elapsed() < Duration::from_secs(4),
        "ended at the token's exp, not later: {:?}",
        opened.elapsed()
    );
    mesh.stop().await;
}

#[tokio::test]
async fn a_company_holds_a_bounded_number_of_watches() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Veel Zorg").await;
    let other = mesh.company_token("Weinig Zorg").await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(watch(mesh.dossier_channel(), &company, "").await.unwrap());
    }
    let refused = watch(mesh.dossier_channel(), &company, "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_reason(&refused, "TOO_MANY_WATCHES");
    assert_eq!(error_metadata(&refused, "limit").as_deref(), Some("8"));
    watch(mesh.dossier_channel(), &other, "")
        .await
        .expect("the bound is per company");

    // A watch that ends is given back.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match watch(mesh.dossier_channel(), &company, "").await {
            Ok(_) => break,
            Err(status) if Instant::now() < deadline => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("the ended watch was not given back: {status:?}"),
        }
    }
    mesh.stop().await;
}

#[tokio::test]
async fn a_cursor_that_is_not_ours_is_invalid() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Cursor Zorg").await;
    // "watch", v1, -1: ours in form, but no place in the feed; and a place
    // past its end.
    let past_the_end = "d2F0Y2gfdjEfOTk5OTk5";
    for bad in ["42", "not a cursor", "d2F0Y2gfdjEfLTE", past_the_end] {
        let status = watch(mesh.dossier_channel(), &company, bad)
            .await
            .unwrap_err();
        assert_invalid(&status, &["after"]);
    }
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams_cleanly() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Stop Zorg").await;
    let stop = CancellationToken::new();
    let replica = mesh.start_replica(ServiceKind::Dossier, stop.clone()).await;
    let mut stream = watch(channel(replica.addr).await, &company, "")
        .await
        .unwrap();
    assert!(
        next(&mut stream, Duration::from_millis(300))
            .await
            .is_none()
    );

    let stopping = Instant::now();
    stop.cancel();
    let status = ending(&mut stream, Duration::from_secs(2)).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_reason(&status, "SHUTTING_DOWN");
    println!(
        "the stream ended {:?} after shutdown began",
        stopping.elapsed()
    );
    tokio::time::timeout(Duration::from_secs(10), replica.wait())
        .await
        .expect("the server stops")
        .unwrap();
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_reaches_a_watcher_on_another() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Twee Zorg").await;
    let patient_bsn = bsn(3);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let stop = CancellationToken::new();
    let replica = mesh.start_replica(ServiceKind::Dossier, stop.clone()).await;
    let mut stream = watch(channel(replica.addr).await, &company, "")
        .await
        .unwrap();
    // PostgreSQL tells the other replica at once (NOTIFY); SQLite has no
    // such word, so there a replica finds the change by its poll.
    let within = if on_postgres() {
        WITHIN
    } else {
        WITHIN + QUIET
    };
    let dossier = create_dossier(&mesh, &company, &patient_bsn).await;
    assert_eq!(
        next(&mut stream, within)
            .await
            .expect("the new dossier")
            .dossier_id,
        dossier.id
    );
    let asked = Instant::now();
    set_consent(&mesh, &patient, &dossier.id, ConsentStatus::Declined as i32)
        .await
        .unwrap();
    let change = next(&mut stream, within)
        .await
        .expect("the change, through the other replica");
    println!(
        "a change through one replica reached a watcher on the other in {:?}",
        asked.elapsed()
    );
    assert_eq!(
        decision(&change),
        (
            ConsentStatus::Declined,
            false,
            DecisionReason::CompanyChoice
        )
    );
    stop.cancel();
    mesh.stop().await;
}
