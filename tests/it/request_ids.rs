//! Request ids: a sane `x-request-id` from the client is echoed by every
//! service, on answers and on errors alike; an absent or insane one is
//! replaced by a generated UUID.

use std::collections::HashSet;

use crate::support::*;
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::identity::v1::*;
use toestemming::proto::pseudoniem::v1::*;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request};

fn request_id_of(metadata: &MetadataMap) -> Option<String> {
    metadata
        .get("x-request-id")
        .map(|value| value.to_str().expect("an ASCII request id").to_owned())
}

fn with_request_id<T>(mut request: Request<T>, id: &str) -> Request<T> {
    request
        .metadata_mut()
        .insert("x-request-id", id.parse().expect("a valid metadata value"));
    request
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_by_every_service() {
    let mesh = TestMesh::start().await;
    let internal = mesh.token(Role::Internal, "internal");
    let company = mesh.company_token("Echo Zorg").await;

    let response = mesh
        .identity()
        .register_company(with_request_id(
            Request::new(RegisterCompanyRequest {
                company_name: "Echo Twee".into(),
            }),
            "client-chosen.id:42_x",
        ))
        .await
        .unwrap();
    assert_eq!(
        request_id_of(response.metadata()).as_deref(),
        Some("client-chosen.id:42_x")
    );

    let response = mesh
        .pseudoniem()
        .get_pseudoniem(with_request_id(
            authed(GetPseudoniemRequest { bsn: bsn(1) }, &internal),
            "pseudoniem-0001",
        ))
        .await
        .unwrap();
    assert_eq!(
        request_id_of(response.metadata()).as_deref(),
        Some("pseudoniem-0001")
    );

    let response = mesh
        .dossier()
        .create_dossier(with_request_id(
            authed(CreateDossierRequest { bsn: bsn(1) }, &company),
            "dossier-0001",
        ))
        .await
        .unwrap();
    assert_eq!(
        request_id_of(response.metadata()).as_deref(),
        Some("dossier-0001")
    );

    // Also on an error answered by the handler and on an auth refusal.
    let status = mesh
        .dossier()
        .check_permission(with_request_id(
            authed(CheckPermissionRequest { bsn: bsn(2) }, &company),
            "dossier-0002",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_reason(&status, "DOSSIER_NOT_FOUND");
    assert_eq!(
        request_id_of(status.metadata()).as_deref(),
        Some("dossier-0002")
    );
    let status = mesh
        .dossier()
        .check_permission(with_request_id(
            Request::new(CheckPermissionRequest { bsn: bsn(2) }),
            "dossier-0003",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_reason(&status, "TOKEN_MISSING");
    assert_eq!(
        request_id_of(status.metadata()).as_deref(),
        Some("dossier-0003")
    );

    mesh.stop().await;
}

#[tokio::test]
async fn an_absent_request_id_is_generated_and_echoed() {
    let mesh = TestMesh::start().await;
    let mut seen = HashSet::new();
    for name in ["Zonder Id Een", "Zonder Id Twee"] {
        let response = mesh
            .identity()
            .register_company(RegisterCompanyRequest {
                company_name: name.into(),
            })
            .await
            .unwrap();
        let id = request_id_of(response.metadata()).expect("a generated request id");
        assert!(uuid::Uuid::try_parse(&id).is_ok(), "not a UUID: {id:?}");
        seen.insert(id);
    }
    assert_eq!(seen.len(), 2, "each request gets its own id");

    let company = mesh.company_token("Zonder Id Drie").await;
    let response = mesh
        .dossier()
        .create_dossier(authed(CreateDossierRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap();
    let id = request_id_of(response.metadata()).expect("a generated request id");
    assert!(uuid::Uuid::try_parse(&id).is_ok(), "not a UUID: {id:?}");

    mesh.stop().await;
}

#[tokio::test]
async fn an_insane_request_id_is_replaced() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Vervang Zorg").await;
    let long = "a".repeat(200);
    for (n, insane) in ["has a space", "tab\there", long.as_str()]
        .into_iter()
        .enumerate()
    {
        let response = mesh
            .dossier()
            .create_dossier(with_request_id(
                authed(CreateDossierRequest { bsn: bsn(n as u32) }, &company),
                insane,
            ))
            .await
            .unwrap();
        let id = request_id_of(response.metadata()).expect("a request id");
        assert_ne!(id, insane);
        assert!(
            uuid::Uuid::try_parse(&id).is_ok(),
            "{insane:?} was replaced by {id:?}, not a UUID"
        );
    }

    mesh.stop().await;
}
