//! Security headers on every response of the website, set by the server
//! outermost (`src/mesh/http.rs`), so its own refusals carry them too (a
//! 413 for a body past the limit, a 503 when shedding load).
//!
//! - `Content-Security-Policy`: nothing but this site's own stylesheet and
//!   forms; no script at all, no inline style, no frames around it
//!   (`frame-ancestors 'none'`), no `<base>` games. The pages need nothing
//!   else: they work without JavaScript.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (a
//!   URL never leaves the site in a `Referer`), `X-Frame-Options: DENY` for
//!   browsers that predate `frame-ancestors`.
//! - `Cache-Control: no-store` unless a route says otherwise (only the
//!   stylesheet does): pages show patient data and must not linger in a
//!   shared or back-button cache.
//! - `Vary`: pages differ by language and by session.

use axum::http::{HeaderMap, HeaderValue, header};

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers, each set on a response that does not set it itself.
pub fn security_headers() -> HeaderMap {
    [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::VARY, "Accept-Language, Cookie"),
        (header::CACHE_CONTROL, "no-store"),
    ]
    .into_iter()
    .map(|(name, value)| (name, HeaderValue::from_static(value)))
    .collect()
}
