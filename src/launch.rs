//! Assembling services into processes: one service alone, or the whole mesh
//! in one process (`toestemming all`).
//!
//! In one process the services still talk gRPC over loopback to each other,
//! exactly as separate processes or containers do: same layers, same
//! tokens. Only the listeners are bound up front, so each service learns the
//! others' real addresses (which also lets tests use ephemeral ports).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{JwtSettings, ServiceCredential, sqlite_url};
use crate::dossier::{DossierConfig, DossierHandles};
use crate::identity::{IdentityConfig, ThrottlePolicy};
use crate::mesh::server::ServerLimits;
use crate::pseudoniem::PseudoniemConfig;

/// The listeners of a whole mesh.
pub struct MeshListeners {
    pub identity: TcpListener,
    pub pseudoniem: TcpListener,
    pub dossier: TcpListener,
}

impl MeshListeners {
    /// Binds the three addresses, failing with a message that names the
    /// address in use.
    pub async fn bind(
        identity: SocketAddr,
        pseudoniem: SocketAddr,
        dossier: SocketAddr,
    ) -> crate::Result<Self> {
        Ok(Self {
            identity: bind(identity).await?,
            pseudoniem: bind(pseudoniem).await?,
            dossier: bind(dossier).await?,
        })
    }
}

/// Binds `address`, with a message that says which address failed.
pub async fn bind(address: SocketAddr) -> crate::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}").into())
}

/// Everything the mesh needs besides its listeners.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    pub jwt: JwtSettings,
    pub internal_secret: ServiceCredential,
    /// Where each service's SQLite file goes, unless a URL is given below.
    pub data_dir: PathBuf,
    pub identity_database_url: Option<String>,
    pub pseudoniem_database_url: Option<String>,
    pub dossier_database_url: Option<String>,
    pub dependency_timeout: Duration,
    pub throttle: ThrottlePolicy,
    pub limits: ServerLimits,
}

/// A mesh started by [`start_mesh`].
pub struct RunningMesh {
    pub identity_addr: SocketAddr,
    pub pseudoniem_addr: SocketAddr,
    pub dossier_addr: SocketAddr,
    pub dossier: DossierHandles,
    tasks: JoinSet<crate::Result<()>>,
    shutdown: CancellationToken,
}

impl RunningMesh {
    /// Waits until every service has stopped. If one fails, the others are
    /// stopped too and its error is returned.
    pub async fn wait(mut self) -> crate::Result<()> {
        let mut outcome = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(error) = joined.map_err(crate::Error::from).and_then(|served| served) {
                self.shutdown.cancel();
                if outcome.is_ok() {
                    outcome = Err(error);
                }
            }
        }
        outcome
    }

    /// Stops every service and waits for them.
    pub async fn stop(self) -> crate::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Starts Pseudoniem, Identity and Dossier on `listeners`.
pub async fn start_mesh(
    listeners: MeshListeners,
    options: MeshOptions,
    shutdown: CancellationToken,
) -> crate::Result<RunningMesh> {
    let identity_addr = listeners.identity.local_addr()?;
    let pseudoniem_addr = listeners.pseudoniem.local_addr()?;
    let dossier_addr = listeners.dossier.local_addr()?;
    let url = |addr: SocketAddr| format!("http://{addr}");
    let mut tasks = JoinSet::new();

    let pseudoniem = PseudoniemConfig {
        jwt: options.jwt.clone(),
        database_url: options
            .pseudoniem_database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&options.data_dir, "pseudoniem")),
        limits: options.limits.clone(),
    };
    tasks.spawn(crate::pseudoniem::run(
        listeners.pseudoniem,
        pseudoniem,
        shutdown.clone(),
    ));

    let identity = IdentityConfig {
        jwt: options.jwt.clone(),
        database_url: options
            .identity_database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&options.data_dir, "identity")),
        internal_secret: options.internal_secret.clone(),
        pseudoniem_url: url(pseudoniem_addr),
        dependency_timeout: options.dependency_timeout,
        throttle: options.throttle.clone(),
        limits: options.limits.clone(),
    };
    tasks.spawn(crate::identity::run(
        listeners.identity,
        identity,
        shutdown.clone(),
    ));

    let dossier = DossierConfig {
        jwt: options.jwt.clone(),
        database_url: options
            .dossier_database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&options.data_dir, "dossier")),
        identity_url: url(identity_addr),
        internal_secret: options.internal_secret.clone(),
        pseudoniem_url: url(pseudoniem_addr),
        dependency_timeout: options.dependency_timeout,
        limits: options.limits.clone(),
    };
    let (dossier, dossier_task) =
        match crate::dossier::start(listeners.dossier, dossier, shutdown.clone()).await {
            Ok(started) => started,
            Err(error) => {
                shutdown.cancel();
                while tasks.join_next().await.is_some() {}
                return Err(error);
            }
        };
    tasks.spawn(async move { dossier_task.await.map_err(crate::Error::from)? });

    Ok(RunningMesh {
        identity_addr,
        pseudoniem_addr,
        dossier_addr,
        dossier,
        tasks,
        shutdown,
    })
}
