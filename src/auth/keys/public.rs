//! Public keys and the key set that carries them (RFC 7517 JWKS, RFC 8037
//! Ed25519 keys), in the three forms they travel in: the verifier's parsed
//! keys, the JSON document (`JWT_JWKS_FILE`, `/.well-known/jwks.json`) and
//! the GetJwks response.
//!
//! A key set from outside (a file, Identity's answer) is untrusted input:
//! every key must be an Ed25519 public key of exactly 32 bytes that is not
//! of small order, with a `kid` that is the key's own RFC 7638 thumbprint.
//! A member that would make it a private key (`d`) fails the whole set, so
//! a leaked private key is refused loudly rather than used quietly. Keys of
//! other types (an RSA key beside ours, say) are skipped: the mesh's pinned
//! algorithm would never use them.

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::proto::identity::v1::{GetJwksResponse, JsonWebKey};

/// The JOSE names of what the mesh signs with.
pub const KEY_TYPE: &str = "OKP";
pub const CURVE: &str = "Ed25519";
pub const ALGORITHM: &str = "EdDSA";
pub const KEY_USE: &str = "sig";

/// The longest `kid` the mesh reads: a SHA-256 thumbprint is 43 characters.
pub const MAX_KID_BYTES: usize = 64;

/// One Ed25519 public key and its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub key: VerifyingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish()
    }
}

impl PublicKey {
    /// The key with its RFC 7638 thumbprint as `kid`: the same key always
    /// gets the same id, in every process, without anyone assigning one.
    pub fn new(key: VerifyingKey) -> Self {
        Self {
            kid: thumbprint(&key),
            key,
        }
    }

    fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: KEY_TYPE.into(),
            crv: Some(CURVE.into()),
            x: Some(b64(self.key.as_bytes())),
            kid: Some(self.kid.clone()),
            alg: Some(ALGORITHM.into()),
            key_use: Some(KEY_USE.into()),
            d: None,
        }
    }
}

/// The RFC 7638 thumbprint of an Ed25519 key: SHA-256 over the required
/// members in lexicographic order, base64url.
pub fn thumbprint(key: &VerifyingKey) -> String {
    use sha2::Digest as _;
    let canonical = format!(
        r#"{{"crv":"{CURVE}","kty":"{KEY_TYPE}","x":"{}"}}"#,
        b64(key.as_bytes())
    );
    b64(&sha2::Sha256::digest(canonical.as_bytes()))
}

/// The keys that verify tokens, as loaded at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicKeySet {
    keys: Vec<PublicKey>,
}

/// Why a key set was refused. Names the member at fault, never a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    #[error("the key set is not a JSON Web Key Set (RFC 7517): {0}")]
    NotAKeySet(String),
    #[error(
        "key {index} of the key set carries a private key (`d`); a key set must hold public keys only"
    )]
    PrivateKey { index: usize },
    #[error("key {index} of the key set: {problem}")]
    BadKey { index: usize, problem: &'static str },
    #[error("the key set holds no Ed25519 signing key")]
    Empty,
}

/// A JWK as it is read and written; unknown members are ignored (RFC 7517
/// §4), `d` is read only to refuse it.
#[derive(Serialize, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    key_use: Option<String>,
    #[serde(default, skip_serializing)]
    d: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

impl PublicKeySet {
    /// A set of `keys`, the first being the one that signs now. A key named
    /// twice is kept once.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut set = Self { keys: Vec::new() };
        for key in keys {
            if !set.keys.iter().any(|known| known.kid == key.kid) {
                set.keys.push(key);
            }
        }
        set
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The key named `kid`. A set holds a handful of keys: a scan is
    /// cheaper than a hash.
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys
            .iter()
            .find(|known| known.kid == kid)
            .map(|known| &known.key)
    }

    /// Whether every key of `self` is still in `newer`: if not, a key was
    /// withdrawn and what it verified must be verified again.
    pub fn is_subset_of(&self, newer: &PublicKeySet) -> bool {
        self.keys.iter().all(|key| newer.keys.contains(key))
    }

    /// The RFC 7517 JSON document, as served at `/.well-known/jwks.json`.
    pub fn to_json(&self) -> String {
        let set = JwkSet {
            keys: self.keys.iter().map(PublicKey::to_jwk).collect(),
        };
        serde_json::to_string_pretty(&set).expect("a key set serializes")
    }

    /// A key set from its JSON document (`JWT_JWKS_FILE`).
    pub fn from_json(json: &[u8]) -> Result<Self, KeySetError> {
        let set: JwkSet = serde_json::from_slice(json).map_err(|error| {
            // serde's message names the position and the expected type,
            // never a value.
            KeySetError::NotAKeySet(error.classify_message())
        })?;
        Self::from_jwks(set.keys)
    }

    /// The GetJwks response.
    pub fn to_proto(&self) -> GetJwksResponse {
        GetJwksResponse {
            keys: self
                .keys
                .iter()
                .map(|key| {
                    let jwk = key.to_jwk();
                    JsonWebKey {
                        kty: jwk.kty,
                        crv: jwk.crv.unwrap_or_default(),
                        x: jwk.x.unwrap_or_default(),
                        kid: jwk.kid.unwrap_or_default(),
                        alg: jwk.alg.unwrap_or_default(),
                        r#use: jwk.key_use.unwrap_or_default(),
                    }
                })
                .collect(),
        }
    }

    /// A key set from Identity's GetJwks answer, checked like a file's.
    pub fn from_proto(response: GetJwksResponse) -> Result<Self, KeySetError> {
        let some = |value: String| (!value.is_empty()).then_some(value);
        Self::from_jwks(
            response
                .keys
                .into_iter()
                .map(|key| Jwk {
                    kty: key.kty,
                    crv: some(key.crv),
                    x: some(key.x),
                    kid: some(key.kid),
                    alg: some(key.alg),
                    key_use: some(key.r#use),
                    d: None,
                })
                .collect(),
        )
    }

    fn from_jwks(jwks: Vec<Jwk>) -> Result<Self, KeySetError> {
        let mut keys = Vec::new();
        for (index, jwk) in jwks.into_iter().enumerate() {
            if jwk.d.is_some() {
                return Err(KeySetError::PrivateKey { index });
            }
            if jwk.kty != KEY_TYPE || jwk.crv.as_deref() != Some(CURVE) {
                continue; // not ours to use; RFC 7517 §5 lets a set mix types
            }
            keys.push(read_key(jwk).map_err(|problem| KeySetError::BadKey { index, problem })?);
        }
        if keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        Ok(Self::new(keys))
    }
}

