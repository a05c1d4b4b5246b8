//! Configuration from the environment, checked once at start-up.
//!
//! Every variable is the contract's (`docs/contract.md`, "Configuration").
//! Reading goes through a lookup function rather than `std::env` directly,
//! so tests can give a map and never touch the process environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;

/// The contract's issuer, used when `JWT_ISSUER` is unset.
pub const DEFAULT_ISSUER: &str = "Online-Toestemming-Workshop-IdentityApi";
/// The contract's audience, used when `JWT_AUDIENCE` is unset.
pub const DEFAULT_AUDIENCE: &str = "Online-Toestemming-Workshop";
/// How long a token lives: 15 minutes, per the contract.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Clock skew tolerated on `nbf` and `iat` by default. Expiry gets none: a
/// token at or after its `exp` is expired.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
/// The largest leeway `JWT_LEEWAY_SECONDS` may set (security.md: at most 30).
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);
/// The shortest HS256 key accepted (security.md, RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

pub const DEFAULT_IDENTITY_ADDR: &str = "127.0.0.1:50051";
pub const DEFAULT_PSEUDONIEM_ADDR: &str = "127.0.0.1:50052";
pub const DEFAULT_DOSSIER_ADDR: &str = "127.0.0.1:50053";

/// A start-up configuration problem, phrased as what to set.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The shared HS256 key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Accepts a key of at least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "JWT_SECRET_KEY is {} bytes; HS256 needs at least {MIN_SECRET_BYTES}. \
                 Set JWT_SECRET_KEY to a random value of 32 bytes or more \
                 (e.g. `openssl rand -base64 48`).",
                bytes.len()
            )));
        }
        Ok(Self(bytes))
    }

    /// A random key for a development run; never persisted.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 48];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(bytes)
                .into_bytes(),
        )
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// The service credential that IssueInternalToken checks
/// (`INTERNAL_CLIENT_SECRET`). Its `Debug` never shows it.
#[derive(Clone)]
pub struct ServiceCredential(String);

impl ServiceCredential {
    pub fn new(secret: String) -> Result<Self, ConfigError> {
        if secret.is_empty() {
            return Err(ConfigError("INTERNAL_CLIENT_SECRET is empty".into()));
        }
        Ok(Self(secret))
    }

    /// A random credential for a development run; never persisted.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ServiceCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceCredential(<redacted>)")
    }
}

/// What every service needs to verify (and Identity to sign) tokens.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub secret: SigningSecret,
    pub issuer: String,
    pub audience: String,
    /// `exp - iat` of issued tokens, and the most a verified token may claim.
    pub lifetime: Duration,
    /// Clock skew tolerated on `nbf` and `iat`.
    pub leeway: Duration,
}

impl JwtSettings {
    /// Settings with the contract's defaults around `secret`.
    pub fn with_secret(secret: SigningSecret) -> Self {
        Self {
            secret,
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
            lifetime: TOKEN_LIFETIME,
            leeway: DEFAULT_LEEWAY,
        }
    }
}

/// Where each service listens, stores, and finds the others.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub identity_url: String,
    pub pseudoniem_url: String,
    pub dossier_url: String,
}

