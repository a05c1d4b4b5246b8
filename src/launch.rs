//! Starting services: one alone, or the whole mesh in one process.
//!
//! Every start goes through [`start`]: the service's `Config` from the
//! settings, its `App` from the `Config`, then [`crate::mesh::serve`]. The
//! CLI, the tests and the benchmark all use it, so there is one way a
//! service comes up.
//!
//! In one process the services still talk gRPC over loopback to each other,
//! exactly as separate processes or containers do: same layers, same
//! tokens. The listeners are bound before anything starts, so each service
//! learns the others' real addresses (which also lets tests use ephemeral
//! ports).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::mesh::connections::ConnectionGate;
use crate::mesh::service::{Handles, MeshService};
use crate::settings::{Peers, ServiceKind, Settings};

/// How many connections the kernel holds for a listener until a server
/// accepts them (capped by `net.core.somaxconn`). When a process is at its
/// connection cap its servers stop accepting (`mesh::connections`), and
/// new clients wait here; past it the kernel drops their SYNs and they
/// retry after 1, 2, 4... s. Tokio's `bind` asks for 128.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds `address`, with a message that says which address failed.
pub async fn bind(address: SocketAddr) -> crate::Result<TcpListener> {
    let listen = || -> std::io::Result<TcpListener> {
        let socket = if address.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As `TcpListener::bind` does: a restarted server rebinds its port
        // while the last run's connections are in TIME_WAIT.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().map_err(|error| format!("cannot listen on {address}: {error}").into())
}

/// A service that is serving.
pub struct Started {
    pub kind: ServiceKind,
    pub addr: SocketAddr,
    pub handles: Handles,
    task: JoinHandle<crate::Result<()>>,
}

impl Started {
    /// Waits until the service has stopped (after `shutdown` is cancelled,
    /// or on a fatal error).
    pub async fn wait(self) -> crate::Result<()> {
        self.task.await?
    }
}

/// Starts `kind` on `listener` with `settings`, serving until `shutdown` is
/// cancelled. Fails before serving when the configuration is incomplete or
/// the storage cannot be opened.
pub async fn start(
    kind: ServiceKind,
    settings: &Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> crate::Result<Started> {
    let gate = ConnectionGate::for_this_process(&settings.limits);
    start_behind(kind, settings, listener, gate, shutdown).await
}

/// [`start`] behind `gate`, the connection caps it shares with the other
/// servers of this process.
async fn start_behind(
    kind: ServiceKind,
    settings: &Settings,
    listener: TcpListener,
    gate: Arc<ConnectionGate>,
    shutdown: CancellationToken,
) -> crate::Result<Started> {
    match kind {
        ServiceKind::Identity => {
            start_service::<crate::identity::Identity>(settings, listener, gate, shutdown).await
        }
        ServiceKind::Pseudoniem => {
            start_service::<crate::pseudoniem::Pseudoniem>(settings, listener, gate, shutdown).await
        }
        ServiceKind::Dossier => {
            start_service::<crate::dossier::Dossier>(settings, listener, gate, shutdown).await
        }
        ServiceKind::Website => {
            start_service::<crate::website::Website>(settings, listener, gate, shutdown).await
        }
    }
}

async fn start_service<S: MeshService>(
    settings: &Settings,
    listener: TcpListener,
    gate: Arc<ConnectionGate>,
    shutdown: CancellationToken,
) -> crate::Result<Started> {
    let config = S::config(settings)?;
    let built = S::build(config).await?;
    let addr = listener.local_addr()?;
    let limits = settings.limits.clone();
    let requests = built.handles.requests.clone();
    let task = tokio::spawn(async move {
        let name = S::KIND.name();
        crate::mesh::serve(name, built.app, listener, &limits, gate, requests, shutdown).await
    });
    Ok(Started {
        kind: S::KIND,
        addr,
        handles: built.handles,
        task,
    })
}

/// The listeners of a whole mesh, one per service.
pub struct MeshListeners(BTreeMap<ServiceKind, TcpListener>);

impl MeshListeners {
    /// Binds each service's address, failing with a message that names the
    /// address in use.
    pub async fn bind(address: impl Fn(ServiceKind) -> SocketAddr) -> crate::Result<Self> {
        let mut listeners = BTreeMap::new();
        for kind in ServiceKind::START_ORDER {
            listeners.insert(kind, bind(address(kind)).await?);
        }
        Ok(Self(listeners))
    }

    /// Every service on an ephemeral loopback port: for tests.
    pub async fn ephemeral() -> crate::Result<Self> {
        Self::bind(|_| SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Where the services find each other: the addresses actually bound.
    fn peers(&self) -> crate::Result<Peers> {
        let url = |kind: ServiceKind| -> crate::Result<String> {
            let listener = self.0.get(&kind).ok_or("a listener is missing")?;
            Ok(format!("http://{}", listener.local_addr()?))
        };
        Ok(Peers {
            identity: url(ServiceKind::Identity)?,
            pseudoniem: url(ServiceKind::Pseudoniem)?,
            dossier: url(ServiceKind::Dossier)?,
        })
    }
}

/// A mesh started by [`start_mesh`].
pub struct RunningMesh {
    services: BTreeMap<ServiceKind, Started>,
    shutdown: CancellationToken,
    /// The connection caps every server of the mesh accepts through.
    connections: Arc<ConnectionGate>,
}

impl RunningMesh {
    /// The connection caps the mesh's servers share: for diagnostics and
    /// tests.
    pub fn connections(&self) -> &ConnectionGate {
        &self.connections
    }

    /// Where `kind` listens.
    pub fn addr(&self, kind: ServiceKind) -> SocketAddr {
        self.services[&kind].addr
    }

    /// What `kind` exposes for watching.
    pub fn handles(&self, kind: ServiceKind) -> &Handles {
        &self.services[&kind].handles
    }

    /// Waits until every service has stopped. If one fails, the others are
    /// stopped too and the first error is returned.
    pub async fn wait(self) -> crate::Result<()> {
        let mut outcome = Ok(());
        let mut running: tokio::task::JoinSet<_> = self
            .services
            .into_values()
            .map(|started| async move { (started.kind, started.wait().await) })
            .collect();
        while let Some(joined) = running.join_next().await {
            let failed = match joined {
                Ok((_, Ok(()))) => None,
                Ok((kind, Err(error))) => Some(format!("{kind}: {error}").into()),
                Err(error) => Some(crate::Error::from(error)),
            };
            if let Some(error) = failed {
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

/// Starts every service on `listeners`, each finding the others at the
/// addresses bound there. If one cannot start, those already started are
/// stopped again and its error is returned.
pub async fn start_mesh(
    mut listeners: MeshListeners,
    settings: &Settings,
    shutdown: CancellationToken,
) -> crate::Result<RunningMesh> {
    let settings = Settings {
        peers: listeners.peers()?,
        ..settings.clone()
    };
    let mut mesh = RunningMesh {
        services: BTreeMap::new(),
        shutdown: shutdown.clone(),
        connections: ConnectionGate::for_this_process(&settings.limits),
    };
    for kind in ServiceKind::START_ORDER {
        let listener = listeners.0.remove(&kind).ok_or("a listener is missing")?;
        let gate = mesh.connections.clone();
        match start_behind(kind, &settings, listener, gate, shutdown.clone()).await {
            Ok(started) => {
                mesh.services.insert(kind, started);
            }
            Err(error) => {
                // The others' outcome matters less than why this one failed.
                let _ = mesh.stop().await;
                return Err(format!("{kind}: {error}").into());
            }
        }
    }
    // Under EdDSA the services fetch their key sets from Identity, which
    // has just started: answer only once every one can judge tokens.
    for started in mesh.services.values() {
        let Some(verifier) = &started.handles.verifier else {
            continue;
        };
        if tokio::time::timeout(KEY_SET_WAIT, verifier.ready())
            .await
            .is_err()
        {
            let kind = started.kind;
            let _ = mesh.stop().await;
            return Err(format!(
                "{kind}: no key set loaded from Identity within {} s",
                KEY_SET_WAIT.as_secs()
            )
            .into());
        }
    }
    Ok(mesh)
}

/// How long [`start_mesh`] waits for every service's key set.
const KEY_SET_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
