//! Races the contract settles: concurrent first calls for one BSN, one
//! (company, patient) pair, one patient account and one company name each
//! end with exactly one winner.
//!
//! Every racer waits on a barrier after its client is cloned and before it
//! sends, so the calls really arrive together (and on a multi-threaded
//! runtime, are handled in parallel).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use crate::support::*;
use futures_util::future::join_all;
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::identity::v1::*;
use toestemming::proto::pseudoniem::v1::*;
use toestemming::settings::ServiceKind;
use tokio::sync::Barrier;
use tonic::{Code, Status};

/// Runs `racer(i)` for `i` in `0..n` on spawned tasks, all released at
/// once, and returns their outcomes in order.
async fn race<T, F, Fut>(n: usize, racer: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks = (0..n).map(|i| {
        let call = racer(i);
        let barrier = barrier.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            call.await
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.expect("a racer panicked"))
        .collect()
}

/// The successes of `outcomes`, after checking every failure has `code`
/// and, when `code` is an error, the ErrorInfo reason `expected_reason`.
fn winners<T>(
    outcomes: Vec<Result<T, Status>>,
    code: Code,
    expected_reason: Option<&str>,
) -> Vec<T> {
    let mut won = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(value) => won.push(value),
            Err(status) => {
                assert_eq!(status.code(), code, "unexpected failure: {status:?}");
                assert_eq!(
                    reason(&status).as_deref(),
                    expected_reason,
                    "unexpected failure: {status:?}"
                );
            }
        }
    }
    won
}

