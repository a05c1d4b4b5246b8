//! Local verification of a mesh token. No network, no Identity call.
//!
//! The deployment picks one algorithm (`JWT_ALGORITHM`), and the verifier
//! checks only that one, whatever a token's header says:
//! - **HS256**: jsonwebtoken checks the HMAC-SHA256 (compared in constant
//!   time) with the shared key, and during a rotation the previous one;
//! - **EdDSA**: the token's `kid` picks one of the public keys already
//!   loaded ([`KeyStore`]), and ed25519-dalek (the crate jsonwebtoken
//!   signs with) checks the signature with `verify_strict`, with each key
//!   parsed once when the key set loaded. (jsonwebtoken's own check parses
//!   the key per token and accepts malleable signatures.) Until a key set
//!   is loaded the answer is UNAVAILABLE, not UNAUTHENTICATED.
//!
//! The rules around the signature are all here, in one function each
//! (RFC 8725, `docs/security.md`):
//! - the header is checked against an allow-list before anything else
//!   (`alg` must be the deployment's, `kid` present exactly under EdDSA),
//!   so `none`, other algorithms (an HS256 token signed with the public key
//!   as its secret, the classic confusion) and key-fetching parameters
//!   (`jku`, `jwk`, `x5u`, `x5c`, `crit`, …) never get a say;
//! - the payload is parsed only once the signature verifies, and only once:
//!   UTF-8 JSON as a whole, into the typed [`Claims`], which requires `sub`,
//!   `role`, `iss`, `aud`, `exp`, `iat` and `nbf`;
//! - `iss` and `aud` must be the mesh's; a token at or after `exp` is expired
//!   (no leeway there); `nbf` and `iat` may not be in the future beyond a
//!   small leeway; the lifetime is at most the configured 15 minutes; and
//!   `sub` has the shape its role implies.
//!
//! jsonwebtoken's own `decode` parsed the header twice and the claims three
//! times per token (ours, its typed decode, its validation); doing the
//! checks here costs half as much for a token not seen before
//! (`benches/verify.rs`).
//!
//! The keys and the expected issuer and audience are read once, in
//! [`TokenVerifier::new`]; under EdDSA the key set can be replaced while the
//! verifier serves.
//!
//! A token that passes every check is still refused, UNAUTHENTICATED
//! `TOKEN_REVOKED`, while its `jti` is on the verifier's revocation list
//! (`auth::revocation`): its holder signed out. That is checked on every
//! use, cache hit or not.
//!
//! Tokens that passed are remembered in a bounded cache keyed on the whole
//! token, as Envoy's jwt_authn does: a caller sends the same token for up to
//! 15 minutes, and a hit costs a hash and a lookup instead of an HMAC and two
//! JSON parses. Nothing about a token changes while it is cached except the
//! clock, so a hit checks `exp` again (strictly), and for a token signed with
//! the previous key also that key's window, and under EdDSA that no key
//! was withdrawn from the set since; `nbf` and `iat` only grow more valid
//! with time. The cache belongs to one verifier: a new HS256 key is a new
//! verifier with an empty cache. Refusals are never cached, so a forged
//! token always pays the full check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::AUTHORIZATION;
use super::caller::Principal;
use super::claims::{Claims, INTERNAL_SUBJECT, Role};
use super::error::AuthError;
use super::keys::public::MAX_KID_BYTES;
use super::keys::{KeyLookup, KeyStore};
use super::revocation::{RevocationKey, RevocationList, revocation_key};
use crate::settings::{JwtSettings, TokenKeys};

/// The longest `sub` accepted; company names are at most 100 characters.
const MAX_SUBJECT_BYTES: usize = 256;

/// How many verified tokens one verifier remembers.
pub const CACHED_TOKENS: usize = 4096;

/// Verifies tokens with the deployment's keys. Cheap to share behind an
/// `Arc`.
pub struct TokenVerifier {
    keys: VerificationKeys,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    max_lifetime_secs: u64,
    /// Tokens that passed, with their claims (see the module docs).
    verified: quick_cache::sync::Cache<String, Arc<Verified>>,
    hits: AtomicU64,
    /// Signed-out tokens, refused whether cached or not.
    revocations: Arc<RevocationList>,
}

/// The keys of the deployment's one algorithm.
enum VerificationKeys {
    /// HS256.
    Shared {
        current: DecodingKey,
        /// The key before the last rotation, while its tokens may still live.
        previous: Option<PreviousKey>,
    },
    /// EdDSA: the public keys, replaced as a whole by the refresher.
    Public(Arc<KeyStore>),
}

