//! The one task that writes the access log, a group at a time.

use sqlx::{AnyPool, Row as _};
use tokio::sync::{mpsc, oneshot, watch};

use super::changes::{Change, Outcome};
use super::entry::{Entry, GENESIS};
use super::publish::{Republish, publish};
use crate::ids::CompanyName;
use crate::storage::{StorageError, timed};

/// Entries committed in one transaction at most.
const MAX_GROUP: usize = 512;
/// The most entries one INSERT statement takes. A group is written in
/// statements of 64, 32, 16, … 1 rows, so seven statement texts serve every
/// group size and each is prepared once and cached.
const MAX_ROWS_PER_INSERT: usize = 64;
/// PostgreSQL's advisory lock that serialises the appends of every Dossier
/// replica on one database ("TOESTEML" in ASCII).
const CHAIN_LOCK: i64 = 0x544f_4553_5445_4d4c;

/// A change, its entry and the decisions to publish after it, waiting to
/// be committed.
pub struct Job {
    pub change: Change,
    /// `None` for work no call asked for (an expiry scan).
    pub entry: Option<Entry>,
    pub republish: Option<Republish>,
    pub done: oneshot::Sender<Result<Committed, Failure>>,
}

/// What a committed job did.
#[derive(Debug)]
pub struct Committed {
    pub outcome: Outcome,
    /// Companies whose changed decision waits on whether they are verified
    /// (`super::publish`).
    pub unresolved: Vec<CompanyName>,
}

/// Why a group was not committed, as its calls answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The database could not take the group (down, busy, refused).
    #[error("the access log cannot be written right now")]
    Unavailable,
    /// The disk is full.
    #[error("the access log's storage is full")]
    Full,
}

/// Writes groups of jobs until every sender is gone. After a group that
/// published decision changes, `published` moves on (in this process) and
/// PostgreSQL is told (`NOTIFY decision_changes`, for the other replicas).
pub async fn run(
    pool: AnyPool,
    sqlite: bool,
    mut jobs: mpsc::Receiver<Job>,
    published: watch::Sender<u64>,
) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        match timed("dossier", "access_log_group", commit(&pool, sqlite, &group)).await {
            Ok((committed, changes)) => {
                if changes > 0 {
                    published.send_modify(|generation| *generation += 1);
                }
                for (job, committed) in group.into_iter().zip(committed) {
                    // A caller that went away still had its entry written.
                    let _ = job.done.send(Ok(committed));
                }
            }
            Err(error) => {
                let failure = failure(&error);
                tracing::error!(
                    %error,
                    entries = group.len(),
                    "the access log could not be written: these calls are refused"
                );
                for job in group {
                    let _ = job.done.send(Err(failure));
                }
            }
        }
    }
}

/// One transaction: the chain's lock, the last hash, every change with its
/// entry and the decisions it changed, commit. The outcomes, and how many
/// decision changes were published.
///
/// A connection whose transaction failed is closed, not given back: on
/// SQLite's `SQLITE_FULL` SQLite rolls the transaction back by itself, the
/// driver's own ROLLBACK then fails, and the driver would go on believing
/// the connection is inside a transaction, refusing every later one ("begin
/// at non-zero transaction depth") long after the disk has room again.
async fn commit(
    pool: &AnyPool,
    sqlite: bool,
    group: &[Job],
) -> Result<(Vec<Committed>, usize), StorageError> {
    let mut connection = pool.acquire().await?;
    let result = commit_on(&mut connection, sqlite, group).await;
    if result.is_err() {
        connection.close_on_drop();
    }
    result
}

