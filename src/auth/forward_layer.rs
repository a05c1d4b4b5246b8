//! The client-side auth layer: the credentials a service sends when it
//! calls another.
//!
//! On every outbound call the layer first strips the headers it owns, then
//! sets them (a security header is never passed through as a handler or a
//! caller left it):
//! - `authorization`: this service's own Internal token, from its
//!   [`InternalTokenSource`] (for clients of Internal-only services);
//! - `x-forwarded-authorization`: the end user's verified token, from the
//!   [`Caller`] the handler attached to the outbound request, so the callee
//!   can verify it too and record on whose behalf it is asked.
//!
//! Both values are marked sensitive, so HTTP/2 never indexes them and debug
//! output hides them. The request id and deadline are transport, not
//! credentials: `crate::mesh::propagate` sets those.

use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::{Request, Response};
use tower::{BoxError, Layer, Service};

use super::caller::Caller;
use super::claims::Role;
use super::token_source::InternalTokenSource;
use super::{AUTHORIZATION, FORWARDED_AUTHORIZATION};

#[derive(Clone)]
pub struct ForwardLayer {
    tokens: Option<InternalTokenSource>,
}

impl ForwardLayer {
    /// `tokens`: set for clients of services that want this service's own
    /// Internal token.
    pub fn new(tokens: Option<InternalTokenSource>) -> Self {
        Self { tokens }
    }
}

impl<S> Layer<S> for ForwardLayer {
    type Service = Forwarding<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Forwarding {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

/// The forwarding middleware; see the module docs.
#[derive(Clone)]
pub struct Forwarding<S> {
    inner: S,
    tokens: Option<InternalTokenSource>,
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
        let end_user = request
            .extensions_mut()
            .remove::<Caller>()
            .map(|caller| caller.end_user().clone());
        let headers = request.headers_mut();
        headers.remove(AUTHORIZATION);
        headers.remove(FORWARDED_AUTHORIZATION);
        // An Internal end user is a service acting for itself: nobody to
        // speak for.
        if let Some(end_user) = end_user.filter(|user| user.role != Role::Internal) {
            headers.insert(FORWARDED_AUTHORIZATION, end_user.token.bearer_header());
        }

        // The readied service answers this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let tokens = self.tokens.clone();
        Box::pin(async move {
            if let Some(tokens) = tokens {
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, tokens.authorization().await?);
            }
            inner.call(request).await.map_err(Into::into)
        })
    }
}
