//! The process settings: every environment variable, read in one place.
//!
//! Each variable is named once, in [`vars`], and documented in the README's
//! configuration table. [`Settings::from_lookup`] parses them all and reports
//! every problem at once, phrased as what to set, the way linkerd2-proxy's
//! `env.rs` does, rather than stopping at the first.
//!
//! Settings are about the process; each service turns them into its own
//! `Config` (`services/<name>/mod.rs`), taking only what it needs and
//! refusing to start without what it requires.
//!
//! Reading goes through a lookup function rather than `std::env` directly,
//! so tests can pass a map and never touch the process environment.

mod jwt;
mod limits;
mod patients;
mod peers;
mod secrets;
mod services;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::keys::KeyFiles;

pub use jwt::{
    DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_JWKS_REFRESH, DEFAULT_LEEWAY, JwtSettings,
    MAX_LEEWAY, PublicKeySettings, SigningKeySource, TOKEN_LIFETIME, TokenKeys,
};
pub use limits::{ServerLimits, ThrottlePolicy};
pub use patients::{PatientSignIn, ProviderSecret, ProviderSettings};
pub use peers::{Peers, Target};
pub use secrets::{DatabaseUrl, MIN_SECRET_BYTES, ServiceCredential, SigningSecret, StorageConfig};
pub use services::ServiceKind;

/// The name of every variable the process reads.
pub mod vars {
    pub const JWT_SECRET_KEY: &str = "JWT_SECRET_KEY";
    /// The name the original .NET workshop used for the same key.
    pub const JWT_SECRET_KEY_ALIAS: &str = "JwtSettings__SecretSigningKey";
    pub const JWT_ISSUER: &str = "JWT_ISSUER";
    pub const JWT_AUDIENCE: &str = "JWT_AUDIENCE";
    pub const JWT_LEEWAY_SECONDS: &str = "JWT_LEEWAY_SECONDS";
    pub const JWT_PREVIOUS_SECRET_KEY: &str = "JWT_PREVIOUS_SECRET_KEY";
    pub const JWT_ALGORITHM: &str = "JWT_ALGORITHM";
    pub const JWT_PRIVATE_KEY_FILE: &str = "JWT_PRIVATE_KEY_FILE";
    pub const JWT_NEXT_PRIVATE_KEY_FILE: &str = "JWT_NEXT_PRIVATE_KEY_FILE";
    pub const JWT_PREVIOUS_PUBLIC_KEY_FILE: &str = "JWT_PREVIOUS_PUBLIC_KEY_FILE";
    pub const JWT_JWKS_FILE: &str = "JWT_JWKS_FILE";
    pub const JWT_JWKS_REFRESH_SECONDS: &str = "JWT_JWKS_REFRESH_SECONDS";
    pub const WEBSITE_CSRF_KEY: &str = "WEBSITE_CSRF_KEY";
    pub const PSEUDONIEM_BSN_KEY: &str = "PSEUDONIEM_BSN_KEY";
    pub const METRICS_ADDR: &str = "METRICS_ADDR";
    pub const INTERNAL_CLIENT_SECRET: &str = "INTERNAL_CLIENT_SECRET";
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const DATABASE_PASSWORD: &str = "DATABASE_PASSWORD";
    pub const DATA_DIR: &str = "DATA_DIR";
    pub const LISTEN_ADDR: &str = "LISTEN_ADDR";
    pub const WEBSITE_LISTEN_ADDR: &str = "WEBSITE_LISTEN_ADDR";
    pub const IDENTITY_URL: &str = "IDENTITY_URL";
    pub const PSEUDONIEM_URL: &str = "PSEUDONIEM_URL";
    pub const DOSSIER_URL: &str = "DOSSIER_URL";
    pub const DEPENDENCY_TIMEOUT_MS: &str = "DEPENDENCY_TIMEOUT_MS";
    pub const DATABASE_WAIT_SECONDS: &str = "DATABASE_WAIT_SECONDS";
    pub const LOGIN_THROTTLE_WINDOW_SECONDS: &str = "LOGIN_THROTTLE_WINDOW_SECONDS";
    pub const LOGIN_MAX_FAILURES_PER_ACCOUNT: &str = "LOGIN_MAX_FAILURES_PER_ACCOUNT";
    pub const LOGIN_MAX_FAILURES_PER_CLIENT: &str = "LOGIN_MAX_FAILURES_PER_CLIENT";
    pub const WEBSITE_TRUST_PROXY: &str = "WEBSITE_TRUST_PROXY";
    /// Appended to a secret's variable name: read the value from this file
    /// instead (the Docker and Kubernetes secrets convention).
    pub const FILE_SUFFIX: &str = "_FILE";