async fn commit_on(
    connection: &mut sqlx::pool::PoolConnection<sqlx::Any>,
    sqlite: bool,
    group: &[Job],
) -> Result<(Vec<Committed>, usize), StorageError> {
    use sqlx::Connection as _;
    let mut tx = if sqlite {
        // Takes the writer lock before reading the last hash, so no other
        // process appends in between.
        (**connection).begin_with("BEGIN IMMEDIATE").await?
    } else {
        let mut tx = (**connection).begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CHAIN_LOCK)
            .execute(&mut *tx)
            .await?;
        tx
    };
    let last = sqlx::query("SELECT id, hash FROM access_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (mut id, mut previous) = match last {
        Some(row) => (row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?),
        None => (0, GENESIS.to_owned()),
    };
    let mut committed = Vec::with_capacity(group.len());
    let mut rows = Vec::with_capacity(group.len());
    let mut last_seq = None;
    let mut changes = 0;
    for job in group {
        let now = job
            .entry
            .as_ref()
            .map_or_else(crate::storage::now_millis, |entry| entry.time);
        let outcome = job.change.apply(&mut tx, now).await?;
        let mut unresolved = Vec::new();
        if let Some(republish) = &job.republish {
            let published = publish(&mut tx, republish, now, &mut last_seq).await?;
            changes += published.changes;
            unresolved = published.unresolved;
        }
        committed.push(Committed {
            outcome,
            unresolved,
        });
        let Some(entry) = job.entry.as_ref().and_then(|entry| logged(entry, outcome)) else {
            continue;
        };
        id += 1;
        let hash = entry.stored().hash(id, entry.time, &previous);
        previous.clone_from(&hash);
        rows.push((id, entry, hash));
    }
    let mut rest = rows.as_slice();
    while !rest.is_empty() {
        let size = MAX_ROWS_PER_INSERT.min(1 << rest.len().ilog2());
        let (chunk, after) = rest.split_at(size);
        insert(&mut tx, chunk, sqlite).await?;
        rest = after;
    }
    if changes > 0 && !sqlite {
        // Delivered at commit to every replica listening.
        sqlx::query("NOTIFY decision_changes")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((committed, changes))
}

/// The entry as it is logged after its change: a delete of a dossier that
/// did not exist is a refused attempt; a withdrawal of a choice that did
/// not stand changed nothing and is not logged.
fn logged(entry: &Entry, outcome: Outcome) -> Option<Entry> {
    match outcome {
        Outcome::Withdrawn(false) => None,
        Outcome::Deleted(false) => Some(Entry {
            refused: true,
            ..entry.clone()
        }),
        _ => Some(entry.clone()),
    }
}

/// One INSERT of `rows`. Placeholders are positional: `?` on SQLite,
/// whose driver otherwise looks each `$N` up by name (a linear scan per
/// parameter, quadratic over a statement of many rows), `$N` on PostgreSQL.
async fn insert(
    connection: &mut sqlx::AnyConnection,
    rows: &[(i64, Entry, String)],
    sqlite: bool,
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 14;
    let mut sql = String::from(
        "INSERT INTO access_log (id, entry_time, action, pseudoniem, company_name, company_key, \
         actor, on_behalf_of, refused, gave_permission, consent, reason, request_id, hash) VALUES ",
    );
    for row in 0..rows.len() {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            if sqlite {
                sql.push('?');
            } else {
                sql.push_str(&format!("${}", row * COLUMNS + column + 1));
            }
        }
        sql.push(')');
    }
    let mut query = sqlx::query(&sql);
    for (id, entry, hash) in rows {
        let stored = entry.stored();
        query = query
            .bind(*id)
            .bind(entry.time)
            .bind(stored.action)
            .bind(stored.pseudoniem.to_owned())
            .bind(stored.company_name.to_owned())
            .bind(stored.company_name.to_lowercase())
            .bind(stored.actor)
            .bind(stored.on_behalf_of.to_owned())
            .bind(stored.refused)
            .bind(stored.gave_permission)
            .bind(stored.consent)
            .bind(stored.reason)
            .bind(stored.request_id.to_owned())
            .bind(hash.clone());
    }
    query.execute(&mut *connection).await?;
    Ok(())
}

/// How a failed group is answered: a full disk (SQLite's SQLITE_FULL,
/// PostgreSQL's 53100 disk_full) is RESOURCE_EXHAUSTED, anything else
/// UNAVAILABLE.
fn failure(error: &StorageError) -> Failure {
    if error.is_full() {
        Failure::Full
    } else {
        Failure::Unavailable
    }
}
