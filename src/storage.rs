//! Opening a service's own database.
//!
//! Each service owns one database and only it reads it. Queries are written
//! once against sqlx's `Any` driver in SQL that SQLite and PostgreSQL both
//! accept (`$1` placeholders, `ON CONFLICT`, TEXT and BIGINT columns), so the
//! engine is chosen by `DATABASE_URL` alone: SQLite (WAL) by default,
//! PostgreSQL for the compose deployment. Migrations are embedded in the
//! binary and run at start-up.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor as _};

use crate::errors::{Reason, status};
use crate::settings::DatabaseUrl;

/// A storage failure. Its text (sqlx's: it names tables and constraints,
/// never bound values) is logged when it becomes a status, and never
/// returned: a caller learns only whether to retry (UNAVAILABLE,
/// `STORAGE_UNAVAILABLE`) or not (INTERNAL).
#[derive(Debug, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StorageError(#[from] sqlx::Error);

impl StorageError {
    /// Whether retrying later may succeed: the database is unreachable or
    /// busy, rather than the query or the data being wrong.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.0,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
        )
    }

    /// A row that must exist (it was just written) was not found.
    pub fn missing_row() -> Self {
        Self(sqlx::Error::RowNotFound)
    }
}

impl From<StorageError> for tonic::Status {
    fn from(error: StorageError) -> Self {
        tracing::error!(%error, "storage failure");
        if error.is_transient() {
            status(
                Reason::StorageUnavailable,
                "storage is unavailable; retry later",
            )
        } else {
            status(Reason::Internal, "storage failure")
        }
    }
}

/// Opens the database at `url` and brings its schema up to date.
///
/// For SQLite the parent directory is created, the file is created if
/// missing, and every connection uses WAL with a busy timeout, so readers
/// never block the writer and concurrent writers wait rather than fail.
pub async fn open(url: &DatabaseUrl, migrator: &Migrator) -> Result<AnyPool, sqlx::Error> {
    let url = url.expose();
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        create_parent_dir(url)?;
    }
    let options = AnyConnectOptions::from_str(url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 4 } else { 10 })
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |connection, _| {
            Box::pin(async move {
                if sqlite {
                    connection.execute("PRAGMA journal_mode = WAL").await?;
                    connection.execute("PRAGMA busy_timeout = 5000").await?;
                    connection.execute("PRAGMA synchronous = NORMAL").await?;
                    connection.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

/// `sqlite://path/to/file.db?mode=rwc` → creates `path/to`.
fn create_parent_dir(url: &str) -> Result<(), sqlx::Error> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// Milliseconds since the epoch: how timestamps are stored (BIGINT in both
/// engines).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
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
