//! The EdDSA mode (`JWT_ALGORITHM=EdDSA`): only Identity signs, the others
//! verify with the public key set they fetch from Identity (or read from a
//! file), keys rotate while calls flow, and nothing a token says about keys
//! is trusted. The access matrix under EdDSA is in `access_matrix`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::*;
use toestemming::auth::Role;
use toestemming::auth::keys::{KeyFiles, PublicKeySet, key_dir};
use toestemming::proto::identity::v1::GetJwksRequest;
use toestemming::proto::pseudoniem::v1::LookupPseudoniemRequest;
use toestemming::proto::pseudoniem::v1::pseudoniem_service_client::PseudoniemServiceClient;
use toestemming::settings::{
    JwtSettings, PublicKeySettings, ServiceKind, SigningKeySource, TokenKeys,
};

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    header["kid"].as_str().unwrap().to_owned()
}

/// LookupPseudoniem on `pseudoniem` with `token`: NOT_FOUND (the BSN was
/// never seen) means the token was accepted.
async fn lookup(pseudoniem: std::net::SocketAddr, token: &str) -> tonic::Status {
    PseudoniemServiceClient::new(channel(pseudoniem).await)
        .lookup_pseudoniem(authed(LookupPseudoniemRequest { bsn: bsn(61) }, token))
        .await
        .unwrap_err()
}

async fn health(addr: std::net::SocketAddr) -> i32 {
    HealthClient::new(channel(addr).await)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

#[tokio::test]
async fn identity_publishes_public_keys_and_an_hs256_mesh_publishes_none() {
    let mesh = TestMesh::start_with(use_eddsa).await;
    let set = mesh
        .identity()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.keys.len(), 2, "current and next");
    for key in &set.keys {
        assert_eq!(
            (
                key.kty.as_str(),
                key.crv.as_str(),
                key.alg.as_str(),
                key.r#use.as_str()
            ),
            ("OKP", "Ed25519", "EdDSA", "sig")
        );
    }
    let token = mesh.company_token("Jwks Zorg").await;
    assert_eq!(
        kid_of(&token),
        set.keys[0].kid,
        "signed with the current key"
    );
    let checked = PublicKeySet::from_proto(set).expect("a valid key set");

    // The website serves the same set over HTTP for non-gRPC verifiers.
    let url = format!(
        "http://{}/.well-known/jwks.json",
        mesh.addr(ServiceKind::Website)
    );
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let body = response.bytes().await.unwrap();
    assert_eq!(PublicKeySet::from_json(&body).unwrap(), checked);
    assert!(
        !String::from_utf8_lossy(&body).contains("\"d\""),
        "no private part"
    );
    mesh.stop().await;

    let hs256 = TestMesh::start().await;
    let refused = hs256
        .identity()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_reason(&refused, "NO_PUBLIC_KEY_SET");
    hs256.stop().await;
}

#[tokio::test]
async fn an_eddsa_mesh_refuses_hs256_tokens_and_the_reverse() {
    let mesh = TestMesh::start_with(use_eddsa).await;
    let pseudoniem = mesh.addr(ServiceKind::Pseudoniem);
    let genuine = mesh.token(Role::Internal, "internal");
    assert_eq!(lookup(pseudoniem, &genuine).await.code(), Code::NotFound);
    // Valid claims under the HS256 test key: not this deployment's algorithm.
    let hs256 = jwt::sign(&jwt::claims("Internal", "internal"));
    let refused = lookup(pseudoniem, &hs256).await;
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_reason(&refused, "TOKEN_INVALID");

    let hs256_mesh = TestMesh::start().await;
    let refused = lookup(hs256_mesh.addr(ServiceKind::Pseudoniem), &genuine).await;
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_reason(&refused, "TOKEN_INVALID");
    hs256_mesh.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn without_a_key_set_a_service_is_not_serving_and_answers_unavailable() {
    let mesh = TestMesh::start_with(use_eddsa).await;
    let token = mesh.token(Role::Internal, "internal");
    // A Pseudoniem whose Identity is nowhere: it cannot judge any token.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", nowhere.local_addr().unwrap());
    drop(nowhere);
    let shutdown = CancellationToken::new();
    let lonely = mesh
        .start_extra(ServiceKind::Pseudoniem, shutdown.clone(), |settings| {
            settings.peers.identity = dead;
        })
        .await;
    assert_eq!(health(lonely.addr).await, ServingStatus::NotServing as i32);
    let status = lookup(lonely.addr, &token).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_reason(&status, "KEYS_UNAVAILABLE");

    // The same service reading the key set from a file is ready at once.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    let published = mesh
        .identity()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    std::fs::write(
        &file,
        PublicKeySet::from_proto(published).unwrap().to_json(),
    )
    .unwrap();
    let from_file = mesh
        .start_extra(ServiceKind::Pseudoniem, shutdown.clone(), |settings| {
            let TokenKeys::Public(public) = &mut settings.jwt.as_mut().unwrap().keys else {
                panic!("EdDSA")
            };
            public.jwks_file = Some(file.clone());
        })
        .await;
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        while health(from_file.addr).await != ServingStatus::Serving as i32 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "serving once the file is read");
    assert_eq!(lookup(from_file.addr, &token).await.code(), Code::NotFound);
    shutdown.cancel();
    mesh.stop().await;
}

