//! Where the tests' services keep their data.
//!
//! By default: SQLite files in each mesh's temporary directory. When
//! `TEST_POSTGRES_URL` names a cluster (`scripts/test.sh` runs the suite a
//! second time so, on a throwaway cluster that
//! `deploy/postgres/init-databases.sh` prepared), every service of every
//! test gets a fresh database there instead, owned by that service's role:
//! the same roles and rights as the compose deployment: Identity's and
//! Pseudoniem's roles own their databases; Dossier's database is owned by
//! `dossier_owner`, which applies the migrations and grants the `dossier`
//! role what it needs, as `toestemming migrate dossier --grant-to dossier`
//! does before the service starts.
//!
//! - `TEST_POSTGRES_URL`: the admin's URL, `postgres://postgres:PW@HOST:PORT`
//! - `TEST_POSTGRES_ROLE_PASSWORD`: the password of the `identity`,
//!   `pseudoniem`, `dossier` and `dossier_owner` roles

use std::path::Path;
use std::sync::OnceLock;

use sqlx::{Connection as _, Executor as _, PgConnection, Row as _};
use toestemming::settings::{DatabaseUrl, ServiceKind};

/// The engine this run of the suite uses.
pub enum Engine {
    Sqlite,
    Postgres {
        /// `postgres://postgres:PW@HOST:PORT`, without a database.
        admin: String,
        /// `HOST:PORT`.
        address: String,
        role_password: String,
    },
}

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| match std::env::var("TEST_POSTGRES_URL") {
        Err(_) => Engine::Sqlite,
        Ok(admin) => {
            let admin = admin.trim_end_matches('/').to_owned();
            let address = admin
                .rsplit('@')
                .next()
                .expect("TEST_POSTGRES_URL is postgres://USER:PW@HOST:PORT")
                .to_owned();
            let role_password = std::env::var("TEST_POSTGRES_ROLE_PASSWORD")
                .expect("TEST_POSTGRES_ROLE_PASSWORD goes with TEST_POSTGRES_URL");
            Engine::Postgres {
                admin,
                address,
                role_password,
            }
        }
    })
}

pub fn on_postgres() -> bool {
    matches!(engine(), Engine::Postgres { .. })
}

/// A fresh database for `service`: `<dir>/<label>.db`, or a new PostgreSQL
/// database. Identity's and Pseudoniem's are empty and owned by the
/// service's role. Dossier's is owned by `dossier_owner`, migrated by it,
/// with the `dossier` role granted what it needs: the URL is the service
/// role's, as the deployment runs it.
pub async fn fresh_database(dir: &Path, service: ServiceKind, label: &str) -> DatabaseUrl {
    let url = unmigrated_database(dir, service, label).await;
    if service == ServiceKind::Dossier && on_postgres() {
        migrate_as_owner(&url).await;
    }
    url
}

/// A fresh database for `service` with no schema yet (for a test that
/// writes an older release's schema itself); the service role's URL.
pub async fn unmigrated_database(dir: &Path, service: ServiceKind, label: &str) -> DatabaseUrl {
    match engine() {
        Engine::Sqlite => DatabaseUrl::sqlite_file(dir, label),
        Engine::Postgres {
            admin,
            address,
            role_password,
        } => {
            let name = format!("t_{}_{service}", uuid::Uuid::new_v4().simple());
            let owner = if service == ServiceKind::Dossier {
                "dossier_owner".to_owned()
            } else {
                service.to_string()
            };
            let mut connection = PgConnection::connect(&format!("{admin}/postgres"))
                .await
                .expect("the test cluster accepts the admin");
            for statement in [
                format!("CREATE DATABASE {name} OWNER {owner}"),
                format!("REVOKE ALL ON DATABASE {name} FROM PUBLIC"),
                format!("GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {owner}"),
                format!("GRANT CONNECT ON DATABASE {name} TO {service}"),
            ] {
                connection.execute(statement.as_str()).await.unwrap();
            }
            DatabaseUrl::new(format!(
                "postgres://{service}:{role_password}@{address}/{name}"
            ))
        }
    }
}

/// `url` as its database's owner sees it: the same on SQLite; on
/// PostgreSQL Dossier's databases are owned by `dossier_owner`.
pub fn owner_url(url: &DatabaseUrl) -> DatabaseUrl {
    DatabaseUrl::new(
        url.expose()
            .replacen("postgres://dossier:", "postgres://dossier_owner:", 1),
    )
}

