//! Client-side balancing over replicas: Dossier configured with two
//! Pseudoniem replicas (`PSEUDONIEM_URL=http://a,http://b`, as a headless
//! Service's addresses would be) spreads its calls over both, and keeps
//! serving when one of them is stopped.

use std::sync::atomic::Ordering;
use std::time::Duration;

use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::settings::ServiceKind;
use tokio_util::sync::CancellationToken;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dossier_spreads_its_calls_over_pseudoniem_replicas_and_survives_losing_one() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Replica Zorg").await;
    // Two replicas of Pseudoniem on the mesh's Pseudoniem database.
    let shared = mesh.settings.database_url(ServiceKind::Pseudoniem);
    let replica = |stop: CancellationToken| {
        let shared = shared.clone();
        mesh.start_extra(ServiceKind::Pseudoniem, stop, move |settings| {
            settings
                .service_database_urls
                .insert(ServiceKind::Pseudoniem, shared);
        })
    };
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = replica(stop_a.clone()).await;
    let b = replica(stop_b.clone()).await;
    let (served_a, served_b) = (a.handles.requests.clone(), b.handles.requests.clone());
    let dossier_stop = CancellationToken::new();
    let dossier = mesh
        .start_extra(ServiceKind::Dossier, dossier_stop.clone(), |settings| {
            settings.peers.pseudoniem = format!("http://{},http://{}", a.addr, b.addr);
        })
        .await;
    let client = DossierServiceClient::new(channel(dossier.addr).await);
    let create = |n: u32| {
        let mut client = client.clone();
        let company = company.clone();
        async move {
            client
                .create_dossier(authed(CreateDossierRequest { bsn: bsn(n) }, &company))
                .await
        }
    };

    for n in 0..40 {
        create(n).await.expect("every call is served");
    }
    let (on_a, on_b) = (
        served_a.load(Ordering::Relaxed),
        served_b.load(Ordering::Relaxed),
    );
    assert_eq!(on_a + on_b, 40, "one Pseudoniem call per CreateDossier");
    assert!(
        on_a >= 8 && on_b >= 8,
        "spread over both: {on_a} and {on_b}"
    );

    // Replica A stops; every call still succeeds, on B.
    stop_a.cancel();
    a.wait().await.unwrap();
    let mut failed = Vec::new();
    for n in 40..80 {
        if let Err(status) = create(n).await {
            failed.push(status);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 40 calls failed: {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(served_b.load(Ordering::Relaxed), on_b + 40);

    // Nothing waits on the stopped replica: a call still takes well under
    // the dependency timeout.
    let started = std::time::Instant::now();
    create(80).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));

    dossier_stop.cancel();
    stop_b.cancel();
    mesh.stop().await;
}
