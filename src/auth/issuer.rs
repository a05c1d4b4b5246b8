//! Signing tokens. Only Identity holds a [`TokenIssuer`] for callers; other
//! services never sign (Identity also signs its own Internal token for its
//! calls to Pseudoniem).

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::claims::{Claims, Role};
use crate::settings::JwtSettings;

/// A signed token and when it stops being valid.
#[derive(Clone)]
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds from issue to expiry, for the `expires_in` field.
    pub expires_in: i64,
    /// Expiry as epoch seconds.
    pub expires_at: u64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Signs HS256 tokens with the contract's claims. Built once at start-up.
pub struct TokenIssuer {
    key: EncodingKey,
    header: Header,
    issuer: String,
    audience: String,
    lifetime: Duration,
}

impl TokenIssuer {
    pub fn new(settings: &JwtSettings) -> Self {
        Self {
            key: EncodingKey::from_secret(settings.secret.expose())
                .expect("an HMAC key from bytes cannot fail"),
            // `{"typ":"JWT","alg":"HS256"}`; a `kid` joins once keys rotate.
            header: Header::new(Algorithm::HS256),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            lifetime: settings.lifetime,
        }
    }

    /// Signs a token for `subject` in `role`, valid from now for the
    /// configured lifetime.
    pub fn issue(
        &self,
        subject: &str,
        role: Role,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + self.lifetime.as_secs(),
            iat: now,
            nbf: now,
            jti: Some(uuid::Uuid::new_v4().to_string()),
        };
        let access_token = jsonwebtoken::encode(&self.header, &claims, &self.key)?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.lifetime.as_secs() as i64,
            expires_at: claims.exp,
        })
    }
}
