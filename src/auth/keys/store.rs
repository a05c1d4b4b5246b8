//! The public keys a verifier holds under EdDSA, replaced as a whole when a
//! fresh key set arrives (`refresh`), read on every verification that the
//! cache does not answer.
//!
//! Three things a verifier asks of it:
//! - *Which key has this `kid`?* Loaded keys only: a token's header never
//!   names a key to fetch ([`KeyLookup`]).
//! - *Is any set loaded yet?* Until one is, calls are answered UNAVAILABLE
//!   (a dependency is missing), never UNAUTHENTICATED, and the server's
//!   health says NOT_SERVING.
//! - *Was a key withdrawn since this token was verified?* The removal
//!   epoch grows when a key leaves the set, and a cached verification from
//!   an older epoch is checked again.
//!
//! A `kid` that is not in the set may mean the set is stale. It asks for
//! one fetch ([`KeyStore::request_refetch`]); the refresher honours such
//! requests one at a time and at most once per interval, so a flood of
//! invented `kid`s costs the key server one request per interval at most.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ed25519_dalek::VerifyingKey;
use tokio::sync::{Notify, watch};

use super::public::PublicKeySet;

/// What a verifier holds under EdDSA.
pub struct KeyStore {
    set: RwLock<Option<Arc<PublicKeySet>>>,
    removal_epoch: AtomicU64,
    loaded: watch::Sender<bool>,
    /// Shared with the refresher, which holds no reference to the store
    /// while it waits (so a dropped verifier ends it).
    refetch: Arc<Notify>,
}

/// The answer to "which key has this `kid`?".
pub enum KeyLookup {
    Found(VerifyingKey),
    /// A set is loaded, and this `kid` is not in it.
    Unknown,
    /// No set has been loaded yet.
    NotLoaded,
}

impl Default for KeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyStore {
    /// A store with no keys: every lookup is [`KeyLookup::NotLoaded`] until
    /// [`Self::replace`].
    pub fn new() -> Self {
        Self {
            set: RwLock::new(None),
            removal_epoch: AtomicU64::new(0),
            loaded: watch::Sender::new(false),
            refetch: Arc::new(Notify::new()),
        }
    }

    /// A store holding `set` from the start (Identity's own keys; a file).
    pub fn with(set: PublicKeySet) -> Self {
        let store = Self::new();
        store.replace(set);
        store
    }

    pub fn lookup(&self, kid: &str) -> KeyLookup {
        match &*self.set.read().unwrap_or_else(|p| p.into_inner()) {
            None => KeyLookup::NotLoaded,
            Some(set) => set
                .find(kid)
                .map_or(KeyLookup::Unknown, |key| KeyLookup::Found(*key)),
        }
    }

    /// The keys now, if any are loaded.
    pub fn current(&self) -> Option<Arc<PublicKeySet>> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs `set`. Answers whether it differs from the one before.
    pub fn replace(&self, set: PublicKeySet) -> bool {
        let mut slot = self.set.write().unwrap_or_else(|p| p.into_inner());
        let changed = slot.as_deref() != Some(&set);
        if let Some(old) = slot.as_deref()
            && !old.is_subset_of(&set)
        {
            // Bumped while the new set is not yet visible: a verification
            // that saw the old key is never cached under the new epoch.
            self.removal_epoch.fetch_add(1, Ordering::AcqRel);
        }
        *slot = Some(Arc::new(set));
        drop(slot);
        self.loaded.send_replace(true);
        changed
    }

    /// Grows whenever a key leaves the set.
    pub fn removal_epoch(&self) -> u64 {
        self.removal_epoch.load(Ordering::Acquire)
    }

    /// Whether a key set has been loaded.
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Resolves once a key set is loaded (at once if one is).
    pub async fn wait_loaded(&self) {
        let mut loaded = self.loaded.subscribe();
        // Only fails when the sender is dropped, and `self` holds it.
        let _ = loaded.wait_for(|loaded| *loaded).await;
    }

    /// Asks the refresher for a fetch now. Requests made while one is
    /// pending or rate-limited collapse into one.
    pub fn request_refetch(&self) {
        self.refetch.notify_one();
    }

    pub(crate) fn refetch_signal(&self) -> Arc<Notify> {
        self.refetch.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::public::PublicKey;
    use super::*;

    fn key(seed: u8) -> PublicKey {
        PublicKey::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key())
    }

    #[test]
    fn a_withdrawn_key_moves_the_epoch_and_an_added_one_does_not() {
        let store = KeyStore::new();
        assert!(matches!(store.lookup("x"), KeyLookup::NotLoaded));
        assert!(store.replace(PublicKeySet::new([key(1)])));
        assert!(store.is_loaded());
        assert_eq!(store.removal_epoch(), 0);
        assert!(matches!(store.lookup(&key(1).kid), KeyLookup::Found(_)));
        assert!(matches!(store.lookup(&key(2).kid), KeyLookup::Unknown));

        assert!(store.replace(PublicKeySet::new([key(1), key(2)])));
        assert_eq!(store.removal_epoch(), 0, "a key was added");
        assert!(!store.replace(PublicKeySet::new([key(1), key(2)])));
        assert!(store.replace(PublicKeySet::new([key(2)])));
        assert_eq!(store.removal_epoch(), 1, "a key was withdrawn");
        assert!(matches!(store.lookup(&key(1).kid), KeyLookup::Unknown));
    }
}
