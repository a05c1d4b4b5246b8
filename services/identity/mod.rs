//! Identity: patient accounts, companies, and the only signer of tokens.
//!
//! - `grpc`: the handlers;
//! - `store`: patients (by pseudoniem, never by BSN) and companies;
//! - `credentials`: argon2id passwords, hashed company secrets;
//! - `login_throttle`: failed sign-ins per account and per client;
//! - `validation`: field rules;
//! - `error`: what a call can fail with, answered in one place.
//!
//! Identity resolves a BSN through Pseudoniem, with an Internal token it
//! signs for itself, and then forgets the BSN.

mod credentials;
mod error;
mod grpc;
mod login_throttle;
mod store;
mod validation;

use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;

use crate::auth::{InternalTokenSource, TokenIssuer, TokenVerifier};
use crate::clients::PseudoniemClient;
use crate::mesh::service::{Built, GrpcApp, Handles, MeshService};
use crate::proto::identity::v1::identity_service_server::IdentityServiceServer;
use crate::settings::{
    ConfigError, JwtSettings, ServiceCredential, ServiceKind, Settings, ThrottlePolicy,
};
use crate::storage::StorageConfig;

/// The schema, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("services/identity/migrations");

/// The Identity service.
pub struct Identity;

/// What the Identity server needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt: JwtSettings,
    pub storage: StorageConfig,
    /// The credential IssueInternalToken checks.
    pub internal_secret: ServiceCredential,
    pub pseudoniem_url: String,
    pub dependency_timeout: Duration,
    pub login_throttle: ThrottlePolicy,
}

impl MeshService for Identity {
    const KIND: ServiceKind = ServiceKind::Identity;
    type Config = Config;

    fn config(settings: &Settings) -> Result<Config, ConfigError> {
        Ok(Config {
            jwt: settings.require_jwt()?,
            storage: settings.storage(Self::KIND),
            internal_secret: settings.require_internal_secret(Self::KIND)?,
            pseudoniem_url: settings.peers.pseudoniem.clone(),
            dependency_timeout: settings.dependency_timeout,
            login_throttle: settings.login_throttle.clone(),
        })
    }

    async fn build(config: Config) -> crate::Result<Built> {
        let pool = crate::storage::open(&config.storage, &MIGRATOR).await?;
        let issuer = Arc::new(TokenIssuer::new(&config.jwt));
        let tokens = InternalTokenSource::self_signed(issuer.clone());
        let pseudoniemen = PseudoniemClient::new(
            &config.pseudoniem_url,
            tokens.clone(),
            config.dependency_timeout,
        )?;
        let api = grpc::IdentityApi::new(
            store::IdentityStore::new(pool),
            issuer,
            pseudoniemen,
            config.internal_secret,
            login_throttle::LoginThrottle::new(config.login_throttle),
        )
        .await?;
        let verifier = Arc::new(TokenVerifier::new(&config.jwt));
        Ok(Built {
            app: GrpcApp::new(IdentityServiceServer::new(api), verifier).into(),
            handles: Handles {
                internal_tokens: Some(tokens),
                ..Handles::default()
            },
        })
    }
}
