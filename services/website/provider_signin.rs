//! Signing in through the patients' OpenID provider ("Sign in with
//! DigiD"): the authorization code flow with PKCE.
//!
//! - `GET /signin/provider` makes a PKCE verifier, a `state` and a `nonce`,
//!   keeps them in a short-lived cookie of their own (signed, `HttpOnly`,
//!   for `/signin/callback` only) and sends the browser to the provider's
//!   authorization endpoint (from its discovery document).
//! - `GET /signin/callback` is where the provider sends the browser back:
//!   the `state` must match the cookie's (else a page of someone else's
//!   flow was planted on the patient), then Identity exchanges the code
//!   with the verifier and the nonce and verifies the ID token; the website
//!   never sees the client secret or the ID token, only the mesh's token.
//!
//! The flow's cookie is `SameSite=Lax`: the callback is a navigation that
//! began at the provider, a cross-site request, on which a `Strict` cookie
//! is not sent. For the same reason the callback does not redirect to the
//! dashboard (the redirect would still be part of the cross-site
//! navigation, and the new `Strict` session cookie would not be sent with
//! it): it answers a page that moves on by itself, a navigation that starts
//! on this site.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthUrl, ClientId, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use tokio::sync::RwLock;

use super::account::trouble;
use super::pages::{FormErrors, SignedInPage, SigninPage, render};
use super::routes::{Shared, Visit, see_other};
use crate::clients::oidc_http;
use crate::errors::Reason;
use crate::proto::identity::v1::ExchangeProviderCodeRequest;
use crate::settings::SigningSecret;

/// The flow's cookie.
pub const FLOW_COOKIE: &str = "toestemming_signin";
const CALLBACK_PATH: &str = "/signin/callback";
/// How long a patient may take at the provider.
const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long the provider's authorization endpoint is used before its
/// discovery document is read again.
const REDISCOVER_EVERY: Duration = Duration::from_secs(5 * 60);

/// The provider as the website knows it: where to send browsers, never
/// the client secret.
pub struct ProviderSignIn {
    /// The button's name ("DigiD").
    pub name: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    redirect: RedirectUrl,
    http: reqwest::Client,
    flow_key: Hmac<Sha256>,
    authorize: RwLock<Option<(AuthUrl, Instant)>>,
}

/// What the flow's cookie keeps between the two requests.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    /// Seconds since the epoch after which the flow is stale.
    until: u64,
}

impl ProviderSignIn {
    /// `public_url` is the website as browsers see it; `key_root` signs the
    /// flow's cookie (a key derived from it for this purpose alone).
    pub fn new(
        settings: &crate::settings::ProviderSettings,
        public_url: &str,
        key_root: &SigningSecret,
    ) -> Result<Self, String> {
        let mut derive =
            Hmac::<Sha256>::new_from_slice(key_root.expose()).map_err(|e| e.to_string())?;
        derive.update(b"toestemming website sign-in flow v1");
        let key = derive.finalize().into_bytes();
        Ok(Self {
            name: settings.name.clone(),
            issuer: IssuerUrl::new(settings.issuer.clone()).map_err(|e| e.to_string())?,
            client_id: ClientId::new(settings.client_id.clone()),
            redirect: RedirectUrl::new(format!("{public_url}{CALLBACK_PATH}"))
                .map_err(|e| e.to_string())?,
            http: oidc_http::client().map_err(|e| e.to_string())?,
            flow_key: Hmac::new_from_slice(&key).map_err(|e| e.to_string())?,
            authorize: RwLock::new(None),
        })
    }

