//! Dossier: which company keeps a dossier on which patient, and the
//! patients' choices about who may access their data.
//!
//! - `consent`: the rules that turn a patient's choices into a company's
//!   answer (no tonic, no SQL, no clock: a table of tests);
//! - `model`: the records and page positions;
//! - `grpc`: the API and its answer per dossier; `for_companies` and
//!   `for_patients`: the handlers, split by who calls them, each scoped to
//!   the verified caller;
//! - `wire`: requests' fields checked, records turned into messages;
//! - `companies`: what Dossier asks Identity about companies;
//! - `error`: what a call can fail with, answered in one place;
//! - `access_log`: every call about a patient, logged before it is
//!   answered, hash-chained; every write commits with its entry and
//!   publishes the decisions it changed to the feed;
//! - `takeovers`: RecordAccountTakeover, Identity's word that a patient's
//!   first sign-in through the identity provider took over a password
//!   account (grants from before it await the patient's confirmation);
//! - `watch`: WatchConsent, the feed streamed to a company; `feed`: what
//!   its streams share (wake-ups, the bound on watches); `publisher`: the
//!   background tasks (expiries, retries, other replicas' notifications);
//! - `store`: reading the dossiers, the append-only choice versions and
//!   the access log;
//! - `operator`: `toestemming audit verify`.
//!
//! A company names the patient by BSN; Dossier turns it into the pseudoniem
//! through Pseudoniem (with its own Internal token from Identity, cached,
//! and the company's token forwarded) and keeps only the pseudoniem. A
//! dossier is the company's request; its consent is derived from the
//! patient's choices each time it is read, never stored on it, so nothing
//! a company does can erase a patient's "no" (`docs/consent.md`).

pub mod access_log;
mod companies;
mod consent;
mod error;
mod feed;
mod for_companies;
mod for_patients;
mod grpc;
mod model;
pub mod operator;
mod publisher;
mod store;
mod takeovers;
mod watch;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;

use crate::auth::InternalTokenSource;
use crate::clients::{IdentityClient, PseudoniemClient};
use crate::mesh::service::{Built, GrpcApp, Handles, MeshService};
use crate::proto::dossier::v1::dossier_service_server::DossierServiceServer;
use crate::settings::{ConfigError, JwtSettings, ServiceCredential, ServiceKind, Settings};
use crate::storage::{Schema, StorageConfig};

/// The schema, embedded in the binary: one set per engine, since the
/// triggers that keep the choices append-only are written differently.
static SQLITE: Migrator = sqlx::migrate!("services/dossier/migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("services/dossier/migrations/postgres");
/// On PostgreSQL the Dossier service's role does not own its database
/// (an owner it never runs as applies the migrations): it may read and
/// write dossiers, and only append choices and log entries, never change
/// or remove one. The triggers say no to the owner's own mistakes; the
/// missing grants say no to the service.
pub static SCHEMA: Schema = Schema {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
    grants: &[
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, DELETE ON dossiers TO {role}",
        "GRANT SELECT, INSERT ON choice_versions TO {role}",
        "GRANT SELECT, INSERT ON access_log TO {role}",
        "GRANT SELECT ON access_log_checkpoints TO {role}",
        "GRANT SELECT, INSERT ON decision_changes TO {role}",
        "GRANT SELECT, INSERT ON account_takeovers TO {role}",
        "GRANT SELECT ON _sqlx_migrations TO {role}",
    ],
};

/// The Dossier service.
pub struct Dossier;

/// What the Dossier server needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt: JwtSettings,
    pub storage: StorageConfig,
    /// Where to get this service's Internal token, with which credential,
    /// and what to ask about companies.
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
        let pool = crate::storage::open(&config.storage, &SCHEMA).await?;
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
        let identity = IdentityClient::new(
            &config.identity_url,
            tokens.clone(),
            config.dependency_timeout,
        )?;
        let sqlite = config.storage.url.expose().starts_with("sqlite:");
        let (published, _) = tokio::sync::watch::channel(0);
        let feed = feed::Feed::new(published.clone());
        let log = access_log::AccessLog::start(pool.clone(), sqlite, published);
        let verifier = crate::auth::keys::verifier_for(&config.jwt, &config.identity_url)?;
        let api = Arc::new(grpc::DossierApi::new(
            store::DossierStore::new(pool, crate::storage::sqlite_reads(&config.storage)),
            pseudoniemen,
            companies::Companies::new(identity.clone()),
            log,
            feed.clone(),
            verifier.revocations().clone(),
        ));
        // Both stop once the server has let go of the API.
        tokio::spawn(publisher::publish_in_background(Arc::downgrade(&api)));
        if !sqlite {
            let url = config.storage.url.expose().to_owned();
            tokio::spawn(publisher::relay_notifications(url, Arc::downgrade(&feed)));
        }
        // Signed-out tokens, from Identity every few seconds (never per
        // request); the task ends with the verifier.
        crate::auth::revocation::spawn(
            verifier.revocations(),
            identity,
            "Identity (ListRevokedTokens)",
        );
        Ok(Built {
            app: GrpcApp::new(DossierServiceServer::from_arc(api), verifier.clone()).into(),
            handles: Handles {
                internal_tokens: Some(tokens),
                verifier: Some(verifier.clone()),
                ..Handles::default()
            },
        })
    }
}
