//! The server-side auth layer every service runs, in front of its handlers.
//!
//! Per request, synchronously and without I/O:
//! 1. look up the RPC's rule (from the proto); an unknown path, or a
//!    method of another service of the mesh, is
//!    UNIMPLEMENTED without reaching the router;
//! 2. for a public RPC, strip the credential headers, so no handler can ever
//!    read an unverified token, and pass;
//! 3. otherwise read exactly one bearer, verify it locally, check the role;
//! 4. for an Internal caller, verify the forwarded end-user token too;
//!    from anyone else, `x-forwarded-authorization` is stripped, because
//!    only the mesh's own services may speak for someone else;
//! 5. put the typed [`Caller`] in the request extensions, record who asked in
//!    the request's span, and call the handler.
//!
//! A refusal is answered here, as a gRPC status with an ErrorInfo detail.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use http::{HeaderMap, Request, Response};
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

use super::access::{AccessRule, access_rule};
use super::bearer::read_bearer;
use super::caller::{Caller, Principal};
use super::claims::Role;
use super::error::AuthError;
use super::verifier::TokenVerifier;
use super::{AUTHORIZATION, FORWARDED_AUTHORIZATION};
use crate::errors::{Reason, status};

/// Builds [`Verify`] services around a shared verifier.
#[derive(Clone)]
pub struct VerifyLayer {
    verifier: Arc<TokenVerifier>,
    service: &'static str,
}

impl VerifyLayer {
    /// `service`: the full proto name of the one service this server
    /// serves; the methods of other services are UNIMPLEMENTED here.
    pub fn new(verifier: Arc<TokenVerifier>, service: &'static str) -> Self {
        Self { verifier, service }
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = Verify<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Verify {
            inner,
            verifier: self.verifier.clone(),
            service: self.service,
        }
    }
}

/// The auth middleware; see the module docs.
#[derive(Clone)]
pub struct Verify<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
    service: &'static str,
}

impl<S, B> Service<Request<B>> for Verify<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match authorize(&self.verifier, self.service, &mut request) {
            Ok(()) => Either::Left(self.inner.call(request)),
            Err(status) => Either::Right(ready(Ok(status.into_http()))),
        }
    }
}

fn authorize<B>(
    verifier: &TokenVerifier,
    service: &str,
    request: &mut Request<B>,
) -> Result<(), Status> {
    mark_credentials_sensitive(request.headers_mut());
    let path = request.uri().path();
    let Some(rule) = access_rule(service, path) else {
        return Err(status(
            Reason::MethodNotFound,
            "no such method in this service",
        ));
    };
    let AccessRule::Roles(allowed) = rule else {
        let headers = request.headers_mut();
        headers.remove(AUTHORIZATION);
        headers.remove(FORWARDED_AUTHORIZATION);
        return Ok(());
    };

    let caller = authenticate(verifier, request.headers(), allowed).map_err(|error| {
        // The message names the rule that failed, never the token.
        tracing::info!(reason = %error.reason(), detail = %error, "request refused");
        Status::from(error)
    })?;
    if caller.on_behalf_of.is_none() {
        request.headers_mut().remove(FORWARDED_AUTHORIZATION);
    }
    record_in_span(&caller);
    request.extensions_mut().insert(caller);
    Ok(())
}

/// Steps 3 and 4 of the module docs.
fn authenticate(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
    allowed: &'static [Role],
) -> Result<Caller, AuthError> {
    let token = read_bearer(headers, AUTHORIZATION)?.ok_or(AuthError::Missing {
        header: AUTHORIZATION,
    })?;
    let claims = verifier.verify(token)?;
    if !allowed.contains(&claims.role) {
        return Err(AuthError::RoleNotAllowed {
            role: claims.role,
            allowed,
        });
    }
    let on_behalf_of = if claims.role == Role::Internal {
        match read_bearer(headers, FORWARDED_AUTHORIZATION)? {
            None => None,
            Some(forwarded) => {
                let end_user = verifier
                    .verify(forwarded)
                    .map_err(|error| error.for_header(FORWARDED_AUTHORIZATION))?;
                Some(Principal::new(end_user, forwarded))
            }
        }
    } else {
        None
    };
    Ok(Caller {
        principal: Principal::new(claims, token),
        on_behalf_of,
    })
}

/// HTTP/2 must not index credentials in its header tables, and `Debug` of
/// the header map must not print them.
fn mark_credentials_sensitive(headers: &mut HeaderMap) {
    for (name, value) in headers.iter_mut() {
        if name == AUTHORIZATION || name == FORWARDED_AUTHORIZATION {
            value.set_sensitive(true);
        }
    }
}

/// Fills the `caller`, `role` and `on_behalf_of` fields of the request span
/// opened by the request-context layer, so every later log line says who.
fn record_in_span(caller: &Caller) {
    let span = tracing::Span::current();
    span.record("caller", caller.principal.subject.as_str());
    span.record("role", caller.principal.role.as_str());
    if let Some(end_user) = &caller.on_behalf_of {
        span.record(
            "on_behalf_of",
            format!("{}:{}", end_user.role, end_user.subject),
        );
    }
}
