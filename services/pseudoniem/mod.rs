//! Pseudoniem: the one service that sees a BSN.
//!
//! It answers only Internal callers (the rule is in `pseudoniem.proto`), and
//! the verify layer checks the end user's forwarded token too, so every
//! resolution is logged with who asked and for whom, never with the BSN.
//!
//! - `store`: the BSN → pseudoniem table (no tonic types); private, so no
//!   other part of the crate can name it. It holds no BSN: each entry is
//!   keyed by the BSN's HMAC under `PSEUDONIEM_BSN_KEY` (`bsn_key`);
//! - `clear_bsns`: the one-time move of an older database's clear BSNs
//!   under the key;
//! - `grpc`: the handlers;
//! - `error`: what a call can fail with, answered in one place.
//!
//! Other services reach it through `crate::clients::PseudoniemClient`.

mod bsn_key;

pub use bsn_key::development_key;
mod clear_bsns;
mod error;
mod grpc;
mod store;

use sqlx::migrate::Migrator;

use crate::mesh::service::{Built, GrpcApp, Handles, MeshService};
use crate::proto::pseudoniem::v1::pseudoniem_service_server::PseudoniemServiceServer;
use crate::settings::{ConfigError, JwtSettings, ServiceKind, Settings, SigningSecret};
use crate::storage::{Schema, StorageConfig};

/// The schema, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("services/pseudoniem/migrations");
pub static SCHEMA: Schema = Schema::shared(&MIGRATOR);

/// The Pseudoniem service.
pub struct Pseudoniem;

/// What the Pseudoniem server needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt: JwtSettings,
    pub storage: StorageConfig,
    /// `PSEUDONIEM_BSN_KEY`: the key under which BSNs are stored.
    pub bsn_key: SigningSecret,
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
            bsn_key: settings.require_bsn_key()?,
            identity_url: settings.peers.identity.clone(),
        })
    }

    async fn build(config: Config) -> crate::Result<Built> {
        let pool = crate::storage::open(&config.storage, &SCHEMA).await?;
        let key = bsn_key::BsnKey::new(&config.bsn_key);
        let sqlite = crate::storage::sqlite_file(&config.storage).is_some();
        clear_bsns::move_under_key(&pool, &key, sqlite).await?;
        let api = grpc::PseudoniemApi::new(store::PseudoniemStore::new(pool, key));
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
