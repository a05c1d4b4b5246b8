//! A cap on requests in flight across all connections of one server.
//!
//! tonic bounds streams per connection; this bounds the whole server, so
//! many clients together cannot queue unbounded work. Past the cap a request
//! is answered RESOURCE_EXHAUSTED at once (the client may retry), instead of
//! waiting in a queue until its deadline has passed anyway. It sits before
//! the verify layer: refusing costs less than an HMAC.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{BoxFuture, FutureExt as _};
use http::{Request, Response};
use tokio::sync::Semaphore;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::errors::{Reason, status};

#[derive(Clone)]
pub struct LoadShedLayer {
    permits: Arc<Semaphore>,
}

impl LoadShedLayer {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight)),
        }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Clone)]
pub struct LoadShed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, B> Service<Request<B>> for LoadShed<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let future = self.inner.call(request);
                async move {
                    let response = future.await;
                    drop(permit);
                    response
                }
                .boxed()
            }
            Err(_) => {
                tracing::warn!("request shed: too many requests in flight");
                let status = status(Reason::Overloaded, "the server is busy; retry with backoff");
                futures_util::future::ready(Ok(status.into_http())).boxed()
            }
        }
    }
}