/// Dossier's migrations, applied as the owner, with the `dossier` role
/// granted what it needs (`toestemming migrate dossier --grant-to dossier`).
pub async fn migrate_as_owner(url: &DatabaseUrl) {
    let owner = toestemming::settings::StorageConfig {
        url: owner_url(url),
        wait: std::time::Duration::from_secs(10),
    };
    toestemming::storage::migrate(&owner, &toestemming::dossier::SCHEMA, Some("dossier"))
        .await
        .unwrap();
}

/// Everything a database holds, as bytes to search for values that must
/// not be there: the SQLite file with its WAL, or every row of every table.
pub async fn contents(url: &DatabaseUrl) -> Vec<u8> {
    let url = url.expose();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap();
        let mut bytes = std::fs::read(path).expect("the database file");
        for suffix in ["-wal", "-shm"] {
            if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(more);
            }
        }
        return bytes;
    }
    let Engine::Postgres { admin, .. } = engine() else {
        panic!("a PostgreSQL URL outside the PostgreSQL pass")
    };
    let database = url.rsplit('/').next().unwrap();
    let mut connection = PgConnection::connect(&format!("{admin}/{database}"))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    let mut bytes = Vec::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut connection)
            .await
            .unwrap();
        for row in rows {
            let text: String = row.get(0);
            bytes.extend(text.into_bytes());
            bytes.push(b'\n');
        }
    }
    bytes
}

/// A PostgreSQL cluster of a test's own (`scripts/postgres.sh`), prepared
/// by `deploy/postgres/init-databases.sh` like the compose deployment's:
/// for tests that stop and start the database, or look at its roles.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    pub admin_password: String,
    /// The password of the `identity`, `pseudoniem`, `dossier` and
    /// `dossier_owner` roles.
    pub role_password: String,
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

impl Cluster {
    /// The cluster's directory and port, without starting it.
    pub fn planned() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        // The server runs as the `postgres` user when the tests run as root:
        // it must be able to reach its directory.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            dir,
            port,
            admin_password: uuid::Uuid::new_v4().simple().to_string(),
            role_password: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// A new cluster with the services' databases and roles.
    pub async fn start() -> Self {
        let cluster = Self::planned();
        cluster.start_server().await;
        cluster
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("pg")
    }

    /// Starts (or starts again) the server; data is kept across restarts.
    /// The first start prepares the services' databases and roles with
    /// `deploy/postgres/init-databases.sh` before it listens on TCP.
    pub async fn start_server(&self) {
        let status = tokio::process::Command::new(script("scripts/postgres.sh"))
            .arg("start")
            .arg(self.data())
            .arg(self.port.to_string())
            .arg(&self.admin_password)
            .arg(script("deploy/postgres/init-databases.sh"))
            .env("IDENTITY_DB_PASSWORD", &self.role_password)
            .env("PSEUDONIEM_DB_PASSWORD", &self.role_password)
            .env("DOSSIER_DB_PASSWORD", &self.role_password)
            .env("DOSSIER_OWNER_DB_PASSWORD", &self.role_password)
            .status()
            .await
            .unwrap();
        assert!(
            status.success(),
            "scripts/postgres.sh could not start a cluster (PostgreSQL's server binaries are \
             installed by scripts/install-test-deps.sh)"
        );
    }

    /// Stops the server, keeping its data: its connections close, and the
    /// services see it gone.
    pub async fn stop_server(&self) {
        let status = tokio::process::Command::new(script("scripts/postgres.sh"))
            .arg("stop")
            .arg(self.data())
            .arg("--keep")
            .status()
            .await
            .unwrap();
        assert!(status.success());
    }

    /// `role`'s URL for `database`.
    pub fn url(&self, role: &str, database: &str) -> String {
        format!(
            "postgres://{role}:{}@127.0.0.1:{}/{database}",
            self.role_password, self.port
        )
    }

    /// The service's own database, as the deployment names it.
    pub fn service_url(&self, service: ServiceKind) -> DatabaseUrl {
        DatabaseUrl::new(self.url(service.name(), service.name()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script("scripts/postgres.sh"))
            .arg("stop")
            .arg(self.data())
            .status();
    }
}