    /// The provider's authorization endpoint, from its discovery document.
    async fn authorization_endpoint(&self) -> Result<AuthUrl, String> {
        if let Some((url, at)) = self.authorize.read().await.as_ref()
            && at.elapsed() < REDISCOVER_EVERY
        {
            return Ok(url.clone());
        }
        let sender = oidc_http::sender(&self.http);
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &sender)
            .await
            .map_err(|error| error.to_string())?;
        let url = metadata.authorization_endpoint().clone();
        *self.authorize.write().await = Some((url.clone(), Instant::now()));
        Ok(url)
    }

    /// The provider's URL for a new flow, and the cookie that keeps it.
    async fn start(&self, secure: bool) -> Result<(String, Cookie<'static>), String> {
        let endpoint = self.authorization_endpoint().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = CoreClient::new(
            self.client_id.clone(),
            self.issuer.clone(),
            openidconnect::core::CoreJsonWebKeySet::default(),
        )
        .set_auth_uri(endpoint)
        .set_redirect_uri(self.redirect.clone());
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            until: now() + FLOW_LIFETIME.as_secs(),
        };
        let value = self.seal(&pending);
        let mut cookie = flow_cookie(value, secure);
        cookie.set_max_age(time::Duration::try_from(FLOW_LIFETIME).ok());
        Ok((url.to_string(), cookie))
    }

    /// `pending` as a cookie value: its JSON, base64url, and an HMAC over
    /// it, so nothing in it can be changed.
    fn seal(&self, pending: &Pending) -> String {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(pending).unwrap_or_default());
        let mut mac = self.flow_key.clone();
        mac.update(body.as_bytes());
        let tag =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The flow a cookie value keeps, if it is ours, untouched and fresh.
    fn open(&self, value: &str) -> Option<Pending> {
        let (body, tag) = value.split_once('.')?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .ok()?;
        let mut mac = self.flow_key.clone();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag).ok()?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .ok()?;
        let pending: Pending = serde_json::from_slice(&json).ok()?;
        (pending.until >= now()).then_some(pending)
    }
}

/// The flow's cookie: for the callback only, sent on the navigation back
/// from the provider (`Lax`), never readable by a script.
fn flow_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((FLOW_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path(CALLBACK_PATH)
        .secure(secure)
        .build()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `GET /signin/provider`: off to the provider.
pub async fn start(State(state): State<Shared>, visit: Visit) -> Response {
    let Some(provider) = state.provider.as_ref() else {
        return see_other("/signin");
    };
    match provider.start(visit.secure).await {
        Ok((url, cookie)) => {
            tracing::info!("sign-in: sending the browser to the identity provider");
            (visit.jar.add(cookie), see_other(&url)).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "sign-in: the identity provider cannot be discovered");
            failed(&state, visit, StatusCode::SERVICE_UNAVAILABLE, |t| {
                t.error_unavailable
            })
        }
    }
}

/// What the provider's redirect brings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Callback {
    code: String,
    state: String,
    error: String,
    /// The issuer that answers (RFC 9207), when the provider says: it must
    /// be ours, or the answer was meant for another provider (mix-up).
    iss: String,
}