    /// `<SERVICE>_DATABASE_URL`: one service's database in `all`, where a
    /// single `DATABASE_URL` cannot serve three services.
    pub fn service_database_url(service: super::ServiceKind) -> String {
        format!("{}_DATABASE_URL", service.name().to_ascii_uppercase())
    }
}

/// What is wrong with the configuration: one line per problem, each saying
/// what to set. Never contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigError(Vec<String>);

impl ConfigError {
    pub fn new(problem: impl Into<String>) -> Self {
        Self(vec![problem.into()])
    }

    /// The problems, one per line.
    pub fn problems(&self) -> &[String] {
        &self.0
    }
}

/// The whole configuration of the process, read once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None` when no key was set: `all` then generates one, a lone service
    /// refuses to start.
    pub jwt: Option<JwtSettings>,
    pub internal_secret: Option<ServiceCredential>,
    pub peers: Peers,
    /// Where the default SQLite files go (`DATA_DIR`, default `./data`).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: the database of a service run alone.
    pub database_url: Option<DatabaseUrl>,
    /// How long start-up waits for an unreachable database
    /// (`DATABASE_WAIT_SECONDS`, default 60).
    pub database_wait: Duration,
    /// `<SERVICE>_DATABASE_URL`: per service, in `all` or alone.
    pub service_database_urls: BTreeMap<ServiceKind, DatabaseUrl>,
    /// `LISTEN_ADDR`: the address of a service run alone.
    pub listen_addr: Option<SocketAddr>,
    /// `WEBSITE_LISTEN_ADDR`: the website's address in `all`.
    pub website_listen_addr: Option<SocketAddr>,
    /// `METRICS_ADDR`: where Prometheus `/metrics` is served; off unless
    /// set (`telemetry::metrics`).
    pub metrics_addr: Option<SocketAddr>,
    /// `WEBSITE_CSRF_KEY`: the root of the website's CSRF key.
    pub website_csrf_key: Option<SigningSecret>,
    /// `PSEUDONIEM_BSN_KEY`: the key of the keyed hash under which
    /// Pseudoniem stores BSNs. `None` when unset: `all` then uses a
    /// development key kept in `DATA_DIR`, a lone Pseudoniem refuses to
    /// start.
    pub pseudoniem_bsn_key: Option<SigningSecret>,
    /// `WEBSITE_TRUST_PROXY`: the website sits behind a reverse proxy whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` it may believe.
    pub website_trust_proxy: bool,
    /// The longest a call to another service may take when the inbound call
    /// has more time left (`DEPENDENCY_TIMEOUT_MS`, default 3 s).
    pub dependency_timeout: Duration,
    pub login_throttle: ThrottlePolicy,
    pub limits: ServerLimits,
    /// How patients sign in: the OpenID provider, and whether passwords
    /// still work (`PATIENT_*`).
    pub patient_sign_in: PatientSignIn,
    /// `WEBSITE_PUBLIC_URL`: the website's address as browsers see it.
    pub website_public_url: Option<String>,
}

