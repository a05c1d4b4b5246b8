//! The mesh's service-to-service behaviour and the contract's rules, from
//! the outside: Internal tokens, request ids, deadlines, scoping, input
//! validation, pagination, Identity's rules, the tokens it issues, what is
//! stored at rest, and health.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::*;
use base64::Engine as _;
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::identity::v1::*;
use toestemming::proto::pseudoniem::v1::*;
use toestemming::settings::ServiceKind;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

// ---------------------------------------------------------------------------
// helpers

/// The decoded header and payload of a compact JWS (not verified: the test
/// only reads what the issuer wrote).
struct Decoded {
    header: serde_json::Value,
    payload: serde_json::Value,
    payload_text: String,
}

fn decode(token: &str) -> Decoded {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "a compact JWS has three segments");
    let text = |segment: &str| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .expect("unpadded base64url");
        String::from_utf8(bytes).expect("UTF-8 JSON")
    };
    let header_text = text(segments[0]);
    let payload_text = text(segments[1]);
    Decoded {
        header: serde_json::from_str(&header_text).expect("JSON header"),
        payload: serde_json::from_str(&payload_text).expect("JSON payload"),
        payload_text,
    }
}

/// The field violations' descriptions of a status, for "never echoes the
/// value" checks.
fn violation_texts(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| v.description)
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts `status` is INVALID_ARGUMENT naming exactly `fields` (in any
/// order, once each).
#[track_caller]
fn assert_invalid(status: &Status, fields: &[&str]) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut named = bad_fields(status);
    named.sort();
    let mut expected: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    expected.sort();
    assert_eq!(named, expected, "{status:?}");
}

/// Asserts neither the message nor the violations of `status` repeat
/// `secret`.
#[track_caller]
fn assert_not_echoed(status: &Status, secret: &str) {
    if secret.is_empty() {
        return;
    }
    assert!(
        !status.message().contains(secret),
        "the message repeats the input: {:?}",
        status.message()
    );
    for text in violation_texts(status) {
        assert!(
            !text.contains(secret),
            "a violation repeats the input: {text:?}"
        );
    }
}

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

