//! The client-side auth layer: what a service sends when it calls another.
//!
//! On every outbound call the layer first strips the headers it owns, then
//! sets them from the [`CallContext`] the handler attached (a security
//! header is never passed through as the handler or a caller left it):
//! - `authorization`: this service's own Internal token, from its
//!   [`InternalTokenSource`] (for clients of Internal-only services);
//! - `x-forwarded-authorization`: the end user's verified token, so the
//!   callee can verify it too and record on whose behalf it is asked;
//! - `x-request-id`: the inbound request's id;
//! - `grpc-timeout`: what is left of the inbound deadline, capped by the
//!   dependency timeout; the call also fails locally with DEADLINE_EXCEEDED
//!   when that runs out, so a hung dependency cannot hold the caller.

use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tonic::Status;
use tower::{BoxError, Layer, Service};

use super::claims::Role;
use super::token_source::InternalTokenSource;
use super::{AUTHORIZATION, FORWARDED_AUTHORIZATION};
use crate::mesh::context::{CallContext, REQUEST_ID, format_grpc_timeout};

#[derive(Clone)]
pub struct ForwardLayer {
    tokens: Option<InternalTokenSource>,
    max_call_time: Duration,
}

impl ForwardLayer {
    /// `tokens`: set for clients of services that want this service's own
    /// Internal token. `max_call_time`: the longest one call may take.
    pub fn new(tokens: Option<InternalTokenSource>, max_call_time: Duration) -> Self {
        Self {
            tokens,
            max_call_time,
        }
    }
}

impl<S> Layer<S> for ForwardLayer {
    type Service = Forwarding<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Forwarding {
            inner,
            tokens: self.tokens.clone(),
            max_call_time: self.max_call_time,
        }
    }
}

/// The forwarding middleware; see the module docs.
#[derive(Clone)]
pub struct Forwarding<S> {
    inner: S,
    tokens: Option<InternalTokenSource>,
    max_call_time: Duration,
}

impl<S, B, R> Service<Request<B>> for Forwarding<S>
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
        let context = request
            .extensions_mut()
            .remove::<CallContext>()
            .unwrap_or_default();
        let headers = request.headers_mut();
        for owned in [
            AUTHORIZATION,
            FORWARDED_AUTHORIZATION,
            REQUEST_ID,
            "grpc-timeout",
        ] {
            headers.remove(owned);
        }
        if let Some(end_user) = context.caller.as_ref().map(|caller| caller.end_user())
            && end_user.role != Role::Internal
        {
            headers.insert(FORWARDED_AUTHORIZATION, end_user.token.bearer_header());
        }
        if let Some(id) = &context.request_id {
            headers.insert(
                REQUEST_ID,
                HeaderValue::from_str(id.as_str()).expect("request ids are sanitised"),
            );
        }
        let budget = context.deadline.map_or(self.max_call_time, |deadline| {
            deadline.remaining().min(self.max_call_time)
        });
        headers.insert(
            "grpc-timeout",
            HeaderValue::from_str(&format_grpc_timeout(budget)).expect("digits and a unit"),
        );

        // The readied service answers this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let tokens = self.tokens.clone();
        Box::pin(async move {
            if budget.is_zero() {
                return Err(Status::deadline_exceeded("no time left for the call").into());
            }
            let call = async {
                if let Some(tokens) = tokens {
                    request
                        .headers_mut()
                        .insert(AUTHORIZATION, tokens.authorization().await?);
                }
                inner.call(request).await.map_err(Into::into)
            };
            let late = || -> BoxError {
                Status::deadline_exceeded("the dependency did not answer in time").into()
            };
            match tokio::time::timeout(budget, call).await {
                // tonic's channel enforces the same `grpc-timeout` and may
                // fire first, as CANCELLED: it is the same deadline.
                Ok(Err(error)) if is_timeout(&*error) => Err(late()),
                Ok(result) => result,
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