impl Default for Settings {
    /// The contract's defaults, with no key and no service credential.
    fn default() -> Self {
        Self {
            jwt: None,
            internal_secret: None,
            peers: Peers::default(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_wait: Duration::from_secs(60),
            service_database_urls: BTreeMap::new(),
            listen_addr: None,
            website_listen_addr: None,
            website_trust_proxy: false,
            website_csrf_key: None,
            pseudoniem_bsn_key: None,
            metrics_addr: None,
            dependency_timeout: Duration::from_secs(3),
            login_throttle: ThrottlePolicy::default(),
            limits: ServerLimits::default(),
            patient_sign_in: PatientSignIn::default(),
            website_public_url: None,
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads every variable through `lookup` (empty values count as unset)
    /// and reports every problem together.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Reader {
            lookup: &|name| lookup(name).filter(|value| !value.is_empty()),
            problems: Vec::new(),
        };
        let defaults = Settings::default();
        let jwt = env.jwt();
        let internal_secret = env
            .secret(vars::INTERNAL_CLIENT_SECRET)
            .and_then(|secret| env.check(ServiceCredential::new(secret)));
        let peers = Peers {
            identity: env.url(vars::IDENTITY_URL, defaults.peers.identity),
            pseudoniem: env.url(vars::PSEUDONIEM_URL, defaults.peers.pseudoniem),
            dossier: env.url(vars::DOSSIER_URL, defaults.peers.dossier),
        };
        let database_url = match (
            env.secret(vars::DATABASE_URL).map(DatabaseUrl::new),
            env.secret(vars::DATABASE_PASSWORD),
        ) {
            (Some(url), Some(password)) => env.check(url.with_password(&password)),
            (None, Some(_)) => {
                env.problems
                    .push("DATABASE_PASSWORD is set but DATABASE_URL is not".into());
                None
            }
            (url, None) => url,
        };
        let service_database_urls = ServiceKind::START_ORDER
            .into_iter()
            .filter(|service| service.has_database())
            .filter_map(|service| {
                let url = env.secret(&vars::service_database_url(service))?;
                Some((service, DatabaseUrl::new(url)))
            })
            .collect();
        let login_throttle = ThrottlePolicy {
            window: env
                .number(vars::LOGIN_THROTTLE_WINDOW_SECONDS, "seconds")
                .map_or(defaults.login_throttle.window, Duration::from_secs),
            max_failures_per_account: env
                .number(vars::LOGIN_MAX_FAILURES_PER_ACCOUNT, "failures")
                .map_or(defaults.login_throttle.max_failures_per_account, saturate),
            max_failures_per_client: env
                .number(vars::LOGIN_MAX_FAILURES_PER_CLIENT, "failures")
                .map_or(defaults.login_throttle.max_failures_per_client, saturate),
            ..defaults.login_throttle
        };
        let settings = Settings {
            jwt,
            internal_secret,
            peers,
            data_dir: env
                .plain(vars::DATA_DIR)
                .map_or(defaults.data_dir, PathBuf::from),
            database_url,
            database_wait: env
                .number(vars::DATABASE_WAIT_SECONDS, "seconds")
                .map_or(defaults.database_wait, Duration::from_secs),
            service_database_urls,
            listen_addr: env.address(vars::LISTEN_ADDR),
            website_listen_addr: env.address(vars::WEBSITE_LISTEN_ADDR),
            website_trust_proxy: env.flag(vars::WEBSITE_TRUST_PROXY),
            website_csrf_key: env.key(vars::WEBSITE_CSRF_KEY),
            pseudoniem_bsn_key: env.key(vars::PSEUDONIEM_BSN_KEY),
            metrics_addr: env.address(vars::METRICS_ADDR),
            dependency_timeout: env
                .number(vars::DEPENDENCY_TIMEOUT_MS, "milliseconds")
                .map_or(defaults.dependency_timeout, Duration::from_millis),
            login_throttle,
            limits: defaults.limits,
            patient_sign_in: env.patient_sign_in(),
            website_public_url: env.public_url(),
        };
        if env.problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError(env.problems))
        }
    }

    /// The JWT settings `service` runs with, or the message a lone service
    /// exits with. Only Identity is given a private key; every other
    /// service gets the same settings without one ([`JwtSettings::verify_only`]),
    /// in `all` too.
    pub fn require_jwt(&self, service: ServiceKind) -> Result<JwtSettings, ConfigError> {
        let jwt = self.jwt.clone().ok_or_else(|| {
            ConfigError::new(
                "JWT_SECRET_KEY is not set. Set it (or JWT_SECRET_KEY_FILE) to the mesh's \
                 shared HS256 key (32 bytes or more, the same in every service), or run \
                 `toestemming all` for a development mesh with a generated key.",
            )
        })?;
        match (&jwt.keys, service) {
            (TokenKeys::Public(public), ServiceKind::Identity) if public.signing.is_none() => {
                Err(ConfigError::new(
                    "JWT_ALGORITHM=EdDSA: Identity signs with JWT_PRIVATE_KEY_FILE, which is not \
                     set. Create keys with `toestemming keys generate DIR` and set \
                     JWT_PRIVATE_KEY_FILE=DIR/current.pem, JWT_NEXT_PRIVATE_KEY_FILE=DIR/next.pem \
                     and JWT_PREVIOUS_PUBLIC_KEY_FILE=DIR/previous.pub.pem.",
                ))
            }
            (_, ServiceKind::Identity) => Ok(jwt),
            _ => Ok(jwt.verify_only()),
        }
    }

    /// Pseudoniem's key for the keyed hash of BSNs, or the message a lone
    /// Pseudoniem exits with.
    pub fn require_bsn_key(&self) -> Result<SigningSecret, ConfigError> {
        self.pseudoniem_bsn_key.clone().ok_or_else(|| {
            ConfigError::new(
                "PSEUDONIEM_BSN_KEY is not set. Pseudoniem stores each BSN only as an \
                 HMAC-SHA256 under this key: set it (or PSEUDONIEM_BSN_KEY_FILE) to a random \
                 value of 32 bytes or more, kept outside the database and backed up (without \
                 it no stored BSN is found again), or run `toestemming all` for a development \
                 mesh with a key in DATA_DIR.",
            )
        })
    }

    /// The service credential, or the message a lone `service` exits with.
    pub fn require_internal_secret(
        &self,
        service: ServiceKind,
    ) -> Result<ServiceCredential, ConfigError> {
        self.internal_secret.clone().ok_or_else(|| {
            ConfigError::new(format!(
                "INTERNAL_CLIENT_SECRET is not set. The {service} service needs the mesh's \
                 service credential (set it, or INTERNAL_CLIENT_SECRET_FILE, to the same \
                 value in every service that uses it)."
            ))
        })
    }

    /// The database of `service`: `<SERVICE>_DATABASE_URL`, else
    /// `DATABASE_URL` (meant for a service run alone), else the SQLite file
    /// `<service>.db` in `DATA_DIR`.
    pub fn database_url(&self, service: ServiceKind) -> DatabaseUrl {
        self.service_database_urls
            .get(&service)
            .or(self.database_url.as_ref())
            .cloned()
            .unwrap_or_else(|| DatabaseUrl::sqlite_file(&self.data_dir, service.name()))
    }

    /// Where `service` keeps its data and how long it waits for it.
    pub fn storage(&self, service: ServiceKind) -> StorageConfig {
        StorageConfig {
            url: self.database_url(service),
            wait: self.database_wait,
        }
    }

    /// Where `service` listens when run alone: `LISTEN_ADDR`, else its
    /// default address.
    pub fn listen_addr(&self, service: ServiceKind) -> SocketAddr {
        self.listen_addr.unwrap_or_else(|| service.default_addr())
    }

    /// Where `service` listens in `all`: its default address, except the
    /// website's, which `WEBSITE_LISTEN_ADDR` may move (a machine where
    /// 8080 is taken; a container that must listen on 0.0.0.0).
    pub fn mesh_listen_addr(&self, service: ServiceKind) -> SocketAddr {
        match service {
            ServiceKind::Website => self
                .website_listen_addr
                .unwrap_or_else(|| service.default_addr()),
            _ => service.default_addr(),
        }
    }
}

