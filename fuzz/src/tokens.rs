//! The key the fuzz targets sign with, the one verifier they share, and
//! what a verified token must satisfy (`docs/security.md`, "Verifying it").

use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::Mac as _;
use toestemming::auth::keys::{KeyFiles, SigningKeyRing};
use toestemming::auth::{Claims, Role, TokenVerifier};
use toestemming::settings::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, JwtSettings, SigningSecret};

use crate::reference;

/// The HS256 key of the fuzz verifier. Not a secret: it signs nothing real.
pub const KEY: &[u8; 32] = b"fuzz-key-not-a-secret-32-bytes!!";
/// A key the verifier does not know, for seeds that must fail the signature.
pub const OTHER_KEY: &[u8; 32] = b"another-key-the-mesh-never-uses!";

/// The header Identity writes.
pub const STANDARD_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

/// The rules, as documented (not read from the library): the lifetime
/// `exp - iat` is at most 15 minutes, `nbf` and `iat` get 5 s of leeway by
/// default, a `sub` is at most 256 bytes, and Internal tokens say `internal`.
pub const MAX_LIFETIME_SECS: u64 = 15 * 60;
pub const LEEWAY_SECS: u64 = 5;
pub const MAX_SUBJECT_BYTES: usize = 256;
pub const INTERNAL_SUBJECT: &str = "internal";

/// The settings every service would build from `JWT_SECRET_KEY` = [`KEY`].
pub fn settings() -> JwtSettings {
    JwtSettings::with_secret(SigningSecret::new(KEY.to_vec()).expect("the key has 32 bytes"))
}

/// One verifier for the whole run, built once like a service's (its cache
/// of accepted tokens fills as the fuzzer finds them; that is part of what
/// is fuzzed).
pub fn verifier() -> &'static Arc<TokenVerifier> {
    static VERIFIER: LazyLock<Arc<TokenVerifier>> =
        LazyLock::new(|| Arc::new(TokenVerifier::new(&settings())));
    &VERIFIER
}

/// The seed of the Ed25519 key the EdDSA verifier knows (fixed, so a crash
/// reproduces with the same `kid`). Not a secret either.
pub const ED25519_SEED: &[u8; 32] = b"fuzz-ed25519-seed-not-a-secret!!";

/// [`ED25519_SEED`] as the PKCS#8 PEM file Identity loads
/// (`JWT_PRIVATE_KEY_FILE`): the fixed DER prefix of an Ed25519 private
/// key (RFC 8410), then the seed.
pub fn ed25519_private_pem() -> String {
    const PKCS8_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let der = [&PKCS8_PREFIX[..], ED25519_SEED].concat();
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
}

/// Identity's key ring under `JWT_ALGORITHM=EdDSA`, loaded once from
/// [`ed25519_private_pem`] the way Identity loads its key file.
pub fn signing_ring() -> &'static Arc<SigningKeyRing> {
    static RING: LazyLock<Arc<SigningKeyRing>> = LazyLock::new(|| {
        let dir = std::env::temp_dir().join(format!("toestemming-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let current = dir.join("current.pem");
        std::fs::write(&current, ed25519_private_pem()).expect("the key file is written");
        let ring = SigningKeyRing::load(KeyFiles {
            current,
            next: None,
            previous: None,
        })
        .expect("the fuzz key loads");
        let _ = std::fs::remove_dir_all(&dir);
        Arc::new(ring)
    });
    &RING
}

/// A verifier as Identity runs one under EdDSA: its key set holds the
/// ring's public key (the other services fetch the same set).
pub fn eddsa_verifier() -> &'static Arc<TokenVerifier> {
    static VERIFIER: LazyLock<Arc<TokenVerifier>> = LazyLock::new(|| {
        Arc::new(TokenVerifier::new(&JwtSettings::with_signing_keys(
            signing_ring().clone(),
        )))
    });
    &VERIFIER
}

/// The `kid` of the EdDSA key: its RFC 7638 thumbprint.
pub fn eddsa_kid() -> String {
    signing_ring().current().current.kid.clone()
}

/// A compact JWS over raw header and payload bytes, signed with the
/// Ed25519 key (as jsonwebtoken signs for Identity).
pub fn sign_eddsa(header: &[u8], payload: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &signing_ring().current().encoding,
        jsonwebtoken::Algorithm::EdDSA,
    )
    .expect("Ed25519 signs any message");
    format!("{message}.{signature}")
}

