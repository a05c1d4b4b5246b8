//! Key sets under EdDSA: `PublicKeySet::from_json` (`JWT_JWKS_FILE`,
//! `/.well-known/jwks.json`) and `PublicKeySet::from_proto` (Identity's
//! GetJwks answer, which every other service fetches and trusts to verify
//! tokens with), on the same bytes read both ways.
//!
//! Invariants: an accepted set is not empty, names each key once by its
//! RFC 7638 thumbprint, holds no weak key, finds each key by its `kid`, and
//! survives `to_json`/`from_json` and `to_proto`/`from_proto` unchanged; a
//! GetJwks answer and the same keys written as a JSON document get the same
//! verdict; a refusal never repeats a key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use toestemming::auth::keys::public::{MAX_KID_BYTES, thumbprint};
use toestemming::auth::keys::{KeySetError, PublicKeySet};
use toestemming::proto::identity::v1::GetJwksResponse;

fn check_set(set: &PublicKeySet) {
    assert!(!set.keys().is_empty(), "an empty key set was accepted");
    for (index, key) in set.keys().iter().enumerate() {
        assert_eq!(key.kid, thumbprint(&key.key), "a kid is not the thumbprint");
        assert!(key.kid.len() <= MAX_KID_BYTES);
        assert!(!key.key.is_weak(), "a weak key was accepted");
        assert!(
            set.keys()[..index].iter().all(|other| other.kid != key.kid),
            "a key is in the set twice"
        );
        assert_eq!(set.find(&key.kid), Some(&key.key));
    }
    let json = set.to_json();
    assert_eq!(PublicKeySet::from_json(json.as_bytes()).as_ref(), Ok(set));
    assert!(
        !json.contains("\"d\""),
        "a published set names a private key"
    );
    assert_eq!(PublicKeySet::from_proto(set.to_proto()).as_ref(), Ok(set));
}

/// The refusal names the member at fault, never a key: no `x` that could
/// be one (43 base64url characters, 32 bytes) appears in its message.
/// (Shorter strings may match the message's own words: the fuzzer learns
/// them from the comparisons and writes them into `x`.)
fn check_refusal(error: &KeySetError, xs: &[&str]) {
    let message = error.to_string();
    let key_like = |x: &&&str| {
        x.len() == 43
            && x.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    for x in xs.iter().filter(key_like) {
        assert!(!message.contains(x), "the refusal repeats a key");
    }
}

/// `response` as the JWK Set document with the same members (an empty
/// proto string is an absent member, as `from_proto` reads it).
fn as_json(response: &GetJwksResponse) -> String {
    let keys: Vec<serde_json::Value> = response
        .keys
        .iter()
        .map(|key| {
            let mut jwk = serde_json::Map::new();
            jwk.insert("kty".into(), key.kty.clone().into());
            for (name, value) in [
                ("crv", &key.crv),
                ("x", &key.x),
                ("kid", &key.kid),
                ("alg", &key.alg),
                ("use", &key.r#use),
            ] {
                if !value.is_empty() {
                    jwk.insert(name.into(), value.clone().into());
                }
            }
            serde_json::Value::Object(jwk)
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

fuzz_target!(|data: &[u8]| {
    match PublicKeySet::from_json(data) {
        Ok(set) => check_set(&set),
        Err(error) => {
            let json: Option<serde_json::Value> = serde_json::from_slice(data).ok();
            let xs: Vec<&str> = json
                .as_ref()
                .and_then(|json| json.get("keys"))
                .and_then(|keys| keys.as_array())
                .map(|keys| {
                    keys.iter()
                        .filter_map(|key| key.get("x").and_then(|x| x.as_str()))
                        .collect()
                })
                .unwrap_or_default();
            check_refusal(&error, &xs);
        }
    }
    let Ok(response) = GetJwksResponse::decode(data) else {
        return;
    };
    let from_proto = PublicKeySet::from_proto(response.clone());
    match &from_proto {
        Ok(set) => check_set(set),
        Err(error) => {
            let xs: Vec<&str> = response.keys.iter().map(|key| key.x.as_str()).collect();
            check_refusal(error, &xs);
        }
    }
    assert_eq!(
        from_proto,
        PublicKeySet::from_json(as_json(&response).as_bytes()),
        "GetJwks and the same keys as JSON got different verdicts"
    );
});