/// Reads variables and collects what is wrong with them.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn plain(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// Keeps the value of `result`, or records its problem.
    fn check<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|error| self.problems.extend(error.0)).ok()
    }

    /// A secret from `name`, or from the file named by `name_FILE`; both set
    /// is a mistake worth stopping for (which one was meant?).
    /// A secret key of at least 32 bytes, from `name` or `name_FILE`.
    fn key(&mut self, name: &str) -> Option<SigningSecret> {
        let key = self.secret(name)?;
        self.check(
            SigningSecret::new(key)
                .map_err(|_| ConfigError::new(format!("{name} must be at least 32 bytes"))),
        )
    }

    fn secret(&mut self, name: &str) -> Option<String> {
        let file_var = format!("{name}{}", vars::FILE_SUFFIX);
        match (self.plain(name), self.plain(&file_var)) {
            (Some(_), Some(_)) => {
                self.problems
                    .push(format!("set {name} or {file_var}, not both"));
                None
            }
            (Some(value), None) => Some(value),
            (None, Some(path)) => match read_secret_file(Path::new(&path)) {
                Ok(value) => Some(value),
                Err(problem) => {
                    self.problems.push(format!("{file_var}: {problem}"));
                    None
                }
            },
            (None, None) => None,
        }
    }

    fn jwt(&mut self) -> Option<JwtSettings> {
        let keys = match self.plain(vars::JWT_ALGORITHM) {
            None => self.shared_keys(),
            Some(algorithm) if algorithm.eq_ignore_ascii_case("HS256") => self.shared_keys(),
            Some(algorithm) if algorithm.eq_ignore_ascii_case("EdDSA") => self.public_keys(),
            Some(algorithm) => {
                self.problems.push(format!(
                    "JWT_ALGORITHM={algorithm} is not supported; use HS256 (the default) or EdDSA"
                ));
                None
            }
        }?;
        let mut jwt = JwtSettings::new(keys);
        if let Some(issuer) = self.plain(vars::JWT_ISSUER) {
            jwt.issuer = issuer;
        }
        if let Some(audience) = self.plain(vars::JWT_AUDIENCE) {
            jwt.audience = audience;
        }
        if let Some(seconds) = self.number(vars::JWT_LEEWAY_SECONDS, "seconds") {
            let leeway = Duration::from_secs(seconds);
            if leeway > MAX_LEEWAY {
                self.problems.push(format!(
                    "{} may be at most {}",
                    vars::JWT_LEEWAY_SECONDS,
                    MAX_LEEWAY.as_secs()
                ));
                return None;
            }
            jwt.leeway = leeway;
        }
        Some(jwt)
    }

    /// HS256: the shared key (and the previous one during a rotation).
    /// `None` when no key is set: `all` generates one, a lone service
    /// refuses to start.
    fn shared_keys(&mut self) -> Option<TokenKeys> {
        for name in [
            vars::JWT_PRIVATE_KEY_FILE,
            vars::JWT_NEXT_PRIVATE_KEY_FILE,
            vars::JWT_PREVIOUS_PUBLIC_KEY_FILE,
            vars::JWT_JWKS_FILE,
        ] {
            if self.plain(name).is_some() {
                self.problems.push(format!(
                    "{name} is set, but JWT_ALGORITHM is HS256 (the default); set \
                     JWT_ALGORITHM=EdDSA or unset {name}"
                ));
            }
        }
        let secret = match self.secret(vars::JWT_SECRET_KEY) {
            Some(secret) => Some(secret),
            None => self.plain(vars::JWT_SECRET_KEY_ALIAS),
        }?;
        let secret = self.check(SigningSecret::new(secret))?;
        let previous = match self.secret(vars::JWT_PREVIOUS_SECRET_KEY) {
            Some(previous) => match SigningSecret::new(previous) {
                Ok(previous) => Some(previous),
                Err(_) => {
                    self.problems.push(format!(
                        "{} is shorter than the 32 bytes an HS256 key needs",
                        vars::JWT_PREVIOUS_SECRET_KEY
                    ));
                    None
                }
            },
            None => None,
        };
        Some(TokenKeys::Shared { secret, previous })
    }

    /// EdDSA: Identity's key files (read when Identity starts), and where
    /// the others find the public keys. A shared secret has no place here:
    /// whoever held it could sign.
    fn public_keys(&mut self) -> Option<TokenKeys> {
        for name in [
            vars::JWT_SECRET_KEY,
            vars::JWT_SECRET_KEY_ALIAS,
            vars::JWT_PREVIOUS_SECRET_KEY,
        ] {
            let file_var = format!("{name}{}", vars::FILE_SUFFIX);
            if self.plain(name).is_some() || self.plain(&file_var).is_some() {
                self.problems.push(format!(
                    "{name} is set, but JWT_ALGORITHM=EdDSA signs with Identity's private key \
                     only; remove the shared key from every service (whoever holds it could sign)"
                ));
            }
        }
        let lookup = self.lookup;
        let path = |name: &str| lookup(name).map(PathBuf::from);
        let signing = path(vars::JWT_PRIVATE_KEY_FILE).map(|current| {
            SigningKeySource::Files(KeyFiles {
                current,
                next: path(vars::JWT_NEXT_PRIVATE_KEY_FILE),
                previous: path(vars::JWT_PREVIOUS_PUBLIC_KEY_FILE),
            })
        });
        if signing.is_none() {
            for name in [
                vars::JWT_NEXT_PRIVATE_KEY_FILE,
                vars::JWT_PREVIOUS_PUBLIC_KEY_FILE,
            ] {
                if self.plain(name).is_some() {
                    self.problems
                        .push(format!("{name} is set without JWT_PRIVATE_KEY_FILE"));
                }
            }
        }
        let refresh_every = match self.number(vars::JWT_JWKS_REFRESH_SECONDS, "seconds") {
            Some(0) => {
                self.problems.push(format!(
                    "{} must be at least 1",
                    vars::JWT_JWKS_REFRESH_SECONDS
                ));
                return None;
            }
            Some(seconds) => Duration::from_secs(seconds),
            None => DEFAULT_JWKS_REFRESH,
        };
        Some(TokenKeys::Public(PublicKeySettings {
            signing,
            jwks_file: path(vars::JWT_JWKS_FILE),
            refresh_every,
            min_refetch_interval: jwt::DEFAULT_MIN_REFETCH_INTERVAL,
        }))
    }

    fn number(&mut self, name: &str, unit: &str) -> Option<u64> {
        let value = self.plain(name)?;
        match value.parse() {
            Ok(number) => Some(number),
            Err(_) => {
                self.problems
                    .push(format!("{name} must be a whole number of {unit}"));
                None
            }
        }
    }

    fn flag(&mut self, name: &str) -> bool {
        match self.plain(name).as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => {
                self.problems.push(format!("{name} must be true or false"));
                false
            }
        }
    }

    fn address(&mut self, name: &str) -> Option<SocketAddr> {
        let value = self.plain(name)?;
        match value.parse() {
            Ok(address) => Some(address),
            Err(_) => {
                self.problems.push(format!(
                    "{name} must be an IP address and port, e.g. 127.0.0.1:50053 or 0.0.0.0:8080"
                ));
                None
            }
        }
    }

    /// A peer's address: a URL, a comma-separated list of replicas' URLs,
    /// or `dns:///host:port` ([`Target`]).
    fn url(&mut self, name: &str, default: String) -> String {
        let Some(value) = self.plain(name) else {
            return default;
        };
        match Target::parse(&value) {
            Ok(_) => value,
            Err(_) => {
                self.problems.push(format!(
                    "{name} must be an http:// URL (e.g. {default}), a comma-separated list of \
                     them, or dns:///host:port"
                ));
                default
            }
        }
    }
}

