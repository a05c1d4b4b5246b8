//! Reading the credential out of the metadata (RFC 6750 §2.1, strictly).
//!
//! Exactly one entry; `Bearer` in any case, one or more spaces, then a
//! compact JWS: three non-empty base64url segments joined by two dots, and
//! nothing else. Length is capped before anything is decoded, and non-ASCII
//! or binary values are refused rather than guessed at. There is no fallback
//! to `authorization-bin`, a cookie or a query string. The token's shape is
//! checked by the verifier before it decodes anything, and skipped for a
//! token it has already verified (the same bytes passed it then).

use http::HeaderMap;

use super::error::AuthError;

/// The longest token accepted (`docs/security.md`: 8 KiB is plenty).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Returns the single bearer token under `key`, or `Ok(None)` when the key
/// is absent.
pub fn read_bearer<'a>(
    headers: &'a HeaderMap,
    key: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    let mut values = headers.get_all(key).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::invalid(key, "more than one credential was sent"));
    }
    // `to_str` fails on anything but visible ASCII and spaces.
    let value = value
        .to_str()
        .map_err(|_| AuthError::invalid(key, "the credential is not ASCII"))?;
    split_bearer(value)
        .map(Some)
        .map_err(|problem| AuthError::invalid(key, problem))
}

/// Splits `Bearer <token>` and checks the token's shape.
pub fn parse_bearer(value: &str) -> Result<&str, &'static str> {
    let token = split_bearer(value)?;
    if !is_compact_jws(token) {
        return Err("the token is not a compact JWS");
    }
    Ok(token)
}

/// Splits `Bearer <token>`, with the length capped, leaving the token's
/// shape to the verifier ([`is_compact_jws`]): it checks it only for a token
/// it has not verified before, since a cached token is byte for byte one
/// that passed.
fn split_bearer(value: &str) -> Result<&str, &'static str> {
    const SCHEME: &str = "bearer";
    if value.len() > SCHEME.len() + 1 + MAX_TOKEN_BYTES {
        return Err("the credential is too long");
    }
    let Some((scheme, rest)) = value.split_at_checked(SCHEME.len()) else {
        return Err("the credential is not a Bearer token");
    };
    if !scheme.eq_ignore_ascii_case(SCHEME) || !rest.starts_with(' ') {
        return Err("the credential is not a Bearer token");
    }
    let token = rest.trim_start_matches(' ');
    if token.len() > MAX_TOKEN_BYTES {
        return Err("the token is too long");
    }
    Ok(token)
}

/// Three non-empty base64url segments separated by exactly two dots.
///
/// One pass over the bytes with a lookup table: every request pays it, for
/// a token of some 400 bytes.
pub(crate) fn is_compact_jws(token: &str) -> bool {
    static BASE64URL: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            let b = byte as u8;
            table[byte] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            byte += 1;
        }
        table
    };
    let mut dots = 0;
    let mut segment_len = 0;
    for &byte in token.as_bytes() {
        if byte == b'.' {
            if segment_len == 0 || dots == 2 {
                return false;
            }
            dots += 1;
            segment_len = 0;
        } else if BASE64URL[usize::from(byte)] {
            segment_len += 1;
        } else {
            return false;
        }
    }
    dots == 2 && segment_len > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_case_and_several_spaces() {
        assert_eq!(parse_bearer("Bearer a.b.c"), Ok("a.b.c"));
        assert_eq!(parse_bearer("bEaReR   a.b.c"), Ok("a.b.c"));
    }

    #[test]
    fn refuses_everything_else() {
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer a.b",
            "Bearer a.b.c.d",
            "Bearer a..c",
            "Bearer .b.c",
            "Bearer a.b.",
            "Bearer ..",
            "Bearer a.b.c ",
            "Bearer\ta.b.c",
            "Bearer a.b.c, Bearer d.e.f",
            "Basic a.b.c",
            "Bearera.b.c",
            "Bearer a.b=.c",
            "Bearer a+b.c.d",
            "Token a.b.c",
        ] {
            assert!(parse_bearer(value).is_err(), "{value:?} was accepted");
        }
    }

    #[test]
    fn caps_the_length_before_decoding() {
        let long = format!("Bearer {}.b.c", "a".repeat(MAX_TOKEN_BYTES));
        assert!(parse_bearer(&long).is_err());
    }
}
