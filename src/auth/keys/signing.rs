//! Identity's Ed25519 signing keys: the current key, which signs; the next
//! key, published before it signs anything; and the previous key's public
//! half, published while tokens it signed may still live.
//!
//! Only Identity holds a [`SigningKeyRing`]. It is loaded from PKCS#8 PEM
//! files (`JWT_PRIVATE_KEY_FILE`, `JWT_NEXT_PRIVATE_KEY_FILE`,
//! `JWT_PREVIOUS_PUBLIC_KEY_FILE`, the layout `toestemming keys` writes),
//! or generated for one run of `toestemming all`. It can be loaded again
//! while Identity serves (SIGHUP), which is how keys rotate without a
//! restart: see `docs/security.md`, "Rotating the EdDSA keys".

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::{DecodePublicKey as _, EncodePublicKey as _};
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::EncodingKey;

use super::public::{PublicKey, PublicKeySet};

/// Where Identity's keys live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    /// The private key that signs (`JWT_PRIVATE_KEY_FILE`).
    pub current: PathBuf,
    /// The private key that signs after the next rotation; published now
    /// (`JWT_NEXT_PRIVATE_KEY_FILE`).
    pub next: Option<PathBuf>,
    /// The public key that signed before the last rotation
    /// (`JWT_PREVIOUS_PUBLIC_KEY_FILE`).
    pub previous: Option<PathBuf>,
}

impl KeyFiles {
    /// The layout of a key directory, as `toestemming keys` writes it.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            current: dir.join("current.pem"),
            next: Some(dir.join("next.pem")),
            previous: Some(dir.join("previous.pub.pem")),
        }
    }
}

/// The keys at one moment.
pub struct SigningKeys {
    /// The current key's public half and `kid`.
    pub current: PublicKey,
    /// The current key as jsonwebtoken signs with it.
    pub encoding: EncodingKey,
    /// Every public key to publish: current, next, previous.
    pub published: PublicKeySet,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("kid", &self.current.kid)
            .field("published", &self.published)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    fn new(current: &SigningKey, next: Option<&SigningKey>, previous: Option<PublicKey>) -> Self {
        let der = current
            .to_pkcs8_der()
            .expect("an Ed25519 key encodes as PKCS#8");
        let public = PublicKey::new(current.verifying_key());
        let next = next.map(|key| PublicKey::new(key.verifying_key()));
        Self {
            published: PublicKeySet::new(
                std::iter::once(public.clone()).chain(next).chain(previous),
            ),
            current: public,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
        }
    }

    fn load(files: &KeyFiles) -> Result<Self, String> {
        let current = read_private(&files.current)?;
        let next = files
            .next
            .as_deref()
            .filter(|path| path.exists())
            .map(read_private)
            .transpose()?;
        let previous = files
            .previous
            .as_deref()
            .filter(|path| path.exists())
            .map(read_public)
            .transpose()?;
        Ok(Self::new(&current, next.as_ref(), previous))
    }
}

/// Identity's keys, shared by its issuer, its own verifier and GetJwks,
/// and replaced as a whole when they are loaded again.
pub struct SigningKeyRing {
    files: Option<KeyFiles>,
    keys: RwLock<Arc<SigningKeys>>,
}

impl std::fmt::Debug for SigningKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRing")
            .field("files", &self.files)
            .field("kid", &self.current().current.kid)
            .finish()
    }
}

impl SigningKeyRing {
    /// The keys in `files`; fails with what is wrong with which file.
    pub fn load(files: KeyFiles) -> Result<Self, String> {
        let keys = SigningKeys::load(&files)?;
        Ok(Self {
            files: Some(files),
            keys: RwLock::new(Arc::new(keys)),
        })
    }

    /// A fresh current and next key that live only as long as this process
    /// (`toestemming all` without `JWT_PRIVATE_KEY_FILE`).
    pub fn generate() -> Self {
        let keys = SigningKeys::new(&generate_key(), Some(&generate_key()), None);
        Self {
            files: None,
            keys: RwLock::new(Arc::new(keys)),
        }
    }

    /// The keys now.
    pub fn current(&self) -> Arc<SigningKeys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the files again. On any problem the keys in use stay as they
    /// were and the problem is returned: a half-written rotation must not
    /// leave Identity without a key.
    pub fn reload(&self) -> Result<Arc<SigningKeys>, String> {
        let files = self
            .files
            .as_ref()
            .ok_or("these keys were generated for this run and have no files to read again")?;
        let keys = Arc::new(SigningKeys::load(files)?);
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys.clone();
        Ok(keys)
    }

