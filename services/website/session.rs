//! The patient's session and the forms' CSRF tokens.
//!
//! - The session is the JWT that LoginPatient returned, kept in one cookie
//!   (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` over HTTPS,
//!   expiring with the token). It is never put in a page or a URL. Each
//!   request verifies it locally with the same verifier every service uses,
//!   so an expired or tampered cookie is caught here, before any call.
//! - Every form carries a CSRF token: an HMAC, under a key derived from
//!   `WEBSITE_CSRF_KEY` (or the shared HS256 key, or under EdDSA a key made
//!   for this process), of a random nonce kept in its own `HttpOnly` cookie and of
//!   the session cookie. A POST whose token does not match is refused with
//!   403 before anything is done. Binding the token to the session means a
//!   token from before sign-in or from another session is worthless; the
//!   nonce is renewed at sign-in and sign-out.

use std::sync::Arc;
use std::time::Duration;

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::auth::{AuthError, Principal, Role, TokenVerifier};
use crate::settings::SigningSecret;

pub const SESSION_COOKIE: &str = "toestemming_session";
pub const CSRF_COOKIE: &str = "toestemming_csrf";

/// What the session cookie says about the visitor.
pub enum Session {
    /// A valid patient token.
    SignedIn(Principal),
    /// No session cookie.
    None,
    /// A genuine token past its expiry.
    Expired,
    /// A genuine token that was revoked: its holder signed out.
    SignedOut,
    /// A cookie that is not a valid patient token.
    Invalid,
    /// The keys to judge it are not loaded yet (EdDSA, just started): the
    /// cookie is kept, nothing is said about it.
    Unavailable,
}

/// Reads and writes sessions and CSRF tokens. Cheap to share.
pub struct Sessions {
    verifier: Arc<TokenVerifier>,
    csrf_key: Hmac<Sha256>,
}

impl Sessions {
    pub fn new(csrf_root: &SigningSecret, verifier: Arc<TokenVerifier>) -> Self {
        // A key of its own, derived for this purpose, so a CSRF token can
        // never be mistaken for anything signed with the root key itself
        // (under HS256, the mesh key).
        let mut derive =
            Hmac::<Sha256>::new_from_slice(csrf_root.expose()).expect("HMAC takes any key");
        derive.update(b"toestemming website csrf v1");
        let key = derive.finalize().into_bytes();
        Self {
            verifier,
            csrf_key: Hmac::new_from_slice(&key).expect("HMAC takes any key"),
        }
    }

    /// Whether sessions can be judged: under EdDSA, once the key set is
    /// loaded. The website's health says so.
    pub fn is_ready(&self) -> bool {
        self.verifier.is_ready()
    }

    /// The public keys the website verifies with (EdDSA), for
    /// `/.well-known/jwks.json`.
    pub fn key_set(&self) -> Option<Option<Arc<crate::auth::keys::PublicKeySet>>> {
        self.verifier.key_store().map(|store| store.current())
    }

