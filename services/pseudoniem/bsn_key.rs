//! The keyed hash a BSN is stored under: HMAC-SHA256 with
//! `PSEUDONIEM_BSN_KEY`, a key that lives outside the database.
//!
//! A plain hash of a BSN protects nothing: there are at most 10^9 BSNs, and
//! a laptop hashes them all in minutes, so a copy of the table would name
//! every patient. Under a key, the stored values are useless without it,
//! and the key is not in the database (nor in a backup of it).
//!
//! Why the key cannot simply be rotated: the table holds no BSN, so
//! nothing can recompute the entries under a new key; only a BSN presented
//! again can be hashed under both. An operator therefore keeps the key as
//! long as the data (in a secrets manager, backed up with the database's
//! backups, never beside them); `docs/security.md` says what to do if it
//! leaks.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::bsn::Bsn;
use crate::settings::SigningSecret;

/// The key, ready to hash BSNs. Cheap to clone.
#[derive(Clone)]
pub struct BsnKey(Hmac<Sha256>);

impl BsnKey {
    pub fn new(secret: &SigningSecret) -> Self {
        Self(Hmac::new_from_slice(secret.expose()).expect("HMAC takes any key"))
    }

    /// What the table stores for `bsn`: the HMAC, lowercase hex.
    pub fn index(&self, bsn: &Bsn) -> String {
        let mut mac = self.0.clone();
        mac.update(bsn.expose().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(digest.len() * 2);
        for byte in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
        }
        hex
    }
}

/// The development key `toestemming all` uses when `PSEUDONIEM_BSN_KEY` is
/// unset: read from `pseudoniem-bsn.key` in `dir` (`DATA_DIR`), made there
/// (mode 0600) the first time, so the SQLite files beside it stay readable
/// across restarts. Also says where it is and whether it was just made.
pub fn development_key(dir: &Path) -> crate::Result<(SigningSecret, PathBuf, bool)> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let path = dir.join("pseudoniem-bsn.key");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let created = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            let key = SigningSecret::generate();
            file.write_all(key.expose())?;
            file.write_all(b"\n")?;
            true
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(error) => return Err(format!("cannot make {}: {error}", path.display()).into()),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let key = SigningSecret::new(text.trim_end().as_bytes().to_vec())
        .map_err(|_| format!("{} holds no key of 32 bytes or more", path.display()))?;
    Ok((key, path, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> BsnKey {
        BsnKey::new(&SigningSecret::new(text.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn the_index_depends_on_the_key_and_shows_no_digit_of_the_bsn() {
        let bsn = Bsn::parse("111222333").unwrap();
        let one = key("a-bsn-key-of-at-least-thirty-two-bytes-1");
        let other = key("a-bsn-key-of-at-least-thirty-two-bytes-2");
        assert_eq!(one.index(&bsn), one.index(&bsn), "stable");
        assert_ne!(one.index(&bsn), other.index(&bsn), "keyed");
        assert_ne!(
            one.index(&bsn),
            one.index(&Bsn::parse("123456782").unwrap())
        );
        let index = one.index(&bsn);
        assert_eq!(index.len(), 64);
        assert!(index.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!index.contains("111222333"));
    }

    #[test]
    fn the_development_key_is_made_once_and_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (first, path, created) = development_key(&data).unwrap();
        assert!(created);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, _, created) = development_key(&data).unwrap();
        assert!(!created);
        assert_eq!(first.expose(), again.expose());
    }
}
