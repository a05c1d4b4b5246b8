//! Opening a service's own database.
//!
//! Each service owns one database and only it reads it. Queries are written
//! once against sqlx's `Any` driver in SQL that SQLite and PostgreSQL both
//! accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`, TEXT and BIGINT
//! columns), so the engine is chosen by the URL alone: SQLite (WAL) by
//! default, PostgreSQL for the compose and Kubernetes deployments.
//! Migrations are embedded in the binary and run at start-up: one set for
//! both engines where the SQL is the same ([`Schema::shared`]), one per
//! engine where it cannot be (Dossier's append-only triggers).
//!
//! A database that is still starting (the compose file starts PostgreSQL
//! beside the services) is waited for, with backoff and a log line per
//! attempt, up to [`StorageConfig::wait`]; one that goes away later makes
//! calls fail UNAVAILABLE (`STORAGE_UNAVAILABLE`) until it is back, when the
//! pool reconnects by itself.

mod error;
mod sqlite_reads;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor as _};

pub use error::{Inserted, StorageError, is_transient};
pub use sqlite_reads::SqliteReads;

#[cfg(test)]
use crate::settings::DatabaseUrl;
pub use crate::settings::StorageConfig;

/// The first retry's delay; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a call waits for a connection before it fails UNAVAILABLE.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A service's schema: the migrations its database is brought up to, per
/// engine, and on PostgreSQL what a service role that does not own the
/// database is granted.
pub struct Schema {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
    /// PostgreSQL `GRANT` statements with `{role}` for the service's role,
    /// applied by [`migrate`] after the migrations (empty: the service owns
    /// its database and needs none).
    pub grants: &'static [&'static str],
}

impl Schema {
    /// One set of migrations, in SQL both engines accept, for a service
    /// that owns its database.
    pub const fn shared(migrator: &'static Migrator) -> Self {
        Self {
            sqlite: migrator,
            postgres: migrator,
            grants: &[],
        }
    }
}

