//! Channels to the other services of the mesh.
//!
//! A tonic `Channel` is one HTTP/2 connection behind a buffer: each client
//! builds it once, lazily (a service starts even when its dependencies are
//! not up yet), and clones it per call.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::auth::{ForwardLayer, Forwarding, InternalTokenSource};
use crate::config::ConfigError;

/// How long connecting to a dependency may take before the call fails
/// UNAVAILABLE.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A lazily connected channel to `url` (e.g. `http://127.0.0.1:50052`).
pub fn channel(url: &str) -> Result<Channel, ConfigError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| {
            ConfigError(format!(
                "{url:?} is not a valid service URL (e.g. http://127.0.0.1:50052)"
            ))
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

/// `channel` behind the forward layer: what a handler's client uses.
pub fn forwarding_channel(
    url: &str,
    tokens: Option<InternalTokenSource>,
    max_call_time: Duration,
) -> Result<Forwarding<Channel>, ConfigError> {
    use tower::Layer as _;
    Ok(ForwardLayer::new(tokens, max_call_time).layer(channel(url)?))
}
