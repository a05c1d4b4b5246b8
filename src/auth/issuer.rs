//! Signing tokens. Only Identity holds a [`TokenIssuer`] for callers; other
//! services never sign (Identity also signs its own Internal token for its
//! calls to Pseudoniem).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::claims::{Claims, Role};
use super::keys::SigningKeyRing;
use crate::settings::{JwtSettings, SigningKeySource, TokenKeys};

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

/// Signs tokens with the contract's claims. Built once at start-up.
pub struct TokenIssuer {
    signer: Signer,
    issuer: String,
    audience: String,
    lifetime: Duration,
}

/// The deployment's one way of signing.
enum Signer {
    /// HS256 with the shared key: `{"typ":"JWT","alg":"HS256"}`.
    Shared {
        key: EncodingKey,
        header: Box<Header>,
    },
    /// EdDSA with Identity's current key, named by its `kid`:
    /// `{"typ":"JWT","alg":"EdDSA","kid":"…"}`. Read per token, so a
    /// reload (a rotation) takes effect at once.
    Private(Arc<SigningKeyRing>),
}

impl TokenIssuer {
    /// An issuer for `settings`. Under EdDSA the settings must hold loaded
    /// signing keys (Identity's, after [`JwtSettings::load_signing_keys`]):
    /// asking a verify-only configuration to sign is a bug, not an input.
    pub fn new(settings: &JwtSettings) -> Self {
        let signer = match &settings.keys {
            TokenKeys::Shared { secret, .. } => Signer::Shared {
                key: EncodingKey::from_secret(secret.expose())
                    .expect("an HMAC key from bytes cannot fail"),
                header: Box::new(Header::new(Algorithm::HS256)),
            },
            TokenKeys::Public(public) => match &public.signing {
                Some(SigningKeySource::Loaded(ring)) => Signer::Private(ring.clone()),
                _ => panic!("an EdDSA issuer needs loaded signing keys (only Identity signs)"),
            },
        };
        Self {
            signer,
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
        let access_token = match &self.signer {
            Signer::Shared { key, header } => jsonwebtoken::encode(header, &claims, key)?,
            Signer::Private(ring) => {
                let keys = ring.current();
                let mut header = Header::new(Algorithm::EdDSA);
                header.kid = Some(keys.current.kid.clone());
                jsonwebtoken::encode(&header, &claims, &keys.encoding)?
            }
        };
        Ok(IssuedToken {
            access_token,
            expires_in: self.lifetime.as_secs() as i64,
            expires_at: claims.exp,
        })
    }
}