/// `GET /signin/callback`: the provider's answer, checked, and the patient
/// signed in.
pub async fn callback(
    State(state): State<Shared>,
    visit: Visit,
    Query(answer): Query<Callback>,
) -> Response {
    let Some(provider) = state.provider.clone() else {
        return see_other("/signin");
    };
    let pending = visit
        .jar
        .get(FLOW_COOKIE)
        .and_then(|cookie| provider.open(cookie.value()));
    // The flow is over, whatever follows: its cookie goes.
    let mut spent = flow_cookie(String::new(), visit.secure);
    spent.make_removal();
    let mut visit = visit;
    visit.jar = visit.jar.clone().add(spent);
    if !answer.error.is_empty() {
        tracing::info!(error = %answer.error.chars().take(64).collect::<String>(), "sign-in: the identity provider said no");
        return if answer.error == "access_denied" {
            failed(&state, visit, StatusCode::UNAUTHORIZED, |t| {
                t.provider_cancelled
            })
        } else {
            failed(&state, visit, StatusCode::UNAUTHORIZED, |t| {
                t.provider_failed
            })
        };
    }
    let Some(pending) = pending else {
        tracing::info!("sign-in: a callback without a fresh flow of this browser's");
        return failed(&state, visit, StatusCode::BAD_REQUEST, |t| {
            t.provider_restart
        });
    };
    let issuer_ok = answer.iss.is_empty() || answer.iss == provider.issuer.as_str();
    if !bool::from(pending.state.as_bytes().ct_eq(answer.state.as_bytes()))
        || answer.code.is_empty()
        || !issuer_ok
    {
        tracing::warn!("sign-in: the state does not match this browser's flow");
        return failed(&state, visit, StatusCode::BAD_REQUEST, |t| {
            t.provider_restart
        });
    }
    let request = ExchangeProviderCodeRequest {
        code: answer.code,
        code_verifier: pending.verifier,
        redirect_uri: provider.redirect.to_string(),
        nonce: pending.nonce,
    };
    match state
        .identity
        .exchange_provider_code(&visit.context(None), request)
        .await
    {
        Ok(token) => {
            let lifetime = Duration::from_secs(u64::try_from(token.expires_in).unwrap_or(0));
            let session = state
                .sessions
                .start(token.access_token, lifetime, visit.secure);
            let jar = state
                .sessions
                .with_nonce(visit.jar.add(session), true, visit.secure);
            let t = visit.lang.texts();
            let page = SignedInPage {
                page: super::pages::Layout::new(visit.lang, String::new()),
                title: t.provider_signed_in,
                link: t.provider_continue,
            };
            (jar, render(StatusCode::OK, &page)).into_response()
        }
        Err(error) => {
            let t = visit.lang.texts();
            let text = match error.reason() {
                Some(Reason::InvalidCredentials) => t.provider_refused,
                _ => trouble(t, &error),
            };
            failed(
                &state,
                visit,
                super::account::status_of(&error),
                move |_| text,
            )
        }
    }
}

/// The sign-in page with what went wrong at the provider.
fn failed(
    state: &Shared,
    visit: Visit,
    status: StatusCode,
    text: impl FnOnce(&'static super::i18n::Texts) -> &'static str,
) -> Response {
    let visit = visit.with_csrf_nonce(&state.sessions);
    let html = render(
        status,
        &SigninPage {
            page: visit.layout(&state.sessions),
            errors: FormErrors::general(text(visit.lang.texts())),
            bsn: String::new(),
            provider: state.provider.as_ref().map(|p| p.name.clone()),
            password: state.password_sign_in,
        },
    );
    (visit.jar, html).into_response()
}

/// The provider, for the website's state.
pub type Provider = Arc<ProviderSignIn>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ProviderSettings;

    fn provider() -> ProviderSignIn {
        ProviderSignIn::new(
            &ProviderSettings {
                issuer: "https://digid.example.nl".into(),
                client_id: "toestemming".into(),
                client_secret: None,
                bsn_claim: "bsn".into(),
                name: "DigiD".into(),
            },
            "https://toestemming.example.nl",
            &SigningSecret::new(vec![9u8; 32]).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_sealed_flow_opens_only_untouched_and_fresh() {
        let provider = provider();
        let pending = Pending {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            until: now() + 60,
        };
        let sealed = provider.seal(&pending);
        assert_eq!(provider.open(&sealed).unwrap().state, "s");
        let (body, tag) = sealed.split_once('.').unwrap();
        let forged = Pending {
            state: "attacker".into(),
            ..pending
        };
        let forged_body = provider.seal(&forged);
        let forged_body = forged_body.split_once('.').unwrap().0;
        assert!(provider.open(&format!("{forged_body}.{tag}")).is_none());
        assert!(provider.open(&format!("{body}.")).is_none());
        assert!(provider.open("nonsense").is_none());
        let stale = provider.seal(&Pending {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            until: now() - 1,
        });
        assert!(provider.open(&stale).is_none());
    }

    #[test]
    fn the_flow_cookie_is_lax_http_only_and_for_the_callback_only() {
        let text = flow_cookie("x".into(), true).to_string();
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/signin/callback",
            "Secure",
        ] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
    }
}
