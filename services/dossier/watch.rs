//! WatchConsent: the calling company's decision changes, streamed as they
//! are committed.
//!
//! A stream reads the feed (`decision_changes`) after its cursor, sends
//! what it finds, and waits for the feed's generation to move on (a commit
//! in this process, or a `NOTIFY` from another replica), with a short poll
//! as a backstop for a missed notification. Because the stream reads
//! committed rows by cursor, a resumed stream replays exactly what it
//! missed, and every replica streams the same feed.
//!
//! A stream ends on its own terms, with a status the client can act on:
//! UNAUTHENTICATED `TOKEN_EXPIRED` when the caller's token expires (the
//! token is checked for the life of the stream, not only when it opens),
//! UNAUTHENTICATED `TOKEN_REVOKED` when it is revoked (signed out: within
//! [`POLL`] of this service learning it), UNAVAILABLE `SHUTTING_DOWN` when
//! the server drains.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::Stream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Status};

use super::error::DossierError;
use super::feed::{MAX_WATCHES_PER_COMPANY, Watch};
use super::grpc::DossierApi;
use super::store::{DossierStore, FeedRow};
use super::wire;
use crate::auth::revocation::{RevocationKey, revocation_key};
use crate::auth::{AUTHORIZATION, AuthError, Caller, FORWARDED_AUTHORIZATION, RevocationList};
use crate::errors::{FieldErrors, Reason, status, status_with};
use crate::ids::CompanyName;
use crate::mesh::shutdown::Draining;
use crate::paging::{decode_token, encode_token};
use crate::proto::dossier::v1::{WatchConsentRequest, WatchConsentResponse};

/// What WatchConsent answers: the changes, then the status that ended it.
pub type ChangeStream =
    Pin<Box<dyn Stream<Item = Result<WatchConsentResponse, Status>> + Send + 'static>>;

/// Rows read from the feed at once.
const BATCH: i64 = 100;
/// How long a stream waits for word of a change before it reads the feed
/// anyway: a backstop, should a notification from another replica be lost
/// (its listener reconnecting).
const POLL: Duration = Duration::from_millis(500);
/// The cursor's kind, inside its opaque token.
const CURSOR: &str = "watch";

impl DossierApi {
    pub(super) async fn watch(
        &self,
        request: Request<WatchConsentRequest>,
    ) -> Result<ChangeStream, Status> {
        let caller = Caller::from_request(&request).map_err(DossierError::from)?;
        let company = caller.company().map_err(DossierError::from)?;
        let end = self.store.feed_end().await.map_err(DossierError::from)?;
        let cursor = match request.get_ref().after.as_str() {
            "" => end,
            // A cursor past the end is not one of ours (another
            // deployment's): resuming from it would skip what comes next.
            after => decode_cursor(after)
                .filter(|cursor| *cursor <= end)
                .ok_or_else(|| {
                    DossierError::from(FieldErrors::one(
                        "after",
                        "is not a cursor from a WatchConsent message",
                    ))
                })?,
        };
        let Some(held) = self.feed.watch(&company) else {
            return Err(status_with(
                Reason::TooManyWatches,
                format!(
                    "your company holds {MAX_WATCHES_PER_COMPANY} watches on this server already; \
                     end one first"
                ),
                [("limit", MAX_WATCHES_PER_COMPANY.to_string())],
            ));
        };
        // The stream lives no longer than the credentials it was opened
        // with: the caller's token and, if a service forwarded one, the end
        // user's.
        let expires_at = std::iter::once(&caller.principal)
            .chain(caller.on_behalf_of.as_ref())
            .map(|principal| principal.expires_at)
            .min()
            .unwrap_or(0);
        // And no longer than they are not revoked.
        let revocable = std::iter::once((&caller.principal, AUTHORIZATION))
            .chain(
                caller
                    .on_behalf_of
                    .as_ref()
                    .map(|principal| (principal, FORWARDED_AUTHORIZATION)),
            )
            .filter_map(|(principal, header)| {
                principal
                    .token_id
                    .as_deref()
                    .map(|jti| (revocation_key(jti), header))
            })
            .collect();
        let draining = request
            .extensions()
            .get::<Draining>()
            .map_or_else(CancellationToken::new, |draining| draining.0.clone());
        tracing::info!(company = %company, "watching decision changes");
        let watcher = Watcher {
            store: self.store.clone(),
            generation: self.feed.subscribe(),
            company,
            cursor,
            read: VecDeque::new(),
            expires: instant_of(expires_at),
            revocations: self.revocations.clone(),
            revocable,
            draining,
            _held: held,
            ended: false,
        };
        Ok(Box::pin(futures_util::stream::unfold(
            watcher,
            Watcher::next,
        )))
    }
}

