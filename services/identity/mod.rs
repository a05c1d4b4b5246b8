//! Identity: patient accounts, companies, and the only signer of tokens.
//!
//! - `grpc`: the handlers;
//! - `store`: patients (by pseudoniem, never by BSN) and companies;
//! - `credentials`: argon2id passwords, hashed company secrets;
//! - `login_throttle`: failed sign-ins per account and per peer;
//! - `validation`: field rules.
//!
//! Identity resolves a BSN through Pseudoniem, with an Internal token it
//! signs for itself, and then forgets the BSN.

mod credentials;
mod grpc;
mod login_throttle;
mod store;
mod validation;

use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use login_throttle::ThrottlePolicy;

use crate::auth::{InternalTokenSource, TokenIssuer};
use crate::config::{JwtSettings, ServiceCredential};
use crate::mesh::server::{ServerLimits, serve};
use crate::proto::identity::v1::identity_service_server::{IdentityServiceServer, SERVICE_NAME};
use crate::pseudoniem::PseudoniemClient;

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("services/identity/migrations");

/// What the Identity server needs.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub jwt: JwtSettings,
    pub database_url: String,
    /// The credential IssueInternalToken checks.
    pub internal_secret: ServiceCredential,
    pub pseudoniem_url: String,
    pub dependency_timeout: Duration,
    pub throttle: ThrottlePolicy,
    pub limits: ServerLimits,
}

/// Opens the store and serves until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    config: IdentityConfig,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let pool = crate::storage::open(&config.database_url, &MIGRATOR).await?;
    let issuer = Arc::new(TokenIssuer::new(&config.jwt));
    let pseudoniemen = PseudoniemClient::new(
        &config.pseudoniem_url,
        InternalTokenSource::self_signed(issuer.clone()),
        config.dependency_timeout,
    )?;
    let api = grpc::IdentityApi::new(
        store::IdentityStore::new(pool),
        issuer,
        pseudoniemen,
        config.internal_secret,
        login_throttle::LoginThrottle::new(config.throttle),
    )
    .await?;
    let server = IdentityServiceServer::new(api)
        .max_decoding_message_size(config.limits.max_message_bytes)
        .max_encoding_message_size(config.limits.max_message_bytes);
    serve(
        SERVICE_NAME,
        Routes::new(server),
        listener,
        &config.jwt,
        &config.limits,
        shutdown,
    )
    .await?;
    Ok(())
}
