//! Deadlines and dependencies: a client's tiny deadline, a Pseudoniem that
//! hangs (bounded by the dependency timeout, or by the server's own request
//! budget) and a Pseudoniem that is down each fail as a timeout or as
//! unavailable, naming the dependency, never as an auth error.

use std::time::{Duration, Instant};

use crate::support::*;
use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::settings::ServiceKind;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Status};

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

    // Dossier's first call: it has no connection to Pseudoniem yet (and
    // perhaps no Internal token: its revocation list fetches one from the
    // start), so the deadline runs out mid-way (a warm mesh can answer
    // within 1 ms).
    assert!(mesh.internal_token_fetches(ServiceKind::Dossier) <= 1);
    let mut request = authed(CreateDossierRequest { bsn: bsn(1) }, &company);
    request.set_timeout(Duration::from_millis(1));
    let status = mesh.dossier().create_dossier(request).await.unwrap_err();
    assert_ne!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.code() == Code::DeadlineExceeded || is_local_client_timeout(&status),
        "{status:?}"
    );
    if status.code() == Code::DeadlineExceeded {
        // The server's answer: its own deadline, or a dependency's (Identity
        // for the Internal token, or Pseudoniem).
        assert!(
            matches!(
                reason(&status).as_deref(),
                Some("DEADLINE_EXCEEDED" | "DEPENDENCY_TIMEOUT")
            ),
            "{status:?}"
        );
    }

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
    // The dependency timeout ran out, long before the request budget.
    assert_reason(&status, "DEPENDENCY_TIMEOUT");
    assert_eq!(
        error_metadata(&status, "dependency").as_deref(),
        Some("pseudoniem"),
        "{status:?}"
    );
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "answered after {took:?}"
    );
    assert_not_echoed(&status, &bsn(1));

    let status = hung
        .check_permission(authed(CheckPermissionRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap_err();
    assert_dependency_failure(&status, "pseudoniem");

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
    assert_dependency_failure(&status, "pseudoniem");
    // Not an outage: the budget ran out while Pseudoniem was silent, so a
    // deadline (the server's own, or the dependency's cut to the budget).
    assert_deadline_exceeded(&status, "pseudoniem");
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
    assert_dependency_unavailable(&status, "pseudoniem");
    assert_not_echoed(&status, &bsn(1));
    let status = down
        .check_permission(authed(CheckPermissionRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_dependency_unavailable(&status, "pseudoniem");

    shutdown.cancel();
    mesh.stop().await;
}
