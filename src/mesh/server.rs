//! The one way a service of the mesh serves: bounded, layered, observable.
//!
//! Every server gets the same transport limits (security.md, "The
//! transport"), health and reflection (v1 and v1alpha, so grpcurl works
//! without `-proto`), and the same layer stack, outermost first:
//!
//! 1. [`RequestContextLayer`]: request id, deadline and span, first so every
//!    line below is tagged with the request id;
//! 2. [`LoadShedLayer`]: refuse past the in-flight cap before any work;
//! 3. [`VerifyLayer`]: authenticate and authorize from the proto's rule,
//!    before any handler runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tower::ServiceBuilder;

use super::load_shed::LoadShedLayer;
use super::request_context::RequestContextLayer;
use crate::auth::{TokenVerifier, VerifyLayer};
use crate::config::JwtSettings;

/// Transport bounds; the defaults suit the mesh's small unary messages.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Largest message decoded or encoded, per message.
    pub max_message_bytes: usize,
    /// HTTP/2 streams per connection (tonic sets no limit unless told).
    pub max_concurrent_streams: u32,
    /// Requests handled at once per connection; more are shed.
    pub max_requests_per_connection: usize,
    /// Requests in flight on the whole server; more are shed.
    pub max_in_flight: usize,
    /// The longest any request may run, whatever `grpc-timeout` asks.
    pub request_budget: Duration,
    /// HTTP/2 PING interval and how long to wait for the answer.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// Streams a client may reset before they are answered (the "rapid
    /// reset" guard).
    pub max_pending_reset_streams: usize,
    /// Largest header block (metadata) accepted.
    pub max_header_list_bytes: u32,
    /// How long a shutdown waits for requests and connections to finish
    /// before closing what is left. Without a bound, a client that keeps an
    /// idle HTTP/2 connection open can hold a graceful shutdown forever
    /// (hyper#4170).
    pub drain_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_concurrent_streams: 128,
            max_requests_per_connection: 128,
            max_in_flight: 1024,
            request_budget: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_pending_reset_streams: 32,
            max_header_list_bytes: 16 * 1024,
            drain_grace: Duration::from_secs(5),
        }
    }
}

/// Serves `routes` (one gRPC service of the mesh) on `listener` until
/// `shutdown` is cancelled, then finishes the requests in flight.
///
/// `service_name` is the service's full proto name, used for health and to
/// advertise only what this server serves through reflection. The token
/// verifier is built here, once per server, from `jwt`.
pub async fn serve(
    service_name: &'static str,
    routes: Routes,
    listener: TcpListener,
    jwt: &JwtSettings,
    limits: &ServerLimits,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status(service_name, ServingStatus::Serving)
        .await;
    health.set_service_status("", ServingStatus::Serving).await;

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
        // Outermost: every log line below carries the request id.
        .layer(RequestContextLayer::new(limits.request_budget))
        // Shed before spending an HMAC on a request we cannot serve.
        .layer(LoadShedLayer::new(limits.max_in_flight))
        // No handler runs before the proto's access rule is satisfied.
        .layer(VerifyLayer::new(
            Arc::new(TokenVerifier::new(jwt)),
            service_name,
        ))
        .into_inner();

    let address = listener.local_addr().ok();
    tracing::info!(service = service_name, address = ?address, "serving");

    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(limits.keepalive_interval));
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
        .concurrency_limit_per_connection(limits.max_requests_per_connection)
        .load_shed(true)
        // A backstop only: the request-context layer enforces the budget
        // first, answering DEADLINE_EXCEEDED rather than tonic's CANCELLED.
        .timeout(limits.request_budget + Duration::from_secs(1))
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .http2_max_pending_accept_reset_streams(Some(limits.max_pending_reset_streams))
        .http2_max_header_list_size(limits.max_header_list_bytes)
        .layer(layers)
        .add_routes(
            routes
                .add_service(health_service)
                .add_service(reflection_v1)
                .add_service(reflection_v1alpha),
        )
        .serve_with_incoming_shutdown(incoming, stopping);
    let grace_expired = async {
        drain_started.cancelled().await;
        tokio::time::sleep(limits.drain_grace).await;
    };
    tokio::select! {
        served = serving => served?,
        () = grace_expired => {
            tracing::warn!(service = service_name, "drain grace expired; closing the remaining connections");
        }
    }
    tracing::info!(service = service_name, "stopped");
    Ok(())
}