#[tokio::test]
async fn a_flood_of_invented_kids_costs_identity_one_fetch_per_interval() {
    let mesh = TestMesh::start_with(|settings| {
        use_eddsa(settings);
        let TokenKeys::Public(public) = &mut settings.jwt.as_mut().unwrap().keys else {
            panic!("EdDSA")
        };
        public.min_refetch_interval = Duration::from_secs(1);
    })
    .await;
    // The start-up fetch was less than an interval ago; let it pass, so
    // the first unknown kid may fetch at once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let pseudoniem = mesh.addr(ServiceKind::Pseudoniem);
    let identity_requests = || {
        mesh.running
            .handles(ServiceKind::Identity)
            .requests
            .load(Ordering::Relaxed)
    };
    // Tokens signed by keys Identity never had, each with its own kid.
    let strangers: Vec<String> = (0..50)
        .map(|_| {
            let ring = Arc::new(toestemming::auth::keys::SigningKeyRing::generate());
            toestemming::auth::TokenIssuer::new(&JwtSettings::with_signing_keys(ring))
                .issue("internal", Role::Internal)
                .unwrap()
                .access_token
        })
        .collect();
    let before = identity_requests();
    for token in &strangers {
        let refused = lookup(pseudoniem, token).await;
        assert_eq!(refused.code(), Code::Unauthenticated);
        assert_reason(&refused, "TOKEN_INVALID");
    }
    // Give a refetch that was asked for the time to happen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetches = identity_requests() - before;
    assert_eq!(
        fetches, 1,
        "50 unknown kids within one refetch interval: one fetch of the key set, not {fetches}"
    );
    mesh.stop().await;
}

/// Keys rotate while a load of fresh and older tokens flows through
/// Identity, Dossier and Pseudoniem: not one call fails.
#[tokio::test]
async fn keys_rotate_under_load_and_no_call_is_lost() {
    let keys = tempfile::tempdir().unwrap();
    key_dir::generate(keys.path()).unwrap();
    let mesh = TestMesh::start_with(|settings| {
        settings.jwt = Some(JwtSettings::new(TokenKeys::Public(PublicKeySettings {
            signing: Some(SigningKeySource::Files(KeyFiles::in_dir(keys.path()))),
            jwks_file: None,
            refresh_every: Duration::from_millis(500),
            min_refetch_interval: Duration::from_millis(500),
        })));
    })
    .await;
    let company = mesh.register_company("Rotatie Zorg").await;
    let patient = bsn(62);
    create_dossier(&mesh, &company.token, &patient).await;
    let old_kid = kid_of(&company.token);

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let mesh = Arc::new(mesh);
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (mesh, stop, calls) = (mesh.clone(), stop.clone(), calls.clone());
        let (company, patient) = (
            Company {
                id: company.id.clone(),
                secret: company.secret.clone(),
                token: company.token.clone(),
            },
            patient.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut kids = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                // A fresh token from Identity (whichever key signs now),
                // and the one from before the rotation: both must pass.
                let fresh = match mesh.issue_company_token(&company.id, &company.secret).await {
                    Ok(token) => token,
                    Err(status) => {
                        failures.push(format!("IssueCompanyToken: {status:?}"));
                        continue;
                    }
                };
                kids.insert(kid_of(&fresh));
                let token = if worker % 2 == 0 {
                    &fresh
                } else {
                    &company.token
                };
                if let Err(status) = check_permission(&mesh, token, &patient).await {
                    failures.push(format!("CheckPermission: {status:?}"));
                }
                calls.fetch_add(2, Ordering::Relaxed);
            }
            (failures, kids)
        }));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rotated = key_dir::rotate(keys.path(), Duration::from_secs(900), true).unwrap();
    let signing = mesh
        .running
        .handles(ServiceKind::Identity)
        .signing_keys
        .as_ref()
        .expect("Identity holds its keys")
        .reload()
        .unwrap();
    assert_eq!(signing, rotated.signing_kid);
    let at_rotation = calls.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);

    let mut failures = Vec::new();
    let mut kids = std::collections::BTreeSet::new();
    for worker in workers {
        let (worker_failures, worker_kids) = worker.await.unwrap();
        failures.extend(worker_failures);
        kids.extend(worker_kids);
    }
    let total = calls.load(Ordering::Relaxed);
    println!("{total} calls, {at_rotation} before the rotation; kids seen: {kids:?}");
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        at_rotation > 20 && total - at_rotation > 20,
        "load flowed on both sides: {at_rotation} / {total}"
    );
    assert!(
        kids.contains(&old_kid) && kids.contains(&rotated.signing_kid),
        "{kids:?}"
    );

    // Every verifier now holds the rotated set: new current, new next, and
    // the old key as previous, so its tokens live out their lifetime.
    let expected = key_dir::jwks(keys.path()).unwrap();
    for kind in [ServiceKind::Pseudoniem, ServiceKind::Dossier] {
        let store = mesh
            .running
            .handles(kind)
            .verifier
            .as_ref()
            .unwrap()
            .key_store()
            .unwrap()
            .clone();
        assert_eq!(store.current().as_deref(), Some(&expected), "{kind}");
    }
    assert!(
        check_permission(&mesh, &company.token, &patient)
            .await
            .is_ok(),
        "a token of the old key after the rotation"
    );
    Arc::try_unwrap(mesh)
        .ok()
        .expect("the workers are done")
        .stop()
        .await;
}
