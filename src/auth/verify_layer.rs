//! The server-side auth layer every service runs, in front of its handlers.
//!
//! Per request, synchronously and without I/O:
//! 1. look up the RPC's rule (from the proto); an unknown path, or a
//!    method of another service of the mesh, is
//!    UNIMPLEMENTED without reaching the router;
//! 2. for a public RPC, strip the credential headers, so no handler can ever
//!    read an unverified token, and pass. A genuine Internal token is the
//!    one credential a public RPC looks at: it lets a service of the mesh
//!    vouch for the end user's address (the website signing a patient in);
//!    anything else sent is ignored, as if nothing were sent;
//! 3. otherwise read exactly one bearer, verify it locally, check the role;
//! 4. for an Internal caller, verify the forwarded end-user token too and
//!    read the forwarded address; from anyone else,
//!    `x-forwarded-authorization` and `x-forwarded-for` are stripped,
//!    because only the mesh's own services may speak for someone else;
//! 5. put the typed [`Caller`] in the request extensions, record who asked in
//!    the request's span, and call the handler.
//!
//! A refusal is answered here, as a gRPC status with an ErrorInfo detail.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use http::{HeaderMap, Request, Response};
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

use super::access::{AccessRule, access_rule};
use super::bearer::read_bearer;
use super::caller::Caller;
use super::claims::Role;
use super::error::AuthError;
use super::verifier::TokenVerifier;
use super::{AUTHORIZATION, FORWARDED_AUTHORIZATION, FORWARDED_FOR};
use crate::errors::{Reason, status};
use crate::telemetry::metrics;

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
    service: &'static str,
    request: &mut Request<B>,
) -> Result<(), Status> {
    let path = request.uri().path();
    let Some(rule) = access_rule(service, path) else {
        return Err(status(
            Reason::MethodNotFound,
            "no such method in this service",
        ));
    };
    let caller =
        match rule {
            AccessRule::Public => {
                // Public: a credential is never required and never refused.
                authenticate(verifier, request.headers(), Role::Internal.alone()).ok()
            }
            AccessRule::Roles(allowed) => {
                Some(authenticate(verifier, request.headers(), allowed).map_err(|error| {
                // The message names the rule that failed, never the token.
                tracing::info!(reason = %error.reason(), detail = %error, "request refused");
                metrics::token_verified(service, error.reason().as_str());
                Status::from(error)
            })?)
            }
        };
    let headers = request.headers_mut();
    if rule == AccessRule::Public {
        headers.remove(AUTHORIZATION);
        headers.remove(FORWARDED_AUTHORIZATION);
    }
    if caller.as_ref().is_none_or(|c| c.on_behalf_of.is_none()) {
        headers.remove(FORWARDED_AUTHORIZATION);
    }
    if caller.as_ref().is_none_or(|c| c.forwarded_for.is_none()) {
        headers.remove(FORWARDED_FOR);
    }
    if let Some(caller) = caller {
        metrics::token_verified(service, "ACCEPTED");
        record_in_span(&caller);
        request.extensions_mut().insert(caller);
    }
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
    let principal = verifier.verify_principal(token)?;
    if !allowed.contains(&principal.role) {
        return Err(AuthError::RoleNotAllowed {
            role: principal.role,
            allowed,
        });
    }
    let internal = principal.role == Role::Internal;
    // Only the mesh's own services may speak for someone else; from anyone
    // else the header is not even read.
    let forwarded = if internal {
        read_bearer(headers, FORWARDED_AUTHORIZATION)?
    } else {
        None
    };
    let on_behalf_of = match forwarded {
        Some(forwarded) => Some(
            verifier
                .verify_principal(forwarded)
                .map_err(|error| error.for_header(FORWARDED_AUTHORIZATION))?,
        ),
        None => None,
    };
    Ok(Caller {
        principal,
        on_behalf_of,
        forwarded_for: if internal {
            forwarded_for(headers)
        } else {
            None
        },
    })
}

/// The one address in `x-forwarded-for`, from an Internal caller. A list, a
/// port or anything else that is not one IP address is ignored: the
/// website, the only sender, sends exactly one.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let mut values = headers.get_all(FORWARDED_FOR).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()?.parse().ok()
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

#[cfg(test)]
mod tests {
    //! The verify layer in-process, around a handler that records what it
    //! was given (linkerd2-proxy's way: `layer(service_fn(..)).oneshot(..)`).
    //! `tests/it/token_verification.rs` runs the same rules over real
    //! sockets.

    use std::sync::Mutex;

    use tonic::Code;
    use tonic_types::StatusExt as _;
    use tower::ServiceExt as _;

    use super::*;
    use crate::auth::TokenIssuer;
    use crate::settings::{JwtSettings, SigningSecret};

    const PSEUDONIEM: &str = "toestemming.pseudoniem.v1.PseudoniemService";
    const LOOKUP: &str = "/toestemming.pseudoniem.v1.PseudoniemService/LookupPseudoniem";

