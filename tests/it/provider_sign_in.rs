//! A patient is who the OpenID provider says (ExchangeProviderCode), not
//! whoever knows a BSN: Identity exchanges the code itself and believes an
//! ID token only when every check holds; every other token is refused the
//! same way, with no account or pseudoniem made. Password sign-in is a
//! development mode that can be turned off, and a proofed sign-in takes a
//! password account over for good.

use serde_json::json;
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::{ConsentStatus, DecisionReason};
use toestemming::proto::identity::v1::*;
use toestemming::proto::pseudoniem::v1::LookupPseudoniemRequest;
use tonic::{Code, Status};

use crate::support::rogue_provider::{Grant, REDIRECT_URI, RogueProvider, Signing};
use crate::support::token_contents::decode;
use crate::support::*;

const VERIFIER: &str = "a-pkce-code-verifier-of-at-least-forty-three-characters";
const NONCE: &str = "the-nonce-the-website-made";

/// A mesh whose Identity signs patients in through `provider`.
async fn mesh_with(provider: &RogueProvider, password: bool) -> TestMesh {
    let settings = provider.settings();
    TestMesh::start_with(move |mesh| {
        mesh.patient_sign_in.provider = Some(settings);
        mesh.patient_sign_in.password = password;
    })
    .await
}

/// ExchangeProviderCode as the website (an Internal token).
async fn exchange(
    mesh: &TestMesh,
    code: &str,
    verifier: &str,
    nonce: &str,
) -> Result<String, Status> {
    let website = mesh.token(Role::Internal, "internal");
    mesh.identity()
        .exchange_provider_code(authed(
            ExchangeProviderCodeRequest {
                code: code.into(),
                code_verifier: verifier.into(),
                redirect_uri: REDIRECT_URI.into(),
                nonce: nonce.into(),
            },
            &website,
        ))
        .await
        .map(|response| response.into_inner().access_token)
}

/// A code for a good ID token about `bsn`, changed by `change`.
fn code(provider: &RogueProvider, bsn: &str, change: impl FnOnce(&mut Grant)) -> String {
    let mut grant = Grant {
        claims: provider.claims(bsn, NONCE),
        signing: Signing::ProviderKey,
        verifier: VERIFIER.into(),
    };
    change(&mut grant);
    provider.grant(grant)
}

/// What a case does to a good grant.
type Change = dyn Fn(&mut Grant);

/// Whether Pseudoniem knows `bsn`: a refused sign-in must not create its
/// pseudoniem (nor, so, an account).
async fn known(mesh: &TestMesh, bsn: &str) -> bool {
    let internal = mesh.token(Role::Internal, "internal");
    match mesh
        .pseudoniem()
        .lookup_pseudoniem(authed(
            LookupPseudoniemRequest { bsn: bsn.into() },
            &internal,
        ))
        .await
    {
        Ok(_) => true,
        Err(status) if status.code() == Code::NotFound => false,
        Err(status) => panic!("LookupPseudoniem failed: {status:?}"),
    }
}

#[tokio::test]
async fn a_patient_the_provider_vouches_for_is_signed_in_with_an_account_made_once() {
    let provider = RogueProvider::start().await;
    let mesh = mesh_with(&provider, true).await;
    let bsn = bsn(11);

    let token = exchange(&mesh, &code(&provider, &bsn, |_| {}), VERIFIER, NONCE)
        .await
        .expect("a good sign-in");
    let claims = decode(&token).payload;
    assert_eq!(claims["role"], "Patient");
    let pseudoniem = claims["sub"].as_str().unwrap().to_owned();
    assert_eq!(
        profile(&mesh, &token).await,
        ("Anna".to_owned(), "de Vries".to_owned())
    );

    // Again, without names this time (DigiD sends none): the same patient,
    // and the names stay.
    let again = exchange(
        &mesh,
        &code(&provider, &bsn, |grant| {
            let claims = grant.claims.as_object_mut().unwrap();
            claims.remove("given_name");
            claims.remove("family_name");
        }),
        VERIFIER,
        NONCE,
    )
    .await
    .unwrap();
    assert_eq!(decode(&again).payload["sub"], pseudoniem.as_str());
    assert_eq!(profile(&mesh, &again).await.0, "Anna");

    // The account has no password: knowing the BSN signs nobody in.
    let status = login(&mesh, &bsn, PASSWORD).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_reason(&status, "INVALID_CREDENTIALS");
    mesh.stop().await;
}