async fn create_dossier(mesh: &TestMesh, company: &str, patient: &str) -> Dossier {
    mesh.dossier()
        .create_dossier(authed(
            CreateDossierRequest {
                bsn: patient.into(),
            },
            company,
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap()
}

async fn check_permission(
    mesh: &TestMesh,
    company: &str,
    patient: &str,
) -> Result<CheckPermissionResponse, Status> {
    mesh.dossier()
        .check_permission(authed(
            CheckPermissionRequest {
                bsn: patient.into(),
            },
            company,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn set_consent(
    mesh: &TestMesh,
    patient: &str,
    dossier_id: &str,
    consent: i32,
) -> Result<Dossier, Status> {
    mesh.dossier()
        .set_consent(authed(
            SetConsentRequest {
                dossier_id: dossier_id.into(),
                consent,
            },
            patient,
        ))
        .await
        .map(|r| r.into_inner().dossier.unwrap())
}

async fn list(
    mesh: &TestMesh,
    patient: &str,
    page_size: i32,
    page_token: &str,
) -> Result<ListMyDossiersResponse, Status> {
    mesh.dossier()
        .list_my_dossiers(authed(
            ListMyDossiersRequest {
                page_size,
                page_token: page_token.into(),
            },
            patient,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn login(mesh: &TestMesh, bsn: &str, password: &str) -> Result<String, Status> {
    mesh.identity()
        .login_patient(LoginPatientRequest {
            bsn: bsn.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().access_token)
}

async fn register_patient(
    mesh: &TestMesh,
    bsn: &str,
    first_name: &str,
    last_name: &str,
    password: &str,
) -> Result<String, Status> {
    mesh.identity()
        .register_patient(RegisterPatientRequest {
            bsn: bsn.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().pseudoniem)
}

const INVALID_BSNS: [&str; 4] = ["123456780", "12345678", "abcdefghi", ""];

// ---------------------------------------------------------------------------
// service to service

#[tokio::test]
async fn dossier_fetches_its_internal_token_from_identity_once() {
    let mesh = TestMesh::start().await;
    let tokens = mesh
        .running
        .handles(ServiceKind::Dossier)
        .internal_tokens
        .clone()
        .unwrap();
    assert_eq!(tokens.fetches(), 0, "nothing is fetched at start-up");

    // Calls that never reach Pseudoniem through Dossier fetch nothing:
    // Identity's own calls to Pseudoniem use a token Identity signs.
    let company = mesh.company_token("Eenmalig Zorg").await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;
    let listed = list(&mesh, &patient, 0, "").await.unwrap();
    assert!(listed.dossiers.is_empty());
    assert_eq!(tokens.fetches(), 0);

    for i in 0..10 {
        let bsn = bsn(100 + i);
        create_dossier(&mesh, &company, &bsn).await;
        let permission = check_permission(&mesh, &company, &bsn).await.unwrap();
        assert!(!permission.gave_permission);
    }
    assert_eq!(
        tokens.fetches(),
        1,
        "20 calls needing Pseudoniem, one token from Identity"
    );

    mesh.stop().await;
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

/// Whether `status` is tonic's own client-side deadline: the channel gave up
/// locally (`CANCELLED`, source [`tonic::TimeoutExpired`]) and no answer from
/// the server was read at all.
fn is_local_client_timeout(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return status.code() == Code::Cancelled;
        }
        source = error.source();
    }
    false
}

/// The client's `grpc-timeout` runs out long before Dossier could have
/// answered.
///
/// tonic's channel enforces the same deadline locally and reports its own
/// expiry as CANCELLED ("Timeout expired"), so a tonic client never sees the
/// server's answer here; the server's own deadline handling is checked in
/// `the_servers_deadline_bounds_a_call_to_a_hung_dependency`. What must never
/// come back is an auth error, or anything else the server made up.
#[tokio::test]
async fn a_one_millisecond_deadline_fails_as_a_timeout_never_unauthenticated() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Haast Zorg").await;

    // Dossier's first call: it has no Internal token and no connection to
    // Identity or Pseudoniem yet, so the deadline runs out mid-way (a warm
    // mesh can answer within 1 ms).
    assert_eq!(mesh.internal_token_fetches(ServiceKind::Dossier), 0);
    let mut request = authed(CreateDossierRequest { bsn: bsn(1) }, &company);
    request.set_timeout(Duration::from_millis(1));
    let status = mesh.dossier().create_dossier(request).await.unwrap_err();
    assert_ne!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.code() == Code::DeadlineExceeded || is_local_client_timeout(&status),
        "{status:?}"
    );

    // Nothing is left broken: not the channel, not Dossier's token source.
    let created = mesh
        .dossier()
        .create_dossier(authed(CreateDossierRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.dossier.unwrap().consent(), ConsentStatus::Pending);

    mesh.stop().await;
}

/// A second Dossier server, on the test mesh's Identity, whose Pseudoniem is
/// at `pseudoniem_url`.
async fn dossier_with_pseudoniem_at(
    mesh: &TestMesh,
    pseudoniem_url: String,
    dependency_timeout: Duration,
    request_budget: Duration,
    shutdown: CancellationToken,
) -> DossierServiceClient<Channel> {
    let started = mesh
        .start_extra(ServiceKind::Dossier, shutdown, |settings| {
            settings.peers.pseudoniem = pseudoniem_url;
            settings.dependency_timeout = dependency_timeout;
            settings.limits.request_budget = request_budget;
        })
        .await;
    DossierServiceClient::new(channel(started.addr).await)
}

/// A Pseudoniem address that accepts connections and never answers; the
/// task holds the sockets until it is aborted.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", hole.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

/// The contract's row for a dependency that is too slow or down: UNAVAILABLE
/// or DEADLINE_EXCEEDED, never an auth error.
#[track_caller]
fn assert_dependency_failure(status: &Status) {
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_hung_pseudoniem_times_out_within_the_dependency_timeout() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Afhankelijk Zorg").await;
    let shutdown = CancellationToken::new();
    let (hole, swallow) = black_hole().await;
    let mut hung = dossier_with_pseudoniem_at(
        &mesh,
        hole,
        Duration::from_millis(300),
        Duration::from_secs(30),
        shutdown.clone(),
    )
    .await;

    let started = Instant::now();
    let status = hung
        .create_dossier(authed(CreateDossierRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap_err();
    let took = started.elapsed();
    // A dependency that accepts but never answers is a deadline, not an
    // outage (tonic's own CANCELLED for the same deadline is mapped too).
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "answered after {took:?}"
    );
    assert_not_echoed(&status, &bsn(1));

    let status = hung
        .check_permission(authed(CheckPermissionRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap_err();
    assert_dependency_failure(&status);

    shutdown.cancel();
    swallow.abort();
    mesh.stop().await;
}

#[tokio::test]
async fn the_servers_deadline_bounds_a_call_to_a_hung_dependency() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Begroting Zorg").await;
    let shutdown = CancellationToken::new();
    let (hole, swallow) = black_hole().await;
    // The dependency may take 5 s, but no request may take more than 300 ms.
    let mut hung = dossier_with_pseudoniem_at(
        &mesh,
        hole,
        Duration::from_secs(5),
        Duration::from_millis(300),
        shutdown.clone(),
    )
    .await;

    let mut request = authed(CreateDossierRequest { bsn: bsn(1) }, &company);
    // Longer than the server's budget, so the server answers first.
    request.set_timeout(Duration::from_secs(10));
    let started = Instant::now();
    let status = hung.create_dossier(request).await.unwrap_err();
    let took = started.elapsed();
    assert!(!is_local_client_timeout(&status), "{status:?}");
    assert_dependency_failure(&status);
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "answered after {took:?}"
    );

    shutdown.cancel();
    swallow.abort();
    mesh.stop().await;
}

#[tokio::test]
async fn a_pseudoniem_that_is_down_is_unavailable() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Onbereikbaar Zorg").await;
    let shutdown = CancellationToken::new();
    // Nothing listens here any more.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut down = dossier_with_pseudoniem_at(
        &mesh,
        closed_url,
        Duration::from_secs(3),
        Duration::from_secs(30),
        shutdown.clone(),
    )
    .await;

    let status = down
        .create_dossier(authed(CreateDossierRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_not_echoed(&status, &bsn(1));
    let status = down
        .check_permission(authed(CheckPermissionRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    shutdown.cancel();
    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// scoping and validation in Dossier

#[tokio::test]
async fn a_company_cannot_reach_another_companys_dossier() {
    let mesh = TestMesh::start().await;
    let a = mesh.company_token("Bedrijf A").await;
    let b = mesh.company_token("Bedrijf B").await;
    let patient = bsn(1);
    create_dossier(&mesh, &b, &patient).await;

    let status = check_permission(&mesh, &a, &patient).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
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
    assert!(list(&mesh, &p2, 0, "").await.unwrap().dossiers.is_empty());

    // Still pending for the company; still listed for its own patient.
    let permission = check_permission(&mesh, &company, &p1_bsn).await.unwrap();
    assert!(!permission.gave_permission);
    assert_eq!(permission.consent(), ConsentStatus::Pending);
    let own = list(&mesh, &p1, 0, "").await.unwrap();
    assert_eq!(own.dossiers.len(), 1);
    assert_eq!(own.dossiers[0].id, dossier.id);

    mesh.stop().await;
}

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
async fn check_permission_for_a_bsn_never_seen_is_not_found_and_creates_nothing() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Onbekend Zorg").await;
    let never_seen = bsn(1);

    let status = check_permission(&mesh, &company, &never_seen)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
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

#[tokio::test]
async fn a_patients_dossiers_come_in_pages_oldest_first() {
    let mesh = TestMesh::start().await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let mut created = Vec::new();
    for n in 0..7 {
        let company = mesh.company_token(&format!("Praktijk {n}")).await;
        created.push(create_dossier(&mesh, &company, &patient_bsn).await);
        // Distinct creation milliseconds, so "oldest first" has one answer.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }

    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(&mesh, &patient, 3, &token).await.unwrap();
        pages.push(page.dossiers);
        if page.next_page_token.is_empty() {
            break;
        }
        assert!(pages.len() < 5, "the pages never end");
        token = page.next_page_token;
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);

    let listed: Vec<&Dossier> = pages.iter().flatten().collect();
    let ids: Vec<&str> = listed.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 7, "all distinct");
    let expected: Vec<&str> = created.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, expected, "oldest first");
    let companies: Vec<&str> = listed.iter().map(|d| d.company_name.as_str()).collect();
    assert_eq!(
        companies,
        (0..7).map(|n| format!("Praktijk {n}")).collect::<Vec<_>>()
    );
    let times: Vec<(i64, i32)> = listed
        .iter()
        .map(|d| {
            let t = d.create_time.unwrap();
            (t.seconds, t.nanos)
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");

    // The default page holds them all.
    let all = list(&mesh, &patient, 0, "").await.unwrap();
    assert_eq!(all.dossiers.len(), 7);
    assert!(all.next_page_token.is_empty());

    mesh.stop().await;
}

#[tokio::test]
async fn bad_page_requests_are_invalid_argument() {
    let mesh = TestMesh::start().await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;

    for garbage in ["garbage", "!!!", "djE6MTox", &"A".repeat(300)] {
        let status = list(&mesh, &patient, 3, garbage).await.unwrap_err();
        assert_invalid(&status, &["page_token"]);
    }
    for negative in [-1, i32::MIN] {
        let status = list(&mesh, &patient, negative, "").await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(bad_fields(&status), ["page_size"]);
    }

    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// Identity

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
    assert_not_echoed(&status, &patient);
    // The duplicate did not replace the account.
    let token = login(&mesh, &patient, "1234567890").await.unwrap();
    let profile = mesh
        .identity()
        .get_my_profile(authed(GetMyProfileRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (profile.first_name.as_str(), profile.last_name.as_str()),
        ("Jan", "Jansen")
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
    assert_eq!(wrong.message(), unknown.message());
    assert_not_echoed(&wrong, &alice);
    assert_not_echoed(&wrong, "not the password");

    // That was Alice's first failure; four more lock her account.
    for _ in 0..4 {
        let status = login(&mesh, &alice, "still not it").await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let locked = login(&mesh, &alice, PASSWORD).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
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
        assert_not_echoed(status, &company.secret);
        assert_not_echoed(status, &other.secret);
    }
    assert_eq!(wrong_secret.message(), unknown_id.message());

    // The right pair still works.
    attempt(company.id.clone(), company.secret.clone())
        .await
        .unwrap();

    mesh.stop().await;
}

#[tokio::test]
async fn internal_tokens_need_the_service_credential() {
    let mesh = TestMesh::start().await;
    let issue = |secret: &str| {
        let mut identity = mesh.identity();
        let request = IssueInternalTokenRequest {
            service_name: "dossier".into(),
            service_secret: secret.into(),
        };
        async move { identity.issue_internal_token(request).await }
    };

    for wrong in [
        "wrong-secret",
        "",
        "test-internal-client-secret ",
        "TEST-INTERNAL-CLIENT-SECRET",
    ] {
        let status = issue(wrong).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{wrong:?}");
        assert_not_echoed(&status, INTERNAL_SECRET);
    }

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

#[tokio::test]
async fn issued_tokens_carry_the_contracts_claims_and_nothing_personal() {
    let mesh = TestMesh::start().await;
    let company = mesh.register_company("Claims Zorg B.V.").await;

    let decoded = decode(&company.token);
    assert_eq!(
        decoded.header,
        serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        "exactly alg and typ"
    );
    let claims = &decoded.payload;
    let keys: HashSet<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from(["sub", "role", "iss", "aud", "exp", "iat", "nbf", "jti"])
    );
    assert_eq!(claims["sub"], "Claims Zorg B.V.");
    assert_eq!(claims["role"], "HealthcareCompany");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    let (exp, iat, nbf) = (
        claims["exp"].as_u64().unwrap(),
        claims["iat"].as_u64().unwrap(),
        claims["nbf"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 900);
    assert!(nbf <= iat);
    assert!(iat.abs_diff(now()) <= 60, "iat {iat} is not now");
    assert!(uuid::Uuid::try_parse(claims["jti"].as_str().unwrap()).is_ok());

    // A patient token: sub is the pseudoniem; no BSN, no name.
    let patient_bsn = bsn(7);
    let pseudoniem = register_patient(&mesh, &patient_bsn, "Wilhelmina", "Brouwershaven", PASSWORD)
        .await
        .unwrap();
    let token = login(&mesh, &patient_bsn, PASSWORD).await.unwrap();
    let decoded = decode(&token);
    assert_eq!(
        decoded.header,
        serde_json::json!({"alg": "HS256", "typ": "JWT"})
    );
    assert_eq!(decoded.payload["sub"], pseudoniem.as_str());
    assert_eq!(
        uuid::Uuid::try_parse(&pseudoniem)
            .unwrap()
            .hyphenated()
            .to_string(),
        pseudoniem,
        "a lowercase hyphenated UUID"
    );
    assert_eq!(decoded.payload["role"], "Patient");
    let (exp, iat) = (
        decoded.payload["exp"].as_u64().unwrap(),
        decoded.payload["iat"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 900);
    for personal in [patient_bsn.as_str(), "Wilhelmina", "Brouwershaven"] {
        assert!(
            !decoded.payload_text.contains(personal),
            "the payload holds {personal:?}"
        );
        assert!(!token.contains(personal));
    }
    // Nor does the company's token hold anything about the patient.
    assert!(!decode(&company.token).payload_text.contains(&patient_bsn));

    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// at rest

/// The bytes of `<dir>/<name>.db` and its `-wal` and `-shm` files, when
/// present.
fn database_bytes(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(dir.join(format!("{name}.db"))).expect("the database file");
    for suffix in ["-wal", "-shm"] {
        if let Ok(more) = std::fs::read(dir.join(format!("{name}.db{suffix}"))) {
            bytes.extend(more);
        }
    }
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn no_bsn_password_or_secret_is_stored_outside_where_it_belongs() {
    let mesh = TestMesh::start().await;
    let patient_bsn = "111222333";
    let password = "a-distinctive password 4711";

    let company = mesh.register_company("Opslag Zorg").await;
    let pseudoniem = register_patient(&mesh, patient_bsn, "Geertruida", "Opslag", password)
        .await
        .unwrap();
    let dossier = create_dossier(&mesh, &company.token, patient_bsn).await;
    assert!(
        !check_permission(&mesh, &company.token, patient_bsn)
            .await
            .unwrap()
            .gave_permission
    );
    let patient = login(&mesh, patient_bsn, password).await.unwrap();
    assert_eq!(
        list(&mesh, &patient, 0, "").await.unwrap().dossiers.len(),
        1
    );
    set_consent(&mesh, &patient, &dossier.id, ConsentStatus::Granted as i32)
        .await
        .unwrap();
    assert!(
        check_permission(&mesh, &company.token, patient_bsn)
            .await
            .unwrap()
            .gave_permission
    );

    let dir = mesh.dir.path();
    let identity = database_bytes(dir, "identity");
    let dossiers = database_bytes(dir, "dossier");
    let pseudoniemen = database_bytes(dir, "pseudoniem");

    // Controls: the files read are the ones holding this flow's rows.
    assert!(holds(&identity, &pseudoniem), "identity.db has the patient");
    assert!(holds(&identity, "Geertruida"));
    assert!(holds(&identity, &company.id), "identity.db has the company");
    assert!(holds(&dossiers, &pseudoniem), "dossier.db has the dossier");
    assert!(holds(&dossiers, &dossier.id));
    assert!(holds(&pseudoniemen, patient_bsn), "the one BSN table");

    assert!(!holds(&identity, patient_bsn), "identity.db holds the BSN");
    assert!(!holds(&dossiers, patient_bsn), "dossier.db holds the BSN");
    assert!(
        !holds(&identity, password),
        "identity.db holds the password"
    );
    assert!(
        !holds(&identity, &company.secret),
        "identity.db holds the client secret"
    );
    assert!(!holds(&identity, &company.token) && !holds(&identity, &patient));

    mesh.stop().await;
}

// ---------------------------------------------------------------------------
// health

#[tokio::test]
async fn every_server_reports_serving_for_itself_only() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let mesh = TestMesh::start().await;
    let identity = toestemming::proto::identity::v1::identity_service_server::SERVICE_NAME;
    let pseudoniem = toestemming::proto::pseudoniem::v1::pseudoniem_service_server::SERVICE_NAME;
    let dossier = toestemming::proto::dossier::v1::dossier_service_server::SERVICE_NAME;
    let servers = [
        (mesh.identity_channel(), identity, dossier),
        (mesh.pseudoniem_channel(), pseudoniem, identity),
        (mesh.dossier_channel(), dossier, pseudoniem),
    ];
    for (channel, own, foreign) in servers {
        let mut health = HealthClient::new(channel);
        for service in ["", own] {
            let answer = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                answer.status(),
                ServingStatus::Serving,
                "{own}: {service:?}"
            );
        }
        let status = health
            .check(HealthCheckRequest {
                service: foreign.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{own} reports on {foreign}");
    }

    mesh.stop().await;
}
