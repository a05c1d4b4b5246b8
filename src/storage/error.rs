//! What a storage call can fail with.

use crate::errors::{Reason, status};

/// A storage failure. Its text (the driver's: it names tables and
/// constraints, never bound values) is logged when it becomes a status, and
/// never returned: a caller learns only whether to retry (UNAVAILABLE,
/// `STORAGE_UNAVAILABLE`), whether the disk is full (RESOURCE_EXHAUSTED,
/// `STORAGE_FULL`: the operator's to fix, not the service's fault), or
/// neither (INTERNAL).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Writes, migrations, and every query on PostgreSQL.
    #[error("storage failure: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// The hot SQLite reads ([`super::SqliteReads`]).
    #[error("storage failure (SQLite read): {0}")]
    SqliteRead(#[from] rusqlite::Error),
}

impl StorageError {
    /// Whether retrying later may succeed: the database is unreachable or
    /// busy, rather than the query or the data being wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Sqlx(error) => is_transient(error),
            StorageError::SqliteRead(error) => matches!(
                error.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::SystemIoFailure
                )
            ),
        }
    }

    /// Whether the database is out of disk: SQLite's `SQLITE_FULL` (13),
    /// PostgreSQL's `disk_full` (53100). Reads go on; writes come back
    /// once space is freed.
    pub fn is_full(&self) -> bool {
        match self {
            StorageError::Sqlx(error) => error.as_database_error().is_some_and(|database| {
                matches!(database.code().as_deref(), Some("53100" | "13"))
                    || database.message().contains("database or disk is full")
            }),
            StorageError::SqliteRead(error) => {
                error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
        }
    }

    /// A row that must exist (it was just written) was not found.
    pub fn missing_row() -> Self {
        Self::Sqlx(sqlx::Error::RowNotFound)
    }

    /// A stored value does not have the shape its column promises.
    pub fn malformed_row() -> Self {
        Self::Sqlx(sqlx::Error::Decode("a stored value is malformed".into()))
    }
}

impl From<StorageError> for tonic::Status {
    fn from(error: StorageError) -> Self {
        tracing::error!(%error, "storage failure");
        if error.is_full() {
            status(
                Reason::StorageFull,
                "the service's storage is full, so nothing was written; the operator must free \
                 space",
            )
        } else if error.is_transient() {
            status(
                Reason::StorageUnavailable,
                "storage is unavailable; retry later",
            )
        } else {
            status(Reason::Internal, "storage failure")
        }
    }
}

/// Whether `error` says the database cannot be reached right now (down,
/// starting, restarting, out of connections) rather than that a query or
/// the data is wrong.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            // SQLSTATE 08xxx: connection exceptions; 57P01-57P03: shutting
            // down or starting up; 53300: too many connections.
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Whether an insert created its row or found one with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    AlreadyExists,
}

impl Inserted {
    /// A unique-key conflict is an answer (the row exists), not a failure.
    pub fn from_result<T>(result: Result<T, sqlx::Error>) -> Result<Self, StorageError> {
        match result {
            Ok(_) => Ok(Inserted::Created),
            Err(error)
                if error
                    .as_database_error()
                    .is_some_and(|e| e.is_unique_violation()) =>
            {
                Ok(Inserted::AlreadyExists)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// From the row count of an `INSERT … ON CONFLICT DO NOTHING`.
    pub fn from_rows_affected(rows: u64) -> Self {
        if rows == 1 {
            Inserted::Created
        } else {
            Inserted::AlreadyExists
        }
    }
}
