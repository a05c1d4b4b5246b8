//! The one way a service of the mesh serves: bounded, layered, observable.
//! Any [`App`] a service builds is served by [`serve`].
//!
//! Every server gets the same transport limits (`docs/security.md`, "The
//! transport"), health and reflection (v1 and v1alpha, so grpcurl works
//! without `-proto`), and the same layer stack, outermost first:
//!
//! 0. tower-http's sensitive-header layer: `authorization` and
//!    `x-forwarded-authorization` are redacted from `Debug` and never
//!    indexed by HPACK, before any layer can see them;
//! 1. [`RpcMetricsLayer`]: counts and times every RPC by method and status
//!    (only when `METRICS_ADDR` is set), outside the rest so refusals count;
//! 2. [`RequestContextLayer`]: request id, deadline and span, first so every
//!    line below is tagged with the request id;
//! 3. [`LoadShedLayer`]: refuse past the in-flight cap before any work;
//! 4. [`VerifyLayer`]: authenticate and authorize from the proto's rule,
//!    before any handler runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower::ServiceBuilder;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use super::connections::{ConnectionGate, HTTP2_PREFACE_BYTES};
use super::load_shed::LoadShedLayer;
use super::request_context::RequestContextLayer;
use super::rpc_metrics::RpcMetricsLayer;
use super::service::{App, GrpcApp};
use super::shutdown::drain_within;
use crate::auth::{FORWARDED_AUTHORIZATION, VerifyLayer};
use crate::settings::ServerLimits;

/// Serves `app` on `listener` until `shutdown` is cancelled, then finishes
/// the requests in flight (for at most `limits.drain_grace`).
///
/// Every request received is counted in `requests`.
pub async fn serve(
    name: &'static str,
    app: App,
    listener: TcpListener,
    limits: &ServerLimits,
    gate: Arc<ConnectionGate>,
    requests: Arc<AtomicU64>,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    match app {
        App::Grpc(grpc) => serve_grpc(grpc, listener, limits, gate, requests, shutdown).await,
        App::Http(http) => {
            let routes = http
                .routes
                .layer(tower::util::MapRequestLayer::new(count(requests)));
            let app = super::service::HttpApp {
                routes,
                response_headers: http.response_headers,
            };
            super::http::serve_http(name, app, listener, limits, gate, shutdown).await
        }
    }
}

/// Counts each request on its way in.
fn count<B>(requests: Arc<AtomicU64>) -> impl Fn(B) -> B + Clone {
    move |request| {
        requests.fetch_add(1, Ordering::Relaxed);
        request
    }
}

/// Puts the server's shutdown signal in each request's extensions.
fn draining<B>(
    shutdown: CancellationToken,
) -> impl Fn(http::Request<B>) -> http::Request<B> + Clone {
    move |mut request| {
        request
            .extensions_mut()
            .insert(super::shutdown::Draining(shutdown.clone()));
        request
    }
}

/// A gRPC service of the mesh, with health (reporting this service only)
/// and reflection (listing it, health and reflection).
async fn serve_grpc(
    app: GrpcApp,
    listener: TcpListener,
    limits: &ServerLimits,
    gate: Arc<ConnectionGate>,
    requests: Arc<AtomicU64>,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let service_name = app.proto_name;
    let (health, health_service) = tonic_health::server::health_reporter();
    // SERVING once the verifier can judge tokens: at once under HS256;
    // under EdDSA when the first key set has loaded, so that load
    // balancers and compose's health checks wait for it.
    let initial = if app.verifier.is_ready() {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    health.set_service_status(service_name, initial).await;
    health.set_service_status("", initial).await;
    if !app.verifier.is_ready() {
        let verifier = app.verifier.clone();
        let health = health.clone();
        let stopped = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = verifier.ready() => {
                    health.set_service_status(service_name, ServingStatus::Serving).await;
                    health.set_service_status("", ServingStatus::Serving).await;
                }
                () = stopped.cancelled() => {}
            }
        });
    }

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc.ErrorInfo / BadRequest, so grpcurl can show error details.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(service_name)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection")
    };
    let reflection_v1 = reflection()
        .build_v1()
        .expect("the embedded descriptor set is valid");
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("the embedded descriptor set is valid");

    let layers = ServiceBuilder::new()
        // Before anything can log or copy a header: credentials are never
        // printed by `Debug` and never indexed by HPACK.
        .layer(SetSensitiveRequestHeadersLayer::new([
            http::header::AUTHORIZATION,
            http::HeaderName::from_static(FORWARDED_AUTHORIZATION),
        ]))
        .map_request(count(requests))
        // A streaming handler learns of the shutdown from its request.
        .map_request(draining(shutdown.clone()))
        // Outermost but for the redaction: it times what a caller waits for
        // here, refusals and load-shed answers included.
        .layer(RpcMetricsLayer)
        // Every log line below carries the request id.
        .layer(RequestContextLayer::new(limits.request_budget))
        // Shed before spending an HMAC on a request we cannot serve.
        .layer(LoadShedLayer::new(limits.max_in_flight))
        // No handler runs before the proto's access rule is satisfied.
        .layer(VerifyLayer::new(app.verifier, service_name))
        .into_inner();

    let address = listener.local_addr().ok();
    tracing::info!(service = service_name, address = ?address, "serving");

    // Through the process's connection caps, each connection with a
    // deadline for its HTTP/2 preface (`super::connections`); TCP_NODELAY
    // and TCP keep-alive are set on every admitted socket there.
    let preface = Some((HTTP2_PREFACE_BYTES, limits.preface_timeout));
    let incoming =
        futures_util::stream::unfold((listener, gate), move |(listener, gate)| async move {
            let admitted = gate.accept(&listener).await;
            Some((
                Ok::<_, std::io::Error>(admitted.into_stream(preface)),
                (listener, gate),
            ))
        });
    let drain_started = shutdown.clone();
    let stopping = async move {
        shutdown.cancelled().await;
        // Tell load balancers first, then drain.
        health
            .set_service_status(service_name, ServingStatus::NotServing)
            .await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };

    let serving = Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        // A backstop only: the request-context layer enforces the budget
        // first, answering DEADLINE_EXCEEDED rather than tonic's CANCELLED.
        .timeout(limits.request_budget + Duration::from_secs(1))
        // Keep-alive checks: a PING every interval, the connection closed
        // when one is not answered in time. A quiet WatchConsent stream
        // whose client answers is live, and stays.
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .http2_max_pending_accept_reset_streams(Some(limits.max_pending_reset_streams))
        .http2_max_header_list_size(limits.max_header_list_bytes)
        .layer(layers)
        .add_routes(
            (app.routes)(limits.max_message_bytes)
                .add_service(health_service)
                .add_service(reflection_v1)
                .add_service(reflection_v1alpha),
        )
        .serve_with_incoming_shutdown(incoming, stopping);
    drain_within(service_name, serving, &drain_started, limits.drain_grace).await?;
    Ok(())
}