/// The `sub` claim of a JWT (read without verifying: the test only looks).
fn subject(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a compact JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON claims");
    claims["sub"].as_str().expect("a string sub").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_get_pseudoniem_calls_yield_one_pseudoniem() {
    let mesh = TestMesh::start().await;
    let internal = mesh.token(Role::Internal, "internal");
    let client = mesh.pseudoniem();
    // Warm the connection so the race is not serialised by its handshake.
    client
        .clone()
        .get_pseudoniem(authed(GetPseudoniemRequest { bsn: bsn(1) }, &internal))
        .await
        .unwrap();

    let contested = bsn(2);
    let outcomes = race(50, |_| {
        let mut client = client.clone();
        let request = authed(
            GetPseudoniemRequest {
                bsn: contested.clone(),
            },
            &internal,
        );
        async move { client.get_pseudoniem(request).await.map(|r| r.into_inner()) }
    })
    .await;

    let answers = winners(outcomes, Code::Ok, None);
    assert_eq!(answers.len(), 50, "every call succeeds");
    let pseudoniemen: HashSet<&str> = answers.iter().map(|a| a.pseudoniem.as_str()).collect();
    assert_eq!(
        pseudoniemen.len(),
        1,
        "one BSN, one pseudoniem: {pseudoniemen:?}"
    );
    let created = answers.iter().filter(|a| a.created).count();
    assert_eq!(created, 1, "exactly one caller is told it created it");

    // The stored value is the one every racer was given.
    let looked_up = mesh
        .pseudoniem()
        .lookup_pseudoniem(authed(
            LookupPseudoniemRequest { bsn: contested },
            &internal,
        ))
        .await
        .unwrap()
        .into_inner()
        .pseudoniem;
    assert!(pseudoniemen.contains(looked_up.as_str()));

    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_create_dossier_calls_yield_one_dossier() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Concurrent Care").await;
    let client = mesh.dossier();
    // Dossier's revocation list may have fetched its Internal token
    // already (it asks Identity from the start); if not, the racers race it.
    assert!(mesh.internal_token_fetches(ServiceKind::Dossier) <= 1);

    // A BSN the mesh has never seen: the racers also race on its pseudoniem,
    // and perhaps on Dossier's first Internal token.
    let patient = bsn(3);
    let outcomes = race(50, |_| {
        let mut client = client.clone();
        let request = authed(
            CreateDossierRequest {
                bsn: patient.clone(),
            },
            &company,
        );
        async move { client.create_dossier(request).await.map(|r| r.into_inner()) }
    })
    .await;

    let answers = winners(outcomes, Code::Ok, None);
    assert_eq!(answers.len(), 50, "every call succeeds");
    let ids: HashSet<String> = answers
        .iter()
        .map(|a| a.dossier.as_ref().expect("a dossier").id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "one (company, patient), one dossier: {ids:?}");
    assert_eq!(answers.iter().filter(|a| a.created).count(), 1);
    assert_eq!(
        mesh.internal_token_fetches(ServiceKind::Dossier),
        1,
        "concurrent first calls share one Internal token fetch (with the revocation list's)"
    );

    let (_, patient_token) = mesh.patient_token(&patient).await;
    let listed = mesh
        .dossier()
        .list_my_dossiers(authed(ListMyDossiersRequest::default(), &patient_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.dossiers.len(), 1);
    assert!(ids.contains(&listed.dossiers[0].id));
    assert_eq!(listed.dossiers[0].company_name, "Concurrent Care");

    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_bsn_have_one_winner() {
    let mesh = TestMesh::start().await;
    let client = mesh.identity();
    client
        .clone()
        .register_company(RegisterCompanyRequest {
            company_name: "warm-up".into(),
        })
        .await
        .unwrap();

    // Each racer registers under its own first name, so the account that
    // exists afterwards tells which racer won.
    let patient = bsn(4);
    const RACERS: usize = 12;
    let outcomes = race(RACERS, |i| {
        let mut client = client.clone();
        let request = RegisterPatientRequest {
            bsn: patient.clone(),
            first_name: format!("Racer{i}"),
            last_name: "Gelijktijdig".into(),
            password: PASSWORD.into(),
        };
        async move {
            client
                .register_patient(request)
                .await
                .map(|r| (i, r.into_inner().pseudoniem))
        }
    })
    .await;

    let won = winners(
        outcomes,
        Code::AlreadyExists,
        Some("PATIENT_ALREADY_REGISTERED"),
    );
    assert_eq!(won.len(), 1, "exactly one registration succeeds: {won:?}");
    let (winner, pseudoniem) = won.into_iter().next().unwrap();

    let token = mesh
        .identity()
        .login_patient(LoginPatientRequest {
            bsn: patient,
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    assert_eq!(subject(&token), pseudoniem);
    let profile = mesh
        .identity()
        .get_my_profile(authed(GetMyProfileRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(profile.first_name, format!("Racer{winner}"));

    mesh.stop().await;
}

/// `name` with the letters selected by the bits of `mask` upper-cased.
fn cased(name: &str, mask: u32) -> String {
    let mut letter = 0;
    name.chars()
        .map(|c| {
            if !c.is_ascii_alphabetic() {
                return c;
            }
            letter += 1;
            if mask & (1 << (letter - 1)) != 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_company_name_have_one_winner() {
    let mesh = TestMesh::start().await;
    let client = mesh.identity();
    client
        .clone()
        .register_company(RegisterCompanyRequest {
            company_name: "warm-up".into(),
        })
        .await
        .unwrap();

    const RACERS: usize = 16;
    let names: Vec<String> = (0..RACERS as u32)
        .map(|i| cased("zorggroep samen", i * 37 + 5))
        .collect();
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        RACERS,
        "the racers use distinct spellings"
    );
    let outcomes = race(RACERS, |i| {
        let mut client = client.clone();
        let request = RegisterCompanyRequest {
            company_name: names[i].clone(),
        };
        async move {
            client
                .register_company(request)
                .await
                .map(|r| (i, r.into_inner()))
        }
    })
    .await;

    let won = winners(outcomes, Code::AlreadyExists, Some("COMPANY_NAME_TAKEN"));
    assert_eq!(won.len(), 1, "exactly one registration succeeds");
    let (winner, registered) = won.into_iter().next().unwrap();

    // The winner's credentials work, and its token names the winner's
    // spelling.
    let token = mesh
        .issue_company_token(&registered.company_id, &registered.client_secret)
        .await
        .unwrap();
    assert_eq!(subject(&token), names[winner]);

    mesh.stop().await;
}
