//! Keeping a verifier's key set fresh: fetched at start with retries, then
//! again every interval, and on demand when a token names a `kid` the set
//! lacks, from `JWT_JWKS_FILE` or from Identity's GetJwks.
//!
//! A fetch that fails keeps the last good set: a key server that is down
//! for a while must not take every service with it. Until the first fetch
//! succeeds the store is empty and calls are answered UNAVAILABLE.
//!
//! One task per verifier does all fetching, so fetches never overlap; it
//! holds only a weak reference to the store, and ends when the verifier is
//! dropped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::public::PublicKeySet;
use super::store::KeyStore;
use crate::auth::Transport;
use crate::proto::identity::v1::GetJwksRequest;
use crate::proto::identity::v1::identity_service_client::IdentityServiceClient;

/// The first retry after a failed fetch; doubled up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long one fetch from Identity may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a verifier's key set comes from.
pub enum KeySetSource {
    /// `JWT_JWKS_FILE`: read again at every refresh, so replacing the file
    /// rotates the keys.
    File(PathBuf),
    /// Identity's GetJwks (public: no token needed to ask).
    Identity(Transport),
}

impl KeySetSource {
    /// The `source` label of the fetch metric.
    fn label(&self) -> &'static str {
        match self {
            KeySetSource::File(_) => "file",
            KeySetSource::Identity(_) => "identity",
        }
    }

    fn describe(&self) -> String {
        match self {
            KeySetSource::File(path) => path.display().to_string(),
            KeySetSource::Identity(_) => "Identity (GetJwks)".into(),
        }
    }

    async fn fetch(&self) -> Result<PublicKeySet, String> {
        match self {
            KeySetSource::File(path) => {
                let json = tokio::fs::read(path)
                    .await
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
                PublicKeySet::from_json(&json).map_err(|error| error.to_string())
            }
            KeySetSource::Identity(transport) => {
                let mut client = IdentityServiceClient::new(transport.clone());
                let mut request = tonic::Request::new(GetJwksRequest {});
                request.set_timeout(FETCH_TIMEOUT);
                let answer = tokio::time::timeout(FETCH_TIMEOUT, client.get_jwks(request))
                    .await
                    .map_err(|_| "Identity did not answer GetJwks in time".to_string())?;
                match answer {
                    Ok(response) => PublicKeySet::from_proto(response.into_inner())
                        .map_err(|error| error.to_string()),
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => Err(
                        "Identity publishes no key set: it signs with HS256, so JWT_ALGORITHM \
                         differs between Identity and this service"
                            .into(),
                    ),
                    Err(status) => Err(format!(
                        "GetJwks failed: {} {}",
                        crate::errors::code_name(status.code()),
                        status.message()
                    )),
                }
            }
        }
    }
}

/// Starts the task that keeps `store` filled from `source`, fetching again
/// every `every`. Returns at once; the first set arrives when it arrives.
/// Fetches asked for by unknown `kid`s come at most once per
/// `min_refetch`.
pub fn spawn(store: &Arc<KeyStore>, source: KeySetSource, every: Duration, min_refetch: Duration) {
    let weak = Arc::downgrade(store);
    let refetch = store.refetch_signal();
    let min_refetch = min_refetch.min(every);
    tokio::spawn(async move {
        let from = source.describe();
        let mut retry = FIRST_RETRY;
        let mut trigger = "schedule";
        loop {
            let Some(store) = weak.upgrade() else { return };
            let last_fetch = Instant::now();
            let wait = match source.fetch().await {
                Ok(set) => {
                    let first = !store.is_loaded();
                    let kids: Vec<&str> = set.keys().iter().map(|k| k.kid.as_str()).collect();
                    let kids = kids.join(",");
                    let changed = store.replace(set);
                    let outcome = if changed { "loaded" } else { "unchanged" };
                    crate::telemetry::metrics::key_set_fetched(source.label(), trigger, outcome);
                    if changed {
                        tracing::info!(from = %from, kids = %kids, first, "key set loaded");
                    }
                    retry = FIRST_RETRY;
                    every
                }
                Err(problem) => {
                    crate::telemetry::metrics::key_set_fetched(source.label(), trigger, "failed");
                    if store.is_loaded() {
                        tracing::warn!(from = %from, problem = %problem,
                            "fetching the key set failed; keeping the last one");
                    } else {
                        tracing::warn!(from = %from, problem = %problem, retry_in = ?retry,
                            "no key set yet: calls are answered UNAVAILABLE until one loads");
                    }
                    let wait = retry.min(every);
                    retry = (retry * 2).min(MAX_RETRY);
                    wait
                }
            };
            trigger = "schedule";
            drop(store);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = refetch.notified() => {
                    trigger = "unknown_kid";
                    // Asked for by an unknown kid: at most one fetch per
                    // interval, however many tokens ask.
                    tokio::time::sleep_until(last_fetch + min_refetch).await;
                    tracing::debug!(from = %from, "a token named an unknown kid: fetching the key set again");
                }
            }
        }
    });
}