/// `JWT_PREVIOUS_SECRET_KEY`, as the verifier holds it: the key, and until
/// when tokens signed with it are accepted.
///
/// Two token lifetimes from this process's start: one for the rolling
/// restart to reach Identity (restarted last, it signs with the old key
/// until then), one for the last token it signed so to expire. Past that,
/// nothing signed with the old key can be unexpired. (Asking that such a
/// token be issued before this start would add nothing: whoever holds the
/// old key can backdate `iat`; and it would refuse what the not yet
/// restarted Identity rightly issues during the roll.)
struct PreviousKey {
    key: DecodingKey,
    /// Epoch seconds.
    accepted_until: u64,
}

/// A token that passed every check, as the cache keeps it: its claims, and
/// the principal the verify layer hands to handlers, built once per token
/// so a cache hit allocates nothing.
struct Verified {
    claims: Claims,
    principal: Arc<Principal>,
    /// Until when a cache hit may answer for it (epoch seconds): its `exp`,
    /// or the end of the previous key's window if that came first.
    usable_until: u64,
    /// The key store's removal epoch when it was verified: a hit from an
    /// older one is checked again, its key may be gone.
    key_epoch: u64,
    /// Its `jti` as the revocation list names it, made once.
    revocation_key: Option<RevocationKey>,
}

/// The only header parameters a mesh token may carry. Anything else
/// (`crit`, `jku`, `jwk`, `x5u`, `x5c`, …) is refused; `kid` only names
/// a key already loaded, and only under EdDSA.
/// A parameter that is absent, or present as a string: `"kid": null` is
/// not "no kid" but a malformed header (serde's `Option` would read it as
/// absent, and an HS256 deployment would take a `kid` it refuses).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedHeader {
    alg: String,
    #[serde(default, deserialize_with = "present_string")]
    typ: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    kid: Option<String>,
}

/// A header parameter that is there: a string, never `null`.
fn present_string<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<String>, D::Error> {
    String::deserialize(value).map(Some)
}

impl TokenVerifier {
    /// A verifier for `settings`' algorithm. Under EdDSA its key store
    /// starts with the signing keys' public halves when the settings hold
    /// them (Identity), and empty otherwise, to be filled through
    /// [`Self::key_store`] (`auth::keys::refresh`).
    pub fn new(settings: &JwtSettings) -> Self {
        let now = jsonwebtoken::get_current_timestamp();
        let hmac = |secret: &crate::settings::SigningSecret| {
            DecodingKey::from_secret(secret.expose()).expect("an HMAC key from bytes cannot fail")
        };
        let keys = match &settings.keys {
            TokenKeys::Shared { secret, previous } => VerificationKeys::Shared {
                current: hmac(secret),
                previous: previous.as_ref().map(|secret| PreviousKey {
                    key: hmac(secret),
                    accepted_until: now + 2 * settings.lifetime.as_secs(),
                }),
            },
            TokenKeys::Public(public) => {
                VerificationKeys::Public(Arc::new(match &public.signing {
                    Some(crate::settings::SigningKeySource::Loaded(ring)) => {
                        KeyStore::with(ring.current().published.clone())
                    }
                    _ => KeyStore::new(),
                }))
            }
        };
        Self {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway_secs: settings.leeway.as_secs(),
            max_lifetime_secs: settings.lifetime.as_secs(),
            verified: quick_cache::sync::Cache::new(CACHED_TOKENS),
            hits: AtomicU64::new(0),
            revocations: Arc::new(RevocationList::new()),
        }
    }

    /// The signed-out tokens this verifier refuses: filled by a refresher
    /// (`auth::revocation`), and in Identity at once by RevokeToken.
    pub fn revocations(&self) -> &Arc<RevocationList> {
        &self.revocations
    }

    /// Refuses a token whose `jti` is on the revocation list.
    fn not_revoked(&self, verified: Arc<Verified>) -> Result<Arc<Verified>, AuthError> {
        match verified.revocation_key {
            Some(key) if self.revocations.contains(key) => Err(AuthError::Revoked {
                header: AUTHORIZATION,
            }),
            _ => Ok(verified),
        }
    }

    /// The public keys, under EdDSA.
    pub fn key_store(&self) -> Option<&Arc<KeyStore>> {
        match &self.keys {
            VerificationKeys::Public(store) => Some(store),
            VerificationKeys::Shared { .. } => None,
        }
    }

