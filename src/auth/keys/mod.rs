//! The keys of the EdDSA mode (`JWT_ALGORITHM=EdDSA`), where only Identity
//! can sign and everyone else verifies with public keys.
//!
//! - [`signing`]: Identity's private keys (current, next) and the previous
//!   public key, from PEM files or generated for one run; reloadable.
//! - [`public`]: public keys, their `kid` (the RFC 7638 thumbprint) and the
//!   key set in its JSON and proto forms, checked as untrusted input.
//! - [`store`]: what a verifier holds: the loaded set, swapped as a whole.
//! - [`refresh`]: the task that keeps a store filled from a file or from
//!   Identity's GetJwks.
//!
//! The HS256 mode needs none of this: its one shared secret lives in the
//! settings and in [`super::TokenVerifier`] directly.

use std::sync::Arc;

use crate::auth::TokenVerifier;
use crate::settings::{ConfigError, JwtSettings, TokenKeys};

pub mod key_dir;
pub mod public;
pub mod refresh;
pub mod signing;
pub mod store;

pub use public::{KeySetError, PublicKey, PublicKeySet};
pub use refresh::KeySetSource;
pub use signing::{KeyFiles, KeyReloader, SigningKeyRing, SigningKeys};
pub use store::{KeyLookup, KeyStore};

/// The verifier of a service other than Identity. Under HS256 it holds the
/// shared key. Under EdDSA it starts empty, and a background task fills it
/// from `JWT_JWKS_FILE` or from Identity's GetJwks at `identity_url` and
/// keeps it fresh ([`refresh`]); until the first set arrives, calls are
/// answered UNAVAILABLE and health says NOT_SERVING.
pub fn verifier_for(
    jwt: &JwtSettings,
    identity_url: &str,
) -> Result<Arc<TokenVerifier>, ConfigError> {
    let verifier = Arc::new(TokenVerifier::new(jwt));
    if let (TokenKeys::Public(public), Some(store)) = (&jwt.keys, verifier.key_store())
        && !store.is_loaded()
    {
        let source = match &public.jwks_file {
            Some(path) => KeySetSource::File(path.clone()),
            None => KeySetSource::Identity(crate::mesh::client::transport(identity_url)?),
        };
        refresh::spawn(
            store,
            source,
            public.refresh_every,
            public.min_refetch_interval,
        );
    }
    Ok(verifier)
}
