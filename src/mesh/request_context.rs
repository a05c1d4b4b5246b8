//! The outermost server layer: request id, deadline, and the request span.
//!
//! It sits outside everything else so that every log line a request causes,
//! including an auth refusal or a load-shed answer, carries its request id.
//! - `x-request-id`: kept when the caller's value is sane, else generated;
//!   written back on the request (for handlers and the forward layer) and
//!   echoed on the response. (tower-http's request-id layers keep whatever
//!   a caller sends, which would put unchecked text into every log line and
//!   every outbound call; hence this one.)
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

#[cfg(test)]
mod tests {
    //! The layer in-process around a handler that records what it was
    //! given; `tests/it` checks request ids and deadlines across real hops.

    use std::sync::{Arc, Mutex};

    use tonic::body::Body;
    use tonic::{Code, Status};
    use tonic_types::StatusExt as _;
    use tower::ServiceExt as _;

    use super::*;

    #[derive(Default, Clone)]
    struct Seen {
        request_id: Option<RequestId>,
        deadline: Option<Deadline>,
        header: Option<HeaderValue>,
    }

    async fn call(
        headers: &[(&str, &str)],
        budget: Duration,
        handler_takes: Duration,
        answer: Status,
    ) -> (Response<Body>, Seen) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = seen.clone();
        let handler = tower::service_fn(move |request: Request<Body>| {
            *record.lock().unwrap() = Seen {
                request_id: request.extensions().get::<RequestId>().cloned(),
                deadline: request.extensions().get::<Deadline>().copied(),
                header: request.headers().get(REQUEST_ID).cloned(),
            };
            let answer = answer.clone();
            async move {
                tokio::time::sleep(handler_takes).await;
                Ok::<_, std::convert::Infallible>(answer.into_http::<Body>())
            }
        });
        let mut request = Request::builder().uri("/x.y.Z/M");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = RequestContextLayer::new(budget)
            .layer(handler)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        (response, seen)
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_sane_request_id_is_kept_handed_on_and_echoed() {
        let (response, seen) = call(
            &[("x-request-id", "abc-123")],
            SECOND,
            Duration::ZERO,
            Status::ok(""),
        )
        .await;
        assert_eq!(seen.request_id.unwrap().as_str(), "abc-123");
        assert_eq!(seen.header.unwrap(), "abc-123");
        assert_eq!(response.headers()[REQUEST_ID], "abc-123");
    }

    #[tokio::test]
    async fn an_absent_or_insane_request_id_is_replaced_by_a_fresh_one() {
        for headers in [&[][..], &[("x-request-id", "two words")][..]] {
            let (response, seen) = call(headers, SECOND, Duration::ZERO, Status::ok("")).await;
            let id = seen.request_id.unwrap();
            assert!(uuid::Uuid::try_parse(id.as_str()).is_ok(), "{id}");
            assert_eq!(response.headers()[REQUEST_ID], id.as_str());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_the_callers_timeout_capped_by_the_budget() {
        let started = tokio::time::Instant::now();
        let (_, asked) = call(
            &[("grpc-timeout", "200m")],
            SECOND,
            Duration::ZERO,
            Status::ok(""),
        )
        .await;
        assert_eq!(
            asked.deadline.unwrap().0 - started,
            Duration::from_millis(200)
        );
        let (_, capped) = call(
            &[("grpc-timeout", "1H")],
            SECOND,
            Duration::ZERO,
            Status::ok(""),
        )
        .await;
        assert_eq!(capped.deadline.unwrap().0 - started, SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_past_the_deadline_is_answered_deadline_exceeded() {
        let (response, _) = call(
            &[("grpc-timeout", "100m")],
            SECOND,
            Duration::from_secs(5),
            Status::ok(""),
        )
        .await;
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "DEADLINE_EXCEEDED"
        );
        assert!(response.headers().contains_key(REQUEST_ID));
    }

    #[tokio::test]
    async fn an_error_without_details_leaves_with_an_error_info() {
        let (response, _) = call(
            &[],
            SECOND,
            Duration::ZERO,
            Status::internal("failed to decode"),
        )
        .await;
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.get_details_error_info().unwrap().reason, "INTERNAL");
    }
}
