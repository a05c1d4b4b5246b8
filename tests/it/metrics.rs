//! `/metrics` on METRICS_ADDR: RPCs by method and status, verification
//! outcomes, cache hits, internal tokens and store latency, scraped over
//! real HTTP from a real mesh. The recorder is process-wide and other tests
//! run beside this one, so counts are compared before and after this test's
//! own calls and must have grown by at least as many.

use std::collections::BTreeMap;

use crate::support::*;
use toestemming::proto::pseudoniem::v1::*;
use toestemming::settings::ServiceKind;
use toestemming::telemetry::metrics::names;
use tonic::Code;

const DOSSIER: &str = "toestemming.dossier.v1.DossierService";
const PSEUDONIEM: &str = "toestemming.pseudoniem.v1.PseudoniemService";

/// One scrape: each sample keyed by its name and its labels, sorted.
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    async fn take(url: &str) -> Self {
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.unwrap();
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap();
                (normalise(series), value.parse().unwrap())
            })
            .collect();
        Self { text, samples }
    }

    /// The sample `name{labels}`, 0 when absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let series = if labels.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{{{}}}", labels.join(","))
        };
        self.samples
            .get(&normalise(&series))
            .copied()
            .unwrap_or(0.0)
    }
}

/// `name{b="2",a="1"}` → `name{a="1",b="2"}`, so label order never matters.
fn normalise(series: &str) -> String {
    match series.split_once('{') {
        None => series.to_owned(),
        Some((name, labels)) => {
            let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
            labels.sort_unstable();
            format!("{name}{{{}}}", labels.join(","))
        }
    }
}

/// A `/metrics` endpoint on an ephemeral port: its URL, and what stops it.
async fn serve_metrics() -> (String, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(toestemming::telemetry::metrics::serve(
        listener,
        stop.clone(),
    ));
    (url, stop)
}

#[tokio::test]
async fn metrics_count_rpcs_refusals_tokens_and_queries() {
    let (url, stop) = serve_metrics().await;
    // Served as soon as it is bound; the first scrape waits for nothing.
    let before = Scrape::take(&url).await;

    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Metrics Zorg").await;
    let patient = bsn(4242);
    create_dossier(&mesh, &company, &patient).await;
    for _ in 0..4 {
        assert!(
            !check_permission(&mesh, &company, &patient)
                .await
                .unwrap()
                .gave_permission
        );
    }
    let no_token = mesh
        .dossier()
        .check_permission(tonic::Request::new(
            toestemming::proto::dossier::v1::CheckPermissionRequest {
                bsn: patient.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated);
    let wrong_role = mesh
        .pseudoniem()
        .lookup_pseudoniem(authed(
            LookupPseudoniemRequest {
                bsn: patient.clone(),
            },
            &company,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong_role.code(), Code::PermissionDenied);

    let after = Scrape::take(&url).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let rpc = |code| {
        [
            ("grpc_service", DOSSIER),
            ("grpc_method", "CheckPermission"),
            ("grpc_code", code),
        ]
    };

    assert!(
        grew(names::RPC_HANDLED, &rpc("OK")) >= 4.0,
        "{}",
        after.text
    );
    assert!(grew(names::RPC_HANDLED, &rpc("UNAUTHENTICATED")) >= 1.0);
    assert!(
        grew("grpc_server_handling_seconds_count", &rpc("OK")) >= 4.0,
        "latency is a histogram with a count"
    );
    let le = |bound| {
        let mut labels = rpc("OK").to_vec();
        labels.push(("le", bound));
        after.value("grpc_server_handling_seconds_bucket", &labels)
    };
    assert!(le("+Inf") >= 4.0);
    assert!(le("+Inf") >= le("0.001"), "buckets are cumulative");

    let verified = |service, outcome| {
        grew(
            names::TOKEN_VERIFICATIONS,
            &[("grpc_service", service), ("outcome", outcome)],
        )
    };
    assert!(verified(DOSSIER, "ACCEPTED") >= 5.0);
    assert!(verified(DOSSIER, "TOKEN_MISSING") >= 1.0);
    assert!(verified(PSEUDONIEM, "ROLE_NOT_ALLOWED") >= 1.0);
    assert!(
        verified(PSEUDONIEM, "ACCEPTED") >= 4.0,
        "Dossier's hops to Pseudoniem carry its internal token"
    );
    assert!(
        grew(names::TOKEN_CACHE_HITS, &[]) >= 3.0,
        "the same company token, verified again and again"
    );
    assert!(grew(names::INTERNAL_TOKENS_OBTAINED, &[("source", "identity")]) >= 1.0);
    assert_eq!(
        mesh.internal_token_fetches(ServiceKind::Dossier),
        1,
        "one fetch for all of it"
    );
    assert!(
        grew(
            "toestemming_store_query_seconds_count",
            &[("store", "dossier"), ("query", "find")]
        ) >= 4.0
    );

    // Nothing a caller sent reaches a label.
    for secret in [company.as_str(), patient.as_str(), "Metrics Zorg"] {
        assert!(
            !after.text.contains(secret),
            "a metric shows a caller's value"
        );
    }
    stop.cancel();
    mesh.stop().await;
}

#[tokio::test]
async fn key_set_fetches_are_counted_by_source_trigger_and_outcome() {
    let (url, stop) = serve_metrics().await;
    let loaded = [
        ("outcome", "loaded"),
        ("source", "identity"),
        ("trigger", "schedule"),
    ];
    let before = Scrape::take(&url).await;
    // Pseudoniem, Dossier and the website each load Identity's key set.
    let mesh = TestMesh::start_with(use_eddsa).await;
    let after = Scrape::take(&url).await;
    let grew = after.value("toestemming_key_set_fetches_total", &loaded)
        - before.value("toestemming_key_set_fetches_total", &loaded);
    assert!(grew >= 3.0, "{grew} key sets loaded:\n{}", after.text);
    mesh.stop().await;
    stop.cancel();
}
