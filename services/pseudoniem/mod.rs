//! Pseudoniem: the one service that sees a BSN.
//!
//! It answers only Internal callers (the rule is in `pseudoniem.proto`), and
//! the verify layer checks the end user's forwarded token too, so every
//! resolution is logged with who asked and for whom, never with the BSN.
//!
//! - `store`: the BSN → pseudoniem table (no tonic types); private, so no
//!   other part of the crate can name it;
//! - `grpc`: the handlers;
//! - `error`: what a call can fail with, answered in one place.
//!
//! Other services reach it through `crate::clients::PseudoniemClient`.

mod error;
mod grpc;
mod store;

use sqlx::migrate::Migrator;

use crate::mesh::service::{Built, GrpcApp, Handles, MeshService};
use crate::proto::pseudoniem::v1::pseudoniem_service_server::PseudoniemServiceServer;
use crate::settings::{ConfigError, JwtSettings, ServiceKind, Settings};
use crate::storage::{Schema, StorageConfig};

/// The schema, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("services/pseudoniem/migrations");
static SCHEMA: Schema = Schema::shared(&MIGRATOR);

/// The Pseudoniem service.
pub struct Pseudoniem;

/// What the Pseudoniem server needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt: JwtSettings,
    pub storage: StorageConfig,
    /// Where the key set comes from under EdDSA (GetJwks); Pseudoniem
    /// calls Identity for nothing else.
    pub identity_url: String,
}

impl MeshService for Pseudoniem {
    const KIND: ServiceKind = ServiceKind::Pseudoniem;
    type Config = Config;

    fn config(settings: &Settings) -> Result<Config, ConfigError> {
        Ok(Config {
            jwt: settings.require_jwt(Self::KIND)?,
            storage: settings.storage(Self::KIND),
            identity_url: settings.peers.identity.clone(),
        })
    }

    async fn build(config: Config) -> crate::Result<Built> {
        let pool = crate::storage::open(&config.storage, &SCHEMA).await?;
        let api = grpc::PseudoniemApi::new(store::PseudoniemStore::new(pool));
        let verifier = crate::auth::keys::verifier_for(&config.jwt, &config.identity_url)?;
        Ok(Built {
            handles: Handles {
                verifier: Some(verifier.clone()),
                ..Handles::default()
            },
            app: GrpcApp::new(PseudoniemServiceServer::new(api), verifier).into(),
        })
    }
}
