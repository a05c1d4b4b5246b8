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

/// A storage failure, logged where it happens and answered INTERNAL or
/// UNAVAILABLE; its text never reaches a caller.
pub type DbError = sqlx::Error;

/// Opens the database at `url` and brings its schema up to date.
///
/// For SQLite the parent directory is created, the file is created if
/// missing, and every connection uses WAL with a busy timeout, so readers
/// never block the writer and concurrent writers wait rather than fail.
pub async fn open(url: &str, migrator: &Migrator) -> Result<AnyPool, sqlx::Error> {
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

/// Whether `error` is a unique-constraint violation.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}
