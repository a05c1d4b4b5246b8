//! Signed-out tokens in Identity: RevokeToken stores the caller's `jti`
//! until its `exp` and puts it on this replica's own list at once;
//! ListRevokedTokens reads the table by position for the other services;
//! and a refresher reads the same table into this replica's list (for what
//! other replicas stored) and purges what has expired
//! (`crate::auth::revocation` has the rest).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::error::IdentityError;
use super::store::IdentityStore;
use crate::auth::revocation::{RevocationSource, RevokedPage};
use crate::errors::FieldErrors;
use crate::paging::{decode_token, encode_token};
use crate::proto::identity::v1::{ListRevokedTokensResponse, RevokedToken};

/// Names a cursor of this listing.
const LISTING: &str = "revoked_tokens";
/// The largest page, and the page when none is asked for.
pub const MAX_PAGE: i64 = 1000;
/// The longest `jti` Identity revokes (its own are 36 characters).
pub const MAX_JTI_BYTES: usize = 128;
/// How often the expired revocations are purged from the table.
const PURGE_EVERY: Duration = Duration::from_secs(60);

fn now_secs() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

/// One page of ListRevokedTokens: the tokens after the cursor `after`
/// (empty: from the start), at most `page_size` (0: [`MAX_PAGE`]).
pub async fn page(
    store: &IdentityStore,
    after: &str,
    page_size: i32,
) -> Result<ListRevokedTokensResponse, IdentityError> {
    let mut errors = FieldErrors::new();
    let position = match after {
        "" => Some(0),
        cursor => errors.check(
            "after",
            decode_token::<1>(LISTING, cursor)
                .and_then(|[seq]| seq.parse::<i64>().ok())
                .filter(|seq| *seq >= 0)
                .ok_or("is not a cursor from ListRevokedTokens"),
        ),
    };
    let limit = errors.check(
        "page_size",
        match page_size {
            0 => Ok(MAX_PAGE),
            n if n < 0 => Err("must not be negative"),
            n => Ok(i64::from(n).min(MAX_PAGE)),
        },
    );
    let (Some(position), Some(limit)) = (position, limit) else {
        return Err(errors.into());
    };
    let rows = store.revoked_after(position, now_secs(), limit).await?;
    let last = rows.last().map_or(position, |row| row.seq);
    Ok(ListRevokedTokensResponse {
        revoked: rows
            .into_iter()
            .map(|row| RevokedToken {
                jti: row.jti,
                exp: row.exp,
            })
            .collect(),
        cursor: encode_token(LISTING, &[&last.to_string()]),
    })
}

/// Identity's own table, as its refresher reads it.
pub struct OwnTable {
    store: IdentityStore,
    last_purge: Mutex<Option<Instant>>,
}

impl OwnTable {
    pub fn new(store: IdentityStore) -> Self {
        Self {
            store,
            last_purge: Mutex::new(None),
        }
    }
}

impl RevocationSource for OwnTable {
    fn fetch<'a>(&'a self, after: &'a str) -> BoxFuture<'a, Result<RevokedPage, String>> {
        Box::pin(async move {
            let answer = page(&self.store, after, 0)
                .await
                .map_err(|error| error.to_string())?;
            Ok(RevokedPage::from_response(answer, MAX_PAGE as usize))
        })
    }

    fn tidy(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            {
                let mut last = self.last_purge.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_some_and(|at| at.elapsed() < PURGE_EVERY) {
                    return;
                }
                *last = Some(Instant::now());
            }
            match self.store.purge_expired_revocations(now_secs()).await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "expired revocations purged"),
                Err(error) => {
                    tracing::warn!(%error, "purging the expired revocations failed");
                }
            }
        })
    }
}
