//! The `toestemming` command: which service(s) this process runs.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{
    DEFAULT_DOSSIER_ADDR, DEFAULT_IDENTITY_ADDR, DEFAULT_PSEUDONIEM_ADDR, JwtSettings,
    ServiceCredential, Settings, SigningSecret,
};
use crate::launch::{MeshListeners, MeshOptions, bind, start_mesh};
use crate::mesh::server::ServerLimits;

/// Online Toestemming: healthcare consent over gRPC, with JWTs between
/// services.
///
/// Configuration comes from the environment (JWT_SECRET_KEY,
/// INTERNAL_CLIENT_SECRET, DATABASE_URL, DATA_DIR, LISTEN_ADDR, IDENTITY_URL,
/// PSEUDONIEM_URL, DOSSIER_URL, ...); see the README.
#[derive(Debug, Parser)]
#[command(name = "toestemming", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Every service in one process on the default addresses (the default).
    /// Generates a development key and service credential when none is set.
    All,
    /// The Identity service (needs JWT_SECRET_KEY and INTERNAL_CLIENT_SECRET).
    Identity,
    /// The Pseudoniem service (needs JWT_SECRET_KEY).
    Pseudoniem,
    /// The Dossier service (needs JWT_SECRET_KEY and INTERNAL_CLIENT_SECRET).
    Dossier,
}

/// Runs the chosen command until Ctrl-C or SIGTERM.
pub async fn run(cli: Cli) -> crate::Result<()> {
    let settings = Settings::from_env()?;
    let shutdown = crate::mesh::shutdown::on_signal();
    let limits = ServerLimits::default();
    let listen = |default: &str| {
        settings
            .listen_addr
            .unwrap_or_else(|| parse_default(default))
    };
    let database =
        |service: &str| settings.database_url_for(service, settings.database_url.as_deref());
    match cli.command.unwrap_or(Command::All) {
        Command::All => run_all(&settings, limits, shutdown).await,
        Command::Pseudoniem => {
            let config = crate::pseudoniem::PseudoniemConfig {
                jwt: settings.require_jwt()?,
                database_url: database("pseudoniem"),
                limits,
            };
            crate::pseudoniem::run(
                bind(listen(DEFAULT_PSEUDONIEM_ADDR)).await?,
                config,
                shutdown,
            )
            .await
        }
        Command::Identity => {
            let config = crate::identity::IdentityConfig {
                jwt: settings.require_jwt()?,
                database_url: database("identity"),
                internal_secret: settings.require_internal_secret("identity")?,
                pseudoniem_url: settings.endpoints.pseudoniem_url.clone(),
                dependency_timeout: settings.dependency_timeout,
                throttle: Default::default(),
                limits,
            };
            crate::identity::run(bind(listen(DEFAULT_IDENTITY_ADDR)).await?, config, shutdown).await
        }
        Command::Dossier => {
            let config = crate::dossier::DossierConfig {
                jwt: settings.require_jwt()?,
                database_url: database("dossier"),
                identity_url: settings.endpoints.identity_url.clone(),
                internal_secret: settings.require_internal_secret("dossier")?,
                pseudoniem_url: settings.endpoints.pseudoniem_url.clone(),
                dependency_timeout: settings.dependency_timeout,
                limits,
            };
            crate::dossier::run(bind(listen(DEFAULT_DOSSIER_ADDR)).await?, config, shutdown).await
        }
    }
}

fn parse_default(address: &str) -> SocketAddr {
    address.parse().expect("the default addresses are valid")
}

/// `toestemming all`: the whole mesh on the default addresses, with
/// generated development secrets where none are set.
async fn run_all(
    settings: &Settings,
    limits: ServerLimits,
    shutdown: CancellationToken,
) -> crate::Result<()> {
    let jwt = settings.jwt.clone().unwrap_or_else(|| {
        tracing::warn!(
            "JWT_SECRET_KEY is not set: generated a development key for this run only; \
             tokens will not survive a restart. Set JWT_SECRET_KEY for anything else."
        );
        JwtSettings::with_secret(SigningSecret::generate())
    });
    let internal_secret = settings.internal_secret.clone().unwrap_or_else(|| {
        tracing::warn!("INTERNAL_CLIENT_SECRET is not set: generated a development service credential for this run");
        ServiceCredential::generate()
    });
    if settings.database_url.is_some() || settings.listen_addr.is_some() {
        tracing::warn!(
            "DATABASE_URL and LISTEN_ADDR configure one service; `all` uses the default addresses \
             and one SQLite file per service in DATA_DIR"
        );
    }
    let listeners = MeshListeners::bind(
        parse_default(DEFAULT_IDENTITY_ADDR),
        parse_default(DEFAULT_PSEUDONIEM_ADDR),
        parse_default(DEFAULT_DOSSIER_ADDR),
    )
    .await?;
    tracing::info!(data_dir = %settings.data_dir.display(), "starting the whole mesh in one process");
    let options = MeshOptions {
        jwt,
        internal_secret,
        data_dir: settings.data_dir.clone(),
        identity_database_url: None,
        pseudoniem_database_url: None,
        dossier_database_url: None,
        dependency_timeout: settings.dependency_timeout,
        throttle: Default::default(),
        limits,
    };
    start_mesh(listeners, options, shutdown).await?.wait().await
}