    fn settings() -> JwtSettings {
        JwtSettings::with_secret(SigningSecret::new(vec![3u8; 32]).unwrap())
    }

    fn token(role: Role, subject: &str) -> String {
        TokenIssuer::new(&settings())
            .issue(subject, role)
            .unwrap()
            .access_token
    }

    /// What the handler behind the layer saw.
    #[derive(Default)]
    struct Seen {
        caller: Option<Caller>,
        headers: Option<HeaderMap>,
    }

    /// Calls `path` on a Pseudoniem server through the layer, with
    /// `headers`; returns the answer's status (OK when the handler ran) and
    /// what the handler saw.
    async fn call(path: &str, headers: &[(&str, String)]) -> (Status, Seen) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = seen.clone();
        let handler = tower::service_fn(move |request: Request<Body>| {
            let mut seen = record.lock().unwrap();
            seen.caller = request.extensions().get::<Caller>().cloned();
            seen.headers = Some(request.headers().clone());
            std::future::ready(Ok::<_, std::convert::Infallible>(Response::new(
                Body::empty(),
            )))
        });
        let layer = VerifyLayer::new(Arc::new(TokenVerifier::new(&settings())), PSEUDONIEM);
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = layer
            .layer(handler)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = Status::from_header_map(response.headers()).unwrap_or_else(|| Status::ok(""));
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        (status, seen)
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    fn reason(status: &Status) -> String {
        status.get_details_error_info().unwrap().reason
    }

    #[tokio::test]
    async fn an_allowed_role_reaches_the_handler_as_a_typed_caller() {
        let (status, seen) = call(
            LOOKUP,
            &[("authorization", bearer(&token(Role::Internal, "internal")))],
        )
        .await;
        assert_eq!(status.code(), Code::Ok, "{status:?}");
        let caller = seen.caller.unwrap();
        assert_eq!(caller.principal.role, Role::Internal);
        assert!(caller.on_behalf_of.is_none());
    }

    #[tokio::test]
    async fn no_token_is_unauthenticated_and_the_handler_never_runs() {
        let (status, seen) = call(LOOKUP, &[]).await;
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(reason(&status), "TOKEN_MISSING");
        assert!(seen.headers.is_none());
    }

    #[tokio::test]
    async fn a_forged_or_expired_token_is_unauthenticated() {
        let genuine = token(Role::Internal, "internal");
        let forged = format!("{}AAAA", &genuine[..genuine.len() - 4]);
        let (status, _) = call(LOOKUP, &[("authorization", bearer(&forged))]).await;
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::Unauthenticated, "TOKEN_INVALID")
        );
        assert!(!status.message().contains(&forged));
    }

    #[tokio::test]
    async fn a_verified_caller_without_the_role_is_permission_denied() {
        let (status, seen) = call(
            LOOKUP,
            &[(
                "authorization",
                bearer(&token(Role::HealthcareCompany, "Zorg BV")),
            )],
        )
        .await;
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(reason(&status), "ROLE_NOT_ALLOWED");
        assert_eq!(
            status.get_details_error_info().unwrap().metadata["allowed_roles"],
            "Internal"
        );
        assert!(seen.headers.is_none());
    }

    #[tokio::test]
    async fn another_services_method_is_unimplemented_before_any_token_check() {
        let (status, seen) =
            call("/toestemming.dossier.v1.DossierService/ListMyDossiers", &[]).await;
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(reason(&status), "METHOD_NOT_FOUND");
        assert!(seen.headers.is_none());
    }

    #[tokio::test]
    async fn public_methods_never_show_a_credential_to_the_handler() {
        let (status, seen) = call(
            "/grpc.health.v1.Health/Check",
            &[
                ("authorization", "Bearer not.a.token".into()),
                ("x-forwarded-authorization", "Bearer x.y.z".into()),
            ],
        )
        .await;
        assert_eq!(status.code(), Code::Ok);
        let headers = seen.headers.unwrap();
        assert!(!headers.contains_key(AUTHORIZATION));
        assert!(!headers.contains_key(FORWARDED_AUTHORIZATION));
        assert!(seen.caller.is_none());
    }

    #[tokio::test]
    async fn an_internal_caller_speaks_for_the_verified_end_user() {
        let patient = token(Role::Patient, &uuid::Uuid::new_v4().to_string());
        let (status, seen) = call(
            LOOKUP,
            &[
                ("authorization", bearer(&token(Role::Internal, "internal"))),
                ("x-forwarded-authorization", bearer(&patient)),
            ],
        )
        .await;
        assert_eq!(status.code(), Code::Ok);
        assert_eq!(seen.caller.unwrap().end_user().role, Role::Patient);

        let (status, _) = call(
            LOOKUP,
            &[
                ("authorization", bearer(&token(Role::Internal, "internal"))),
                ("x-forwarded-authorization", "Bearer a.b.c".into()),
            ],
        )
        .await;
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(
            status.get_details_error_info().unwrap().metadata["header"],
            FORWARDED_AUTHORIZATION
        );
    }
}
