//! Security headers on every response of the website.
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
use axum::response::Response;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Sets the headers on `response`; used as `map_response(secure)`.
pub async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::VARY, "Accept-Language, Cookie");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}
