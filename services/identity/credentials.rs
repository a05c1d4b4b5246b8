//! Passwords and company secrets: how they are made, stored and compared.
//!
//! - Passwords are stored as argon2id PHC strings (memory-hard, salted).
//!   Hashing and verifying take tens of milliseconds of CPU by design: they
//!   run through the bounded queue in `hash_queue`, on the blocking pool.
//! - A company secret is 32 random bytes, so a plain SHA-256 is enough to
//!   store it; it is compared in constant time.
//! - Unknown accounts are verified against a decoy hash, so "no such
//!   account" and "wrong password" take the same time.
//!
//! Passwords arrive and travel as `SecretString`, and stored hashes as
//! [`StoredHash`]; neither prints its value.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Shortest password accepted (contract).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted: bounds the hashing work one request can ask.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A stored hash: an argon2id PHC string or a SHA-256 in hex. Not secret
/// the way a password is, but no business of a log line either.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash(String);

impl StoredHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for StoredHash {
    fn from(stored: String) -> Self {
        Self(stored)
    }
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredHash(<redacted>)")
    }
}

/// Hashes a new password (argon2id, random salt); `None` only if the
/// hasher itself fails. Tens of milliseconds of CPU: call it through the
/// [`super::hash_queue::HashQueue`], never on an async worker.
pub fn hash_password(password: &SecretString) -> Option<StoredHash> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| StoredHash(hash.to_string()))
        .ok()
}

/// Whether `password` matches `stored`, in constant time. A stored hash that
/// does not parse never matches. As costly as [`hash_password`].
pub fn verify_password(password: &SecretString, stored: &StoredHash) -> bool {
    PasswordHash::new(&stored.0).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &hash)
            .is_ok()
    })
}

/// A hash of a random password, made once at start-up, to verify against
/// when the account does not exist.
pub async fn decoy_hash() -> Option<StoredHash> {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let password = SecretString::from(base64::engine::general_purpose::STANDARD.encode(bytes));
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .ok()
        .flatten()
}

/// A new company client secret: 32 random bytes, base64url.
pub fn new_client_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a client secret is stored: SHA-256, hex.
pub fn hash_client_secret(secret: &str) -> StoredHash {
    let digest = Sha256::digest(secret.as_bytes());
    StoredHash(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Constant-time equality of two hashes.
pub fn hashes_match(a: &StoredHash, b: &StoredHash) -> bool {
    a.0.as_bytes().ct_eq(b.0.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password(&"correct horse battery".into()).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(verify_password(&"correct horse battery".into(), &hash));
        assert!(!verify_password(&"correct horse battery!".into(), &hash));
        assert!(!verify_password(
            &"x".into(),
            &StoredHash::from("not a hash".to_owned())
        ));
    }

    #[test]
    fn client_secrets_are_random_and_stored_hashed() {
        let (a, b) = (new_client_secret(), new_client_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let hash = hash_client_secret(&a);
        assert_ne!(hash.as_str(), a);
        assert!(hashes_match(&hash, &hash_client_secret(&a)));
        assert!(!hashes_match(&hash, &hash_client_secret(&b)));
        assert!(!format!("{hash:?}").contains(hash.as_str()));
    }
}
