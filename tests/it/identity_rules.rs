//! Identity's account rules: patient registration (every bad field at once,
//! one account per BSN), sign-in failures that look alike and the lockout
//! after five, GetMyProfile without an account, unique company names, and
//! company tokens only for the right id and secret.

use std::time::Duration;

use crate::support::*;
use toestemming::auth::Role;
use toestemming::proto::identity::v1::*;
use tonic::Code;
use tonic_types::StatusExt as _;

#[tokio::test]
async fn register_patient_reports_every_bad_field_at_once() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);

    let status = register_patient(&mesh, &patient, "", "", "123456789")
        .await
        .unwrap_err();
    assert_invalid(&status, &["first_name", "last_name", "password"]);
    assert_not_echoed(&status, "123456789");

    let status = register_patient(&mesh, "123456780", "  ", "Jansen", "short")
        .await
        .unwrap_err();
    assert_invalid(&status, &["bsn", "first_name", "password"]);

    // Nothing was registered by those; a valid registration works once.
    register_patient(&mesh, &patient, "Jan", "Jansen", "1234567890")
        .await
        .unwrap();
    let status = register_patient(&mesh, &patient, "Piet", "Pietersen", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_reason(&status, "PATIENT_ALREADY_REGISTERED");
    assert_not_echoed(&status, &patient);
    // The duplicate did not replace the account.
    let token = login(&mesh, &patient, "1234567890").await.unwrap();
    assert_eq!(
        profile(&mesh, &token).await,
        ("Jan".to_owned(), "Jansen".to_owned())
    );

    mesh.stop().await;
}

#[tokio::test]
async fn login_failures_look_alike_and_lock_the_account_after_five() {
    let mesh = TestMesh::start().await;
    let (alice, bob, stranger) = (bsn(1), bsn(2), bsn(3));
    register_patient(&mesh, &alice, "Alice", "Achternaam", PASSWORD)
        .await
        .unwrap();
    register_patient(&mesh, &bob, "Bob", "Achternaam", PASSWORD)
        .await
        .unwrap();
    login(&mesh, &alice, PASSWORD).await.unwrap();

    let wrong = login(&mesh, &alice, "not the password").await.unwrap_err();
    let unknown = login(&mesh, &stranger, PASSWORD).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_reason(&wrong, "INVALID_CREDENTIALS");
    assert_reason(&unknown, "INVALID_CREDENTIALS");
    assert_eq!(wrong.message(), unknown.message());
    assert_not_echoed(&wrong, &alice);
    assert_not_echoed(&wrong, "not the password");

    // That was Alice's first failure; four more lock her account.
    for _ in 0..4 {
        let status = login(&mesh, &alice, "still not it").await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_reason(&status, "INVALID_CREDENTIALS");
        assert_eq!(status.message(), wrong.message());
    }
    let locked = login(&mesh, &alice, PASSWORD).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
    assert_reason(&locked, "TOO_MANY_ATTEMPTS");
    // It says when to try again: within the 15-minute window.
    let retry_delay = locked
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .unwrap_or_else(|| panic!("no RetryInfo with a delay: {locked:?}"));
    assert!(
        retry_delay > Duration::ZERO && retry_delay <= Duration::from_secs(15 * 60),
        "retry after {retry_delay:?}"
    );
    assert_not_echoed(&locked, &alice);

    // Bob, from the same peer, is not affected.
    let token = login(&mesh, &bob, PASSWORD).await.unwrap();
    let profile = mesh
        .identity()
        .get_my_profile(authed(GetMyProfileRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (profile.first_name.as_str(), profile.last_name.as_str()),
        ("Bob", "Achternaam")
    );

    mesh.stop().await;
}

/// A genuine Patient token whose pseudoniem has no account (never
/// registered here) is verified, then answered PATIENT_NOT_FOUND.
#[tokio::test]
async fn get_my_profile_without_an_account_is_patient_not_found() {
    let mesh = TestMesh::start().await;
    let nobody = uuid::Uuid::new_v4().to_string();
    let token = mesh.token(Role::Patient, &nobody);

    let status = mesh
        .identity()
        .get_my_profile(authed(GetMyProfileRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_reason(&status, "PATIENT_NOT_FOUND");
    assert_not_echoed(&status, &nobody);
    assert_not_echoed(&status, &token);

    // A registered patient's profile is found, with the same kind of token.
    let (_, registered) = mesh.patient_token(&bsn(1)).await;
    let profile = mesh
        .identity()
        .get_my_profile(authed(GetMyProfileRequest {}, &registered))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(profile.first_name, "Jan");

    mesh.stop().await;
}

#[tokio::test]
async fn company_names_are_unique_regardless_of_case_and_required() {
    let mesh = TestMesh::start().await;
    mesh.register_company("Zorggroep Noord").await;

    for duplicate in ["zorggroep noord", "ZORGGROEP NOORD", "ZorgGroep Noord"] {
        let status = mesh
            .identity()
            .register_company(RegisterCompanyRequest {
                company_name: duplicate.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "{duplicate:?}");
        assert_reason(&status, "COMPANY_NAME_TAKEN");
    }
    for empty in ["", "   "] {
        let status = mesh
            .identity()
            .register_company(RegisterCompanyRequest {
                company_name: empty.into(),
            })
            .await
            .unwrap_err();
        assert_invalid(&status, &["company_name"]);
    }
    // A different name is fine.
    mesh.register_company("Zorggroep Zuid").await;

    mesh.stop().await;
}

#[tokio::test]
async fn company_tokens_need_the_right_id_and_secret() {
    let mesh = TestMesh::start().await;
    let company = mesh.register_company("Geheim Zorg").await;
    let other = mesh.register_company("Ander Zorg").await;

    let attempt = |company_id: String, client_secret: String| {
        let mut identity = mesh.identity();
        async move {
            identity
                .issue_company_token(IssueCompanyTokenRequest {
                    company_id,
                    client_secret,
                })
                .await
        }
    };
    let wrong_secret = attempt(company.id.clone(), other.secret.clone())
        .await
        .unwrap_err();
    let unknown_id = attempt(uuid::Uuid::new_v4().to_string(), company.secret.clone())
        .await
        .unwrap_err();
    let malformed_id = attempt("not-a-uuid".into(), company.secret.clone())
        .await
        .unwrap_err();
    let empty_secret = attempt(company.id.clone(), String::new())
        .await
        .unwrap_err();
    for status in [&wrong_secret, &unknown_id, &malformed_id, &empty_secret] {
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_reason(status, "INVALID_CREDENTIALS");
        assert_not_echoed(status, &company.secret);
        assert_not_echoed(status, &other.secret);
    }
    assert_eq!(wrong_secret.message(), unknown_id.message());
    // A malformed id is just another unknown company, an empty secret just
    // another wrong one: the same answer.
    assert_eq!(malformed_id.message(), unknown_id.message());
    assert_eq!(empty_secret.message(), wrong_secret.message());

    // The right pair still works.
    attempt(company.id.clone(), company.secret.clone())
        .await
        .unwrap();

    mesh.stop().await;
}