    /// Whether the keys come from files that can be read again.
    pub fn has_files(&self) -> bool {
        self.files.is_some()
    }
}

/// Identity's keys together with its own verifier's key store, loaded again
/// together: what SIGHUP does, and what a test calls.
#[derive(Clone)]
pub struct KeyReloader {
    ring: Arc<SigningKeyRing>,
    store: Arc<super::KeyStore>,
}

impl KeyReloader {
    pub fn new(ring: Arc<SigningKeyRing>, store: Arc<super::KeyStore>) -> Self {
        Self { ring, store }
    }

    /// Reads the key files again; Identity then signs with the (new)
    /// current key, and GetJwks and its own verifier use the new set. On
    /// failure nothing changes. Answers the `kid` that now signs.
    pub fn reload(&self) -> Result<String, String> {
        let keys = self.ring.reload()?;
        self.store.replace(keys.published.clone());
        Ok(keys.current.kid.clone())
    }

    /// Reloads on every SIGHUP for as long as the keys are in use (the
    /// task holds them weakly). Keys without files have nothing to reload.
    pub fn reload_on_hangup(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        if !self.ring.has_files() {
            return Ok(());
        }
        let mut hangups = signal(SignalKind::hangup())?;
        let ring = Arc::downgrade(&self.ring);
        let store = Arc::downgrade(&self.store);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let (Some(ring), Some(store)) = (ring.upgrade(), store.upgrade()) else {
                    return;
                };
                match KeyReloader::new(ring, store).reload() {
                    Ok(kid) => tracing::info!(kid = %kid, "SIGHUP: signing keys loaded again"),
                    Err(problem) => tracing::error!(problem = %problem,
                        "SIGHUP: the signing keys could not be loaded; signing with the keys in use"),
                }
            }
        });
        Ok(())
    }
}

/// A new Ed25519 private key from the operating system's random source.
pub fn generate_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    SigningKey::from_bytes(&seed)
}

/// `key` as a PKCS#8 PEM document (what `openssl genpkey -algorithm
/// ed25519` writes).
pub fn private_pem(key: &SigningKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes as PEM")
        .to_string()
}

/// The public half of `key` as an SPKI PEM document.
pub fn public_pem(key: &ed25519_dalek::VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 public key encodes as PEM")
}

/// A PKCS#8 PEM Ed25519 private key from `path`. The error names the file
/// and what is wrong, never the contents.
pub fn read_private(path: &Path) -> Result<SigningKey, String> {
    let pem = read(path)?;
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| {
        format!(
            "{} is not an Ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, \
             as `toestemming keys generate` or `openssl genpkey -algorithm ed25519` writes)",
            path.display()
        )
    })
}

/// An SPKI PEM Ed25519 public key from `path`.
pub fn read_public(path: &Path) -> Result<PublicKey, String> {
    let pem = read(path)?;
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| {
        format!(
            "{} is not an Ed25519 public key in PEM (`-----BEGIN PUBLIC KEY-----`)",
            path.display()
        )
    })?;
    Ok(PublicKey::new(key))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_written_as_pem_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let current = generate_key();
        let next = generate_key();
        let previous = generate_key();
        let files = KeyFiles::in_dir(dir.path());
        std::fs::write(&files.current, private_pem(&current)).unwrap();
        std::fs::write(files.next.as_ref().unwrap(), private_pem(&next)).unwrap();
        std::fs::write(
            files.previous.as_ref().unwrap(),
            public_pem(&previous.verifying_key()),
        )
        .unwrap();
        let ring = SigningKeyRing::load(files).unwrap();
        let keys = ring.current();
        assert_eq!(keys.current.key, current.verifying_key());
        let published: Vec<_> = keys.published.keys().iter().map(|k| k.key).collect();
        assert_eq!(
            published,
            [
                current.verifying_key(),
                next.verifying_key(),
                previous.verifying_key()
            ]
        );
    }

    #[test]
    fn a_bad_file_on_reload_keeps_the_keys_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::in_dir(dir.path());
        std::fs::write(&files.current, private_pem(&generate_key())).unwrap();
        let ring = SigningKeyRing::load(files.clone()).unwrap();
        let before = ring.current().current.kid.clone();
        std::fs::write(&files.current, "-----BEGIN PRIVATE KEY-----\ngarbage\n").unwrap();
        let problem = ring.reload().unwrap_err();
        assert!(problem.contains("current.pem"), "{problem}");
        assert!(!problem.contains("garbage"), "{problem}");
        assert_eq!(ring.current().current.kid, before);
    }
}
