//! The client-side auth layer: the credentials a service sends when it
//! calls another.
//!
//! On every outbound call the layer first strips the headers it owns, then
//! sets them (a security header is never passed through as a handler or a
//! caller left it). What it sets depends on the client's [`Credentials`]:
//! - [`Credentials::Service`], for a service calling another as itself
//!   (Dossier → Pseudoniem, the website signing a patient in):
//!   `authorization` is this service's own Internal token, from its
//!   [`InternalTokenSource`]; `x-forwarded-authorization` the end user's
//!   verified token, from the [`Caller`] the handler attached, so the callee
//!   can verify it too and record on whose behalf it is asked;
//!   `x-forwarded-for` the end user's address, when a [`ClientAddress`] was
//!   attached (the browser behind the website).
//! - [`Credentials::EndUser`], for a service acting as the user's agent (the
//!   website calling Dossier for the signed-in patient): `authorization` is
//!   the end user's verified token, and nothing else is sent.
//!
//! Both values are marked sensitive, so HTTP/2 never indexes them and debug
//! output hides them. The request id and deadline are transport, not
//! credentials: `crate::mesh::propagate` sets those.

use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tower::{BoxError, Layer, Service};

use super::caller::{Caller, ClientAddress};
use super::claims::Role;
use super::token_source::InternalTokenSource;
use super::{AUTHORIZATION, FORWARDED_AUTHORIZATION, FORWARDED_FOR};

/// Whose credential a client sends as `authorization`.
#[derive(Clone)]
pub enum Credentials {
    /// This service's own Internal token; the end user travels in the
    /// forwarded headers.
    Service(InternalTokenSource),
    /// The end user's own verified token.
    EndUser,
}

#[derive(Clone)]
pub struct ForwardLayer {
    credentials: Credentials,
}

impl ForwardLayer {
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

impl<S> Layer<S> for ForwardLayer {
    type Service = Forwarding<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Forwarding {
            inner,
            credentials: self.credentials.clone(),
        }
    }
}

/// The forwarding middleware; see the module docs.
#[derive(Clone)]
pub struct Forwarding<S> {
    inner: S,
    credentials: Credentials,
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
        // An Internal end user is a service acting for itself: nobody to
        // speak for.
        let end_user = request
            .extensions_mut()
            .remove::<Caller>()
            .map(|caller| caller.end_user().clone())
            .filter(|user| user.role != Role::Internal);
        let client = request.extensions_mut().remove::<ClientAddress>();
        let headers = request.headers_mut();
        headers.remove(AUTHORIZATION);
        headers.remove(FORWARDED_AUTHORIZATION);
        headers.remove(FORWARDED_FOR);
        let tokens = match &self.credentials {
            Credentials::Service(tokens) => {
                if let Some(end_user) = end_user {
                    headers.insert(FORWARDED_AUTHORIZATION, end_user.token.bearer_header());
                }
                if let Some(ClientAddress(address)) = client {
                    let text = address.to_string();
                    let value =
                        HeaderValue::try_from(text).expect("an IP address is visible ASCII");
                    headers.insert(FORWARDED_FOR, value);
                }
                Some(tokens.clone())
            }
            Credentials::EndUser => {
                if let Some(end_user) = end_user {
                    headers.insert(AUTHORIZATION, end_user.token.bearer_header());
                }
                None
            }
        };