/// A secret file's content without the line break editors add at the end.
fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let value = text
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(value.to_owned())
}

fn saturate(number: u64) -> u32 {
    u32::try_from(number).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const KEY: &str = "a-key-that-is-long-enough-for-hs256-0123456789";

    #[test]
    fn a_short_key_is_refused_with_what_to_set() {
        let error = settings(&[("JWT_SECRET_KEY", "too-short")]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("JWT_SECRET_KEY"), "{text}");
        assert!(text.contains("32"), "{text}");
        assert!(
            !text.contains("too-short"),
            "the message must not echo the key"
        );
    }

    #[test]
    fn pseudoniem_needs_a_bsn_key_of_32_bytes_and_says_so() {
        let unset = settings(&[]).unwrap();
        let text = unset.require_bsn_key().unwrap_err().to_string();
        assert!(text.contains("PSEUDONIEM_BSN_KEY"), "{text}");
        let text = settings(&[("PSEUDONIEM_BSN_KEY", "short-bsn-key")])
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("PSEUDONIEM_BSN_KEY") && text.contains("32"),
            "{text}"
        );
        assert!(
            !text.contains("short-bsn-key"),
            "the message must not echo the key"
        );
        let set = settings(&[("PSEUDONIEM_BSN_KEY", KEY)]).unwrap();
        assert_eq!(set.require_bsn_key().unwrap().expose(), KEY.as_bytes());
    }

    #[test]
    fn the_dotnet_alias_is_accepted() {
        let s = settings(&[("JwtSettings__SecretSigningKey", KEY)]).unwrap();
        assert_eq!(
            s.jwt.unwrap().shared_secret().unwrap().expose(),
            KEY.as_bytes()
        );
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = settings(&[]).unwrap();
        assert!(s.jwt.is_none());
        assert_eq!(s.peers.identity, "http://127.0.0.1:50051");
        assert_eq!(s.peers.pseudoniem, "http://127.0.0.1:50052");
        assert_eq!(s.peers.dossier, "http://127.0.0.1:50053");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(
            s.listen_addr(ServiceKind::Dossier),
            "127.0.0.1:50053".parse().unwrap()
        );
        assert_eq!(
            s.database_url(ServiceKind::Dossier).expose(),
            "sqlite://./data/dossier.db?mode=rwc"
        );
        assert!(
            s.require_jwt(ServiceKind::Dossier)
                .unwrap_err()
                .to_string()
                .contains("JWT_SECRET_KEY")
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let error = settings(&[
            ("JWT_SECRET_KEY", "short"),
            ("LISTEN_ADDR", "nowhere"),
            ("DEPENDENCY_TIMEOUT_MS", "soon"),
            ("DOSSIER_URL", "ftp://x"),
        ])
        .unwrap_err();
        assert_eq!(error.problems().len(), 4, "{error}");
    }

    #[test]
    fn an_unknown_algorithm_is_refused_not_ignored() {
        assert!(settings(&[("JWT_SECRET_KEY", KEY), ("JWT_ALGORITHM", "HS256")]).is_ok());
        for algorithm in ["none", "HS512", "RS256"] {
            let error = settings(&[("JWT_ALGORITHM", algorithm)])
                .unwrap_err()
                .to_string();
            assert!(error.contains("JWT_ALGORITHM"), "{error}");
        }
    }

    #[test]
    fn eddsa_takes_no_shared_key_and_gives_only_identity_a_private_one() {
        let error = settings(&[("JWT_SECRET_KEY", KEY), ("JWT_ALGORITHM", "EdDSA")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("JWT_SECRET_KEY"), "{error}");
        let error = settings(&[("JWT_PRIVATE_KEY_FILE", "/k.pem")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("JWT_ALGORITHM"), "{error}");

        let s = settings(&[
            ("JWT_ALGORITHM", "EdDSA"),
            ("JWT_PRIVATE_KEY_FILE", "/keys/current.pem"),
            ("JWT_JWKS_REFRESH_SECONDS", "60"),
        ])
        .unwrap();
        let identity = s.require_jwt(ServiceKind::Identity).unwrap();
        let TokenKeys::Public(public) = &identity.keys else {
            panic!("EdDSA")
        };
        assert!(
            matches!(&public.signing, Some(SigningKeySource::Files(files))
            if files.current == Path::new("/keys/current.pem"))
        );
        assert_eq!(public.refresh_every, Duration::from_secs(60));
        for service in [
            ServiceKind::Pseudoniem,
            ServiceKind::Dossier,
            ServiceKind::Website,
        ] {
            let TokenKeys::Public(public) = s.require_jwt(service).unwrap().keys else {
                panic!("EdDSA")
            };
            assert!(public.signing.is_none(), "{service} holds no private key");
        }

        let verify_only = settings(&[("JWT_ALGORITHM", "EdDSA")]).unwrap();
        assert!(verify_only.require_jwt(ServiceKind::Dossier).is_ok());
        let error = verify_only
            .require_jwt(ServiceKind::Identity)
            .unwrap_err()
            .to_string();
        assert!(error.contains("JWT_PRIVATE_KEY_FILE"), "{error}");
    }

    #[test]
    fn leeway_is_capped() {
        assert!(settings(&[("JWT_SECRET_KEY", KEY), ("JWT_LEEWAY_SECONDS", "31")]).is_err());
        let s = settings(&[("JWT_SECRET_KEY", KEY), ("JWT_LEEWAY_SECONDS", "30")]).unwrap();
        assert_eq!(s.jwt.unwrap().leeway, Duration::from_secs(30));
    }

    #[test]
    fn a_previous_key_is_read_and_held_to_the_same_length_rule() {
        const OLD: &str = "the-key-before-the-rotation-of-32-bytes-or-more";
        let s = settings(&[("JWT_SECRET_KEY", KEY), ("JWT_PREVIOUS_SECRET_KEY", OLD)]).unwrap();
        assert_eq!(
            s.jwt.unwrap().previous_shared_secret().unwrap().expose(),
            OLD.as_bytes()
        );
        let error = settings(&[
            ("JWT_SECRET_KEY", KEY),
            ("JWT_PREVIOUS_SECRET_KEY", "tiny-k3y"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("JWT_PREVIOUS_SECRET_KEY"), "{error}");
        assert!(!error.contains("tiny-k3y"), "the value is never repeated");
        let s = settings(&[("JWT_SECRET_KEY", KEY)]).unwrap();
        assert!(s.jwt.unwrap().previous_shared_secret().is_none());
    }

    #[test]
    fn secrets_come_from_files_too_but_not_from_both() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("jwt");
        std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
        let key_path = key_file.to_str().unwrap();
        let s = settings(&[("JWT_SECRET_KEY_FILE", key_path)]).unwrap();
        assert_eq!(
            s.jwt.unwrap().shared_secret().unwrap().expose(),
            KEY.as_bytes()
        );

        let error = settings(&[("JWT_SECRET_KEY", KEY), ("JWT_SECRET_KEY_FILE", key_path)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("not both"), "{error}");
        assert!(!error.contains(KEY), "{error}");

        let missing = dir.path().join("missing");
        let error = settings(&[("INTERNAL_CLIENT_SECRET_FILE", missing.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(error.contains("INTERNAL_CLIENT_SECRET_FILE"), "{error}");
    }

    #[test]
    fn each_service_may_have_its_own_database() {
        let s = settings(&[
            ("DATABASE_URL", "sqlite://one.db"),
            ("PSEUDONIEM_DATABASE_URL", "postgres://p@db/pseudoniem"),
        ])
        .unwrap();
        assert_eq!(
            s.database_url(ServiceKind::Pseudoniem).expose(),
            "postgres://p@db/pseudoniem"
        );
        assert_eq!(
            s.database_url(ServiceKind::Identity).expose(),
            "sqlite://one.db"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = settings(&[
            ("JWT_SECRET_KEY", KEY),
            (
                "INTERNAL_CLIENT_SECRET",
                "service-cred-xyz-0123456789abcdefghij",
            ),
            ("DATABASE_URL", "postgres://u:pw-in-url@db/x"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains(KEY)
                && !shown.contains("service-cred-xyz")
                && !shown.contains("pw-in-url"),
            "{shown}"
        );
    }
}