/// Replaces `@kid` in a header with the EdDSA key's `kid`.
pub fn expand_kid(header: &[u8]) -> Vec<u8> {
    let kid = eddsa_kid();
    let mut out = Vec::with_capacity(header.len() + kid.len());
    let mut rest = header;
    while let Some(at) = rest.windows(4).position(|w| w == b"@kid") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(kid.as_bytes());
        rest = &rest[at + 4..];
    }
    out.extend_from_slice(rest);
    out
}

/// Whether `FUZZ_VERBOSE` is set: the targets then print each verdict, to
/// see what a seed or an artifact does (`docs/fuzzing.md`).
pub fn verbose() -> bool {
    static VERBOSE: LazyLock<bool> = LazyLock::new(|| std::env::var_os("FUZZ_VERBOSE").is_some());
    *VERBOSE
}

/// Seconds since the epoch, as the verifier reads the clock.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The base64url HMAC-SHA256 of `message` under `key`: a JWS signature.
pub fn signature(key: &[u8], message: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// A compact JWS over raw header and payload bytes, signed with [`KEY`].
pub fn sign(header: &[u8], payload: &[u8]) -> String {
    sign_with(KEY, header, payload)
}

pub fn sign_with(key: &[u8], header: &[u8], payload: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature = signature(key, &message);
    format!("{message}.{signature}")
}

/// `value` (a whole `Bearer <token>` value or a bare token) with the
/// token's last segment replaced by the right signature of what precedes
/// its last dot, so whatever the fuzzer wrote in the header and payload
/// segments gets past the signature check and into the decoding after it.
/// Anything after the scheme and its spaces is taken as the token.
pub fn resign(value: &str) -> String {
    let token_start = match value.find(' ') {
        Some(space) => value[space..]
            .find(|c| c != ' ')
            .map_or(value.len(), |offset| space + offset),
        None => 0,
    };
    let (prefix, token) = value.split_at(token_start);
    match token.rsplit_once('.') {
        Some((message, _)) => format!("{prefix}{message}.{}", signature(KEY, message)),
        None => value.to_owned(),
    }
}

/// Replaces the time markers in a payload written by a seed or the fuzzer:
/// `@now` is the current time, `@exp` ten minutes ahead (a good `exp`),
/// `@old` an hour ago, `@far` a day ahead (too long a lifetime). Seeds can
/// then hold tokens that stay valid, where a literal `exp` would expire 15
/// minutes after they were written.
pub fn expand_times(payload: &[u8], now: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 16);
    let mut rest = payload;
    while let Some(at) = rest.iter().position(|&b| b == b'@') {
        out.extend_from_slice(&rest[..at]);
        let marker = &rest[at..];
        let value = match marker.get(..4) {
            Some(b"@now") => Some(now),
            Some(b"@exp") => Some(now + 600),
            Some(b"@old") => Some(now.saturating_sub(3600)),
            Some(b"@far") => Some(now + 86_400),
            _ => None,
        };
        match value {
            Some(value) => {
                out.extend_from_slice(value.to_string().as_bytes());
                rest = &marker[4..];
            }
            None => {
                out.push(b'@');
                rest = &marker[1..];
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// What every accepted token satisfies: `before` and `after` are the clock
/// read just before and just after the verification that accepted it.
pub fn assert_claims_follow_the_rules(claims: &Claims, before: u64, after: u64) {
    assert_eq!(claims.iss, DEFAULT_ISSUER, "accepted a foreign issuer");
    assert_eq!(claims.aud, DEFAULT_AUDIENCE, "accepted a foreign audience");
    assert!(claims.exp > before, "accepted a token at or after its exp");
    assert!(
        claims.iat <= after + LEEWAY_SECS,
        "accepted a token issued in the future"
    );
    assert!(
        claims.nbf <= after + LEEWAY_SECS,
        "accepted a token before its nbf"
    );
    assert!(
        claims.exp > claims.iat && claims.exp - claims.iat <= MAX_LIFETIME_SECS,
        "accepted a lifetime over 15 minutes (iat {}, exp {})",
        claims.iat,
        claims.exp
    );
    assert!(
        !claims.sub.is_empty() && claims.sub.len() <= MAX_SUBJECT_BYTES,
        "accepted an empty or over-long sub"
    );
    assert!(
        !claims.sub.chars().any(char::is_control),
        "accepted a sub with a control character"
    );
    match claims.role {
        Role::Patient => assert!(
            reference::is_lowercase_uuid(&claims.sub),
            "accepted a Patient whose sub is not a pseudoniem: {:?}",
            claims.sub
        ),
        Role::Internal => assert_eq!(claims.sub, INTERNAL_SUBJECT),
        Role::HealthcareCompany => assert_eq!(
            claims.sub.trim(),
            claims.sub,
            "accepted a company name with surrounding space"
        ),
    }
}

/// Which algorithm a verifier is set up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Hs256,
    EdDsa,
}

/// An accepted header is a JSON object with `alg` the deployment's, a
/// `kid` naming the key under EdDSA and none (or null) under HS256, and at
/// most a `typ` of JWT besides.
pub fn assert_header_is_allowed(header: &[u8], algorithm: Algorithm) {
    let text = std::str::from_utf8(header).expect("accepted a header that is not UTF-8");
    assert!(
        reference::is_json_text(text),
        "accepted a header that is not JSON"
    );
    let value: serde_json::Value =
        serde_json::from_str(text).expect("accepted a header serde_json cannot read");
    let object = value
        .as_object()
        .expect("accepted a header that is not an object");
    for key in object.keys() {
        assert!(
            key == "alg" || key == "typ" || key == "kid",
            "accepted a header parameter {key:?}"
        );
    }
    if let Some(typ) = object.get("typ").filter(|v| !v.is_null()) {
        assert_eq!(typ.as_str(), Some("JWT"), "accepted a typ other than JWT");
    }
    let kid = object.get("kid").filter(|v| !v.is_null());
    match algorithm {
        Algorithm::Hs256 => {
            assert_eq!(object.get("alg").and_then(|v| v.as_str()), Some("HS256"));
            assert!(kid.is_none(), "accepted a kid under HS256");
        }
        Algorithm::EdDsa => {
            assert_eq!(object.get("alg").and_then(|v| v.as_str()), Some("EdDSA"));
            assert_eq!(
                kid.and_then(|v| v.as_str()),
                Some(eddsa_kid().as_str()),
                "accepted a kid that is not the key's"
            );
        }
    }
}

/// The claims an accepted token was given are the ones in its payload, and
/// the payload is UTF-8 JSON text (RFC 7519 §7.2) holding one object.
pub fn assert_claims_are_the_payload(payload: &[u8], claims: &Claims) {
    let text = std::str::from_utf8(payload).expect("accepted a payload that is not UTF-8");
    assert!(
        reference::is_json_text(text),
        "accepted a payload that is not JSON text: {text:?}"
    );
    assert!(
        text.trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{'),
        "accepted claims that are not a JSON object"
    );
    // serde_json's Value refuses some valid JSON (a number beyond f64, a
    // lone surrogate escape), which a claim the mesh ignores may carry.
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        return;
    };
    let text_claim = |name: &str| object.get(name).and_then(|v| v.as_str());
    let number_claim = |name: &str| object.get(name).and_then(|v| v.as_u64());
    assert_eq!(text_claim("sub"), Some(claims.sub.as_str()));
    assert_eq!(text_claim("role"), Some(claims.role.as_str()));
    assert_eq!(text_claim("iss"), Some(claims.iss.as_str()));
    assert_eq!(text_claim("aud"), Some(claims.aud.as_str()));
    assert_eq!(number_claim("exp"), Some(claims.exp));
    assert_eq!(number_claim("iat"), Some(claims.iat));
    assert_eq!(number_claim("nbf"), Some(claims.nbf));
    match object.get("jti") {
        None | Some(serde_json::Value::Null) => assert_eq!(claims.jti, None),
        Some(jti) => assert_eq!(jti.as_str(), claims.jti.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_expand() {
        assert_eq!(expand_times(b"@now,@exp,@x,@", 100), b"100,700,@x,@");
    }

    #[test]
    fn a_signed_token_verifies_and_a_resigned_one_too() {
        let now = now();
        let payload = format!(
            r#"{{"sub":"internal","role":"Internal","iss":"{DEFAULT_ISSUER}","aud":"{DEFAULT_AUDIENCE}","exp":{},"iat":{now},"nbf":{now}}}"#,
            now + 600
        );
        let token = sign(STANDARD_HEADER, payload.as_bytes());
        verifier().verify(&token).unwrap();
        let forged = sign_with(OTHER_KEY, STANDARD_HEADER, payload.as_bytes());
        assert!(verifier().verify(&forged).is_err());
        let resigned = resign(&format!("Bearer  {forged}"));
        assert_eq!(resigned, format!("Bearer  {token}"));
    }
}
