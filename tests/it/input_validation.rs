//! Bad input is INVALID_ARGUMENT with a BadRequest naming each bad field,
//! and the value is never echoed: an invalid BSN on every RPC that takes
//! one, and SetConsent's decision and dossier id. (Registration's fields are
//! in `identity_rules`, page requests in `dossier_pagination`.)

use crate::support::*;
use toestemming::proto::dossier::v1::*;

const INVALID_BSNS: [&str; 4] = ["123456780", "12345678", "abcdefghi", ""];

#[tokio::test]
async fn set_consent_accepts_only_granted_or_declined_and_a_dossier_id() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Keuze Zorg").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let dossier = create_dossier(&mesh, &company, &patient_bsn).await;

    for consent in [
        ConsentStatus::Pending as i32,
        ConsentStatus::Unspecified as i32,
        99,
        -1,
    ] {
        let status = set_consent(&mesh, &patient, &dossier.id, consent)
            .await
            .unwrap_err();
        assert_invalid(&status, &["consent"]);
    }
    for malformed in ["not-a-uuid", "", "1234"] {
        let status = set_consent(&mesh, &patient, malformed, ConsentStatus::Granted as i32)
            .await
            .unwrap_err();
        assert_invalid(&status, &["dossier_id"]);
    }
    // Both wrong: both reported at once.
    let status = set_consent(&mesh, &patient, "nope", 99).await.unwrap_err();
    assert_invalid(&status, &["dossier_id", "consent"]);

    // None of that changed anything; a valid decision does.
    let permission = check_permission(&mesh, &company, &patient_bsn)
        .await
        .unwrap();
    assert_eq!(permission.consent(), ConsentStatus::Pending);
    let declined = set_consent(&mesh, &patient, &dossier.id, ConsentStatus::Declined as i32)
        .await
        .unwrap();
    assert_eq!(declined.consent(), ConsentStatus::Declined);
    let permission = check_permission(&mesh, &company, &patient_bsn)
        .await
        .unwrap();
    assert!(!permission.gave_permission);
    assert_eq!(permission.consent(), ConsentStatus::Declined);

    mesh.stop().await;
}

#[tokio::test]
async fn an_invalid_bsn_is_invalid_argument_on_every_rpc_and_never_echoed() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Controle Zorg").await;

    for input in INVALID_BSNS {
        let status = mesh
            .dossier()
            .create_dossier(authed(CreateDossierRequest { bsn: input.into() }, &company))
            .await
            .unwrap_err();
        assert_invalid(&status, &["bsn"]);
        assert_not_echoed(&status, input);

        let status = check_permission(&mesh, &company, input).await.unwrap_err();
        assert_invalid(&status, &["bsn"]);
        assert_not_echoed(&status, input);

        let status = mesh
            .dossier()
            .delete_dossier(authed(DeleteDossierRequest { bsn: input.into() }, &company))
            .await
            .unwrap_err();
        assert_invalid(&status, &["bsn"]);
        assert_not_echoed(&status, input);

        let status = register_patient(&mesh, input, "Jan", "Jansen", PASSWORD)
            .await
            .unwrap_err();
        assert_invalid(&status, &["bsn"]);
        assert_not_echoed(&status, input);

        let status = login(&mesh, input, PASSWORD).await.unwrap_err();
        assert_invalid(&status, &["bsn"]);
        assert_not_echoed(&status, input);
    }

    mesh.stop().await;
}
