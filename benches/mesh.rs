//! Figures for the two costs the design cares about, printed, not asserted:
//!
//! 1. local token verification (what every request pays in every service);
//! 2. end-to-end calls over loopback through the full layer stack:
//!    CheckPermission (Dossier → Pseudoniem with forwarded tokens) and
//!    ListMyDossiers (Dossier alone).
//!
//! Run: `cargo bench --bench mesh` (release build). Set BENCH_REQUESTS to
//! change the number of loopback calls (default 2000). Under `cargo test`
//! (no `--bench` argument) it runs a few rounds only, as a smoke test.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;
use toestemming::auth::{Role, TokenVerifier};
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
    runtime.block_on(async {
        verification();
        loopback().await;
    });
}

fn verification() {
    use hmac::Mac as _;
    let settings = jwt_settings();
    let issuer = toestemming::auth::TokenIssuer::new(&settings);
    let rounds: u32 = if full_run() { 50_000 } else { 100 };
    // Distinct tokens (a jti each), so "not seen before" really is.
    let fresh: Vec<String> = (0..rounds)
        .map(|_| {
            issuer
                .issue("Bench BV", Role::HealthcareCompany)
                .unwrap()
                .access_token
        })
        .collect();
    let token = fresh[0].clone();
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    let time = |name: &str, work: &mut dyn FnMut(u32)| -> f64 {
        let started = Instant::now();
        for round in 0..rounds {
            work(round);
        }
        let per = started.elapsed() / rounds;
        println!(
            "{name}: {per:?} per token, {:.0} tokens/s on one core",
            1.0 / per.as_secs_f64()
        );
        per.as_secs_f64()
    };
    let signed_part = &token[..token.rfind('.').unwrap()];
    let hmac = time("raw HMAC-SHA256 over the same bytes", &mut |_| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(std::hint::black_box(signed_part.as_bytes()));
        std::hint::black_box(mac.finalize());
    });
    let verifier = TokenVerifier::new(&settings);
    let not_seen = time("verify a token not seen before", &mut |round| {
        std::hint::black_box(verifier.verify(&fresh[round as usize]).is_ok());
    });
    let seen = time("verify a token seen before (cached)", &mut |_| {
        std::hint::black_box(verifier.verify(std::hint::black_box(&token)).is_ok());
    });
    let rejected = time("reject a forged signature", &mut |_| {
        std::hint::black_box(verifier.verify(std::hint::black_box(&forged)).is_err());
    });
    println!(
        "ratios to raw HMAC: not seen {:.1}x (target <= 6), seen {:.1}x (target <= 1.5), rejected {:.1}x",
        not_seen / hmac,
        seen / hmac,
        rejected / hmac
    );
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
