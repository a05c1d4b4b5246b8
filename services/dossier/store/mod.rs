//! Dossier's database: the companies' dossiers (`dossiers`) and the
//! patients' choices (`choice_versions`), kept apart. Every query is scoped
//! by the caller: a company by its name, a patient by pseudoniem, so no
//! call can reach another's rows.
//!
//! - `dossiers`: the dossier read together with the two choices that
//!   decide it, in one statement: the hot read behind CheckPermission, one
//!   indexed look-up per table;
//! - `choices`: the patient's list of choices;
//! - `access_log`: the patient's entries of the access log;
//! - `feed`: the decision changes WatchConsent streams, and the grants
//!   whose expiry changes a decision.
//!
//! Every write goes through the access log's writer, in the same
//! transaction as its entry (`crate::dossier::access_log`).
//!
//! Nothing is cached: every read sees what is committed, so a Decline is
//! seen by the very next CheckPermission in every replica. On SQLite the
//! reads on a hot path run inline through [`SqliteReads`]; the same SQL
//! runs through sqlx on PostgreSQL.

mod access_log;
mod choices;
mod dossiers;
mod feed;

pub use access_log::{LogFilter, LoggedEntry};
pub use dossiers::views_on;
pub use feed::FeedRow;

use std::sync::Arc;

use sqlx::AnyPool;

use crate::storage::SqliteReads;

#[derive(Clone)]
pub struct DossierStore {
    pool: AnyPool,
    sqlite_reads: Option<Arc<SqliteReads>>,
}

impl DossierStore {
    pub fn new(pool: AnyPool, sqlite_reads: Option<Arc<SqliteReads>>) -> Self {
        Self { pool, sqlite_reads }
    }
}

/// A value read from a column as `T`, or the row is malformed.
fn parsed<T: TryFrom<String>>(value: String) -> Result<T, crate::storage::StorageError> {
    T::try_from(value).map_err(|_| crate::storage::StorageError::malformed_row())
}
