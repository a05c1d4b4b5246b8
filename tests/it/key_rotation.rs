//! Rotating the HS256 key without downtime: with `JWT_SECRET_KEY` set to
//! the new key and `JWT_PREVIOUS_SECRET_KEY` to the old one, tokens issued
//! before the rotation keep working for their lifetime, every new token is
//! signed with the new key, and a token from any other key is refused.

use toestemming::auth::TokenVerifier;
use toestemming::proto::pseudoniem::v1::*;
use toestemming::settings::{JwtSettings, SigningSecret, TokenKeys};
use tonic::Code;

use crate::support::*;

const NEW_KEY: &[u8] = b"the-new-key-after-the-rotation-0123456789-abcdef";

#[tokio::test]
async fn after_a_rotation_old_tokens_live_out_their_lifetime_and_new_ones_use_the_new_key() {
    let mesh = TestMesh::start_with(|settings| {
        settings.jwt = Some(JwtSettings::new(TokenKeys::Shared {
            secret: SigningSecret::new(NEW_KEY.to_vec()).unwrap(),
            previous: Some(SigningSecret::new(SECRET.to_vec()).unwrap()),
        }));
    })
    .await;
    let lookup = |token: String| {
        let mut client = mesh.pseudoniem();
        async move {
            client
                .lookup_pseudoniem(authed(LookupPseudoniemRequest { bsn: bsn(77) }, &token))
                .await
                .unwrap_err()
        }
    };

    // Issued before the rotation, with the old key: still accepted (the BSN
    // simply has no pseudoniem yet).
    let before = jwt::sign(&jwt::claims("Internal", "internal"));
    let answer = lookup(before).await;
    assert_eq!(answer.code(), Code::NotFound, "{answer:?}");

    // Any other key: refused.
    let other = jwt::sign_raw(
        jwt::HEADER,
        &jwt::claims("Internal", "internal").to_string(),
        b"a-key-that-was-never-the-mesh-key-0123456789",
    );
    let answer = lookup(other).await;
    assert_eq!(answer.code(), Code::Unauthenticated);
    assert_reason(&answer, "TOKEN_INVALID");

    // What Identity issues now is signed with the new key alone.
    let company = mesh.company_token("Rotatie Zorg").await;
    let new_only = TokenVerifier::new(&JwtSettings::with_secret(
        SigningSecret::new(NEW_KEY.to_vec()).unwrap(),
    ));
    assert!(new_only.verify(&company).is_ok());
    assert!(
        TokenVerifier::new(&jwt_settings())
            .verify(&company)
            .is_err(),
        "not with the old key"
    );
    // And the mesh takes it, on a call that crosses a hop.
    create_dossier(&mesh, &company, &bsn(77)).await;
    assert!(
        !check_permission(&mesh, &company, &bsn(77))
            .await
            .unwrap()
            .gave_permission
    );
    mesh.stop().await;
}
