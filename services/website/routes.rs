//! The website's routes, and what every handler learns about a visit.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;

use super::i18n::Lang;
use super::pages::{Layout, MessagePage, render};
use super::session::Sessions;
use super::{account, choices, dashboard, provider_signin, who_looked};
use crate::auth::{Caller, ClientAddress, Principal};
use crate::clients::{DossierClient, IdentityClient};
use crate::mesh::{CallContext, Deadline, RequestId};

/// What the handlers share.
pub struct WebsiteState {
    pub sessions: Sessions,
    pub identity: IdentityClient,
    pub dossiers: DossierClient,
    /// Believe `X-Forwarded-For` and `X-Forwarded-Proto` from the peer.
    pub trust_proxy: bool,
    /// The patients' identity provider, when there is one.
    pub provider: Option<super::provider_signin::Provider>,
    /// Whether patients may register and sign in with a BSN and password
    /// (the development mode).
    pub password_sign_in: bool,
}

pub type Shared = Arc<WebsiteState>;

/// Every page and form of the website.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(dashboard::show))
        .route(
            "/register",
            get(account::register_form).post(account::register),
        )
        .route("/signin", get(account::signin_form).post(account::signin))
        .route("/signin/provider", get(provider_signin::start))
        .route("/signin/callback", get(provider_signin::callback))
        .route("/signout", post(account::signout))
        .route("/consent", post(dashboard::decide))
        .route("/choices", get(choices::show).post(choices::choose))
        .route("/choices/clear", post(choices::withdraw))
        .route("/choices.fhir.json", get(choices::download))
        .route("/log", get(who_looked::show))
        .route("/static/style.css", get(stylesheet))
        .route("/healthz", get(health))
        .route("/.well-known/jwks.json", get(jwks))
        .fallback(not_found)
        .with_state(state)
}

/// What every handler knows about the request: the language, the cookies,
/// the browser's address and whether it came over HTTPS, and the request
/// id and deadline that calls to the services carry.
pub struct Visit {
    pub lang: Lang,
    pub jar: CookieJar,
    pub client: Option<IpAddr>,
    pub secure: bool,
    request_id: Option<RequestId>,
    deadline: Option<Deadline>,
}

impl Visit {
    /// The context of a call made for this visit, as `caller` when signed
    /// in.
    pub fn context(&self, caller: Option<&Principal>) -> CallContext {
        CallContext {
            caller: caller.map(|principal| Caller {
                principal: std::sync::Arc::new(principal.clone()),
                on_behalf_of: None,
                forwarded_for: None,
            }),
            request_id: self.request_id.clone(),
            deadline: self.deadline,
            client_address: self.client.map(ClientAddress),
        }
    }

    /// This visit with a CSRF nonce cookie, for a page with forms.
    pub fn with_csrf_nonce(mut self, sessions: &Sessions) -> Self {
        self.jar = sessions.with_nonce(self.jar, false, self.secure);
        self
    }

    /// The frame of a page for this visit, its forms protected by the
    /// visit's CSRF token.
    pub fn layout(&self, sessions: &Sessions) -> Layout {
        Layout::new(self.lang, sessions.csrf_token(&self.jar))
    }
}

impl FromRequestParts<Shared> for Visit {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        let headers = &parts.headers;
        let (client, secure) = if state.trust_proxy {
            (
                forwarded_client(headers).or(peer),
                header_is(headers, "x-forwarded-proto", "https"),
            )
        } else {
            (peer, false)
        };
        Ok(Visit {
            lang: Lang::from_headers(headers),
            jar: CookieJar::from_headers(headers),
            client,
            secure,
            request_id: parts.extensions.get::<RequestId>().cloned(),
            deadline: parts.extensions.get::<Deadline>().copied(),
        })
    }
}

/// The address the proxy in front saw: the last entry of the last
/// `X-Forwarded-For` (earlier entries are the client's own say-so).
fn forwarded_client(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn header_is(headers: &HeaderMap, name: &str, expected: &str) -> bool {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case(expected))
}

/// After a POST: GET `to` (303, so a reload never resends the form).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A POST whose CSRF token does not fit: refused, nothing done.
pub fn forbidden(state: &WebsiteState, visit: &Visit) -> Response {
    let t = visit.lang.texts();
    tracing::warn!("form refused: missing or wrong CSRF token");
    render(
        StatusCode::FORBIDDEN,
        &MessagePage {
            page: visit.layout(&state.sessions),
            title: t.forbidden_title,
            text: t.forbidden_text,
            link: t.forbidden_back,
        },
    )
}

async fn not_found(
    axum::extract::State(state): axum::extract::State<Shared>,
    visit: Visit,
) -> Response {
    let t = visit.lang.texts();
    render(
        StatusCode::NOT_FOUND,
        &MessagePage {
            page: visit.layout(&state.sessions),
            title: t.not_found_title,
            text: t.not_found_text,
            link: t.home_link,
        },
    )
}

const STYLESHEET: &str = include_str!("static/style.css");

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// For `toestemming healthcheck` and load balancers: the website answers.
/// `SERVING` once the website can judge sessions (under EdDSA: its key
/// set is loaded), 503 `NOT_SERVING` before.
async fn health(State(state): State<Shared>) -> Response {
    let (status, body) = if state.sessions.is_ready() {
        (StatusCode::OK, "SERVING")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING")
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `GET /.well-known/jwks.json`: the public keys the mesh's tokens verify
/// with (EdDSA), for verifiers that do not speak gRPC. 404 under HS256,
/// whose key is secret; 503 until the set is loaded.
async fn jwks(State(state): State<Shared>) -> Response {
    match state.sessions.key_set() {
        None => (
            StatusCode::NOT_FOUND,
            "this deployment signs with HS256: no public keys\n",
        )
            .into_response(),
        Some(None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the key set is not loaded yet\n",
        )
            .into_response(),
        Some(Some(set)) => (
            [
                (header::CONTENT_TYPE, "application/jwk-set+json"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            set.to_json(),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_s_own_view_of_the_client_wins() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6, 192.0.2.1".parse().unwrap());
        assert_eq!(forwarded_client(&headers), "192.0.2.1".parse().ok());
        headers.append("x-forwarded-for", "192.0.2.9".parse().unwrap());
        assert_eq!(forwarded_client(&headers), "192.0.2.9".parse().ok());
        assert_eq!(forwarded_client(&HeaderMap::new()), None);
    }
}
