//! Signed-out tokens: the revocation list every verifier consults, and the
//! task that keeps it fresh.
//!
//! A patient who signs out (or a company that ends its session) calls
//! Identity's RevokeToken, which stores the token's `jti` until its `exp`.
//! Every service that takes patient or company tokens holds the list in
//! memory ([`RevocationList`], shared by its [`super::TokenVerifier`]) and
//! refuses a token on it UNAUTHENTICATED `TOKEN_REVOKED`. Nothing asks
//! Identity per request: a background task ([`spawn`]) reads what is new
//! from ListRevokedTokens every [`REFRESH_EVERY`] with the cursor of the
//! previous answer (Identity reads its own table the same way, for the
//! revocations other replicas stored, and adds its own at once).
//!
//! The bound, in `docs/security.md`: a revocation Identity has stored is
//! refused by a service's next refresh, which starts at most
//! [`REFRESH_EVERY`] later and may take [`FETCH_TIMEOUT`]; so within 4 s
//! while Identity answers. A refresh that fails keeps the list and is tried
//! again sooner; the services go on serving (Identity being down is no
//! reason to refuse everyone), and learn the revocations once it answers.
//!
//! Memory is bounded: an entry is a 128-bit digest of the `jti` and the
//! `exp`, dropped once `exp` has passed (the token is refused as expired
//! then anyway), and at most [`MAX_ENTRIES`] are held. Were that ever full,
//! the entries nearest their expiry make room, with an error in the log.
//!
//! The task holds only a weak reference to the list: it ends when the
//! service that owns the verifier is dropped, at shutdown. Once a minute it
//! reads the whole (live) list again rather than what follows its cursor,
//! so not even a table restored from a backup can hide a revocation for
//! long.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sha2::{Digest as _, Sha256};

/// How often a service asks for new revocations: the contract says at
/// least every 5 s.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// How long one refresh may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// The first retry after a failed refresh; doubled up to [`REFRESH_EVERY`].
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The most entries one list holds: about 100 bytes each with the expiry
/// index, some 25 MB when full. Filling it takes 250,000 sign-outs within
/// one token lifetime (15 minutes), 280 a second.
pub const MAX_ENTRIES: usize = 250_000;
/// The most pages one refresh reads before it waits for the next.
const MAX_PAGES_PER_REFRESH: usize = 100;
/// How often a refresh starts over from an empty cursor, reading every
/// live revocation again: should Identity's table ever number anew (a
/// database restored from a backup), a held cursor would skip the new rows
/// until their positions passed it; this bounds that to a minute.
const FULL_READ_EVERY: Duration = Duration::from_secs(60);

/// The key an entry is held under: the first 128 bits of SHA-256 of the
/// `jti`, whatever its length.
pub type RevocationKey = u128;

