//! Local verification of a mesh token. No network, no Identity call.
//!
//! jsonwebtoken checks the signature (HMAC-SHA256, compared in constant
//! time); the rules around it are all here, in one function each (RFC 8725,
//! `docs/security.md`):
//! - the algorithm is pinned to HS256 and the header is checked against an
//!   allow-list before anything else, so `none`, other HMAC sizes, asymmetric
//!   algorithms and key-fetching parameters (`jku`, `jwk`, `x5u`, `x5c`,
//!   `crit`, …) never get a say;
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
//! [`TokenVerifier::new`].
//!
//! Tokens that passed are remembered in a bounded cache keyed on the whole
//! token, as Envoy's jwt_authn does: a caller sends the same token for up to
//! 15 minutes, and a hit costs a hash and a lookup instead of an HMAC and two
//! JSON parses. Nothing about a token changes while it is cached except the
//! clock, so a hit checks `exp` again (strictly), and for a token signed with
//! the previous key also that key's window; `nbf` and `iat` only grow more
//! valid with time. The cache belongs to one verifier, and a verifier
//! to one key: a new key is a new verifier with an empty cache. Refusals are
//! never cached, so a forged token always pays the full check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::AUTHORIZATION;
use super::caller::Principal;
use super::claims::{Claims, INTERNAL_SUBJECT, Role};
use super::error::AuthError;
use crate::settings::JwtSettings;

/// The longest `sub` accepted; company names are at most 100 characters.
const MAX_SUBJECT_BYTES: usize = 256;

/// How many verified tokens one verifier remembers.
pub const CACHED_TOKENS: usize = 4096;

/// Verifies tokens with the shared key. Cheap to share behind an `Arc`.
pub struct TokenVerifier {
    key: DecodingKey,
    /// The key before the last rotation, while its tokens may still live.
    previous: Option<PreviousKey>,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    max_lifetime_secs: u64,
    /// Tokens that passed, with their claims (see the module docs).
    verified: quick_cache::sync::Cache<String, Arc<Verified>>,
    hits: AtomicU64,
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
}

/// The only header parameters a mesh token may carry. Anything else (`kid`
/// until keys rotate, `crit`, `jku`, `jwk`, `x5u`, `x5c`, …) is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

impl TokenVerifier {
    pub fn new(settings: &JwtSettings) -> Self {
        let now = jsonwebtoken::get_current_timestamp();
        Self {
            key: DecodingKey::from_secret(settings.secret.expose())
                .expect("an HMAC key from bytes cannot fail"),
            previous: settings.previous_secret.as_ref().map(|secret| PreviousKey {
                key: DecodingKey::from_secret(secret.expose())
                    .expect("an HMAC key from bytes cannot fail"),
                accepted_until: now + 2 * settings.lifetime.as_secs(),
            }),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway_secs: settings.leeway.as_secs(),
            max_lifetime_secs: settings.lifetime.as_secs(),
            verified: quick_cache::sync::Cache::new(CACHED_TOKENS),
            hits: AtomicU64::new(0),
        }
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
        if let Some(verified) = self.verified.get(token) {
            if now < verified.usable_until {
                self.hits.fetch_add(1, Ordering::Relaxed);
                crate::telemetry::metrics::token_cache_hit();
                return Ok(verified);
            }
            self.verified.remove(token);
            if now >= verified.claims.exp {
                return Err(AuthError::Expired {
                    header: AUTHORIZATION,
                });
            }
            // The previous key's window closed under it: checked afresh,
            // it is refused like any token that key signs now.
        }
        let (claims, usable_until) = self.verify_uncached(token, now)?;
        let verified = Arc::new(Verified {
            principal: Arc::new(Principal::new(claims.clone(), token)),
            claims,
            usable_until,
        });
        self.verified.insert(token.to_owned(), verified.clone());
        Ok(verified)
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
        check_header(header).map_err(fail)?;
        let signed_with = |key| {
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::HS256)
                .unwrap_or(false)
        };
        // The previous key is tried only while its window is open, and only
        // after the current one failed: it costs a second HMAC for forgeries
        // during a rotation, nothing otherwise.
        let key_valid_until = if signed_with(&self.key) {
            u64::MAX
        } else {
            match &self.previous {
                Some(previous) if now < previous.accepted_until && signed_with(&previous.key) => {
                    previous.accepted_until
                }
                _ => return Err(fail("the signature does not verify")),
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

/// The header (its base64url segment) against the allow-list.
fn check_header(encoded: &str) -> Result<(), &'static str> {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "the header is not base64url")?;
    if !is_json_object(&json) {
        return Err("the header is not a JSON object");
    }
    let header: AllowedHeader = serde_json::from_slice(&json)
        .map_err(|_| "the header carries parameters the mesh does not accept")?;
    if header.alg != "HS256" {
        return Err("the algorithm is not allowed");
    }
    if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
        return Err("the token type is not JWT");
    }
    Ok(())
}

/// The claims (the payload's base64url segment), decoded once.
///
/// The payload must be UTF-8 JSON as a whole (RFC 7519 §7.2, steps 7 and
/// 10), checked before parsing: serde_json checks the UTF-8 of the strings
/// it keeps but skips over the ones it ignores, so a claim the mesh does not
/// read could otherwise carry bytes that are not text.
fn decode_claims(encoded: &str) -> Result<Claims, &'static str> {
    use base64::Engine as _;
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
        let mut settings = JwtSettings::with_secret(SigningSecret::new(vec![8u8; 32]).unwrap());
        settings.previous_secret = Some(SigningSecret::new(vec![7u8; 32]).unwrap());
        TokenVerifier::new(&settings)
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
        closed.previous.as_mut().unwrap().accepted_until = jsonwebtoken::get_current_timestamp();
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
        cached.previous.as_mut().unwrap().accepted_until = jsonwebtoken::get_current_timestamp();
        let entry = cached.verified.get(token.as_str()).unwrap();
        cached.verified.insert(
            token.clone(),
            Arc::new(Verified {
                claims: entry.claims.clone(),
                principal: entry.principal.clone(),
                usable_until: jsonwebtoken::get_current_timestamp(),
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
}