/// Opens the database and brings its schema up to date, waiting for it as
/// described in the module docs.
///
/// For SQLite the parent directory is created, the file is created if
/// missing, and every connection uses WAL with a busy timeout, so readers
/// never block the writer and concurrent writers wait rather than fail.
///
/// On PostgreSQL a role that owns the database migrates it, as on SQLite.
/// A role that does not (Dossier's in the deployments: an owner it never
/// runs as applies the migrations, `toestemming migrate`) cannot, and
/// should not be able to: it checks that the schema is at this release's
/// version and refuses to start, saying what to run, when it is not.
pub async fn open(config: &StorageConfig, schema: &Schema) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let url = config.url.expose();
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        create_parent_dir(url)?;
    }
    let options = AnyConnectOptions::from_str(url)?;
    let pool_options = pool_options(sqlite, if sqlite { 4 } else { 10 });
    // A connection the server dropped (a restart) is found out before
    // a call gets it.

    let started = tokio::time::Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    let pool = loop {
        match pool_options.clone().connect_with(options.clone()).await {
            Ok(pool) => break pool,
            Err(error) if is_transient(&error) && started.elapsed() + backoff < config.wait => {
                tracing::warn!(
                    database = config.url.scheme(),
                    attempt,
                    retry_in_ms = backoff.as_millis() as u64,
                    %error,
                    "waiting for the database"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    };
    if attempt > 1 {
        tracing::info!(
            database = config.url.scheme(),
            attempt,
            "the database is reachable"
        );
    }
    let migrator = if sqlite {
        schema.sqlite
    } else {
        schema.postgres
    };
    if sqlite || owns_database(&pool).await? {
        migrator.run(&pool).await?;
    } else {
        require_version(&pool, migrator).await?;
    }
    Ok(pool)
}

/// Applies the schema's migrations as the database's owner (`config`'s
/// role), then on PostgreSQL grants `service_role` what the schema says it
/// needs: `toestemming migrate SERVICE --grant-to ROLE`, run before the
/// service by a role it never runs as.
pub async fn migrate(
    config: &StorageConfig,
    schema: &Schema,
    service_role: Option<&str>,
) -> Result<(), crate::Error> {
    let pool = open(config, schema).await?;
    let postgres = !config.url.expose().starts_with("sqlite:");
    if let (true, Some(role)) = (postgres, service_role) {
        let valid = role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && role.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        if !valid {
            return Err(
                format!("{role:?} is not a role name (lowercase letters, digits, _)").into(),
            );
        }
        for grant in schema.grants {
            pool.execute(grant.replace("{role}", &format!("\"{role}\"")).as_str())
                .await?;
        }
    }
    pool.close().await;
    Ok(())
}

/// Whether the connected role owns the PostgreSQL database.
async fn owns_database(pool: &AnyPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT pg_catalog.pg_get_userbyid(datdba) = current_user \
         FROM pg_catalog.pg_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
}

/// Refuses a schema older than this release's, for a role that cannot
/// migrate it.
async fn require_version(pool: &AnyPool, migrator: &Migrator) -> Result<(), sqlx::Error> {
    let needed = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .unwrap_or(0);
    if applied < needed {
        return Err(sqlx::Error::Configuration(
            format!(
                "the database's schema is at version {applied} and this release needs \
                 {needed}; this role does not own the database, so the owner must apply the \
                 migrations first: `toestemming migrate <service> --grant-to <this role>` \
                 with the owner's DATABASE_URL"
            )
            .into(),
        ));
    }
    Ok(())
}

/// Inline read connections for the hot reads, when the database is a
/// SQLite file (see [`SqliteReads`]); `None` for PostgreSQL. Call after
/// [`open`], which creates the file and its schema.
pub fn sqlite_reads(config: &StorageConfig) -> Option<std::sync::Arc<SqliteReads>> {
    let url = config.url.expose();
    if !url.starts_with("sqlite:") {
        return None;
    }
    SqliteReads::new(std::path::Path::new(sqlite_path(url))).map(std::sync::Arc::new)
}

/// The SQLite file `config` names, if it names one (not PostgreSQL, not an
/// in-memory database).
pub fn sqlite_file(config: &StorageConfig) -> Option<std::path::PathBuf> {
    let url = config.url.expose();
    let path = sqlite_path(url);
    (url.starts_with("sqlite:") && !path.is_empty() && path != ":memory:")
        .then(|| std::path::PathBuf::from(path))
}

/// `sqlite://path/to/file.db?mode=rwc` → `path/to/file.db`.
fn sqlite_path(url: &str) -> &str {
    url.trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default()
}

/// A second, smaller pool on a database [`open`] has opened: a lane of its
/// own for one kind of call, so a flood of it cannot take the connections
/// every other call needs (Identity's sign-ins). Connects on first use.
pub fn open_lane(config: &StorageConfig, connections: u32) -> Result<AnyPool, sqlx::Error> {
    let url = config.url.expose();
    let options = AnyConnectOptions::from_str(url)?;
    Ok(pool_options(url.starts_with("sqlite:"), connections).connect_lazy_with(options))
}

/// How every pool connects: a bounded wait for a connection, a test before
/// a call gets one, and on SQLite WAL with a busy timeout.
fn pool_options(sqlite: bool, connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A connection the server dropped (a restart) is found out before
        // a call gets it.
        .test_before_acquire(true)
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
}

/// `sqlite://path/to/file.db?mode=rwc` → creates `path/to` (0700, where it
/// makes a folder) and `file.db` (0600), before SQLite opens it: SQLite
/// gives its WAL and shared-memory files the database file's mode, so no
/// file of the database is readable by other users of the machine. A
/// database file an earlier release made readable to others is tightened,
/// and the operator told; folders that already exist are left as they are
/// (`DATA_DIR` may be a shared one).
fn create_parent_dir(url: &str) -> Result<(), sqlx::Error> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    let path = sqlite_path(url);
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = std::path::PathBuf::from(file);
        let Ok(metadata) = std::fs::metadata(&file) else {
            continue;
        };
        if metadata.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            tracing::warn!(
                file = %file.display(),
                "the database file was readable by other users; it is 0600 now"
            );
        }
    }
    Ok(())
}

/// Awaits one query of `store` and records its latency as
/// `toestemming_store_query_seconds{store, query}` (when metrics are on).
pub async fn timed<T>(store: &'static str, query: &'static str, run: impl Future<Output = T>) -> T {
    if !crate::telemetry::metrics::enabled() {
        return run.await;
    }
    let started = std::time::Instant::now();
    let result = run.await;
    crate::telemetry::metrics::store_query(store, query, started.elapsed());
    result
}

/// Milliseconds since the epoch: how timestamps are stored (BIGINT in both
/// engines).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_database_is_waited_for_then_given_up_on() {
        // Nothing listens on port 9; the wait is bounded.
        let config = StorageConfig {
            url: DatabaseUrl::new("postgres://nobody:x@127.0.0.1:9/none"),
            wait: Duration::from_secs(2),
        };
        static MIGRATOR: Migrator = sqlx::migrate!("services/identity/migrations");
        let started = tokio::time::Instant::now();
        let error = open(&config, &Schema::shared(&MIGRATOR)).await.unwrap_err();
        assert!(is_transient(&error), "{error}");
        assert!(started.elapsed() >= FIRST_BACKOFF, "it retried");
        assert!(
            started.elapsed() <= config.wait + ACQUIRE_TIMEOUT,
            "within the bound and one attempt: {:?}",
            started.elapsed()
        );
    }
}