        // The readied service answers this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if let Some(tokens) = tokens {
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, tokens.authorization().await?);
            }
            inner.call(request).await.map_err(|error| error.into())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http::HeaderMap;
    use tower::ServiceExt as _;

    use super::*;
    use crate::auth::caller::Principal;
    use crate::auth::{Claims, TokenIssuer};
    use crate::settings::{JwtSettings, SigningSecret};

    fn issuer() -> Arc<TokenIssuer> {
        let settings = JwtSettings::with_secret(SigningSecret::new(vec![5u8; 32]).unwrap());
        Arc::new(TokenIssuer::new(&settings))
    }

    fn caller(role: Role, subject: &str, token: &str) -> Caller {
        let claims = Claims {
            sub: subject.into(),
            role,
            iss: String::new(),
            aud: String::new(),
            exp: 0,
            iat: 0,
            nbf: 0,
            jti: None,
        };
        Caller {
            principal: Arc::new(Principal::new(claims, token)),
            on_behalf_of: None,
            forwarded_for: None,
        }
    }

    async fn sent(
        credentials: Credentials,
        caller: Option<Caller>,
        client: Option<ClientAddress>,
    ) -> HeaderMap {
        let sent = Arc::new(Mutex::new(HeaderMap::new()));
        let record = sent.clone();
        let dependency = tower::service_fn(move |request: Request<()>| {
            *record.lock().unwrap() = request.headers().clone();
            std::future::ready(Ok::<_, BoxError>(Response::new(())))
        });
        let mut request = Request::new(());
        request
            .headers_mut()
            .insert(AUTHORIZATION, "Bearer left.by.handler".parse().unwrap());
        request.headers_mut().insert(
            FORWARDED_AUTHORIZATION,
            "Bearer stale.fwd.value".parse().unwrap(),
        );
        request
            .headers_mut()
            .insert(FORWARDED_FOR, "10.9.9.9".parse().unwrap());
        if let Some(caller) = caller {
            request.extensions_mut().insert(caller);
        }
        if let Some(client) = client {
            request.extensions_mut().insert(client);
        }
        ForwardLayer::new(credentials)
            .layer(dependency)
            .oneshot(request)
            .await
            .unwrap();
        sent.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn the_services_own_token_and_the_end_users_token_are_sent_sensitive() {
        let tokens = InternalTokenSource::self_signed(issuer());
        let company = caller(Role::HealthcareCompany, "Zorg BV", "company.jwt.here");
        let headers = sent(Credentials::Service(tokens.clone()), Some(company), None).await;
        let own = tokens.authorization().await.unwrap();
        assert_eq!(headers[AUTHORIZATION], own);
        assert_eq!(headers[FORWARDED_AUTHORIZATION], "Bearer company.jwt.here");
        assert!(headers[AUTHORIZATION].is_sensitive());
        assert!(headers[FORWARDED_AUTHORIZATION].is_sensitive());
    }

    #[tokio::test]
    async fn what_a_handler_left_is_stripped_not_passed_on() {
        let headers = sent(Credentials::EndUser, None, None).await;
        assert!(!headers.contains_key(AUTHORIZATION));
        assert!(!headers.contains_key(FORWARDED_AUTHORIZATION));
        assert!(!headers.contains_key(FORWARDED_FOR));
    }

    #[tokio::test]
    async fn a_service_acting_for_itself_forwards_nobody() {
        let tokens = InternalTokenSource::self_signed(issuer());
        let internal = caller(Role::Internal, "internal", "internal.jwt.here");
        let headers = sent(Credentials::Service(tokens), Some(internal), None).await;
        assert!(!headers.contains_key(FORWARDED_AUTHORIZATION));
        assert!(!headers.contains_key(FORWARDED_FOR));
    }

    #[tokio::test]
    async fn a_service_vouches_for_the_browsers_address_with_its_own_token() {
        let tokens = InternalTokenSource::self_signed(issuer());
        let address = ClientAddress("192.0.2.7".parse().unwrap());
        let headers = sent(Credentials::Service(tokens), None, Some(address)).await;
        assert_eq!(headers[FORWARDED_FOR], "192.0.2.7");
        assert!(headers.contains_key(AUTHORIZATION));
    }

    #[tokio::test]
    async fn an_agent_of_the_user_sends_the_users_token_and_nothing_else() {
        let patient = caller(Role::Patient, "p", "patient.jwt.here");
        let address = ClientAddress("192.0.2.7".parse().unwrap());
        let headers = sent(Credentials::EndUser, Some(patient), Some(address)).await;
        assert_eq!(headers[AUTHORIZATION], "Bearer patient.jwt.here");
        assert!(headers[AUTHORIZATION].is_sensitive());
        assert!(!headers.contains_key(FORWARDED_AUTHORIZATION));
        assert!(
            !headers.contains_key(FORWARDED_FOR),
            "only vouched for with the service's own token"
        );
    }
}