/// The key of a token's `jti`.
pub fn revocation_key(jti: &str) -> RevocationKey {
    let digest = Sha256::digest(jti.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// The revoked tokens a verifier refuses, until each one's `exp`.
#[derive(Default)]
pub struct RevocationList {
    entries: RwLock<Entries>,
    /// `entries.by_key.len()`, so an empty list costs no lock.
    len: AtomicUsize,
    /// Whether a refresh has succeeded since the start.
    loaded: AtomicBool,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<RevocationKey, u64>,
    /// `(exp, key)`, to drop the expired ones in order.
    by_exp: BTreeSet<(u64, RevocationKey)>,
}

impl RevocationList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the token with this key is revoked.
    pub fn contains(&self, key: RevocationKey) -> bool {
        if self.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.by_key.contains_key(&key)
    }

    /// How many tokens are on the list.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a refresh has succeeded since the start.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Adds the token `jti`, revoked until `exp` (seconds since the
    /// epoch). One that has expired at `now` is not kept.
    pub fn insert(&self, jti: &str, exp: u64, now: u64) {
        self.insert_all([(revocation_key(jti), exp)], now);
    }

    /// Adds entries, and drops the expired ones.
    pub fn insert_all(&self, new: impl IntoIterator<Item = (RevocationKey, u64)>, now: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut evicted = 0usize;
        for (key, exp) in new {
            if exp <= now || entries.by_key.contains_key(&key) {
                continue;
            }
            if entries.by_key.len() >= MAX_ENTRIES {
                entries.drop_expired(now);
            }
            if entries.by_key.len() >= MAX_ENTRIES {
                let Some(first) = entries.by_exp.pop_first() else {
                    break;
                };
                entries.by_key.remove(&first.1);
                evicted += 1;
            }
            entries.by_key.insert(key, exp);
            entries.by_exp.insert((exp, key));
        }
        entries.drop_expired(now);
        self.len.store(entries.by_key.len(), Ordering::Release);
        drop(entries);
        if evicted > 0 {
            tracing::error!(
                evicted,
                max = MAX_ENTRIES,
                "the revocation list is full: the revocations nearest their expiry were forgotten"
            );
        }
    }

    /// Drops the entries expired at `now`.
    pub fn drop_expired(&self, now: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.drop_expired(now);
        self.len.store(entries.by_key.len(), Ordering::Release);
    }
}

impl Entries {
    fn drop_expired(&mut self, now: u64) {
        while let Some(&(exp, key)) = self.by_exp.first() {
            if exp > now {
                break;
            }
            self.by_exp.pop_first();
            self.by_key.remove(&key);
        }
    }
}

/// One page of ListRevokedTokens: the tokens, and the cursor to ask after.
pub struct RevokedPage {
    /// `(jti, exp)`.
    pub revoked: Vec<(String, u64)>,
    pub cursor: String,
    /// Whether the page was full, so more may follow at once.
    pub full: bool,
}

impl RevokedPage {
    /// A ListRevokedTokens answer to a request for `page_size` (Identity's
    /// own reading of its table gives the same message).
    pub fn from_response(
        answer: crate::proto::identity::v1::ListRevokedTokensResponse,
        page_size: usize,
    ) -> Self {
        Self {
            full: answer.revoked.len() >= page_size,
            revoked: answer
                .revoked
                .into_iter()
                .map(|token| (token.jti, u64::try_from(token.exp).unwrap_or(0)))
                .collect(),
            cursor: answer.cursor,
        }
    }
}

/// Where a list learns revocations: Identity's ListRevokedTokens, or in
/// Identity its own table.
pub trait RevocationSource: Send + Sync + 'static {
    /// The page after `after` (empty: from the start).
    fn fetch<'a>(&'a self, after: &'a str) -> BoxFuture<'a, Result<RevokedPage, String>>;

    /// Housekeeping between refreshes (Identity purges its table); nothing
    /// by default.
    fn tidy(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Starts the task that keeps `list` filled from `source`; returns at once.
/// It ends when the list is dropped.
pub fn spawn(list: &Arc<RevocationList>, source: impl RevocationSource, from: &'static str) {
    let weak = Arc::downgrade(list);
    tokio::spawn(async move {
        let mut cursor = String::new();
        let mut retry = FIRST_RETRY;
        let mut failing = false;
        let mut last_full_read = tokio::time::Instant::now();
        loop {
            let started = tokio::time::Instant::now();
            let Some(list) = weak.upgrade() else { return };
            if started.duration_since(last_full_read) >= FULL_READ_EVERY {
                cursor.clear();
                last_full_read = started;
            }
            let outcome = tokio::time::timeout(FETCH_TIMEOUT, refresh(&list, &source, &cursor))
                .await
                .unwrap_or_else(|_| Err("no answer in time".into()));
            let wait = match outcome {
                Ok(next) => {
                    cursor = next;
                    list.loaded.store(true, Ordering::Release);
                    if failing {
                        tracing::info!(from, "revocation list refreshed again");
                        failing = false;
                    }
                    retry = FIRST_RETRY;
                    REFRESH_EVERY
                }
                Err(problem) => {
                    if !failing {
                        tracing::warn!(from, problem = %problem,
                            "refreshing the revocation list failed; keeping the one held");
                        failing = true;
                    }
                    let wait = retry;
                    retry = (retry * 2).min(REFRESH_EVERY);
                    wait
                }
            };
            drop(list);
            source.tidy().await;
            // Every REFRESH_EVERY from the start of the last refresh, not
            // from its end: the bound does not grow with a slow answer.
            tokio::time::sleep_until(started + wait).await;
        }
    });
}

/// Reads every page after `cursor` into `list`; the cursor after them.
async fn refresh(
    list: &RevocationList,
    source: &impl RevocationSource,
    cursor: &str,
) -> Result<String, String> {
    let mut cursor = cursor.to_owned();
    for _ in 0..MAX_PAGES_PER_REFRESH {
        let page = source.fetch(&cursor).await?;
        let now = jsonwebtoken::get_current_timestamp();
        list.insert_all(
            page.revoked
                .iter()
                .map(|(jti, exp)| (revocation_key(jti), *exp)),
            now,
        );
        if !page.cursor.is_empty() {
            cursor = page.cursor;
        }
        if !page.full {
            break;
        }
    }
    list.drop_expired(jsonwebtoken::get_current_timestamp());
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_until_its_exp() {
        let list = RevocationList::new();
        assert!(!list.contains(revocation_key("a")));
        list.insert("a", 100, 50);
        list.insert("gone", 40, 50);
        assert!(list.contains(revocation_key("a")));
        assert!(!list.contains(revocation_key("gone")));
        assert!(!list.contains(revocation_key("b")));
        assert_eq!(list.len(), 1);
        list.drop_expired(99);
        assert!(list.contains(revocation_key("a")));
        list.drop_expired(100);
        assert!(!list.contains(revocation_key("a")));
        assert!(list.is_empty());
    }

    #[test]
    fn the_list_is_bounded_and_the_soonest_to_expire_make_room() {
        let list = RevocationList::new();
        let far = 1_000_000u64;
        list.insert_all((0..MAX_ENTRIES as u128).map(|k| (k, far + k as u64)), 10);
        assert_eq!(list.len(), MAX_ENTRIES);
        list.insert_all([(u128::MAX, far * 10)], 10);
        assert_eq!(list.len(), MAX_ENTRIES);
        assert!(list.contains(u128::MAX));
        assert!(!list.contains(0), "the entry nearest its expiry made room");
        assert!(list.contains(1));
    }
}
