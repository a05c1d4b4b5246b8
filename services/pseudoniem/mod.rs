//! Pseudoniem: the one service that sees a BSN.
//!
//! It answers only Internal callers (the rule is in `pseudoniem.proto`), and
//! the verify layer checks the end user's forwarded token too, so every
//! resolution is logged with who asked and for whom, never with the BSN.
//!
//! - `store`: the BSN → pseudoniem table (no tonic types);
//! - `grpc`: the handlers;
//! - `client`: the typed client that Identity and Dossier use.

pub mod client;
mod grpc;
mod store;

use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use client::PseudoniemClient;
pub use store::PseudoniemStore;

use crate::config::JwtSettings;
use crate::mesh::server::{ServerLimits, serve};
use crate::proto::pseudoniem::v1::pseudoniem_service_server::{
    PseudoniemServiceServer, SERVICE_NAME,
};

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("services/pseudoniem/migrations");

/// What the Pseudoniem server needs.
#[derive(Debug, Clone)]
pub struct PseudoniemConfig {
    pub jwt: JwtSettings,
    pub database_url: String,
    pub limits: ServerLimits,
}

/// Opens the store and serves until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    config: PseudoniemConfig,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let pool = crate::storage::open(&config.database_url, &MIGRATOR).await?;
    let api = grpc::PseudoniemApi::new(PseudoniemStore::new(pool));
    let server = PseudoniemServiceServer::new(api)
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