    /// Whether this verifier can judge tokens: always under HS256; under
    /// EdDSA once a key set is loaded.
    pub fn is_ready(&self) -> bool {
        self.key_store().is_none_or(|store| store.is_loaded())
    }

    /// Resolves once [`Self::is_ready`].
    pub async fn ready(&self) {
        if let Some(store) = self.key_store() {
            store.wait_loaded().await;
        }
    }

    fn key_epoch(&self) -> u64 {
        self.key_store().map_or(0, |store| store.removal_epoch())
    }

    /// How many verifications the cache answered.
    pub fn cache_hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Verifies `token` (the part after `Bearer `) and returns its claims.
    /// Errors name the `authorization` header; callers reading another header
    /// re-label them with [`AuthError::for_header`].
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        Ok(self.verified(token)?.claims.clone())
    }

    /// [`Self::verify`], answering with who the token speaks for: what the
    /// verify layer puts in a request's [`super::Caller`]. Shared, not
    /// copied, on every use of the same token.
    pub fn verify_principal(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        Ok(self.verified(token)?.principal.clone())
    }

    fn verified(&self, token: &str) -> Result<Arc<Verified>, AuthError> {
        let now = jsonwebtoken::get_current_timestamp();
        let key_epoch = self.key_epoch();
        if let Some(verified) = self.verified.get(token) {
            if now < verified.usable_until && verified.key_epoch == key_epoch {
                self.hits.fetch_add(1, Ordering::Relaxed);
                crate::telemetry::metrics::token_cache_hit();
                return self.not_revoked(verified);
            }
            self.verified.remove(token);
            if now >= verified.claims.exp {
                return Err(AuthError::Expired {
                    header: AUTHORIZATION,
                });
            }
            // The previous key's window closed under it, or its key may
            // have left the set: checked afresh, as any token.
        }
        let (claims, usable_until) = self.verify_uncached(token, now)?;
        let verified = Arc::new(Verified {
            principal: Arc::new(Principal::new(claims.clone(), token)),
            revocation_key: claims.jti.as_deref().map(revocation_key),
            claims,
            usable_until,
            key_epoch,
        });
        self.verified.insert(token.to_owned(), verified.clone());
        self.not_revoked(verified)
    }

    /// Every check, at time `now` (epoch seconds), each part of the token
    /// decoded once: the header against the allow-list, then the signature
    /// (jsonwebtoken's HMAC, constant-time), and only then the claims, so
    /// nothing in a payload is parsed unless its signature is right. Also
    /// answers until when the token may be answered from the cache.
    fn verify_uncached(&self, token: &str, now: u64) -> Result<(Claims, u64), AuthError> {
        let fail = |problem| AuthError::invalid(AUTHORIZATION, problem);
        if !super::bearer::is_compact_jws(token) {
            return Err(fail("the token is not a compact JWS"));
        }
        let (message, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| fail("the token is malformed"))?;
        let (header, payload) = message
            .split_once('.')
            .ok_or_else(|| fail("the token is malformed"))?;
        let header = check_header(header).map_err(fail)?;
        let key_valid_until = match &self.keys {
            VerificationKeys::Shared { current, previous } => {
                check_hmac(&header, message, signature, current, previous.as_ref(), now)?
            }
            VerificationKeys::Public(store) => {
                check_ed25519(&header, message, signature, store)?;
                u64::MAX
            }
        };
        let claims = decode_claims(payload).map_err(fail)?;
        self.check_claims(&claims, now)?;
        let usable_until = claims.exp.min(key_valid_until);
        Ok((claims, usable_until))
    }

    /// Every claim rule, at time `now` (epoch seconds). That each claim is
    /// present and of its type, [`Claims`] decoding already made sure.
    fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), AuthError> {
        let fail = |problem| AuthError::invalid(AUTHORIZATION, problem);
        if claims.iss != self.issuer {
            return Err(fail("the issuer is not accepted"));
        }
        if claims.aud != self.audience {
            return Err(fail("the audience is not accepted"));
        }
        // At `exp` a token is expired: no leeway there.
        if now >= claims.exp {
            return Err(AuthError::Expired {
                header: AUTHORIZATION,
            });
        }
        if claims.iat > now.saturating_add(self.leeway_secs) {
            return Err(fail("the token is issued in the future (iat)"));
        }
        if claims.nbf > now.saturating_add(self.leeway_secs) {
            return Err(fail("the token is not valid yet (nbf)"));
        }
        if claims.exp <= claims.iat || claims.exp - claims.iat > self.max_lifetime_secs {
            return Err(fail("the token's lifetime is longer than the mesh allows"));
        }
        if claims.sub.is_empty()
            || claims.sub.len() > MAX_SUBJECT_BYTES
            || claims.sub.chars().any(char::is_control)
        {
            return Err(fail("the subject is empty, too long or not printable"));
        }
        let subject_fits_role = match claims.role {
            Role::Patient => is_lowercase_uuid(&claims.sub),
            Role::Internal => claims.sub == INTERNAL_SUBJECT,
            Role::HealthcareCompany => claims.sub.trim() == claims.sub,
        };
        if !subject_fits_role {
            return Err(fail("the subject does not fit the role"));
        }
        Ok(())
    }
}

