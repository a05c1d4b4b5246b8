//! The outermost server layer: request id, deadline, and the request span.
//!
//! It sits outside everything else so that every log line a request causes,
//! including an auth refusal or a load-shed answer, carries its request id.
//! - `x-request-id`: kept when the caller's value is sane, else generated;
//!   written back on the request (for handlers and the forward layer) and
//!   echoed on the response.
//! - deadline: the caller's `grpc-timeout`, capped by this server's request
//!   budget, so outbound calls can carry what is left; enforced here with
//!   DEADLINE_EXCEEDED.
//! - the span: `grpc{request_id, method, caller, role, on_behalf_of}`; the
//!   verify layer fills in who called;
//! - on the way out, an ErrorInfo for any error that lacks one
//!   ([`super::error_info`]).

use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tracing::Instrument as _;

use super::context::{Deadline, REQUEST_ID, RequestId, parse_grpc_timeout};
use super::error_info::ensure_error_info;
use crate::errors::{Reason, status};

#[derive(Clone)]
pub struct RequestContextLayer {
    /// The longest any request may run here, whatever `grpc-timeout` says.
    budget: Duration,
}

impl RequestContextLayer {
    pub fn new(budget: Duration) -> Self {
        Self { budget }
    }
}

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContextService {
            inner,
            budget: self.budget,
        }
    }
}

#[derive(Clone)]
pub struct RequestContextService<S> {
    inner: S,
    budget: Duration,
}

impl<S, B, R> Service<Request<B>> for RequestContextService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    R: Default,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let request_id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate);
        let header = HeaderValue::from_str(request_id.as_str())
            .expect("a sanitised request id is a valid header");
        request.headers_mut().insert(REQUEST_ID, header.clone());

        let asked = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        let budget = asked.map_or(self.budget, |asked| asked.min(self.budget));
        let deadline = Deadline::after(budget);
        request.extensions_mut().insert(deadline);

        let span = tracing::info_span!(
            "grpc",
            request_id = %request_id,
            method = %request.uri().path(),
            caller = tracing::field::Empty,
            role = tracing::field::Empty,
            on_behalf_of = tracing::field::Empty,
        );
        request.extensions_mut().insert(request_id);

        // Inner layers run part of their work inside `call` (the verify
        // layer records the caller there), so enter the span for it too.
        let future = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                // The deadline is enforced here, so an expired call is
                // answered DEADLINE_EXCEEDED as the gRPC spec says (tonic's
                // own timeout answers CANCELLED), and its work is dropped.
                let mut response = match tokio::time::timeout_at(deadline.0, future).await {
                    Ok(response) => response?,
                    Err(_) => {
                        tracing::info!("deadline exceeded");
                        status(
                            Reason::DeadlineExceeded,
                            "the deadline passed before the call finished",
                        )
                        .into_http()
                    }
                };
                response.headers_mut().insert(REQUEST_ID, header);
                // Every response passes here, so every error gets its
                // ErrorInfo here, including tonic's own.
                ensure_error_info(response.headers_mut());
                Ok(response)
            }
            .instrument(span),
        )
    }
}