/// One Ed25519 JWK, every member checked.
fn read_key(jwk: Jwk) -> Result<PublicKey, &'static str> {
    if jwk.alg.as_deref().is_some_and(|alg| alg != ALGORITHM) {
        return Err("`alg` is not EdDSA");
    }
    if jwk
        .key_use
        .as_deref()
        .is_some_and(|key_use| key_use != KEY_USE)
    {
        return Err("`use` is not sig");
    }
    let x = jwk.x.ok_or("`x` is missing")?;
    let bytes: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&x)
        .map_err(|_| "`x` is not base64url")?
        .try_into()
        .map_err(|_| "`x` is not 32 bytes")?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "`x` is not an Ed25519 point")?;
    if key.is_weak() {
        return Err("`x` is a weak (small-order) key");
    }
    let key = PublicKey::new(key);
    match jwk.kid {
        Some(kid) if kid == key.kid => Ok(key),
        Some(_) => Err("`kid` is not the key's RFC 7638 thumbprint"),
        None => Err("`kid` is missing"),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// serde_json's error without the input: its category and position.
trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> String {
        let what = match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "not shaped like a key set",
            serde_json::error::Category::Eof => "cut short",
        };
        format!("{what} (line {}, column {})", self.line(), self.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PublicKey {
        PublicKey::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key())
    }

    #[test]
    fn a_key_set_survives_json_and_proto() {
        let set = PublicKeySet::new([key(1), key(2)]);
        assert_eq!(
            PublicKeySet::from_json(set.to_json().as_bytes()),
            Ok(set.clone())
        );
        assert_eq!(PublicKeySet::from_proto(set.to_proto()), Ok(set.clone()));
        let json: serde_json::Value = serde_json::from_str(&set.to_json()).unwrap();
        assert_eq!(json["keys"][0]["kty"], "OKP");
        assert_eq!(json["keys"][0]["crv"], "Ed25519");
        assert_eq!(json["keys"][0]["use"], "sig");
        assert_eq!(json["keys"][0]["kid"], set.keys()[0].kid.as_str());
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let bytes: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(x)
            .unwrap()
            .try_into()
            .unwrap();
        let key = VerifyingKey::from_bytes(&bytes).unwrap();
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn a_private_key_in_a_key_set_is_refused() {
        let set = PublicKeySet::new([key(1)]);
        let mut json: serde_json::Value = serde_json::from_str(&set.to_json()).unwrap();
        json["keys"][0]["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A".into();
        assert_eq!(
            PublicKeySet::from_json(json.to_string().as_bytes()),
            Err(KeySetError::PrivateKey { index: 0 })
        );
    }

    #[test]
    fn bad_keys_are_refused_and_foreign_ones_skipped() {
        let good = serde_json::to_value(key(1).to_jwk()).unwrap();
        let with = |member: &str, value: serde_json::Value| {
            let mut jwk = good.clone();
            jwk[member] = value;
            serde_json::json!({ "keys": [jwk] }).to_string()
        };
        let bad = |json: String| match PublicKeySet::from_json(json.as_bytes()) {
            Err(KeySetError::BadKey { index: 0, problem }) => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(with("x", "AAAA".into())), "`x` is not 32 bytes");
        assert_eq!(bad(with("x", "!!".into())), "`x` is not base64url");
        assert_eq!(
            bad(with("kid", "chosen-by-me".into())),
            "`kid` is not the key's RFC 7638 thumbprint"
        );
        assert_eq!(bad(with("alg", "HS256".into())), "`alg` is not EdDSA");
        assert_eq!(bad(with("use", "enc".into())), "`use` is not sig");
        // The identity point: of small order, it would verify forgeries.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            bad(with("x", b64(&identity).into())),
            "`x` is a weak (small-order) key"
        );
        let rsa_only = r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}]}"#;
        assert_eq!(
            PublicKeySet::from_json(rsa_only.as_bytes()),
            Err(KeySetError::Empty)
        );
        assert!(matches!(
            PublicKeySet::from_json(b"[1,2]"),
            Err(KeySetError::NotAKeySet(_))
        ));
    }
}
