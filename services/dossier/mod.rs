//! Dossier: which company keeps a dossier on which patient, and the
//! patient's consent.
//!
//! - `grpc`: the handlers, each scoped to the verified caller;
//! - `model`: consent, the record and page cursors (no tonic, no SQL);
//! - `store`: the dossiers table, keyed by (company name, pseudoniem).
//!
//! A company names the patient by BSN; Dossier turns it into the pseudoniem
//! through Pseudoniem (with its own Internal token from Identity, cached,
//! and the company's token forwarded) and keeps only the pseudoniem.

mod grpc;
mod model;
mod store;

use std::time::Duration;

use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::auth::InternalTokenSource;
use crate::config::{JwtSettings, ServiceCredential};
use crate::mesh::server::{ServerLimits, serve};
use crate::proto::dossier::v1::dossier_service_server::{DossierServiceServer, SERVICE_NAME};
use crate::pseudoniem::PseudoniemClient;

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("services/dossier/migrations");

/// What the Dossier server needs.
#[derive(Debug, Clone)]
pub struct DossierConfig {
    pub jwt: JwtSettings,
    pub database_url: String,
    /// Where to get this service's Internal token, with which credential.
    pub identity_url: String,
    pub internal_secret: ServiceCredential,
    pub pseudoniem_url: String,
    pub dependency_timeout: Duration,
    pub limits: ServerLimits,
}

/// A running Dossier's handles that tests and operators may inspect.
#[derive(Clone)]
pub struct DossierHandles {
    /// The Internal token source: `fetches()` tells how often Identity was
    /// asked.
    pub tokens: InternalTokenSource,
}

/// Opens the store and serves until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    config: DossierConfig,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let (_, serving) = start(listener, config, shutdown).await?;
    serving.await?
}

/// Opens the store, then serves in a task; returns the handles at once, so
/// a caller can watch the running service.
pub async fn start(
    listener: TcpListener,
    config: DossierConfig,
    shutdown: CancellationToken,
) -> crate::Result<(DossierHandles, tokio::task::JoinHandle<crate::Result<()>>)> {
    let (server, handles) = build(config.clone()).await?;
    let task = tokio::spawn(async move {
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
    });
    Ok((handles, task))
}

async fn build(
    config: DossierConfig,
) -> crate::Result<(DossierServiceServer<grpc::DossierApi>, DossierHandles)> {
    let pool = crate::storage::open(&config.database_url, &MIGRATOR).await?;
    let tokens = InternalTokenSource::from_identity(
        crate::mesh::client::channel(&config.identity_url)?,
        "dossier",
        config.internal_secret,
    );
    let pseudoniemen = PseudoniemClient::new(
        &config.pseudoniem_url,
        tokens.clone(),
        config.dependency_timeout,
    )?;
    let api = grpc::DossierApi::new(store::DossierStore::new(pool), pseudoniemen);
    let server = DossierServiceServer::new(api)
        .max_decoding_message_size(config.limits.max_message_bytes)
        .max_encoding_message_size(config.limits.max_message_bytes);
    Ok((server, DossierHandles { tokens }))
}
