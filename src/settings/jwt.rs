//! How tokens are signed and verified: the algorithm and its keys, the
//! names, the times.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::secrets::SigningSecret;
use crate::auth::keys::{KeyFiles, SigningKeyRing};

/// The contract's issuer, used when `JWT_ISSUER` is unset.
pub const DEFAULT_ISSUER: &str = "Online-Toestemming-Workshop-IdentityApi";
/// The contract's audience, used when `JWT_AUDIENCE` is unset.
pub const DEFAULT_AUDIENCE: &str = "Online-Toestemming-Workshop";
/// How long a token lives: 15 minutes, per the contract.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Clock skew tolerated on `nbf` and `iat` by default. Expiry gets none: a
/// token at or after its `exp` is expired.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
/// The largest leeway `JWT_LEEWAY_SECONDS` may set (`docs/security.md`: at
/// most 30).
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);
/// How often a verifier fetches the key set again under EdDSA
/// (`JWT_JWKS_REFRESH_SECONDS`). Well under a token lifetime, so a key
/// published as "next" is known everywhere long before it signs.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(5 * 60);
/// The least time between two key set fetches asked for by unknown `kid`s.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// What every service needs to verify (and Identity to sign) tokens.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub keys: TokenKeys,
    pub issuer: String,
    pub audience: String,
    /// `exp - iat` of issued tokens, and the most a verified token may claim.
    pub lifetime: Duration,
    /// Clock skew tolerated on `nbf` and `iat`.
    pub leeway: Duration,
}

/// The algorithm, pinned for the whole deployment (`JWT_ALGORITHM`), and
/// its keys. A verifier never lets a token's `alg` choose between them.
#[derive(Debug, Clone)]
pub enum TokenKeys {
    /// HS256: one shared secret signs and verifies, in every service.
    Shared {
        secret: SigningSecret,
        /// `JWT_PREVIOUS_SECRET_KEY`: the key before the last rotation. It
        /// only verifies (nothing is signed with it), and only for two
        /// token lifetimes after this process starts: one for a rolling
        /// restart to reach Identity, one for the last token signed with
        /// it to expire.
        previous: Option<SigningSecret>,
    },
    /// EdDSA (Ed25519): Identity signs with its private key; every service
    /// verifies with the public key set.
    Public(PublicKeySettings),
}

/// The EdDSA mode's keys, as configured.
#[derive(Debug, Clone)]
pub struct PublicKeySettings {
    /// Identity's private keys. `None` in a process that only verifies;
    /// each service but Identity is given `None` even in `all`.
    pub signing: Option<SigningKeySource>,
    /// `JWT_JWKS_FILE`: the key set to verify with. Unset: fetched from
    /// Identity's GetJwks.
    pub jwks_file: Option<PathBuf>,
    /// How often the key set is fetched again.
    pub refresh_every: Duration,
    /// The least time between two fetches asked for by tokens naming a
    /// `kid` the set lacks: a flood of invented `kid`s costs the key
    /// server one request per interval.
    pub min_refetch_interval: Duration,
}

/// Where Identity's private keys come from.
#[derive(Debug, Clone)]
pub enum SigningKeySource {
    /// `JWT_PRIVATE_KEY_FILE` and its companions, read when Identity starts
    /// and again on SIGHUP.
    Files(KeyFiles),
    /// Keys already loaded or generated (`toestemming all` without a key
    /// file; tests), shared by whoever holds the settings.
    Loaded(Arc<SigningKeyRing>),
}

impl JwtSettings {
    /// HS256 settings with the contract's defaults around `secret`.
    pub fn with_secret(secret: SigningSecret) -> Self {
        Self::new(TokenKeys::Shared {
            secret,
            previous: None,
        })
    }

    /// EdDSA settings with the contract's defaults, signing with `ring`.
    pub fn with_signing_keys(ring: Arc<SigningKeyRing>) -> Self {
        Self::new(TokenKeys::Public(PublicKeySettings {
            signing: Some(SigningKeySource::Loaded(ring)),
            jwks_file: None,
            refresh_every: DEFAULT_JWKS_REFRESH,
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
        }))
    }

    /// Settings with the contract's defaults around `keys`.
    pub fn new(keys: TokenKeys) -> Self {
        Self {
            keys,
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
            lifetime: TOKEN_LIFETIME,
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// `HS256` or `EdDSA`: the `alg` every token of this deployment carries.
    pub fn algorithm(&self) -> &'static str {
        match self.keys {
            TokenKeys::Shared { .. } => "HS256",
            TokenKeys::Public(_) => "EdDSA",
        }
    }

    /// The shared HS256 key, when the deployment has one.
    pub fn shared_secret(&self) -> Option<&SigningSecret> {
        match &self.keys {
            TokenKeys::Shared { secret, .. } => Some(secret),
            TokenKeys::Public(_) => None,
        }
    }

    /// `JWT_PREVIOUS_SECRET_KEY`, during an HS256 rotation.
    pub fn previous_shared_secret(&self) -> Option<&SigningSecret> {
        match &self.keys {
            TokenKeys::Shared { previous, .. } => previous.as_ref(),
            TokenKeys::Public(_) => None,
        }
    }

    /// Reads Identity's key files, once, so that its issuer, its verifier
    /// and GetJwks share one [`SigningKeyRing`]. Settings without key files
    /// are left as they are.
    pub fn load_signing_keys(&mut self) -> Result<(), super::ConfigError> {
        if let TokenKeys::Public(PublicKeySettings {
            signing: Some(source @ SigningKeySource::Files(_)),
            ..
        }) = &mut self.keys
        {
            let SigningKeySource::Files(files) = source else {
                unreachable!("matched above")
            };
            let ring = SigningKeyRing::load(files.clone()).map_err(super::ConfigError::new)?;
            *source = SigningKeySource::Loaded(Arc::new(ring));
        }
        Ok(())
    }

    /// Identity's signing keys, once loaded.
    pub fn signing_keys(&self) -> Option<&Arc<SigningKeyRing>> {
        match &self.keys {
            TokenKeys::Public(PublicKeySettings {
                signing: Some(SigningKeySource::Loaded(ring)),
                ..
            }) => Some(ring),
            _ => None,
        }
    }

    /// The same settings without any private key: what a service other
    /// than Identity is given.
    pub fn verify_only(&self) -> Self {
        let mut settings = self.clone();
        if let TokenKeys::Public(public) = &mut settings.keys {
            public.signing = None;
        }
        settings
    }
}
