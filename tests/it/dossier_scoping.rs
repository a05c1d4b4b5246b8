//! Scoping in Dossier: a company reaches only its own dossiers and a
//! patient only theirs; for anyone else's, or for a BSN the mesh has never
//! seen, the answer is DOSSIER_NOT_FOUND and nothing is created or changed.

use crate::support::*;
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::pseudoniem::v1::*;
use tonic::Code;

#[tokio::test]
async fn a_company_cannot_reach_another_companys_dossier() {
    let mesh = TestMesh::start().await;
    let a = mesh.company_token("Bedrijf A").await;
    let b = mesh.company_token("Bedrijf B").await;
    let patient = bsn(1);
    create_dossier(&mesh, &b, &patient).await;

    let status = check_permission(&mesh, &a, &patient).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_reason(&status, "DOSSIER_NOT_FOUND");
    assert_not_echoed(&status, &patient);
    let status = mesh
        .dossier()
        .delete_dossier(authed(
            DeleteDossierRequest {
                bsn: patient.clone(),
            },
            &a,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_reason(&status, "DOSSIER_NOT_FOUND");

    // B's dossier survived A's attempt.
    let permission = check_permission(&mesh, &b, &patient).await.unwrap();
    assert_eq!(permission.consent(), ConsentStatus::Pending);

    mesh.stop().await;
}

#[tokio::test]
async fn a_patient_cannot_see_or_decide_on_another_patients_dossier() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Scheiding Zorg").await;
    let (p1_bsn, p2_bsn) = (bsn(1), bsn(2));
    let (_, p1) = mesh.patient_token(&p1_bsn).await;
    let (_, p2) = mesh.patient_token(&p2_bsn).await;
    let dossier = create_dossier(&mesh, &company, &p1_bsn).await;

    let status = set_consent(&mesh, &p2, &dossier.id, ConsentStatus::Granted as i32)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_reason(&status, "DOSSIER_NOT_FOUND");
    assert!(
        list_my_dossiers(&mesh, &p2, 0, "")
            .await
            .unwrap()
            .dossiers
            .is_empty()
    );

    // Still pending for the company; still listed for its own patient.
    let permission = check_permission(&mesh, &company, &p1_bsn).await.unwrap();
    assert!(!permission.gave_permission);
    assert_eq!(permission.consent(), ConsentStatus::Pending);
    let own = list_my_dossiers(&mesh, &p1, 0, "").await.unwrap();
    assert_eq!(own.dossiers.len(), 1);
    assert_eq!(own.dossiers[0].id, dossier.id);

    mesh.stop().await;
}

#[tokio::test]
async fn check_permission_for_a_bsn_never_seen_is_not_found_and_creates_nothing() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Onbekend Zorg").await;
    let never_seen = bsn(1);

    let status = check_permission(&mesh, &company, &never_seen)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_reason(&status, "DOSSIER_NOT_FOUND");
    assert_not_echoed(&status, &never_seen);
    let status = mesh
        .dossier()
        .delete_dossier(authed(
            DeleteDossierRequest {
                bsn: never_seen.clone(),
            },
            &company,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_reason(&status, "DOSSIER_NOT_FOUND");

    // Neither call made a pseudoniem for it.
    let internal = mesh.token(Role::Internal, "internal");
    let status = mesh
        .pseudoniem()
        .lookup_pseudoniem(authed(
            LookupPseudoniemRequest { bsn: never_seen },
            &internal,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_reason(&status, "PSEUDONIEM_NOT_FOUND");

    mesh.stop().await;
}
