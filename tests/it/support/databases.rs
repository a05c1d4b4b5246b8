//! Where the tests' services keep their data.
//!
//! By default: SQLite files in each mesh's temporary directory. When
//! `TEST_POSTGRES_URL` names a cluster (`scripts/test.sh` runs the suite a
//! second time so, on a throwaway cluster that
//! `deploy/postgres/init-databases.sh` prepared), every service of every
//! test gets a fresh database there instead, owned by that service's role:
//! the same roles and rights as the compose deployment.
//!
//! - `TEST_POSTGRES_URL`: the admin's URL, `postgres://postgres:PW@HOST:PORT`
//! - `TEST_POSTGRES_ROLE_PASSWORD`: the password of the `identity`,
//!   `pseudoniem` and `dossier` roles

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

/// A fresh, empty database for `service`: `<dir>/<label>.db`, or a new
/// PostgreSQL database owned by the service's role.
pub async fn fresh_database(dir: &Path, service: ServiceKind, label: &str) -> DatabaseUrl {
    match engine() {
        Engine::Sqlite => DatabaseUrl::sqlite_file(dir, label),
        Engine::Postgres {
            admin,
            address,
            role_password,
        } => {
            let name = format!("t_{}_{service}", uuid::Uuid::new_v4().simple());
            let mut connection = PgConnection::connect(&format!("{admin}/postgres"))
                .await
                .expect("the test cluster accepts the admin");
            connection
                .execute(format!("CREATE DATABASE {name} OWNER {service}").as_str())
                .await
                .unwrap();
            connection
                .execute(format!("REVOKE ALL ON DATABASE {name} FROM PUBLIC").as_str())
                .await
                .unwrap();
            DatabaseUrl::new(format!(
                "postgres://{service}:{role_password}@{address}/{name}"
            ))
        }
    }
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
    /// The password of the `identity`, `pseudoniem` and `dossier` roles.
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
