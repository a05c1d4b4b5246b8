//! Dossier: which company keeps a dossier on which patient, and the
//! patient's consent.
//!
//! - `grpc`: the handlers, each scoped to the verified caller;
//! - `error`: what a call can fail with, answered in one place;
//! - `model`: consent, the record and page cursors (no tonic, no SQL);
//! - `store`: the dossiers table, keyed by (company name, pseudoniem).
//!
//! A company names the patient by BSN; Dossier turns it into the pseudoniem
//! through Pseudoniem (with its own Internal token from Identity, cached,
//! and the company's token forwarded) and keeps only the pseudoniem.

mod error;
mod grpc;
mod model;
mod store;

use std::time::Duration;

use sqlx::migrate::Migrator;

use crate::auth::InternalTokenSource;
use crate::clients::PseudoniemClient;
use crate::mesh::service::{Built, GrpcApp, Handles, MeshService};
use crate::proto::dossier::v1::dossier_service_server::DossierServiceServer;
use crate::settings::{ConfigError, JwtSettings, ServiceCredential, ServiceKind, Settings};
use crate::storage::StorageConfig;

/// The schema, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("services/dossier/migrations");

/// The Dossier service.
pub struct Dossier;

/// What the Dossier server needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt: JwtSettings,
    pub storage: StorageConfig,
    /// Where to get this service's Internal token, with which credential.
    pub identity_url: String,
    pub internal_secret: ServiceCredential,
    pub pseudoniem_url: String,
    pub dependency_timeout: Duration,
}

impl MeshService for Dossier {
    const KIND: ServiceKind = ServiceKind::Dossier;
    type Config = Config;

    fn config(settings: &Settings) -> Result<Config, ConfigError> {
        Ok(Config {
            jwt: settings.require_jwt(Self::KIND)?,
            storage: settings.storage(Self::KIND),
            identity_url: settings.peers.identity.clone(),
            internal_secret: settings.require_internal_secret(Self::KIND)?,
            pseudoniem_url: settings.peers.pseudoniem.clone(),
            dependency_timeout: settings.dependency_timeout,
        })
    }

    async fn build(config: Config) -> crate::Result<Built> {
        let pool = crate::storage::open(&config.storage, &MIGRATOR).await?;
        let tokens = InternalTokenSource::from_identity(
            crate::mesh::client::transport(&config.identity_url)?,
            Self::KIND.name(),
            config.internal_secret,
        );
        let pseudoniemen = PseudoniemClient::new(
            &config.pseudoniem_url,
            tokens.clone(),
            config.dependency_timeout,
        )?;
        let api = grpc::DossierApi::new(
            store::DossierStore::new(pool, crate::storage::sqlite_reads(&config.storage)),
            pseudoniemen,
        );
        let verifier = crate::auth::keys::verifier_for(&config.jwt, &config.identity_url)?;
        Ok(Built {
            app: GrpcApp::new(DossierServiceServer::new(api), verifier.clone()).into(),
            handles: Handles {
                internal_tokens: Some(tokens),
                verifier: Some(verifier.clone()),
                ..Handles::default()
            },
        })
    }
}
