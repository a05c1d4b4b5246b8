//! Channels to the other services of the mesh.
//!
//! A tonic `Channel` is one HTTP/2 connection behind a buffer: each client
//! builds it once per replica, lazily (a service starts even when its
//! dependencies are not up yet), and clones it per call. The replicas of a
//! dependency sit behind [`Replicas`], which spreads calls over them.

use std::time::Duration;

use tonic::transport::Endpoint;
use tower::Layer as _;

use super::propagate::{Propagate, PropagateLayer};
use super::replicas::Replicas;
use crate::auth::{Credentials, ForwardLayer, Forwarding, Transport};
use crate::settings::{ConfigError, Target};

/// How long connecting to a dependency may take before the call fails
/// UNAVAILABLE.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What a service's typed client sends through: request id and deadline
/// outside, credentials inside, then the replicas.
pub type MeshChannel = Propagate<Forwarding<Replicas>>;

/// The replicas at `target`: one URL (e.g. `http://127.0.0.1:50052`), a
/// list, or a name to resolve ([`super::discovery`]).
pub fn upstream(target: &str) -> Result<Replicas, ConfigError> {
    super::discovery::replicas(&Target::parse(target)?, endpoint)
}

/// [`upstream`], boxed, for code outside `mesh` (the Internal token source).
pub fn transport(target: &str) -> Result<Transport, ConfigError> {
    Ok(Transport::new(upstream(target)?))
}

/// One replica's endpoint, with the mesh's connection settings.
fn endpoint(url: &str) -> Result<Endpoint, ConfigError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| {
            ConfigError::new(format!(
                "{url:?} is not a valid service URL (e.g. http://127.0.0.1:50052)"
            ))
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    Ok(endpoint)
}

/// [`channel`] behind the client layers: what a handler's client uses.
/// `credentials`: whose token the calls carry. `max_call_time`: the longest
/// one call may take.
pub fn mesh_channel(
    url: &str,
    credentials: Credentials,
    max_call_time: Duration,
) -> Result<MeshChannel, ConfigError> {
    Ok(layered(upstream(url)?, credentials, max_call_time))
}

/// Replicas behind the client layers, for a second client on connections
/// that already exist (the same replicas, another kind of credentials).
pub fn layered(
    replicas: Replicas,
    credentials: Credentials,
    max_call_time: Duration,
) -> MeshChannel {
    let forwarding = ForwardLayer::new(credentials).layer(replicas);
    PropagateLayer::new(max_call_time).layer(forwarding)
}
