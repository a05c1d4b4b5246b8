//! `toestemming token inspect` as a process: the token on standard input,
//! the key from the environment, the verdict in the exit code, and never the
//! token, its signature or the key in what it prints.

use std::io::Write as _;
use std::process::{Command, Stdio};

use toestemming::auth::{Role, TokenIssuer};

use crate::support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_toestemming");

/// Runs `token inspect` with `token` on stdin and `key` as JWT_SECRET_KEY;
/// returns whether it exited 0, and what it printed.
fn inspect(token: &str, key: Option<&[u8]>) -> (bool, String) {
    let key = key.map(|key| std::str::from_utf8(key).unwrap());
    run_inspect(token, key.map(|key| ("JWT_SECRET_KEY", key)).as_slice())
}

/// `token inspect` with `token` on stdin in an environment of just `env`.
fn run_inspect(token: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(BINARY);
    command
        .args(["token", "inspect"])
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let printed =
        String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap();
    (output.status.success(), printed)
}

#[test]
fn inspect_shows_the_claims_and_the_services_verdict_and_no_secret() {
    let token = TokenIssuer::new(&jwt_settings())
        .issue("Inspectie Zorg", Role::HealthcareCompany)
        .unwrap()
        .access_token;
    let signature = token.rsplit('.').next().unwrap().to_owned();

    let (accepted, printed) = inspect(&token, Some(SECRET));
    assert!(accepted, "{printed}");
    assert!(
        printed.contains("\"role\": \"HealthcareCompany\""),
        "{printed}"
    );
    assert!(printed.contains("verdict: ACCEPTED"), "{printed}");

    let (accepted, refused) = inspect(&token, Some(b"another-key-that-is-long-enough-0123456789"));
    assert!(!accepted, "another key: exit 1");
    assert!(
        refused.contains("verdict: REFUSED, TOKEN_INVALID"),
        "{refused}"
    );

    let expired = jwt::sign(&{
        let mut claims = jwt::claims("HealthcareCompany", "Inspectie Zorg");
        claims["exp"] = serde_json::json!(now() - 10);
        claims["iat"] = serde_json::json!(now() - 100);
        claims["nbf"] = serde_json::json!(now() - 100);
        claims
    });
    let (accepted, late) = inspect(&expired, Some(SECRET));
    assert!(!accepted);
    assert!(late.contains("verdict: REFUSED, TOKEN_EXPIRED"), "{late}");

    let (accepted, unchecked) = inspect(&token, None);
    assert!(!accepted, "without a key nothing is accepted");
    assert!(unchecked.contains("verdict: NOT CHECKED"), "{unchecked}");

    for output in [&printed, &refused, &late, &unchecked] {
        assert!(!output.contains(&signature), "a signature was printed");
        assert!(
            !output.contains(std::str::from_utf8(SECRET).unwrap()),
            "the key was printed"
        );
    }
}

/// `token inspect` under `JWT_ALGORITHM=EdDSA` with a key file variable.
fn inspect_with(token: &str, env: &[(&str, &std::path::Path)]) -> (bool, String) {
    let mut all = vec![("JWT_ALGORITHM", "EdDSA")];
    all.extend(
        env.iter()
            .map(|(name, path)| (*name, path.to_str().unwrap())),
    );
    run_inspect(token, &all)
}

#[test]
fn under_eddsa_inspect_checks_with_the_key_set_file_or_identity_s_key_files() {
    use toestemming::auth::keys::{KeyFiles, SigningKeyRing, key_dir};
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    key_dir::generate(&keys).unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, key_dir::jwks(&keys).unwrap().to_json()).unwrap();
    let ring = std::sync::Arc::new(SigningKeyRing::load(KeyFiles::in_dir(&keys)).unwrap());
    let token = TokenIssuer::new(&toestemming::settings::JwtSettings::with_signing_keys(ring))
        .issue("Inspectie Zorg", Role::HealthcareCompany)
        .unwrap()
        .access_token;

    let (accepted, printed) = inspect_with(&token, &[("JWT_JWKS_FILE", &jwks)]);
    assert!(accepted, "{printed}");
    assert!(printed.contains("\"alg\": \"EdDSA\""), "{printed}");
    assert!(printed.contains("\"kid\""), "{printed}");
    let (accepted, from_key_files) = inspect_with(
        &token,
        &[("JWT_PRIVATE_KEY_FILE", &keys.join("current.pem"))],
    );
    assert!(accepted, "{from_key_files}");

    // An HS256 token under an EdDSA configuration: refused, not checked
    // with some other key.
    let hs256 = jwt::sign(&jwt::claims("HealthcareCompany", "Inspectie Zorg"));
    let (accepted, printed) = inspect_with(&hs256, &[("JWT_JWKS_FILE", &jwks)]);
    assert!(!accepted);
    assert!(
        printed.contains("verdict: REFUSED, TOKEN_INVALID"),
        "{printed}"
    );

    let private = std::fs::read_to_string(keys.join("current.pem")).unwrap();
    let secret_line = private.lines().nth(1).unwrap();
    for output in [&printed, &from_key_files] {
        assert!(!output.contains(secret_line), "the private key was printed");
    }
}