    /// The session in `jar`.
    pub fn read(&self, jar: &CookieJar) -> Session {
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Session::None;
        };
        let token = cookie.value();
        // The same length and shape rules as a bearer header.
        if crate::auth::bearer::parse_bearer(&format!("Bearer {token}")).is_err() {
            return Session::Invalid;
        }
        match self.verifier.verify(token) {
            Ok(claims) if claims.role == Role::Patient => {
                Session::SignedIn(Principal::new(claims, token))
            }
            Ok(_) => Session::Invalid,
            Err(AuthError::Expired { .. }) => Session::Expired,
            Err(AuthError::Revoked { .. }) => Session::SignedOut,
            Err(AuthError::KeysUnavailable) => Session::Unavailable,
            Err(_) => Session::Invalid,
        }
    }

    /// Refuses `principal`'s token from now on in this website (sign-out).
    /// Identity's RevokeToken tells the other services; this website would
    /// also learn it from Identity within seconds, but need not wait.
    pub fn revoke(&self, principal: &Principal) {
        if let Some(jti) = &principal.token_id {
            self.verifier.revocations().insert(
                jti,
                principal.expires_at,
                jsonwebtoken::get_current_timestamp(),
            );
        }
    }

    /// The session cookie for a token that lives `lifetime`.
    pub fn start(&self, token: String, lifetime: Duration, secure: bool) -> Cookie<'static> {
        let mut cookie = protected(SESSION_COOKIE, token, secure);
        cookie.set_max_age(time::Duration::try_from(lifetime).ok());
        cookie
    }

    /// A cookie that removes the session.
    pub fn end(&self, secure: bool) -> Cookie<'static> {
        let mut cookie = protected(SESSION_COOKIE, String::new(), secure);
        cookie.make_removal();
        cookie
    }

    /// The jar with a CSRF nonce: the existing one, or a fresh one when
    /// absent or `renew` is set.
    pub fn with_nonce(&self, jar: CookieJar, renew: bool, secure: bool) -> CookieJar {
        if !renew && jar.get(CSRF_COOKIE).is_some_and(|c| is_nonce(c.value())) {
            return jar;
        }
        jar.add(protected(CSRF_COOKIE, new_nonce(), secure))
    }

    /// The CSRF token for the forms of a page sent with `jar`.
    pub fn csrf_token(&self, jar: &CookieJar) -> String {
        let nonce = jar.get(CSRF_COOKIE).map(|c| c.value()).unwrap_or_default();
        let session = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value())
            .unwrap_or_default();
        self.mac(nonce, session)
    }

    /// Whether `presented` is the CSRF token for `jar`.
    pub fn csrf_ok(&self, jar: &CookieJar, presented: &str) -> bool {
        let Some(nonce) = jar
            .get(CSRF_COOKIE)
            .map(|c| c.value())
            .filter(|n| is_nonce(n))
        else {
            return false;
        };
        let session = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value())
            .unwrap_or_default();
        let expected = self.mac(nonce, session);
        expected.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    fn mac(&self, nonce: &str, session: &str) -> String {
        let mut mac = self.csrf_key.clone();
        mac.update(nonce.as_bytes());
        mac.update(b"\0");
        mac.update(&Sha256::digest(session.as_bytes()));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// A cookie no script can read and no other site can send.
fn protected(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure)
        .build()
}

fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn is_nonce(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenIssuer;
    use crate::settings::JwtSettings;

    fn settings() -> JwtSettings {
        JwtSettings::with_secret(SigningSecret::new(vec![4u8; 32]).unwrap())
    }

    fn sessions() -> Sessions {
        let settings = settings();
        Sessions::new(
            settings.shared_secret().unwrap(),
            Arc::new(TokenVerifier::new(&settings)),
        )
    }

    fn with_session(jar: CookieJar, token: &str) -> CookieJar {
        jar.add(Cookie::new(SESSION_COOKIE, token.to_owned()))
    }

    #[test]
    fn a_csrf_token_fits_only_its_nonce_and_session() {
        let s = sessions();
        let jar = s.with_nonce(CookieJar::new(), false, false);
        let token = s.csrf_token(&jar);
        assert!(s.csrf_ok(&jar, &token));
        assert!(!s.csrf_ok(&jar, ""));
        assert!(!s.csrf_ok(&jar, &format!("{token}x")));
        let other_nonce = s.with_nonce(jar.clone(), true, false);
        assert!(!s.csrf_ok(&other_nonce, &token), "a renewed nonce");
        let signed_in = with_session(jar.clone(), "a.b.c");
        assert!(
            !s.csrf_ok(&signed_in, &token),
            "a token from before sign-in"
        );
        assert!(!s.csrf_ok(&CookieJar::new(), &token), "no nonce cookie");
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_expires_with_the_token() {
        let cookie = sessions().start("a.b.c".into(), Duration::from_secs(900), true);
        let text = cookie.to_string();
        for attribute in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Secure",
            "Max-Age=900",
        ] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
        let plain = sessions().start("a.b.c".into(), Duration::from_secs(900), false);
        assert!(!plain.to_string().contains("Secure"));
    }

    #[test]
    fn only_a_valid_patient_token_is_a_session() {
        let s = sessions();
        let issuer = TokenIssuer::new(&settings());
        let patient = issuer
            .issue(&uuid::Uuid::new_v4().to_string(), Role::Patient)
            .unwrap()
            .access_token;
        let company = issuer
            .issue("Zorg BV", Role::HealthcareCompany)
            .unwrap()
            .access_token;
        let read = |token: &str| s.read(&with_session(CookieJar::new(), token));
        assert!(matches!(read(&patient), Session::SignedIn(_)));
        assert!(matches!(read(&company), Session::Invalid));
        assert!(matches!(read("not a token"), Session::Invalid));
        let tampered = format!("{}x", &patient[..patient.len() - 1]);
        assert!(matches!(read(&tampered), Session::Invalid));
        assert!(matches!(s.read(&CookieJar::new()), Session::None));
    }
}