/// HS256: the signature over `message` by the current key, or while its
/// window is open the previous one. Answers until when the key that signed
/// is accepted.
fn check_hmac(
    header: &AllowedHeader,
    message: &str,
    signature: &str,
    current: &DecodingKey,
    previous: Option<&PreviousKey>,
    now: u64,
) -> Result<u64, AuthError> {
    let fail = |problem| AuthError::invalid(AUTHORIZATION, problem);
    if header.alg != "HS256" || header.kid.is_some() {
        return Err(fail("the algorithm is not allowed"));
    }
    let signed_with = |key| {
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::HS256)
            .unwrap_or(false)
    };
    // The previous key is tried only while its window is open, and only
    // after the current one failed: it costs a second HMAC for forgeries
    // during a rotation, nothing otherwise.
    if signed_with(current) {
        return Ok(u64::MAX);
    }
    match previous {
        Some(previous) if now < previous.accepted_until && signed_with(&previous.key) => {
            Ok(previous.accepted_until)
        }
        _ => Err(fail("the signature does not verify")),
    }
}

/// EdDSA: the signature over `message` by the loaded key the `kid` names.
fn check_ed25519(
    header: &AllowedHeader,
    message: &str,
    signature: &str,
    store: &KeyStore,
) -> Result<(), AuthError> {
    let fail = |problem| AuthError::invalid(AUTHORIZATION, problem);
    if header.alg != "EdDSA" {
        return Err(fail("the algorithm is not allowed"));
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or_else(|| fail("the token names no key (kid)"))?;
    if kid.len() > MAX_KID_BYTES {
        return Err(fail("the key id (kid) is too long"));
    }
    let key = match store.lookup(kid) {
        KeyLookup::Found(key) => key,
        KeyLookup::NotLoaded => return Err(AuthError::KeysUnavailable),
        KeyLookup::Unknown => {
            // Perhaps a key published since the last fetch: one
            // rate-limited refetch, never one per token.
            store.request_refetch();
            return Err(fail("the key id (kid) is not in the key set"));
        }
    };
    if !ed25519_signature_verifies(&key, message.as_bytes(), signature) {
        return Err(fail("the signature does not verify"));
    }
    Ok(())
}

/// An Ed25519 signature (its base64url segment) over `message`, checked
/// strictly: no malleable signatures, no small-order keys.
fn ed25519_signature_verifies(
    key: &ed25519_dalek::VerifyingKey,
    message: &[u8],
    encoded: &str,
) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes) else {
        return false;
    };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes))
        .is_ok()
}

/// The header (its base64url segment) against the allow-list. Which `alg`
/// (and whether a `kid`) the deployment takes is the caller's check.
fn check_header(encoded: &str) -> Result<AllowedHeader, &'static str> {
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "the header is not base64url")?;
    if !is_json_object(&json) {
        return Err("the header is not a JSON object");
    }
    let header: AllowedHeader = serde_json::from_slice(&json)
        .map_err(|_| "the header carries parameters the mesh does not accept")?;
    if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
        return Err("the token type is not JWT");
    }
    Ok(header)
}

/// The claims (the payload's base64url segment), decoded once.
///
/// The payload must be UTF-8 JSON as a whole (RFC 7519 §7.2, steps 7 and
/// 10), checked before parsing: serde_json checks the UTF-8 of the strings
/// it keeps but skips over the ones it ignores, so a claim the mesh does not
/// read could otherwise carry bytes that are not text.
fn decode_claims(encoded: &str) -> Result<Claims, &'static str> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "the payload is not base64url")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "the payload is not UTF-8")?;
    if !is_json_object(text.as_bytes()) {
        return Err("the claims are not a JSON object");
    }
    serde_json::from_str(text).map_err(|_| "the claims are missing, malformed or of the wrong type")
}

