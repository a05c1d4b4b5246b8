//! The patient website: register, sign in, give or withdraw consent per
//! dossier, and choose for companies before they ask.
//!
//! A small server-rendered app (axum, askama) that works without
//! JavaScript. It keeps nothing: it is a gRPC client of Identity and
//! Dossier, and the browser is the "User" at the start of the token's
//! journey. The patient's JWT lives only in an `HttpOnly` cookie; the
//! website verifies it locally like any service of the mesh, and carries it
//! to Identity and Dossier through the same client layers as every other
//! service-to-service call. On sign-in it vouches for the browser's address
//! with its own Internal token, so Identity can throttle failed sign-ins per
//! browser, not per website.
//!
//! - `routes`: the routes and what a handler learns about a visit;
//! - `account`: register, sign in, sign out;
//! - `dashboard`: the patient's dossiers, why each is decided, and the
//!   buttons that change something;
//! - `choices`: the patient's choices, for a company before it asks or for
//!   every company, their history, and `fhir`: their FHIR R4 download;
//! - `provider_signin`: "Sign in with DigiD", the authorization code flow
//!   with PKCE against the patients' OpenID provider;
//! - `session`: the session cookie and CSRF tokens; `signed_in`: what a
//!   page for a signed-in patient does first;
//! - `who_looked`: the patient's access log ("who looked");
//! - `local_time`: times in Europe/Amsterdam, and an "until" date's end;
//! - `pages` and `templates/`: the HTML; `static/`: the stylesheet;
//! - `i18n`: Dutch and English; `headers`: security headers.

mod account;
mod choices;
mod dashboard;
mod fhir;
mod headers;
mod i18n;
mod local_time;
mod pages;
mod provider_signin;
mod routes;
mod session;
mod signed_in;
mod who_looked;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::InternalTokenSource;
use crate::clients::{DossierClient, IdentityClient};
use crate::mesh::service::{App, Built, Handles, HttpApp, MeshService};
use crate::settings::{
    ConfigError, JwtSettings, ProviderSettings, ServiceCredential, ServiceKind, Settings,
    SigningSecret,
};

/// The patient website.
pub struct Website;

/// What the website needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// To verify the session cookie locally.
    pub jwt: JwtSettings,
    /// `WEBSITE_CSRF_KEY`: the root of the forms' CSRF key. Unset, it is
    /// derived from the shared HS256 key, or under EdDSA (no shared key)
    /// made at random for this process.
    pub csrf_key: Option<SigningSecret>,
    /// To get its own Internal token, with which it vouches for the
    /// browser's address on sign-in.
    pub internal_secret: ServiceCredential,
    pub identity_url: String,
    pub dossier_url: String,
    pub dependency_timeout: Duration,
    pub trust_proxy: bool,
    /// The patients' OpenID provider (never its client secret), and the
    /// website's address as browsers see it, for the redirect URI.
    pub provider: Option<ProviderSettings>,
    /// `WEBSITE_PUBLIC_URL`, else `http://` and the listen address.
    pub public_url: String,
    pub password_sign_in: bool,
}

impl MeshService for Website {
    const KIND: ServiceKind = ServiceKind::Website;
    type Config = Config;

    fn config(settings: &Settings) -> Result<Config, ConfigError> {
        Ok(Config {
            jwt: settings.require_jwt(Self::KIND)?,
            csrf_key: settings.website_csrf_key.clone(),
            internal_secret: settings.require_internal_secret(Self::KIND)?,
            identity_url: settings.peers.identity.clone(),
            dossier_url: settings.peers.dossier.clone(),
            dependency_timeout: settings.dependency_timeout,
            trust_proxy: settings.website_trust_proxy,
            provider: settings
                .patient_sign_in
                .provider
                .clone()
                .map(|mut provider| {
                    // Only Identity exchanges codes.
                    provider.client_secret = None;
                    provider
                }),
            public_url: settings.website_public_url.clone().unwrap_or_else(|| {
                let listen = settings
                    .website_listen_addr
                    .or(settings.listen_addr)
                    .unwrap_or_else(|| Self::KIND.default_addr());
                format!("http://{listen}")
            }),
            password_sign_in: settings.patient_sign_in.password,
        })
    }

    async fn build(config: Config) -> crate::Result<Built> {
        let tokens = InternalTokenSource::from_identity(
            crate::mesh::client::transport(&config.identity_url)?,
            Self::KIND.name(),
            config.internal_secret,
        );
        let verifier = crate::auth::keys::verifier_for(&config.jwt, &config.identity_url)?;
        let csrf_root = match (&config.csrf_key, config.jwt.shared_secret()) {
            (Some(key), _) => key.clone(),
            (None, Some(shared)) => shared.clone(),
            (None, None) => {
                tracing::info!(
                    "WEBSITE_CSRF_KEY is not set and there is no shared key (EdDSA): the forms' \
                     CSRF key is made for this process, so a form opened before a restart is \
                     refused once; set WEBSITE_CSRF_KEY when more than one website serves"
                );
                SigningSecret::generate()
            }
        };
        let provider = match &config.provider {
            Some(settings) => {
                let provider =
                    provider_signin::ProviderSignIn::new(settings, &config.public_url, &csrf_root)
                        .map_err(|problem| {
                            ConfigError::new(format!("the OpenID provider's settings: {problem}"))
                        })?;
                Some(Arc::new(provider))
            }
            None => None,
        };
        let identity = IdentityClient::new(
            &config.identity_url,
            tokens.clone(),
            config.dependency_timeout,
        )?;
        // Signed-out tokens, from Identity every few seconds: a session
        // cookie kept from before a sign-out opens nothing.
        crate::auth::revocation::spawn(
            verifier.revocations(),
            identity.clone(),
            "Identity (ListRevokedTokens)",
        );
        let state = routes::WebsiteState {
            sessions: session::Sessions::new(&csrf_root, verifier.clone()),
            identity,
            dossiers: DossierClient::new(&config.dossier_url, config.dependency_timeout)?,
            trust_proxy: config.trust_proxy,
            provider,
            password_sign_in: config.password_sign_in,
        };
        Ok(Built {
            app: App::Http(HttpApp {
                routes: routes::router(Arc::new(state)),
                response_headers: headers::security_headers(),
            }),
            handles: Handles {
                internal_tokens: Some(tokens),
                verifier: Some(verifier),
                ..Handles::default()
            },
        })
    }
}
