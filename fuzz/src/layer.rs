//! The server's own verify layer ([`toestemming::auth::VerifyLayer`]), run
//! in process around a handler that records what it was given: the path a
//! request's credentials take in every service, without a socket.

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{HeaderMap, Request, Response};
use toestemming::auth::{Caller, VerifyLayer};
use tonic::body::Body;
use tower::{Layer as _, Service as _};

use crate::tokens::verifier;

/// What came out of the layer.
pub enum Outcome {
    /// The handler ran, with this caller in the request's extensions and
    /// these headers left on the request.
    Handled {
        caller: Option<Caller>,
        headers: HeaderMap,
    },
    /// The layer answered itself.
    Refused(tonic::Status),
}

/// What the recording handler saw.
#[derive(Clone)]
struct Seen {
    caller: Option<Caller>,
    headers: HeaderMap,
}

/// Sends a request for `path` with `headers` to a server of `service` (its
/// full proto name), through the verify layer every server runs.
pub fn call(service: &'static str, path: &str, headers: HeaderMap) -> Outcome {
    let handler = tower::service_fn(|request: Request<()>| async move {
        let seen = Seen {
            caller: request.extensions().get::<Caller>().cloned(),
            headers: request.headers().clone(),
        };
        let mut response = Response::new(Body::empty());
        response.extensions_mut().insert(seen);
        Ok::<_, Infallible>(response)
    });
    let mut server = VerifyLayer::new(verifier().clone(), service).layer(handler);
    let mut request = Request::builder()
        .uri(path)
        .body(())
        .expect("a gRPC path is a valid URI");
    *request.headers_mut() = headers;

    let mut context = Context::from_waker(Waker::noop());
    assert!(
        matches!(server.poll_ready(&mut context), Poll::Ready(Ok(()))),
        "the layer is ready when its handler is"
    );
    let mut answer = pin!(server.call(request));
    let Poll::Ready(Ok(response)) = answer.as_mut().poll(&mut context) else {
        panic!("the verify layer is synchronous: its answer is ready at once");
    };
    match response.extensions().get::<Seen>() {
        Some(seen) => Outcome::Handled {
            caller: seen.caller.clone(),
            headers: seen.headers.clone(),
        },
        None => Outcome::Refused(
            tonic::Status::from_header_map(response.headers())
                .expect("a refusal carries a grpc-status"),
        ),
    }
}
