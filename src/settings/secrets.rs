//! Secret values from the configuration.
//!
//! Each is held in a `secrecy` box: its `Debug` is redacted and its memory
//! is zeroed when dropped, and reading it takes an explicit `expose_secret`
//! call that is easy to find in review. None has a `Display`, so none can
//! slip into a log line or an error message by formatting.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretSlice, SecretString};

use super::ConfigError;

/// The shortest HS256 key accepted (RFC 7518 §3.2; `docs/security.md`).
pub const MIN_SECRET_BYTES: usize = 32;

/// The shared HS256 key (`JWT_SECRET_KEY`).
#[derive(Clone)]
pub struct SigningSecret(Arc<SecretSlice<u8>>);

impl SigningSecret {
    /// Accepts a key of at least [`MIN_SECRET_BYTES`] bytes. The message for
    /// a short key says what to set and never repeats the key.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::new(format!(
                "JWT_SECRET_KEY is {} bytes; HS256 needs at least {MIN_SECRET_BYTES}. \
                 Set JWT_SECRET_KEY to a random value of 32 bytes or more \
                 (e.g. `openssl rand -base64 48`).",
                bytes.len()
            )));
        }
        Ok(Self(Arc::new(bytes.into())))
    }

    /// A random key for a development run; never persisted.
    pub fn generate() -> Self {
        Self(Arc::new(random_text(48).into_bytes().into()))
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// The service credential that IssueInternalToken checks
/// (`INTERNAL_CLIENT_SECRET`).
#[derive(Clone)]
pub struct ServiceCredential(Arc<SecretString>);

impl ServiceCredential {
    /// At least [`Self::MIN_BYTES`] bytes (the contract): the credential
    /// is what stands between anyone who can reach Identity and an
    /// Internal token, so it must be too long to guess.
    pub fn new(secret: impl Into<String>) -> Result<Self, ConfigError> {
        let secret = secret.into();
        if secret.len() < Self::MIN_BYTES {
            return Err(ConfigError::new(format!(
                "INTERNAL_CLIENT_SECRET is {} bytes long; it must be at least {} (for example \
                 `openssl rand -base64 32`)",
                secret.len(),
                Self::MIN_BYTES
            )));
        }
        Ok(Self(Arc::new(secret.into())))
    }

    pub const MIN_BYTES: usize = 32;

    /// A random credential for a development run; never persisted.
    pub fn generate() -> Self {
        Self(Arc::new(random_text(32).into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ServiceCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceCredential(<redacted>)")
    }
}

/// A database URL. A PostgreSQL URL carries a password, so its `Debug`
/// shows the scheme only.
#[derive(Clone)]
pub struct DatabaseUrl(Arc<SecretString>);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(Arc::new(url.into().into()))
    }

    /// The SQLite file `<service>.db` in `data_dir`, created when missing.
    pub fn sqlite_file(data_dir: &std::path::Path, service: &str) -> Self {
        Self::new(format!(
            "sqlite://{}?mode=rwc",
            data_dir.join(format!("{service}.db")).display()
        ))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// This URL with `password` put in, for a URL kept in plain
    /// configuration and a password kept as a secret (`DATABASE_PASSWORD`,
    /// or `DATABASE_PASSWORD_FILE` from a Docker or Kubernetes secret).
    pub fn with_password(&self, password: &str) -> Result<Self, ConfigError> {
        let mut url = url::Url::parse(self.expose()).map_err(|_| {
            ConfigError::new(
                "DATABASE_URL must be a URL, e.g. postgres://identity@db:5432/identity",
            )
        })?;
        if !url.scheme().starts_with("postgres") {
            return Err(ConfigError::new(
                "DATABASE_PASSWORD goes with a postgres:// DATABASE_URL",
            ));
        }
        if url.password().is_some() {
            return Err(ConfigError::new(
                "DATABASE_URL already has a password; set it there or in DATABASE_PASSWORD, not both",
            ));
        }
        url.set_password(Some(password))
            .map_err(|()| ConfigError::new("DATABASE_URL needs a user name for a password"))?;
        Ok(Self::new(String::from(url)))
    }

    /// `sqlite`, `postgres`, …: what a log line may say about it.
    pub fn scheme(&self) -> &str {
        self.expose().split(':').next().unwrap_or_default()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({}:<redacted>)", self.scheme())
    }
}

/// Where a service keeps its data, and how long it waits for it at start.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub url: DatabaseUrl,
    /// How long start-up waits for a database that cannot be reached yet
    /// (`DATABASE_WAIT_SECONDS`).
    pub wait: std::time::Duration,
}

/// `bytes` random bytes as base64url text.
fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        let key = SigningSecret::new(vec![b'k'; 40]).unwrap();
        let credential = ServiceCredential::new("service-credential-xyz-0123456789abcdef").unwrap();
        let url = DatabaseUrl::new("postgres://dossier:hunter2hunter2@db/dossier");
        let shown = format!("{key:?} {credential:?} {url:?}");
        assert!(!shown.contains("kkkk"), "{shown}");
        assert!(!shown.contains("service-credential-xyz"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres"), "{shown}");
    }

    #[test]
    fn a_password_goes_into_a_postgres_url_once() {
        let url = DatabaseUrl::new("postgres://identity@db:5432/identity");
        let with = url.with_password("p@ss:w/rd").unwrap();
        assert_eq!(
            with.expose(),
            "postgres://identity:p%40ss%3Aw%2Frd@db:5432/identity"
        );
        assert!(with.with_password("again").is_err(), "not both");
        assert!(
            DatabaseUrl::new("sqlite://x.db")
                .with_password("pw")
                .is_err()
        );
    }

    #[test]
    fn generated_secrets_differ_and_are_long_enough() {
        let (a, b) = (SigningSecret::generate(), SigningSecret::generate());
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().len() >= MIN_SECRET_BYTES);
        assert_ne!(
            ServiceCredential::generate().expose(),
            ServiceCredential::generate().expose()
        );
    }
}
