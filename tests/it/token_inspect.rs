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
    let mut command = Command::new(BINARY);
    command
        .args(["token", "inspect"])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        command.env("JWT_SECRET_KEY", std::str::from_utf8(key).unwrap());
    }
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
