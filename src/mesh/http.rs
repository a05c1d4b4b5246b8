//! Serving an HTTP app of the mesh (the patient website): bounded, with a
//! request id and a deadline per request, and a graceful shutdown.
//!
//! The layers, outermost first, and why:
//! 1. tower-http's sensitive headers: `cookie` (it holds the patient's
//!    token) and `authorization` are redacted from `Debug` before any layer
//!    can see them;
//! 2. request context: a fresh request id (the website is the edge: a
//!    browser's `x-request-id` is not worth keeping) and the deadline that
//!    outbound gRPC calls carry, enforced here; the id is echoed;
//! 3. load shed past the in-flight cap (503 at once, rather than a queue);
//! 4. a cap on the request body: forms are small.
//!
//! Outside them all, the app's response headers (the website's security
//! headers) are set on every response, the refusals of these layers too.
//!
//! Connections come through the process's connection caps
//! (`super::connections`) and are served by hyper's HTTP/1 builder with its
//! header-read timeout (`ServerLimits::header_read_timeout`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse as _, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument as _;

use super::connections::ConnectionGate;
use super::context::{Deadline, REQUEST_ID, RequestId};
use super::service::HttpApp;
use super::shutdown::drain_within;
use crate::settings::ServerLimits;

/// Serves `router` on `listener` until `shutdown`, then finishes the
/// requests in flight for at most `limits.drain_grace`.
pub(super) async fn serve_http(
    name: &'static str,
    http: HttpApp,
    listener: TcpListener,
    limits: &ServerLimits,
    gate: Arc<ConnectionGate>,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let mut app = http
        .routes
        // Innermost first: each `.layer` wraps what is above it.
        .layer(RequestBodyLimitLayer::new(limits.max_message_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    Ok::<_, Infallible>(
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "busy; try again in a moment",
                        )
                            .into_response(),
                    )
                }))
                .load_shed()
                .concurrency_limit(limits.max_in_flight),
        )
        .layer(from_fn_with_state(limits.request_budget, request_context))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::COOKIE,
            header::AUTHORIZATION,
        ]));
    for (name, value) in &http.response_headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name.clone(),
            value.clone(),
        ));
    }
    let address = listener.local_addr().ok();
    tracing::info!(service = name, address = ?address, "serving");
    let drain_started = shutdown.clone();
    drain_within(
        name,
        accept_loop(app, listener, limits, gate, shutdown),
        &drain_started,
        limits.drain_grace,
    )
    .await?;
    Ok(())
}

/// Accepts through the process's connection caps and serves each
/// connection with hyper's HTTP/1 builder, which axum::serve does not
/// expose: its `header_read_timeout` closes a connection that has not sent
/// a whole request head in time (on a new connection and between the
/// requests of a kept-alive one). Once `shutdown` is cancelled it stops
/// accepting, asks every connection to finish its request and close, and
/// returns when they have; dropped earlier (the drain's grace ran out), it
/// closes them.
async fn accept_loop(
    app: axum::Router,
    listener: TcpListener,
    limits: &ServerLimits,
    gate: Arc<ConnectionGate>,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let admitted = tokio::select! {
            admitted = gate.accept(&listener) => admitted,
            () = shutdown.cancelled() => break,
        };
        let remote = admitted.remote;
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        // What `into_make_service_with_connect_info` gave the handlers.
        let service = tower::util::MapRequest::new(
            app.clone(),
            move |mut request: Request<hyper::body::Incoming>| {
                counted.fetch_add(1, Ordering::Relaxed);
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            },
        );
        let connection = http.serve_connection(
            TokioIo::new(admitted.into_stream(None)),
            TowerToHyperService::new(service),
        );
        let gate = gate.clone();
        let stopping = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = stopping.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // A connection that timed out before its first request is a
            // slow or silent client, worth a warning; one that timed out
            // after serving requests is a browser's idle keep-alive.
            if let Err(error) = served
                && error.is_timeout()
                && requests.load(Ordering::Relaxed) == 0
            {
                gate.header_timed_out();
            }
        });
    }
    // Stop accepting: the kernel refuses new connections from here on.
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Request id, deadline and span for one HTTP request; see the module docs.
async fn request_context(
    State(budget): State<Duration>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = RequestId::generate();
    let deadline = Deadline::after(budget);
    request.extensions_mut().insert(id.clone());
    request.extensions_mut().insert(deadline);
    let span = tracing::info_span!(
        "http",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = match tokio::time::timeout_at(deadline.0, next.run(request))
        .instrument(span)
        .await
    {
        Ok(response) => response,
        Err(_) => (StatusCode::GATEWAY_TIMEOUT, "the request took too long").into_response(),
    };
    response.headers_mut().insert(REQUEST_ID, id.header_value());
    response
}
