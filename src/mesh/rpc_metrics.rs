//! Counts every RPC and times it, by method and gRPC status code
//! (`grpc_server_handled_total`, `grpc_server_handling_seconds`).
//!
//! It sits outermost in the server stack, so what it times is what a caller
//! waits for here, refusals and load-shed answers included. The status of a
//! refused call is in the response headers; that of an answered one is in
//! the trailers at the end of the body, so the body is watched for them. A
//! call cut off before its status (the caller reset the stream, or the
//! connection went) counts as CANCELLED, as the gRPC spec names it, so an
//! alert on error codes does not count callers that left.
//!
//! With no metrics recorder installed the layer only wraps the body.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::Frame;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::auth::access::METHOD_ACCESS;
use crate::telemetry::metrics;

/// The paths every server serves besides its own RPCs.
const INFRASTRUCTURE: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// `(grpc_service, grpc_method)` for a known path; every other path shares
/// one pair, so made-up paths cannot add series.
fn method_labels(path: &str) -> (&'static str, &'static str) {
    METHOD_ACCESS
        .iter()
        .map(|m| m.path)
        .chain(INFRASTRUCTURE.iter().copied())
        .find(|known| *known == path)
        .and_then(|known: &'static str| known.strip_prefix('/')?.split_once('/'))
        .unwrap_or(("unknown", "unknown"))
}

#[derive(Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RpcMetrics<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<MeteredBody<R>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let pending = metrics::enabled().then(|| {
            let (service, method) = method_labels(request.uri().path());
            Pending {
                service,
                method,
                started: Instant::now(),
            }
        });
        ResponseFuture {
            inner: self.inner.call(request),
            outcome: Outcome(pending),
        }
    }
}

/// The labels and start time of an RPC whose status is not known yet.
struct Pending {
    service: &'static str,
    method: &'static str,
    started: Instant,
}

impl Pending {
    fn finish(self, code: &'static str) {
        metrics::rpc_handled(self.service, self.method, code, self.started.elapsed());
    }
}

pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // Dropped unanswered (the caller went away): CANCELLED.
        outcome: Outcome,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<MeteredBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match ready!(this.inner.poll(cx)) {
            Ok(response) => response,
            Err(error) => {
                // The transport answers for us; tonic's own services never
                // fail here.
                this.outcome.finish("INTERNAL");
                return Poll::Ready(Err(error));
            }
        };
        if let Some(code) = status_code(response.headers()) {
            // A trailers-only answer: the status is already here.
            this.outcome.finish(code);
        }
        let outcome = Outcome(this.outcome.0.take());
        Poll::Ready(Ok(response.map(|body| MeteredBody {
            inner: body,
            outcome,
        })))
    }
}

/// Records CANCELLED if dropped before a status was seen.
struct Outcome(Option<Pending>);

impl Outcome {
    fn finish(&mut self, code: &'static str) {
        if let Some(pending) = self.0.take() {
            pending.finish(code);
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        self.finish("CANCELLED");
    }
}

pin_project! {
    /// The response body, watched for the `grpc-status` trailer.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        outcome: Outcome,
    }
}

impl<B: http_body::Body> http_body::Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.outcome
                        .finish(status_code(trailers).unwrap_or("UNKNOWN"));
                }
            }
            // Cut off before the status: the stream or connection is gone.
            Some(Err(_)) | None => this.outcome.finish("CANCELLED"),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The canonical name of the `grpc-status` in `headers`, if there is one.
fn status_code(headers: &HeaderMap) -> Option<&'static str> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(crate::errors::code_name(tonic::Code::from_i32(code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_are_labelled_and_made_up_ones_share_one_label() {
        assert_eq!(
            method_labels("/toestemming.dossier.v1.DossierService/CheckPermission"),
            ("toestemming.dossier.v1.DossierService", "CheckPermission")
        );
        assert_eq!(
            method_labels("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health", "Check")
        );
        assert_eq!(method_labels("/made.Up/Path"), ("unknown", "unknown"));
        assert_eq!(
            method_labels("/toestemming.dossier.v1.DossierService/CheckPermission/x"),
            ("unknown", "unknown")
        );
    }

    #[test]
    fn the_status_is_read_from_headers_or_trailers() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_code(&headers), None);
        headers.insert("grpc-status", "16".parse().unwrap());
        assert_eq!(status_code(&headers), Some("UNAUTHENTICATED"));
        headers.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(status_code(&headers), Some("OK"));
        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(status_code(&headers), None);
    }
}