#[tokio::test]
async fn whatever_the_provider_does_not_prove_is_refused_and_creates_nothing() {
    let provider = RogueProvider::start().await;
    let mesh = mesh_with(&provider, true).await;
    let now = now();
    let cases: Vec<(&str, Box<Change>)> = vec![
        (
            "another issuer",
            Box::new(|g| g.claims["iss"] = json!("https://elsewhere.example")),
        ),
        (
            "another audience",
            Box::new(|g| g.claims["aud"] = json!("someone-else")),
        ),
        (
            "an untrusted second audience",
            Box::new(|g| g.claims["aud"] = json!(["toestemming-test", "someone-else"])),
        ),
        (
            "expired",
            Box::new(move |g| {
                g.claims["exp"] = json!(now - 10);
                g.claims["iat"] = json!(now - 310);
            }),
        ),
        (
            "issued long ago",
            Box::new(move |g| g.claims["iat"] = json!(now - 3600)),
        ),
        (
            "issued in the future",
            Box::new(move |g| g.claims["iat"] = json!(now + 3600)),
        ),
        (
            "another nonce",
            Box::new(|g| g.claims["nonce"] = json!("an-attacker-nonce")),
        ),
        (
            "no nonce",
            Box::new(|g| {
                g.claims.as_object_mut().unwrap().remove("nonce");
            }),
        ),
        (
            "HS256 with the client secret",
            Box::new(|g| g.signing = Signing::ClientSecret),
        ),
        ("alg none", Box::new(|g| g.signing = Signing::Unsigned)),
        (
            "signed with another key",
            Box::new(|g| g.signing = Signing::OtherKey),
        ),
        (
            "no BSN claim",
            Box::new(|g| {
                g.claims.as_object_mut().unwrap().remove("bsn");
            }),
        ),
        (
            "a BSN failing the 11-proof",
            Box::new(|g| g.claims["bsn"] = json!("123456780")),
        ),
        (
            "a BSN as a number",
            Box::new(|g| g.claims["bsn"] = json!(111222333)),
        ),
        (
            "a wrong PKCE verifier",
            Box::new(|g| g.verifier = format!("{VERIFIER}-other")),
        ),
    ];
    for (n, (case, change)) in cases.iter().enumerate() {
        let bsn = bsn(100 + u32::try_from(n).unwrap());
        let code = code(&provider, &bsn, change);
        let status = exchange(&mesh, &code, VERIFIER, NONCE)
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
        assert_reason(&status, "INVALID_CREDENTIALS");
        assert!(!status.message().contains(&bsn), "{case}: the BSN echoed");
        assert!(!known(&mesh, &bsn).await, "{case}: a pseudoniem was made");
    }

    // A code is good once: the replay is refused.
    let bsn = bsn(200);
    let code = code(&provider, &bsn, |_| {});
    exchange(&mesh, &code, VERIFIER, NONCE).await.unwrap();
    let replayed = exchange(&mesh, &code, VERIFIER, NONCE).await.unwrap_err();
    assert_eq!(replayed.code(), Code::Unauthenticated);
    assert_reason(&replayed, "INVALID_CREDENTIALS");

    // Malformed input is INVALID_ARGUMENT, before the provider is asked.
    let short = exchange(&mesh, "a-code", "short", NONCE).await.unwrap_err();
    assert_invalid(&short, &["code_verifier"]);
    mesh.stop().await;
}

