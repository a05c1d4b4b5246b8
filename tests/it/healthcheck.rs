//! `toestemming healthcheck`, the containers' health check, as a process:
//! exit 0 for a serving gRPC service or website, non-zero for one that is
//! NOT_SERVING or not there at all.

use std::process::Command;

use toestemming::settings::ServiceKind;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_toestemming");

/// Whether `toestemming healthcheck url` exits 0.
async fn healthy(url: String) -> bool {
    tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(["healthcheck", &url])
            .env_clear()
            .output()
            .unwrap()
            .status
            .success()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_grpc_service_is_healthy_only_while_it_reports_serving() {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    assert!(!healthy(url.clone()).await, "NOT_SERVING is unhealthy");
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    assert!(healthy(url.clone()).await, "SERVING is healthy");
    server.abort();
    let _ = server.await;
    assert!(!healthy(url).await, "a stopped service is unhealthy");
}

#[tokio::test]
async fn the_mesh_and_the_website_answer_their_health_checks() {
    let mesh = TestMesh::start().await;
    for kind in [
        ServiceKind::Identity,
        ServiceKind::Pseudoniem,
        ServiceKind::Dossier,
    ] {
        assert!(
            healthy(format!("http://{}", mesh.addr(kind))).await,
            "{kind}"
        );
    }
    let website = mesh.addr(ServiceKind::Website);
    assert!(healthy(format!("http://{website}/healthz")).await);
    assert!(
        !healthy(format!("http://{website}/nowhere")).await,
        "a 404 is not healthy"
    );
    mesh.stop().await;
    assert!(!healthy(format!("http://{website}/healthz")).await);
}
