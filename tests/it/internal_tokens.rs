//! Internal tokens, the credential services use with each other: Identity
//! issues one only for the service credential, and Dossier fetches one
//! from Identity once (at start-up, for its first ListRevokedTokens) and
//! reuses it for every call that needs Pseudoniem.

use crate::support::*;
use toestemming::proto::identity::v1::*;
use toestemming::proto::pseudoniem::v1::*;
use toestemming::settings::ServiceKind;
use tonic::Code;

#[tokio::test]
async fn dossier_fetches_its_internal_token_from_identity_once() {
    let mesh = TestMesh::start().await;
    let tokens = mesh
        .running
        .handles(ServiceKind::Dossier)
        .internal_tokens
        .clone()
        .unwrap();
    // The revocation list's refresher asks Identity's ListRevokedTokens
    // from the start, with the one token Dossier fetches.
    let started = std::time::Instant::now();
    while tokens.fetches() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no Internal token for the revocation list"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(tokens.fetches(), 1, "one token at start-up");

    // Identity's own calls to Pseudoniem use a token Identity signs.
    let company = mesh.company_token("Eenmalig Zorg").await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;
    let listed = list_my_dossiers(&mesh, &patient, 0, "").await.unwrap();
    assert!(listed.dossiers.is_empty());
    assert_eq!(tokens.fetches(), 1);

    for i in 0..10 {
        let bsn = bsn(100 + i);
        create_dossier(&mesh, &company, &bsn).await;
        let permission = check_permission(&mesh, &company, &bsn).await.unwrap();
        assert!(!permission.gave_permission);
    }
    assert_eq!(
        tokens.fetches(),
        1,
        "20 calls needing Pseudoniem and the revocation refreshes, one token from Identity"
    );

    mesh.stop().await;
}

#[tokio::test]
async fn internal_tokens_need_the_service_credential() {
    let mesh = TestMesh::start().await;
    let issue_as = |service_name: &str, secret: &str| {
        let mut identity = mesh.identity();
        let request = IssueInternalTokenRequest {
            service_name: service_name.into(),
            service_secret: secret.into(),
        };
        async move { identity.issue_internal_token(request).await }
    };
    let issue = |secret: &str| issue_as("dossier", secret);

    let mut messages = Vec::new();
    for wrong in [
        "wrong-secret",
        "",
        "test-internal-client-secret ",
        "TEST-INTERNAL-CLIENT-SECRET",
    ] {
        let status = issue(wrong).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{wrong:?}");
        assert_reason(&status, "INVALID_CREDENTIALS");
        assert_not_echoed(&status, INTERNAL_SECRET);
        messages.push(status.message().to_owned());
    }
    // Any other service name is refused alike: one answer for every
    // refusal.
    let status = issue_as("onbekend", "wrong-secret").await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_reason(&status, "INVALID_CREDENTIALS");
    messages.push(status.message().to_owned());
    assert!(
        messages.iter().all(|message| *message == messages[0]),
        "{messages:?}"
    );

    let token = issue(INTERNAL_SECRET).await.unwrap().into_inner();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_in, 900);
    let decoded = decode(&token.access_token);
    assert_eq!(decoded.payload["role"], "Internal");
    assert_eq!(decoded.payload["sub"], "internal");

    // It is accepted where Internal is required.
    mesh.pseudoniem()
        .get_pseudoniem(authed(
            GetPseudoniemRequest { bsn: bsn(1) },
            &token.access_token,
        ))
        .await
        .unwrap();

    mesh.stop().await;
}