/// Whether `json` is an object rather than any other JSON value. serde's
/// derived structs also take an array of the fields in order (`["HS256"]`
/// as a header), which no JOSE header or claims set may be; an object is
/// the only JSON text that starts with `{`.
fn is_json_object(json: &[u8]) -> bool {
    json.trim_ascii_start().first() == Some(&b'{')
}

/// A pseudoniem: a lowercase, hyphenated UUID.
fn is_lowercase_uuid(value: &str) -> bool {
    uuid::Uuid::try_parse(value).is_ok_and(|uuid| uuid.hyphenated().to_string() == value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{JwtSettings, SigningSecret};

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&JwtSettings::with_secret(
            SigningSecret::new(vec![7u8; 32]).unwrap(),
        ))
    }

    fn claims(now: u64) -> Claims {
        let settings = JwtSettings::with_secret(SigningSecret::new(vec![7u8; 32]).unwrap());
        Claims {
            sub: INTERNAL_SUBJECT.into(),
            role: Role::Internal,
            iss: settings.issuer,
            aud: settings.audience,
            exp: now + 900,
            iat: now,
            nbf: now,
            jti: None,
        }
    }

    #[test]
    fn at_exp_a_token_is_expired() {
        let v = verifier();
        let mut c = claims(1_000);
        c.exp = 1_900;
        assert!(v.check_claims(&c, 1_899).is_ok());
        assert_eq!(
            v.check_claims(&c, 1_900),
            Err(AuthError::Expired {
                header: AUTHORIZATION
            })
        );
    }

    #[test]
    fn lifetime_is_capped() {
        let v = verifier();
        let mut c = claims(1_000);
        c.exp = 1_000 + 901;
        assert!(v.check_claims(&c, 1_000).is_err());
    }

    #[test]
    fn iat_beyond_leeway_is_refused() {
        let v = verifier();
        let c = claims(1_006);
        assert!(v.check_claims(&c, 1_000).is_err());
        assert!(v.check_claims(&claims(1_005), 1_000).is_ok());
    }

    #[test]
    fn subject_must_fit_role() {
        let v = verifier();
        let mut c = claims(1_000);
        c.sub = "someone".into();
        assert!(v.check_claims(&c, 1_000).is_err());
        c.role = Role::Patient;
        c.sub = "3F2504E0-4F89-41D3-9A0C-0305E82C3301".into();
        assert!(v.check_claims(&c, 1_000).is_err());
        c.sub = "3f2504e0-4f89-41d3-9a0c-0305e82c3301".into();
        assert!(v.check_claims(&c, 1_000).is_ok());
    }

    /// A token over raw payload bytes, signed with the test key.
    fn signed(payload: &[u8]) -> String {
        use base64::Engine as _;
        use hmac::Mac as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let message = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64(payload)
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[7u8; 32]).unwrap();
        mac.update(message.as_bytes());
        format!("{message}.{}", b64(&mac.finalize().into_bytes()))
    }

    fn payload(extra: &[u8]) -> Vec<u8> {
        let now = jsonwebtoken::get_current_timestamp();
        let mut json = format!(
            r#"{{"sub":"internal","role":"Internal","iss":"{}","aud":"{}","exp":{},"iat":{now},"nbf":{now},"x":""#,
            crate::settings::DEFAULT_ISSUER,
            crate::settings::DEFAULT_AUDIENCE,
            now + 600,
        )
        .into_bytes();
        json.extend_from_slice(extra);
        json.extend_from_slice(br#""}"#);
        json
    }

    #[test]
    fn a_payload_that_is_not_utf8_is_refused_though_signed() {
        let v = verifier();
        assert!(
            v.verify(&signed(&payload(b"text"))).is_ok(),
            "the control passes"
        );
        for bytes in [&b"\xff"[..], b"\xc3\x28", b"\xed\xa0\x80"] {
            assert_eq!(
                v.verify(&signed(&payload(bytes))),
                Err(AuthError::invalid(
                    AUTHORIZATION,
                    "the payload is not UTF-8"
                )),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn a_null_header_parameter_is_refused_not_taken_for_absent() {
        use base64::Engine as _;
        use hmac::Mac as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let v = verifier();
        for header in [
            r#"{"alg":"HS256","kid":null}"#,
            r#"{"alg":"HS256","typ":null}"#,
        ] {
            let message = format!("{}.{}", b64(header.as_bytes()), b64(&payload(b"x")));
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[7u8; 32]).unwrap();
            mac.update(message.as_bytes());
            let token = format!("{message}.{}", b64(&mac.finalize().into_bytes()));
            assert_eq!(
                v.verify(&token),
                Err(AuthError::invalid(
                    AUTHORIZATION,
                    "the header carries parameters the mesh does not accept"
                )),
                "{header}"
            );
        }
    }

    #[test]
    fn a_payload_that_is_not_json_is_refused_though_signed() {
        let v = verifier();
        let mut trailing = payload(b"text");
        trailing.extend_from_slice(b" garbage");
        assert!(v.verify(&signed(&trailing)).is_err());
        assert!(v.verify(&signed(b"not json")).is_err());
    }

    /// A verifier on a new key whose previous key is the test key `signed`
    /// uses: the state just after a rotation.
    fn rotated() -> TokenVerifier {
        TokenVerifier::new(&JwtSettings::new(TokenKeys::Shared {
            secret: SigningSecret::new(vec![8u8; 32]).unwrap(),
            previous: Some(SigningSecret::new(vec![7u8; 32]).unwrap()),
        }))
    }

    fn close_previous_window(verifier: &mut TokenVerifier) {
        let VerificationKeys::Shared {
            previous: Some(previous),
            ..
        } = &mut verifier.keys
        else {
            panic!("a rotated HS256 verifier")
        };
        previous.accepted_until = jsonwebtoken::get_current_timestamp();
    }

    #[test]
    fn after_a_rotation_tokens_of_the_previous_key_live_out_their_lifetime() {
        let token = signed(&payload(b"x"));
        assert!(
            rotated().verify(&token).is_ok(),
            "issued before the rotation"
        );

        let without = TokenVerifier::new(&JwtSettings::with_secret(
            SigningSecret::new(vec![8u8; 32]).unwrap(),
        ));
        assert_eq!(
            without.verify(&token),
            Err(AuthError::invalid(
                AUTHORIZATION,
                "the signature does not verify"
            )),
            "no previous key configured"
        );

        let mut closed = rotated();
        close_previous_window(&mut closed);
        assert_eq!(
            closed.verify(&token),
            Err(AuthError::invalid(
                AUTHORIZATION,
                "the signature does not verify"
            )),
            "two lifetimes after the rotation the old key is gone"
        );

        // Verified while the window was open, cached, asked again after it
        // closed: the cache does not stretch the window.
        let mut cached = rotated();
        assert!(cached.verify(&token).is_ok());
        close_previous_window(&mut cached);
        let entry = cached.verified.get(token.as_str()).unwrap();
        cached.verified.insert(
            token.clone(),
            Arc::new(Verified {
                claims: entry.claims.clone(),
                principal: entry.principal.clone(),
                usable_until: jsonwebtoken::get_current_timestamp(),
                key_epoch: 0,
                revocation_key: entry.revocation_key,
            }),
        );
        assert_eq!(
            cached.verify(&token),
            Err(AuthError::invalid(
                AUTHORIZATION,
                "the signature does not verify"
            ))
        );
    }

    #[test]
    fn claims_as_an_array_of_their_values_are_refused_though_signed() {
        // serde's derived structs would take the fields in order from an
        // array; a JWT claims set is an object or nothing.
        let v = verifier();
        let now = jsonwebtoken::get_current_timestamp();
        let array = format!(
            r#"["internal","Internal","{}","{}",{},{now},{now}]"#,
            crate::settings::DEFAULT_ISSUER,
            crate::settings::DEFAULT_AUDIENCE,
            now + 600,
        );
        assert_eq!(
            v.verify(&signed(array.as_bytes())),
            Err(AuthError::invalid(
                AUTHORIZATION,
                "the claims are not a JSON object"
            ))
        );
    }

    #[test]
    fn a_token_seen_before_is_answered_from_the_cache_and_a_forgery_never() {
        let v = verifier();
        let token = signed(&payload(b"text"));
        let first = v.verify(&token).unwrap();
        assert_eq!(v.cache_hits(), 0);
        assert_eq!(v.verify(&token).unwrap(), first);
        assert_eq!(v.cache_hits(), 1);
        let forged = format!("{}AAAA", &token[..token.len() - 4]);
        for _ in 0..3 {
            assert!(v.verify(&forged).is_err());
        }
        assert_eq!(v.cache_hits(), 1, "refusals are not cached");
    }

    #[test]
    fn a_revoked_token_is_refused_cached_or_not_and_others_pass() {
        let settings = crate::settings::JwtSettings::with_secret(
            crate::settings::SigningSecret::new(vec![9u8; 32]).unwrap(),
        );
        let issuer = crate::auth::TokenIssuer::new(&settings);
        let patient = uuid::Uuid::new_v4().to_string();
        let token = |issuer: &crate::auth::TokenIssuer| {
            issuer.issue(&patient, Role::Patient).unwrap().access_token
        };
        let (signed_out, other) = (token(&issuer), token(&issuer));
        let cached = TokenVerifier::new(&settings);
        let fresh = TokenVerifier::new(&settings);
        let claims = cached.verify(&signed_out).unwrap();
        cached.verify(&other).unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        for v in [&cached, &fresh] {
            v.revocations()
                .insert(claims.jti.as_deref().unwrap(), claims.exp, now);
            assert_eq!(
                v.verify(&signed_out),
                Err(AuthError::Revoked {
                    header: AUTHORIZATION
                })
            );
            assert_eq!(
                v.verify(&other).unwrap().sub,
                patient,
                "another token of the same subject"
            );
        }
        let status = tonic::Status::from(
            AuthError::Revoked {
                header: AUTHORIZATION,
            }
            .for_header(crate::auth::FORWARDED_AUTHORIZATION),
        );
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("x-forwarded-authorization"));
    }

    #[test]
    fn a_cached_token_still_expires() {
        let v = verifier();
        let now = jsonwebtoken::get_current_timestamp();
        // Cached when it was still valid; its exp has come since.
        let mut expired = claims(now - 900);
        expired.exp = now;
        let token = "a.b.c";
        let verified = Verified {
            principal: Arc::new(Principal::new(expired.clone(), token)),
            usable_until: expired.exp,
            claims: expired,
            key_epoch: 0,
            revocation_key: None,
        };
        v.verified.insert(token.to_owned(), Arc::new(verified));
        assert_eq!(
            v.verify(token),
            Err(AuthError::Expired {
                header: AUTHORIZATION
            })
        );
        assert!(v.verified.get(token).is_none(), "dropped from the cache");
    }

    #[test]
    fn a_new_key_means_a_new_cache() {
        let token = signed(&payload(b"text"));
        let v = verifier();
        v.verify(&token).unwrap();
        let other = TokenVerifier::new(&JwtSettings::with_secret(
            SigningSecret::new(vec![8u8; 32]).unwrap(),
        ));
        assert!(other.verify(&token).is_err(), "signed with the old key");
    }

    mod eddsa {
        use super::*;
        use crate::auth::TokenIssuer;
        use crate::auth::keys::{PublicKeySet, SigningKeyRing};

        fn ring() -> Arc<SigningKeyRing> {
            Arc::new(SigningKeyRing::generate())
        }

        /// A verifier that only verifies, with `set` loaded: a service
        /// other than Identity.
        fn verifier_with(set: Option<PublicKeySet>) -> TokenVerifier {
            let verifier =
                TokenVerifier::new(&JwtSettings::with_signing_keys(ring()).verify_only());
            if let Some(set) = set {
                verifier.key_store().unwrap().replace(set);
            }
            verifier
        }

        fn token(ring: &Arc<SigningKeyRing>) -> String {
            TokenIssuer::new(&JwtSettings::with_signing_keys(ring.clone()))
                .issue(INTERNAL_SUBJECT, Role::Internal)
                .unwrap()
                .access_token
        }

        /// A token over `header` and a valid payload, signed by `sign`.
        fn forged(header: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
            let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            let message = format!("{}.{}", b64(header.as_bytes()), b64(&payload(b"x")));
            format!("{message}.{}", b64(&sign(message.as_bytes())))
        }

        fn invalid(problem: &'static str) -> Result<Claims, AuthError> {
            Err(AuthError::invalid(AUTHORIZATION, problem))
        }

        #[test]
        fn a_token_signed_by_a_published_key_is_accepted_and_names_it() {
            let ring = ring();
            let verifier = verifier_with(Some(ring.current().published.clone()));
            let token = token(&ring);
            assert!(verifier.verify(&token).is_ok());
            assert!(verifier.verify(&token).is_ok(), "and from the cache");
            assert_eq!(verifier.cache_hits(), 1);
        }

        #[test]
        fn before_a_key_set_is_loaded_tokens_are_not_judged() {
            let verifier = verifier_with(None);
            assert!(!verifier.is_ready());
            assert_eq!(
                verifier.verify(&token(&ring())),
                Err(AuthError::KeysUnavailable)
            );
        }

        #[test]
        fn an_hs256_token_is_refused_even_signed_with_the_public_key() {
            // The classic confusion: the public key, which anyone can
            // fetch, used as an HMAC secret.
            let ring = ring();
            let verifier = verifier_with(Some(ring.current().published.clone()));
            let public = ring.current().current.key.to_bytes();
            let confused = forged(r#"{"alg":"HS256","typ":"JWT"}"#, |message| {
                use hmac::Mac as _;
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&public).unwrap();
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            });
            assert_eq!(
                verifier.verify(&confused),
                invalid("the algorithm is not allowed")
            );
            let kid = &ring.current().current.kid;
            let confused_with_kid = forged(
                &format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#),
                |_| vec![0; 32],
            );
            assert_eq!(
                verifier.verify(&confused_with_kid),
                invalid("the algorithm is not allowed")
            );
            // And an HS256 deployment refuses an EdDSA token.
            assert_eq!(
                super::verifier().verify(&token(&ring)),
                invalid("the algorithm is not allowed")
            );
        }

        #[test]
        fn the_kid_must_name_a_loaded_key_and_an_unknown_one_asks_for_a_refetch() {
            let ring = ring();
            let verifier = verifier_with(Some(ring.current().published.clone()));
            let no_kid = forged(r#"{"alg":"EdDSA","typ":"JWT"}"#, |_| vec![0; 64]);
            assert_eq!(
                verifier.verify(&no_kid),
                invalid("the token names no key (kid)")
            );
            let long = "k".repeat(MAX_KID_BYTES + 1);
            let long_kid = forged(&format!(r#"{{"alg":"EdDSA","kid":"{long}"}}"#), |_| {
                vec![0; 64]
            });
            assert_eq!(
                verifier.verify(&long_kid),
                invalid("the key id (kid) is too long")
            );
            for header in [
                r#"{"alg":"EdDSA","kid":"k","jwk":{"kty":"OKP"}}"#,
                r#"{"alg":"EdDSA","kid":"k","jku":"http://evil/keys"}"#,
            ] {
                assert_eq!(
                    verifier.verify(&forged(header, |_| vec![0; 64])),
                    invalid("the header carries parameters the mesh does not accept"),
                    "{header}"
                );
            }

            // Signed by a key the set lacks: refused, and a fetch is asked
            // for (the refresher's notify holds one permit).
            let stranger = SigningKeyRing::generate();
            let unknown = token(&Arc::new(stranger));
            assert_eq!(
                verifier.verify(&unknown),
                invalid("the key id (kid) is not in the key set")
            );
            let signal = verifier.key_store().unwrap().refetch_signal();
            assert!(
                futures_util::FutureExt::now_or_never(signal.notified()).is_some(),
                "a refetch was requested"
            );
        }

        #[test]
        fn a_signature_by_another_key_under_a_known_kid_is_refused() {
            let ring = ring();
            let verifier = verifier_with(Some(ring.current().published.clone()));
            let kid = &ring.current().current.kid;
            let other = crate::auth::keys::signing::generate_key();
            let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
            let forged_token = forged(&header, |message| {
                use ed25519_dalek::Signer as _;
                other.sign(message).to_bytes().to_vec()
            });
            assert_eq!(
                verifier.verify(&forged_token),
                invalid("the signature does not verify")
            );
            let short = forged(&header, |_| vec![1; 63]);
            assert_eq!(
                verifier.verify(&short),
                invalid("the signature does not verify")
            );
        }

        #[test]
        fn a_withdrawn_key_is_not_answered_from_the_cache() {
            let ring = ring();
            let verifier = verifier_with(Some(ring.current().published.clone()));
            let token = token(&ring);
            assert!(verifier.verify(&token).is_ok());
            let without = PublicKeySet::new([crate::auth::keys::PublicKey::new(
                crate::auth::keys::signing::generate_key().verifying_key(),
            )]);
            verifier.key_store().unwrap().replace(without);
            assert_eq!(
                verifier.verify(&token),
                invalid("the key id (kid) is not in the key set")
            );
        }
    }
}
