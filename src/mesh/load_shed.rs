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

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;
    use tonic::body::Body;
    use tonic::{Code, Status};
    use tonic_types::StatusExt as _;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn past_the_cap_a_request_is_shed_at_once_and_a_slot_frees_when_one_ends() {
        let (release, released) = oneshot::channel::<()>();
        let released = std::sync::Arc::new(tokio::sync::Mutex::new(Some(released)));
        let handler = tower::service_fn(move |_: Request<Body>| {
            let released = released.clone();
            async move {
                // The first request waits until the test releases it.
                if let Some(wait) = released.lock().await.take() {
                    let _ = wait.await;
                }
                Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
            }
        });
        let service = LoadShedLayer::new(1).layer(handler);
        let request = || {
            Request::builder()
                .uri("/x.y.Z/M")
                .body(Body::empty())
                .unwrap()
        };

        let first = tokio::spawn(service.clone().oneshot(request()));
        tokio::task::yield_now().await;
        let shed = service.clone().oneshot(request()).await.unwrap();
        let status = Status::from_header_map(shed.headers()).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "OVERLOADED"
        );

        release.send(()).unwrap();
        let served = first.await.unwrap().unwrap();
        assert!(Status::from_header_map(served.headers()).is_none());
        let next = service.oneshot(request()).await.unwrap();
        assert!(
            Status::from_header_map(next.headers()).is_none(),
            "the slot was freed"
        );
    }
}
