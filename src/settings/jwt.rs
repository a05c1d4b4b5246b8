//! How tokens are signed and verified: the key, the names, the times.

use std::time::Duration;

use super::secrets::SigningSecret;

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

/// What every service needs to verify (and Identity to sign) tokens.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub secret: SigningSecret,
    /// `JWT_PREVIOUS_SECRET_KEY`: the key before the last rotation. It only
    /// verifies (nothing is signed with it), and only for two token
    /// lifetimes after this process starts: one for a rolling restart to
    /// reach Identity, one for the last token signed with it to expire.
    pub previous_secret: Option<SigningSecret>,
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
            previous_secret: None,
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
            lifetime: TOKEN_LIFETIME,
            leeway: DEFAULT_LEEWAY,
        }
    }
}
