//! End-to-end calls in one process over loopback, through the full layer
//! stack, printed, not asserted: CheckPermission (Dossier → Pseudoniem with
//! forwarded tokens) and ListMyDossiers (Dossier alone). What verification
//! costs per token is `benches/verify.rs`; the mesh under external load is
//! `scripts/bench.py` (`docs/benchmarks.md`).
//!
//! Run: `cargo bench --bench mesh` (release build). Set BENCH_REQUESTS to
//! change the number of loopback calls (default 2000). Under `cargo test`
//! (no `--bench` argument) it runs a few rounds only, as a smoke test.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;
use toestemming::proto::dossier::v1::*;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
fn full_run() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(loopback());
}

async fn loopback() {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full_run() { 2000 } else { 32 });
    let concurrency = 16;
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Bench BV").await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;
    mesh.dossier()
        .create_dossier(authed(CreateDossierRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap();

    let check = |client: &mut toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient<_>| {
        let mut client = client.clone();
        let company = company.clone();
        async move {
            client
                .check_permission(authed(CheckPermissionRequest { bsn: bsn(1) }, &company))
                .await
                .is_ok()
        }
    };
    run(
        "CheckPermission (Dossier → Pseudoniem)",
        requests,
        concurrency,
        || check(&mut mesh.dossier()),
    )
    .await;
    let list = || {
        let mut client = mesh.dossier();
        let patient = patient.clone();
        async move {
            client
                .list_my_dossiers(authed(ListMyDossiersRequest::default(), &patient))
                .await
                .is_ok()
        }
    };
    run("ListMyDossiers (Dossier only)", requests, concurrency, list).await;
    println!(
        "internal tokens fetched by Dossier from Identity during {} calls: {}",
        2 * requests,
        mesh.internal_token_fetches(toestemming::settings::ServiceKind::Dossier)
    );
    assert_eq!(
        mesh.internal_token_fetches(toestemming::settings::ServiceKind::Dossier),
        1,
        "one Internal token per lifetime, not per call"
    );
    mesh.stop().await;
}

async fn run<F, Fut>(name: &str, requests: usize, concurrency: usize, call: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let mut latencies: Vec<Duration> = Vec::with_capacity(requests);
    let started = Instant::now();
    let mut failures = 0;
    for batch in (0..requests).collect::<Vec<_>>().chunks(concurrency) {
        let calls: Vec<_> = batch
            .iter()
            .map(|_| {
                let future = call();
                tokio::spawn(async move {
                    let begun = Instant::now();
                    (future.await, begun.elapsed())
                })
            })
            .collect();
        for joined in calls {
            let (ok, took) = joined.await.unwrap();
            failures += usize::from(!ok);
            latencies.push(took);
        }
    }
    let total = started.elapsed();
    assert_eq!(failures, 0, "{name}: calls failed");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{name}: {requests} calls, {concurrency} at a time: {:.0} calls/s, p50 {:?}, p99 {:?}, failures {failures}",
        requests as f64 / total.as_secs_f64(),
        at(0.50),
        at(0.99),
    );
}
