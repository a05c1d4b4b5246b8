//! One shutdown signal for every server in the process.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// In a request's extensions: cancelled when the server starts to shut
/// down, so a handler that streams (WatchConsent) can end its stream cleanly,
/// with a status the client can act on, instead of being cut off when the
/// drain's grace runs out.
#[derive(Clone, Debug)]
pub struct Draining(pub CancellationToken);

/// A token cancelled on the first Ctrl-C or SIGTERM. Servers stop accepting,
/// finish the requests in flight, and return.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing requests in flight");
        trigger.cancel();
    });
    token
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs `serving` (a server that stops accepting once `shutdown` is
/// cancelled and then drains) until it ends, but no longer than `grace`
/// after `shutdown`: without a bound, a client that keeps an idle HTTP/2
/// connection open can hold a graceful shutdown forever (hyper#4170).
pub async fn drain_within<E>(
    name: &str,
    serving: impl Future<Output = Result<(), E>>,
    shutdown: &CancellationToken,
    grace: Duration,
) -> Result<(), E> {
    let grace_expired = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = serving => served?,
        () = grace_expired => {
            tracing::warn!(service = name, "drain grace expired; closing the remaining connections");
        }
    }
    tracing::info!(service = name, "stopped");
    Ok(())
}