/// The whole configuration, read once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None` when no key was set; `all` then generates one, a lone service
    /// refuses to start.
    pub jwt: Option<JwtSettings>,
    pub internal_secret: Option<ServiceCredential>,
    pub endpoints: Endpoints,
    pub data_dir: PathBuf,
    /// `DATABASE_URL` and `LISTEN_ADDR`: for a service run on its own.
    pub database_url: Option<String>,
    pub listen_addr: Option<SocketAddr>,
    /// The longest a call to another service may take when the inbound call
    /// has more time left (`DEPENDENCY_TIMEOUT_MS`, default 3 s).
    pub dependency_timeout: Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());

        let jwt = match get("JWT_SECRET_KEY").or_else(|| get("JwtSettings__SecretSigningKey")) {
            None => None,
            Some(secret) => {
                let mut jwt = JwtSettings::with_secret(SigningSecret::new(secret.into_bytes())?);
                if let Some(issuer) = get("JWT_ISSUER") {
                    jwt.issuer = issuer;
                }
                if let Some(audience) = get("JWT_AUDIENCE") {
                    jwt.audience = audience;
                }
                if let Some(seconds) = get("JWT_LEEWAY_SECONDS") {
                    let seconds: u64 = seconds.parse().map_err(|_| {
                        ConfigError("JWT_LEEWAY_SECONDS must be a whole number of seconds".into())
                    })?;
                    let leeway = Duration::from_secs(seconds);
                    if leeway > MAX_LEEWAY {
                        return Err(ConfigError(format!(
                            "JWT_LEEWAY_SECONDS may be at most {}",
                            MAX_LEEWAY.as_secs()
                        )));
                    }
                    jwt.leeway = leeway;
                }
                Some(jwt)
            }
        };
        let internal_secret = get("INTERNAL_CLIENT_SECRET")
            .map(ServiceCredential::new)
            .transpose()?;
        let endpoints = Endpoints {
            identity_url: get("IDENTITY_URL")
                .unwrap_or_else(|| format!("http://{DEFAULT_IDENTITY_ADDR}")),
            pseudoniem_url: get("PSEUDONIEM_URL")
                .unwrap_or_else(|| format!("http://{DEFAULT_PSEUDONIEM_ADDR}")),
            dossier_url: get("DOSSIER_URL")
                .unwrap_or_else(|| format!("http://{DEFAULT_DOSSIER_ADDR}")),
        };
        let listen_addr = get("LISTEN_ADDR")
            .map(|addr| {
                addr.parse().map_err(|_| {
                    ConfigError(format!(
                        "LISTEN_ADDR must be host:port, e.g. {DEFAULT_DOSSIER_ADDR}"
                    ))
                })
            })
            .transpose()?;
        let dependency_timeout = match get("DEPENDENCY_TIMEOUT_MS") {
            None => Duration::from_secs(3),
            Some(ms) => Duration::from_millis(ms.parse().map_err(|_| {
                ConfigError("DEPENDENCY_TIMEOUT_MS must be a whole number of milliseconds".into())
            })?),
        };
        Ok(Self {
            jwt,
            internal_secret,
            endpoints,
            data_dir: get("DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("./data")),
            database_url: get("DATABASE_URL"),
            listen_addr,
            dependency_timeout,
        })
    }

    /// The JWT settings, or the message a lone service exits with.
    pub fn require_jwt(&self) -> Result<JwtSettings, ConfigError> {
        self.jwt.clone().ok_or_else(|| {
            ConfigError(
                "JWT_SECRET_KEY is not set. Set it to the mesh's shared HS256 key \
                 (32 bytes or more, the same in every service), or run `toestemming all` \
                 for a development mesh with a generated key."
                    .into(),
            )
        })
    }

    /// The service credential, or the message a lone service exits with.
    pub fn require_internal_secret(&self, service: &str) -> Result<ServiceCredential, ConfigError> {
        self.internal_secret.clone().ok_or_else(|| {
            ConfigError(format!(
                "INTERNAL_CLIENT_SECRET is not set. The {service} service needs the mesh's \
                 service credential (the same value in identity and dossier)."
            ))
        })
    }

    /// The database of `service`: `DATABASE_URL` when given, else a SQLite
    /// file named after the service in `DATA_DIR`.
    pub fn database_url_for(&self, service: &str, explicit: Option<&str>) -> String {
        explicit.map_or_else(|| sqlite_url(&self.data_dir, service), str::to_owned)
    }
}

/// The default database of `service`: `<data_dir>/<service>.db`, created
/// when missing.
pub fn sqlite_url(data_dir: &std::path::Path, service: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{service}.db")).display()
    )
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

    #[test]
    fn a_short_key_is_refused_with_what_to_set() {
        let error = settings(&[("JWT_SECRET_KEY", "too-short")]).unwrap_err();
        assert!(error.0.contains("JWT_SECRET_KEY"), "{error}");
        assert!(error.0.contains("32"), "{error}");
        assert!(
            !error.0.contains("too-short"),
            "the message must not echo the key"
        );
    }

    #[test]
    fn the_dotnet_alias_is_accepted() {
        let key = "k".repeat(32);
        let s = settings(&[("JwtSettings__SecretSigningKey", &key)]).unwrap();
        assert_eq!(s.jwt.unwrap().secret.expose(), key.as_bytes());
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = settings(&[]).unwrap();
        assert!(s.jwt.is_none());
        assert_eq!(s.endpoints.identity_url, "http://127.0.0.1:50051");
        assert_eq!(s.endpoints.pseudoniem_url, "http://127.0.0.1:50052");
        assert_eq!(s.endpoints.dossier_url, "http://127.0.0.1:50053");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert!(s.require_jwt().unwrap_err().0.contains("JWT_SECRET_KEY"));
    }

    #[test]
    fn leeway_is_capped() {
        let key = "k".repeat(32);
        assert!(settings(&[("JWT_SECRET_KEY", &key), ("JWT_LEEWAY_SECONDS", "31")]).is_err());
        let s = settings(&[("JWT_SECRET_KEY", &key), ("JWT_LEEWAY_SECONDS", "30")]).unwrap();
        assert_eq!(s.jwt.unwrap().leeway, Duration::from_secs(30));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let key = "s".repeat(40);
        let s = settings(&[
            ("JWT_SECRET_KEY", &key),
            ("INTERNAL_CLIENT_SECRET", "service-cred-xyz"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains(&key) && !shown.contains("service-cred-xyz"),
            "{shown}"
        );
    }
}
