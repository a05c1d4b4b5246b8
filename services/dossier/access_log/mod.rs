//! The access log: who asked about which patient, when, on whose behalf,
//! and what was answered (NEN 7513). Dossier writes an entry for every
//! CheckPermission, CreateDossier and DeleteDossier about a known patient
//! (a refused attempt included) and for every change of a choice.
//!
//! - **No log, no answer.** A call waits until its entry is committed; if
//!   the log cannot be written, the call fails (UNAVAILABLE, or
//!   RESOURCE_EXHAUSTED `STORAGE_FULL`) and nothing is granted. A change of
//!   Dossier's data commits in the same transaction as its entry
//!   (`changes`), so neither exists without the other.
//! - **Group commit.** One task writes the log (`writer`): it takes every
//!   entry queued while the previous transaction committed and commits them
//!   together, so a busy Dossier pays one commit per group, not per call,
//!   and a call waits at most one commit for its group.
//! - **Hash-chained** (`entry`): each entry's hash covers the one before,
//!   so any edit, removal or insertion is found by `verify`
//!   (`toestemming audit verify`). Appends are serialised in the database
//!   (SQLite's writer lock; on PostgreSQL an advisory lock per group), so
//!   every replica extends the one chain.
//! - **Append-only**: triggers refuse UPDATE and DELETE (and TRUNCATE on
//!   PostgreSQL); the services never delete entries.

mod changes;
pub mod entry;
mod publish;
pub mod verify;
mod writer;

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot, watch};

pub use changes::{Change, Outcome};
pub use entry::{Action, Actor, Entry};
pub use publish::Republish;
pub use writer::{Committed, Failure};

/// Calls that may wait for the writer at once before the next one waits to
/// queue (a bound, not a target: the writer empties the queue every
/// commit).
const QUEUE: usize = 8192;

/// A handle on the writer. Cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    jobs: mpsc::Sender<writer::Job>,
}

impl AccessLog {
    /// Starts the writer on `pool`; it stops when every handle is gone.
    /// `published` moves on after every group that published a decision
    /// change (WatchConsent's streams wait on it).
    pub fn start(pool: AnyPool, sqlite: bool, published: watch::Sender<u64>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(writer::run(pool, sqlite, queue, published));
        Self { jobs }
    }

    /// Applies `change`, appends `entry` and publishes the decisions
    /// `republish` names that changed, in one transaction, returning once
    /// all of it is committed (or none is).
    pub async fn record(
        &self,
        change: Change,
        entry: Option<Entry>,
        republish: Option<Republish>,
    ) -> Result<Committed, Failure> {
        let (done, committed) = oneshot::channel();
        self.jobs
            .send(writer::Job {
                change,
                entry,
                republish,
                done,
            })
            .await
            .map_err(|_| Failure::Unavailable)?;
        committed.await.unwrap_or(Err(Failure::Unavailable))
    }

    /// Appends `entry` alone.
    pub async fn append(&self, entry: Entry) -> Result<(), Failure> {
        self.record(Change::None, Some(entry), None).await.map(drop)
    }
}
