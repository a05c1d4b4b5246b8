//! `toestemming keys`: Identity's key directory, made and rotated on disk.
//!
//! A directory holds `current.pem` (signs), `next.pem` (published, signs
//! after the next rotation) and, after a rotation, `previous.pub.pem` (the
//! public half of the key that signed before it). Identity reads them from
//! `JWT_PRIVATE_KEY_FILE`, `JWT_NEXT_PRIVATE_KEY_FILE` and
//! `JWT_PREVIOUS_PUBLIC_KEY_FILE`, and again on SIGHUP.
//!
//! A rotation shifts the keys one place: the current key's public half
//! becomes `previous.pub.pem` (its private half is deleted: nothing signs
//! with it again), `next.pem` becomes `current.pem`, and a new `next.pem`
//! is made. Every file is written beside its target and renamed into
//! place, so Identity never reads half a key.
//!
//! Why a rotation waits a token lifetime after the one before (unless
//! forced): the new current key must have been published long enough for
//! every verifier's periodic fetch to have seen it, and the key that
//! leaves the set (the old previous) must have no unexpired token left.
//! Both hold once `next.pem` is a lifetime old.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::public::PublicKeySet;
use super::signing::{
    KeyFiles, SigningKeyRing, generate_key, private_pem, public_pem, read_private,
};

/// What a rotation or a generation did, for the operator.
#[derive(Debug)]
pub struct Outcome {
    /// The `kid` that signs once Identity has loaded the directory.
    pub signing_kid: String,
    /// The `kid` published to sign after the next rotation.
    pub next_kid: String,
}

/// Makes a new key directory: a current and a next key. Refuses to
/// overwrite keys that exist.
pub fn generate(dir: &Path) -> Result<Outcome, String> {
    let files = KeyFiles::in_dir(dir);
    if files.current.exists() {
        return Err(format!(
            "{} exists; rotate with `toestemming keys rotate {}`, or remove it first",
            files.current.display(),
            dir.display()
        ));
    }
    create_private_dir(dir)?;
    let current = generate_key();
    let next = generate_key();
    write_private(&files.current, &private_pem(&current))?;
    write_private(next_path(&files), &private_pem(&next))?;
    Ok(Outcome {
        signing_kid: super::public::thumbprint(&current.verifying_key()),
        next_kid: super::public::thumbprint(&next.verifying_key()),
    })
}

/// Rotates the keys in `dir` one place (see the module docs). Without
/// `force`, refuses when `next.pem` is younger than `lifetime`.
pub fn rotate(dir: &Path, lifetime: Duration, force: bool) -> Result<Outcome, String> {
    let files = KeyFiles::in_dir(dir);
    let next_file = next_path(&files);
    let current = read_private(&files.current)?;
    let next = read_private(next_file)?;
    if !force {
        let age = std::fs::metadata(next_file)
            .and_then(|meta| meta.modified())
            .map(|modified| {
                SystemTime::now()
                    .duration_since(modified)
                    .unwrap_or_default()
            })
            .map_err(|error| format!("cannot read the age of {}: {error}", next_file.display()))?;
        if age < lifetime {
            return Err(format!(
                "{} was made {} s ago; rotating before one token lifetime ({} s) has passed \
                 could refuse tokens signed with the key that leaves the set, or sign with a \
                 key some verifiers have not fetched yet. Wait, or pass --force.",
                next_file.display(),
                age.as_secs(),
                lifetime.as_secs()
            ));
        }
    }
    let new_next = generate_key();
    // Order matters for a reader between two steps: previous first (only
    // adds a public key), then current (the next key, already published),
    // then a new next.
    let previous_file = files
        .previous
        .as_deref()
        .expect("a key dir has a previous file");
    write_file(previous_file, &public_pem(&current.verifying_key()), 0o644)?;
    write_private(&files.current, &private_pem(&next))?;
    write_private(next_file, &private_pem(&new_next))?;
    Ok(Outcome {
        signing_kid: super::public::thumbprint(&next.verifying_key()),
        next_kid: super::public::thumbprint(&new_next.verifying_key()),
    })
}

/// The public key set of the directory, as `JWT_JWKS_FILE` wants it.
pub fn jwks(dir: &Path) -> Result<PublicKeySet, String> {
    let ring = SigningKeyRing::load(KeyFiles::in_dir(dir))?;
    Ok(ring.current().published.clone())
}

fn next_path(files: &KeyFiles) -> &Path {
    files.next.as_deref().expect("a key dir has a next file")
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    write_file(path, contents, 0o600)
}

/// Writes `contents` beside `path` with `mode`, then renames it into place.
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let staging = path.with_extension("tmp");
    let fail = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
    let _ = std::fs::remove_file(&staging);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&staging)
        .map_err(fail)?;
    file.write_all(contents.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&staging, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_shifts_every_key_one_place() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let made = generate(&keys).unwrap();
        assert!(generate(&keys).is_err(), "never overwrites keys");
        let before = jwks(&keys).unwrap();
        assert_eq!(before.keys()[0].kid, made.signing_kid);
        assert_eq!(before.keys()[1].kid, made.next_kid);

        let refused = rotate(&keys, Duration::from_secs(900), false).unwrap_err();
        assert!(refused.contains("--force"), "{refused}");

        let rotated = rotate(&keys, Duration::from_secs(900), true).unwrap();
        assert_eq!(rotated.signing_kid, made.next_kid, "next became current");
        let after = jwks(&keys).unwrap();
        let kids: Vec<&str> = after.keys().iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(
            kids,
            [
                made.next_kid.as_str(),
                rotated.next_kid.as_str(),
                made.signing_kid.as_str()
            ],
            "current, next, previous"
        );
        let previous = std::fs::read_to_string(keys.join("previous.pub.pem")).unwrap();
        assert!(
            previous.contains("PUBLIC KEY"),
            "the old key's private half is gone"
        );

        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(keys.join("current.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private keys are the owner's alone");
    }
}