#[tokio::test]
async fn only_the_website_exchanges_codes_and_only_with_a_provider() {
    let provider = RogueProvider::start().await;
    let mesh = mesh_with(&provider, true).await;
    let (_, patient) = mesh.patient_token(&bsn(3)).await;
    let status = mesh
        .identity()
        .exchange_provider_code(authed(ExchangeProviderCodeRequest::default(), &patient))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    mesh.stop().await;

    let without = TestMesh::start().await;
    let status = exchange(&without, "a-code", VERIFIER, NONCE)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_reason(&status, "PROVIDER_NOT_CONFIGURED");
    without.stop().await;
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_unavailable_not_a_refusal() {
    let provider = RogueProvider::start().await;
    let mut settings = provider.settings();
    // Nobody listens on port 9 of the loopback.
    settings.issuer = "http://127.0.0.1:9".into();
    let mesh =
        TestMesh::start_with(move |mesh| mesh.patient_sign_in.provider = Some(settings)).await;
    let status = exchange(&mesh, "a-code", VERIFIER, NONCE)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        error_metadata(&status, "dependency").as_deref(),
        Some("openid-provider")
    );
    mesh.stop().await;
}

#[tokio::test]
async fn with_password_sign_in_off_nobody_registers_or_signs_in_by_bsn() {
    let provider = RogueProvider::start().await;
    let mesh = mesh_with(&provider, false).await;
    let bsn = bsn(4);
    let refused = register_patient(&mesh, &bsn, "Jan", "Jansen", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_reason(&refused, "PASSWORD_SIGNIN_DISABLED");
    let refused = login(&mesh, &bsn, PASSWORD).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_reason(&refused, "PASSWORD_SIGNIN_DISABLED");
    assert!(!known(&mesh, &bsn).await);
    // The provider still signs the patient in.
    exchange(&mesh, &code(&provider, &bsn, |_| {}), VERIFIER, NONCE)
        .await
        .unwrap();
    mesh.stop().await;
}

#[tokio::test]
async fn the_first_proofed_sign_in_takes_a_password_account_over_and_suspends_its_grants() {
    let provider = RogueProvider::start().await;
    let mesh = mesh_with(&provider, true).await;
    let bsn = bsn(5);
    let company = mesh.company_token("Overname Zorg").await;
    let dossier = create_dossier(&mesh, &company, &bsn).await;
    // Someone who knows the BSN registered it with a password of their own
    // and approved the company's dossier: the attack.
    let (pseudoniem, attacker) = mesh.patient_token(&bsn).await;
    set_consent(&mesh, &attacker, &dossier.id, ConsentStatus::Granted as i32)
        .await
        .unwrap();
    assert!(
        check_permission(&mesh, &company, &bsn)
            .await
            .unwrap()
            .gave_permission
    );

    // The patient signs in through the provider: the account is theirs, the
    // password stops working, and the grant made with it no longer counts.
    let token = exchange(&mesh, &code(&provider, &bsn, |_| {}), VERIFIER, NONCE)
        .await
        .unwrap();
    assert_eq!(decode(&token).payload["sub"], pseudoniem.as_str());
    let refused = login(&mesh, &bsn, PASSWORD).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_reason(&refused, "INVALID_CREDENTIALS");
    let answer = check_permission(&mesh, &company, &bsn).await.unwrap();
    assert!(!answer.gave_permission, "the unproven grant is suspended");
    assert_eq!(answer.reason(), DecisionReason::AwaitingConfirmation);
    assert_eq!(answer.consent(), ConsentStatus::Pending);

    // A second sign-in changes nothing; the patient's own grant counts.
    exchange(&mesh, &code(&provider, &bsn, |_| {}), VERIFIER, NONCE)
        .await
        .unwrap();
    assert!(
        !check_permission(&mesh, &company, &bsn)
            .await
            .unwrap()
            .gave_permission
    );
    set_consent(&mesh, &token, &dossier.id, ConsentStatus::Granted as i32)
        .await
        .unwrap();
    let answer = check_permission(&mesh, &company, &bsn).await.unwrap();
    assert!(answer.gave_permission, "confirmed by the patient");
    assert_eq!(answer.reason(), DecisionReason::CompanyChoice);
    mesh.stop().await;
}