/// One open stream's state.
struct Watcher {
    store: DossierStore,
    generation: watch::Receiver<u64>,
    company: CompanyName,
    /// The last change sent (or the feed's end when the stream opened).
    cursor: i64,
    /// Changes read but not sent yet.
    read: VecDeque<FeedRow>,
    /// When the caller's token expires.
    expires: Instant,
    /// The signed-out tokens; the stream ends when one of its own is
    /// among them (seen within [`POLL`] of the list learning it).
    revocations: Arc<RevocationList>,
    /// The stream's tokens as the list names them, with their header.
    revocable: Vec<(RevocationKey, &'static str)>,
    draining: CancellationToken,
    /// One of the company's bounded watches, given back with the stream.
    _held: Watch,
    /// The ending status has been sent.
    ended: bool,
}

impl Watcher {
    /// The next message, or the status that ends the stream.
    async fn next(mut self) -> Option<(Result<WatchConsentResponse, Status>, Self)> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(row) = self.read.pop_front() {
                self.cursor = row.seq;
                return Some((Ok(message(&row)), self));
            }
            if let Some(ending) = self.ending() {
                self.ended = true;
                return Some((Err(ending), self));
            }
            // Seen before reading, so a change committed during the read
            // wakes the wait below.
            self.generation.borrow_and_update();
            match self
                .store
                .feed_after(&self.company, self.cursor, BATCH)
                .await
            {
                Ok(rows) if !rows.is_empty() => {
                    self.read.extend(rows);
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    self.ended = true;
                    return Some((Err(DossierError::from(error).into()), self));
                }
            }
            tokio::select! {
                changed = self.generation.changed() => {
                    if changed.is_err() {
                        // The writer is gone: the service is stopping.
                        tokio::time::sleep(POLL).await;
                    }
                }
                () = tokio::time::sleep(POLL) => {}
                () = tokio::time::sleep_until(self.expires) => {}
                () = self.draining.cancelled() => {}
            }
        }
    }

    /// Why the stream must end now, if it must.
    fn ending(&self) -> Option<Status> {
        if Instant::now() >= self.expires {
            tracing::info!(company = %self.company, "watch ended: the token expired");
            return Some(
                AuthError::Expired {
                    header: "authorization",
                }
                .into(),
            );
        }
        if let Some((_, header)) = self
            .revocable
            .iter()
            .find(|(key, _)| self.revocations.contains(*key))
        {
            tracing::info!(company = %self.company, "watch ended: the token was revoked");
            return Some(AuthError::Revoked { header }.into());
        }
        if self.draining.is_cancelled() {
            tracing::info!(company = %self.company, "watch ended: shutting down");
            return Some(status(
                Reason::ShuttingDown,
                "the server is shutting down; watch again with your last cursor",
            ));
        }
        None
    }
}

/// A change as the API shows it.
fn message(row: &FeedRow) -> WatchConsentResponse {
    WatchConsentResponse {
        cursor: encode_cursor(row.seq),
        dossier_id: row.dossier_id.to_string(),
        consent: wire::consent(row.consent) as i32,
        gave_permission: row.gave_permission,
        reason: wire::reason(row.reason) as i32,
        change_time: Some(wire::timestamp(row.change_time)),
    }
}

fn encode_cursor(seq: i64) -> String {
    encode_token(CURSOR, &[&seq.to_string()])
}

fn decode_cursor(token: &str) -> Option<i64> {
    let [seq] = decode_token::<1>(CURSOR, token)?;
    seq.parse().ok().filter(|seq: &i64| *seq >= 0)
}

/// The instant on this process's clock at `exp` (seconds since the epoch).
fn instant_of(exp: u64) -> Instant {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let left = Duration::from_secs(exp).saturating_sub(now);
    Instant::now() + left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_nothing_else_is_one() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor(&encode_cursor(0)), Some(0));
        assert_eq!(decode_cursor("42"), None);
        assert_eq!(decode_cursor(""), None);
        assert_eq!(decode_cursor(&encode_token(CURSOR, &["-1"])), None);
        assert_eq!(decode_cursor(&encode_token(CURSOR, &["x"])), None);
        assert_eq!(decode_cursor(&encode_token("dossiers", &["42"])), None);
    }

    #[test]
    fn an_expired_token_expires_now() {
        assert!(instant_of(0) <= Instant::now());
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 60;
        assert!(instant_of(exp) > Instant::now() + Duration::from_secs(58));
    }
}
