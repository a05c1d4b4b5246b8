//! Prometheus metrics at `/metrics` on `METRICS_ADDR` (off unless set).
//!
//! The `metrics` facade records and `metrics-exporter-prometheus` renders the
//! text format; this module only names what is recorded and serves it.
//! Until [`serve`] installs the recorder nothing is recorded: every helper
//! below returns after one relaxed load, so a service without `METRICS_ADDR`
//! pays for metrics with a branch. With it, a hot-path helper finds its
//! series' handles in a small map of its own (handles are only made once
//! the recorder is in, so none is ever a no-op handle).
//!
//! | metric | labels | recorded by |
//! |---|---|---|
//! | `grpc_server_handled_total` | `grpc_service`, `grpc_method`, `grpc_code` | [`crate::mesh::rpc_metrics`], every RPC |
//! | `grpc_server_handling_seconds` (histogram) | the same | the same |
//! | `toestemming_token_verifications_total` | `grpc_service`, `outcome` (`ACCEPTED` or the ErrorInfo reason) | the verify layer |
//! | `toestemming_token_cache_hits_total` | | the verifier's cache of verified tokens |
//! | `toestemming_internal_tokens_obtained_total` | `source` (`identity` or `self_signed`) | a service's internal-token source |
//! | `toestemming_store_query_seconds` (histogram) | `store`, `query` | every storage query |
//! | `toestemming_connection_limits_total` | `event` (`refused_per_address`, `paused_at_cap`, `header_timeout`, `preface_timeout`, `accept_error`) | [`crate::mesh::connections`], every server's accept loop |
//! | `toestemming_key_set_fetches_total` | `source` (`identity` or `file`), `trigger` (`schedule` or `unknown_kid`), `outcome` (`loaded`, `unchanged` or `failed`) | EdDSA: a verifier's key set refresher |
//!
//! The RPC names follow go-grpc-prometheus, so existing gRPC dashboards fit.
//! Every label value comes from a fixed set (method paths from the protos,
//! gRPC codes, ErrorInfo reasons, query names in the code): no token, BSN,
//! pseudoniem, company name or address can reach a label, and no caller can
//! grow the number of series by sending made-up paths.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The metric names, in one place for the code, the tests and the docs.
pub mod names {
    pub const RPC_HANDLED: &str = "grpc_server_handled_total";
    pub const RPC_SECONDS: &str = "grpc_server_handling_seconds";
    pub const TOKEN_VERIFICATIONS: &str = "toestemming_token_verifications_total";
    pub const TOKEN_CACHE_HITS: &str = "toestemming_token_cache_hits_total";
    pub const INTERNAL_TOKENS_OBTAINED: &str = "toestemming_internal_tokens_obtained_total";
    pub const STORE_QUERY_SECONDS: &str = "toestemming_store_query_seconds";
    pub const KEY_SET_FETCHES: &str = "toestemming_key_set_fetches_total";
    pub const CONNECTION_LIMITS: &str = "toestemming_connection_limits_total";
}

/// Latency buckets, in seconds: from 50 µs (a cached verification and a
/// read from memory) to 5 s (past every request budget).
const BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// How often histograms are folded into their buckets between scrapes, so
/// memory stays flat under load however rarely Prometheus scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether a recorder is installed (`METRICS_ADDR` is set).
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Installs the process's recorder once and returns its handle; later calls
/// (tests start many servers in one process) share it.
pub fn install() -> crate::Result<PrometheusHandle> {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    describe();
    let _ = HANDLE.set(handle.clone());
    ENABLED.store(true, Ordering::Relaxed);
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        names::RPC_HANDLED,
        "RPCs completed, by method and gRPC status code"
    );
    describe_histogram!(
        names::RPC_SECONDS,
        metrics::Unit::Seconds,
        "Time from a request's arrival to its status, by method and gRPC status code"
    );
    describe_counter!(
        names::TOKEN_VERIFICATIONS,
        "Bearer tokens checked by the verify layer, by outcome (ACCEPTED or the refusal's reason)"
    );
    describe_counter!(
        names::TOKEN_CACHE_HITS,
        "Verifications answered from the cache of verified tokens"
    );
    describe_counter!(
        names::INTERNAL_TOKENS_OBTAINED,
        "Internal tokens a service obtained for its outbound calls (IssueInternalToken or self-signed)"
    );
    describe_counter!(
        names::KEY_SET_FETCHES,
        "EdDSA key set fetches by a verifier, by source, what triggered them and their outcome"
    );
    describe_counter!(
        names::CONNECTION_LIMITS,
        "Connections refused by the per-address cap, accept pauses at the process-wide cap, connections closed by the header-read or HTTP/2 preface timeout, and failed accepts"
    );
    describe_histogram!(
        names::STORE_QUERY_SECONDS,
        metrics::Unit::Seconds,
        "Storage query latency, by store and query"
    );
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
///
/// An admin address of its own, not a route on a service's port: it can be
/// kept off the network the services face, and scraping never competes with
/// the services' connection limits.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> crate::Result<()> {
    use axum::routing::get;

    let handle = install()?;
    let upkeep = handle.clone();
    let upkeep_stop = shutdown.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = every.tick() => upkeep.run_upkeep(),
                () = upkeep_stop.cancelled() => break,
            }
        }
    });
    let router = axum::Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    );
    let address: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(address = ?address, "serving metrics at /metrics");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// Metric handles by their labels, so a hot path looks a series up in a
