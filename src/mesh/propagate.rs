//! The client-side transport layer: what every outbound call carries from
//! the inbound request besides credentials.
//!
//! From the [`RequestId`] and [`Deadline`] the handler attached (through a
//! [`super::CallContext`]), the layer sets, after stripping what was there:
//! - `x-request-id`: the inbound request's id, so one id runs through
//!   every hop and every log line;
//! - `grpc-timeout`: what is left of the inbound deadline, capped by the
//!   dependency timeout. The call also fails locally with
//!   DEADLINE_EXCEEDED when that runs out, so a hung dependency cannot hold
//!   the caller.
//!
//! It sits outside the credential layer (`crate::auth::ForwardLayer`), so
//! the wait for an Internal token counts against the same deadline.

use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tonic::Status;
use tower::{BoxError, Layer, Service};

use super::context::{Deadline, GRPC_TIMEOUT, REQUEST_ID, RequestId, format_grpc_timeout};

#[derive(Clone)]
pub struct PropagateLayer {
    max_call_time: Duration,
}

impl PropagateLayer {
    /// `max_call_time`: the longest one call may take, whatever time the
    /// inbound call has left.
    pub fn new(max_call_time: Duration) -> Self {
        Self { max_call_time }
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = Propagate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Propagate {
            inner,
            max_call_time: self.max_call_time,
        }
    }
}

/// The propagating middleware; see the module docs.
#[derive(Clone)]
pub struct Propagate<S> {
    inner: S,
    max_call_time: Duration,
}

impl<S, B, R> Service<Request<B>> for Propagate<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<R>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let request_id = request.extensions_mut().remove::<RequestId>();
        let deadline = request.extensions_mut().remove::<Deadline>();
        let headers = request.headers_mut();
        headers.remove(REQUEST_ID);
        headers.remove(GRPC_TIMEOUT);
        if let Some(id) = &request_id {
            headers.insert(REQUEST_ID, id.header_value());
        }
        let budget = deadline.map_or(self.max_call_time, |deadline| {
            deadline.remaining().min(self.max_call_time)
        });
        headers.insert(
            GRPC_TIMEOUT,
            HeaderValue::from_str(&format_grpc_timeout(budget)).expect("digits and a unit"),
        );

        // The readied service answers this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if budget.is_zero() {
                return Err(Status::deadline_exceeded("no time left for the call").into());
            }
            let late = || -> BoxError {
                Status::deadline_exceeded("the dependency did not answer in time").into()
            };
            match tokio::time::timeout(budget, inner.call(request)).await {
                // tonic's channel enforces the same `grpc-timeout` and may
                // fire first, as CANCELLED: it is the same deadline.
                Ok(Err(error)) => {
                    let error = error.into();
                    if is_timeout(&*error) {
                        Err(late())
                    } else {
                        Err(error)
                    }
                }
                Ok(Ok(response)) => Ok(response),
                Err(_) => Err(late()),
            }
        })
    }
}

/// Whether `error` (or its cause) is tonic's own deadline expiry.
fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http::HeaderMap;
    use tonic::Code;
    use tower::ServiceExt as _;

    use super::*;

    /// Sends a request through the layer (dependency timeout `max`) to a
    /// dependency that answers after `takes`; returns what the dependency
    /// was sent and the outcome.
    async fn call(
        extensions: (Option<RequestId>, Option<Deadline>),
        stale: &[(&'static str, &str)],
        max: Duration,
        takes: Duration,
    ) -> (Option<HeaderMap>, Result<Response<()>, BoxError>) {
        let sent = Arc::new(Mutex::new(None));
        let record = sent.clone();
        let dependency = tower::service_fn(move |request: Request<()>| {
            *record.lock().unwrap() = Some(request.headers().clone());
            async move {
                tokio::time::sleep(takes).await;
                Ok::<_, BoxError>(Response::new(()))
            }
        });
        let mut request = Request::new(());
        for (name, value) in stale {
            request
                .headers_mut()
                .insert(*name, HeaderValue::from_str(value).unwrap());
        }
        if let Some(id) = extensions.0 {
            request.extensions_mut().insert(id);
        }
        if let Some(deadline) = extensions.1 {
            request.extensions_mut().insert(deadline);
        }
        let outcome = PropagateLayer::new(max)
            .layer(dependency)
            .oneshot(request)
            .await;
        let sent = sent.lock().unwrap().take();
        (sent, outcome)
    }

    fn code(outcome: &Result<Response<()>, BoxError>) -> Option<Code> {
        outcome
            .as_ref()
            .err()
            .and_then(|error| error.downcast_ref::<Status>())
            .map(Status::code)
    }

    #[tokio::test(start_paused = true)]
    async fn the_request_id_and_the_remaining_deadline_travel() {
        let id = RequestId::parse("req-1").unwrap();
        let deadline = Deadline::after(Duration::from_millis(700));
        let (sent, outcome) = call(
            (Some(id), Some(deadline)),
            &[("x-request-id", "forged"), ("grpc-timeout", "99H")],
            Duration::from_secs(3),
            Duration::ZERO,
        )
        .await;
        assert!(outcome.is_ok());
        let sent = sent.unwrap();
        assert_eq!(sent[REQUEST_ID], "req-1");
        assert_eq!(sent[GRPC_TIMEOUT], "700m");
        assert_eq!(sent.get_all(REQUEST_ID).iter().count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn without_an_inbound_deadline_the_dependency_timeout_applies() {
        let (sent, _) = call((None, None), &[], Duration::from_secs(3), Duration::ZERO).await;
        let sent = sent.unwrap();
        assert_eq!(sent[GRPC_TIMEOUT], "3000m");
        assert!(!sent.contains_key(REQUEST_ID));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_dependency_is_a_deadline_exceeded_within_the_budget() {
        let started = tokio::time::Instant::now();
        let (_, outcome) = call(
            (None, Some(Deadline::after(Duration::from_millis(250)))),
            &[],
            Duration::from_secs(3),
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(code(&outcome), Some(Code::DeadlineExceeded));
        assert_eq!(started.elapsed(), Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn no_time_left_means_no_call() {
        let deadline = Deadline::after(Duration::ZERO);
        let (sent, outcome) = call(
            (None, Some(deadline)),
            &[],
            Duration::from_secs(3),
            Duration::ZERO,
        )
        .await;
        assert_eq!(code(&outcome), Some(Code::DeadlineExceeded));
        assert!(sent.is_none(), "the dependency was not called");
    }
}
