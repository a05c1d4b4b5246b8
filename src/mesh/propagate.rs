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