/// small map keyed by the addresses of its `&'static str` labels instead of
/// building and hashing a `metrics::Key` (name and label strings) per call.
/// Every label value is one of a fixed set, so the map stays small.
struct Handles<T> {
    by_labels: RwLock<HashMap<[usize; 3], T>>,
}

impl<T: Clone> Handles<T> {
    const fn new() -> Self {
        Self {
            by_labels: RwLock::new(HashMap::with_hasher(foldhash::fast::FixedState::with_seed(
                0,
            ))),
        }
    }

    fn get(&self, labels: [&'static str; 3], make: impl FnOnce() -> T) -> T {
        // Two equal strings at different addresses only make two handles
        // of one series: the recorder keys series by their text.
        let key = labels.map(|label| label.as_ptr() as usize);
        if let Some(handle) = self
            .by_labels
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return handle.clone();
        }
        let handle = make();
        self.by_labels
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, handle.clone());
        handle
    }
}

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// One RPC answered.
pub fn rpc_handled(
    service: &'static str,
    method: &'static str,
    code: &'static str,
    took: Duration,
) {
    static RPCS: Handles<(metrics::Counter, metrics::Histogram)> = Handles::new();
    if !enabled() {
        return;
    }
    let (count, time) = RPCS.get([service, method, code], || {
        let labels = [
            ("grpc_service", service),
            ("grpc_method", method),
            ("grpc_code", code),
        ];
        (
            metrics::counter!(names::RPC_HANDLED, &labels),
            metrics::histogram!(names::RPC_SECONDS, &labels),
        )
    });
    count.increment(1);
    time.record(took.as_secs_f64());
}

/// One bearer token checked: `outcome` is `ACCEPTED` or the ErrorInfo reason.
pub fn token_verified(service: &'static str, outcome: &'static str) {
    static OUTCOMES: Handles<metrics::Counter> = Handles::new();
    if !enabled() {
        return;
    }
    OUTCOMES
        .get([service, outcome, ""], || {
            metrics::counter!(names::TOKEN_VERIFICATIONS, "grpc_service" => service, "outcome" => outcome)
        })
        .increment(1);
}

/// One verification answered from the cache.
pub fn token_cache_hit() {
    static HITS: OnceLock<metrics::Counter> = OnceLock::new();
    if enabled() {
        HITS.get_or_init(|| metrics::counter!(names::TOKEN_CACHE_HITS))
            .increment(1);
    }
}

/// One internal token obtained, from Identity or signed in-process.
pub fn internal_token_obtained(source: &'static str) {
    if enabled() {
        metrics::counter!(names::INTERNAL_TOKENS_OBTAINED, "source" => source).increment(1);
    }
}

/// One fetch of the EdDSA key set. Rare (once per refresh interval): no
/// handle cache.
pub fn key_set_fetched(source: &'static str, trigger: &'static str, outcome: &'static str) {
    if enabled() {
        metrics::counter!(names::KEY_SET_FETCHES,
            "source" => source, "trigger" => trigger, "outcome" => outcome)
        .increment(1);
    }
}

/// One event of the connection limits (`event` is one of a fixed set).
/// Rare next to RPCs: no handle cache.
pub fn connection_event(event: &'static str) {
    if enabled() {
        metrics::counter!(names::CONNECTION_LIMITS, "event" => event).increment(1);
    }
}

/// One storage query's latency.
pub fn store_query(store: &'static str, query: &'static str, took: Duration) {
    static QUERIES: Handles<metrics::Histogram> = Handles::new();
    if enabled() {
        QUERIES
            .get([store, query, ""], || {
                metrics::histogram!(names::STORE_QUERY_SECONDS, "store" => store, "query" => query)
            })
            .record(took.as_secs_f64());
    }
}
