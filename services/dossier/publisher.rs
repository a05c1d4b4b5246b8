//! The background half of the decision feed: what changes decisions
//! without a call, and the word between replicas.
//!
//! - **Expiries.** A grant stops at its `expire_time` with no call to mark
//!   it, so a task looks every [`SCAN_EVERY`] for current grants that
//!   expired since its last look and publishes what that did to the
//!   patient's dossiers. Publishing compares with the last published
//!   decision, so a second look (an overlap, another replica, a restart)
//!   publishes nothing twice.
//! - **Retries.** A change whose publication waited on Identity, when
//!   Identity could not be reached, is tried again.
//! - **Other replicas** (PostgreSQL): every group that publishes ends with
//!   `NOTIFY decision_changes` in its transaction; a listener here turns
//!   each notification into a wake-up of this process's streams. A lost
//!   notification delays a change by at most the streams' poll.

use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::PgListener;

use super::access_log::{Change, Republish};
use super::consent::Millis;
use super::feed::Feed;
use super::grpc::DossierApi;
use crate::mesh::CallContext;
use crate::storage::now_millis;

/// How often expiries are looked for: a withdrawal by expiry reaches a
/// watcher within this and the stream's wake-up.
const SCAN_EVERY: Duration = Duration::from_millis(250);
/// Every this many looks, the last [`OVERLAP`] is looked at again, for a
/// grant whose commit was seen only after its expiry had been scanned past.
const RESCAN_EVERY: u32 = 40;
const OVERLAP: Millis = 60_000;
/// How far back the first look reaches: expiries while no replica ran.
const LOOK_BACK: Millis = 24 * 60 * 60 * 1000;
/// Every this many looks, publications that waited on Identity are retried.
const RETRY_EVERY: u32 = 20;

/// Publishes expiries and retries, until the API is gone.
pub async fn publish_in_background(api: Weak<DossierApi>) {
    let mut after = now_millis() - LOOK_BACK;
    let mut ticks = tokio::time::interval(SCAN_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut healthy = true;
    for tick in 1u32.. {
        ticks.tick().await;
        let Some(api) = api.upgrade() else { return };
        let until = now_millis();
        let from = if tick % RESCAN_EVERY == 0 {
            after.min(until - OVERLAP)
        } else {
            after
        };
        match api.store.expired_grants(from, until).await {
            Ok(expired) => {
                healthy = true;
                after = until;
                for (pseudoniem, company) in expired {
                    let republish = match company {
                        Some(company) => Republish::dossier(&pseudoniem, &company),
                        None => Republish::patient(&pseudoniem),
                    };
                    publish(&api, republish).await;
                }
            }
            Err(error) => {
                if healthy {
                    tracing::warn!(%error, "cannot look for expired grants; trying again");
                }
                healthy = false;
            }
        }
        if tick % RETRY_EVERY == 0 {
            for republish in api.feed.take_deferred() {
                publish(&api, republish).await;
            }
        }
    }
}

/// Publishes what `republish` names, keeping it for a retry on failure.
async fn publish(api: &DossierApi, republish: Republish) {
    // No call asked for this: no caller's token to forward, Dossier's own
    // Internal token alone asks Identity.
    let context = CallContext::default();
    let written = api
        .write(&context, Change::None, None, Some(republish.clone()))
        .await;
    if let Err(error) = written {
        tracing::warn!(%error, "cannot publish a changed decision now; trying again later");
        api.feed.defer(republish);
    }
}

/// Relays PostgreSQL's `decision_changes` notifications (another replica
/// published) to this process's streams, until the feed is gone.
pub async fn relay_notifications(url: String, feed: Weak<Feed>) {
    const RECONNECT: Duration = Duration::from_secs(2);
    const CHECK_ALIVE: Duration = Duration::from_secs(5);
    loop {
        let mut listener = match listen(&url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other replicas' decision changes");
                tokio::time::sleep(RECONNECT).await;
                if feed.strong_count() == 0 {
                    return;
                }
                continue;
            }
        };
        // Connected again: changes may have come while we were not.
        announce(&feed);
        loop {
            match tokio::time::timeout(CHECK_ALIVE, listener.try_recv()).await {
                // Quiet: go on while the service still runs.
                Err(_) if feed.strong_count() == 0 => return,
                Err(_) => {}
                // A notification, or the connection was lost (the next
                // call reconnects): either way, read the feed.
                Ok(Ok(_)) => announce(&feed),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "lost the listener for decision changes; reconnecting");
                    break;
                }
            }
        }
    }
}

fn announce(feed: &Weak<Feed>) {
    if let Some(feed) = feed.upgrade() {
        feed.announce();
    }
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen("decision_changes").await?;
    Ok(listener)
}
