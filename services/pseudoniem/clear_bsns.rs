//! Moving the clear BSNs of the release before under the key, at start-up.
//!
//! Until issue 15 the table `pseudoniemen` held each BSN in clear. A schema
//! migration cannot hash them (it has no key), so the service does it
//! before it serves: in one transaction it copies every row into
//! `bsn_pseudoniemen` under the BSN's HMAC, keeping its pseudoniem and
//! creation time, and drops the clear table. Every BSN then resolves to the
//! pseudoniem it had.
//!
//! Dropping a table does not erase its bytes on SQLite: freed pages keep
//! their contents in the file, and the write-ahead log keeps old frames. So
//! on SQLite the drop runs with `secure_delete` (freed pages are zeroed),
//! then `VACUUM` rebuilds the file and a `TRUNCATE` checkpoint empties the
//! log. PostgreSQL removes a dropped table's files at commit.
//!
//! It runs again harmlessly: with no clear table there is nothing to do,
//! and a row already moved is skipped.

use sqlx::{AnyPool, Executor as _, Row as _};

use super::bsn_key::BsnKey;
use crate::bsn::Bsn;
use crate::storage::StorageError;

/// Rows copied per statement round trip.
const BATCH: i64 = 1000;

/// Moves the clear table's rows under `key` and drops it; how many moved.
pub async fn move_under_key(
    pool: &AnyPool,
    key: &BsnKey,
    sqlite: bool,
) -> Result<u64, StorageError> {
    let exists: i64 = sqlx::query_scalar(if sqlite {
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pseudoniemen'"
    } else {
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = 'pseudoniemen'"
    })
    .fetch_one(pool)
    .await?;
    if exists == 0 {
        return Ok(0);
    }
    let mut moved = 0;
    let mut tx = pool.begin().await?;
    if sqlite {
        tx.execute("PRAGMA secure_delete = ON").await?;
    }
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            "SELECT bsn, pseudoniem, created_at FROM pseudoniemen \
             WHERE bsn > $1 ORDER BY bsn LIMIT $2",
        )
        .bind(after.as_str())
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.try_get::<String, _>(0)?;
        for row in &rows {
            let bsn: String = row.try_get(0)?;
            // A stored BSN passed the 11-proof when it was stored.
            let bsn = Bsn::parse(&bsn).map_err(|_| StorageError::malformed_row())?;
            moved += sqlx::query(
                "INSERT INTO bsn_pseudoniemen (bsn_hmac, pseudoniem, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (bsn_hmac) DO NOTHING",
            )
            .bind(key.index(&bsn))
            .bind(row.try_get::<String, _>(1)?)
            .bind(row.try_get::<i64, _>(2)?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
    }
    tx.execute("DROP TABLE pseudoniemen").await?;
    tx.commit().await?;
    if sqlite {
        pool.execute("VACUUM").await?;
        pool.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    if moved > 0 {
        tracing::warn!(
            moved,
            "stored BSNs moved under PSEUDONIEM_BSN_KEY and the clear table dropped: keep \
             this key with the data, no BSN is found without it"
        );
    }
    Ok(moved)
}
