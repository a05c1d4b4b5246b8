//! The patient website: register, sign in, and give or withdraw consent.
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
//! - `dashboard`: the patient's dossiers and their decisions;
//! - `session`: the session cookie and CSRF tokens;
//! - `pages` and `templates/`: the HTML; `static/`: the stylesheet;
//! - `i18n`: Dutch and English; `headers`: security headers.

mod account;
mod dashboard;
mod headers;
mod i18n;
mod pages;
mod routes;
mod session;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{InternalTokenSource, TokenVerifier};
use crate::clients::{DossierClient, IdentityClient};
use crate::mesh::service::{App, Built, Handles, MeshService};
use crate::settings::{ConfigError, JwtSettings, ServiceCredential, ServiceKind, Settings};

/// The patient website.
pub struct Website;

/// What the website needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// To verify the session cookie locally, and to derive the CSRF key.
    pub jwt: JwtSettings,
    /// To get its own Internal token, with which it vouches for the
    /// browser's address on sign-in.
    pub internal_secret: ServiceCredential,
    pub identity_url: String,
    pub dossier_url: String,
    pub dependency_timeout: Duration,
    pub trust_proxy: bool,
}

impl MeshService for Website {
    const KIND: ServiceKind = ServiceKind::Website;
    type Config = Config;

    fn config(settings: &Settings) -> Result<Config, ConfigError> {
        Ok(Config {
            jwt: settings.require_jwt()?,
            internal_secret: settings.require_internal_secret(Self::KIND)?,
            identity_url: settings.peers.identity.clone(),
            dossier_url: settings.peers.dossier.clone(),
            dependency_timeout: settings.dependency_timeout,
            trust_proxy: settings.website_trust_proxy,
        })
    }

    async fn build(config: Config) -> crate::Result<Built> {
        let tokens = InternalTokenSource::from_identity(
            crate::mesh::client::transport(&config.identity_url)?,
            Self::KIND.name(),
            config.internal_secret,
        );
        let verifier = Arc::new(TokenVerifier::new(&config.jwt));
        let state = routes::WebsiteState {
            sessions: session::Sessions::new(&config.jwt, verifier),
            identity: IdentityClient::new(
                &config.identity_url,
                tokens.clone(),
                config.dependency_timeout,
            )?,
            dossiers: DossierClient::new(&config.dossier_url, config.dependency_timeout)?,
            trust_proxy: config.trust_proxy,
        };
        Ok(Built {
            app: App::Http(routes::router(Arc::new(state))),
            handles: Handles {
                internal_tokens: Some(tokens),
                ..Handles::default()
            },
        })
    }
}
