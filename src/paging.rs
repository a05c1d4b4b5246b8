//! Pages of a listing, the same way for every List RPC (Google's AIP-158):
//! a `page_size` with a default and a maximum, and an opaque
//! `page_token` that says where the next page starts.
//!
//! A token is the position after the last item of a page, as text fields,
//! base64url-encoded under a name of its listing and a version. It is not a
//! secret and not signed: every listing scopes its query by the caller
//! before it applies the position, so a forged token can only move within
//! the caller's own rows. The listing's name keeps a token of one listing
//! from being read as a position in another.

use base64::Engine as _;

/// The page size when a request asks for none.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// The largest page answered; a larger request is lowered to it.
pub const MAX_PAGE_SIZE: i64 = 100;

/// The page size a request asked for: 0 means the default, larger than the
/// maximum is lowered to it, negative is an error.
pub fn page_size(asked: i32) -> Result<i64, &'static str> {
    match asked {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err("must not be negative"),
        n => Ok(i64::from(n).min(MAX_PAGE_SIZE)),
    }
}

/// Tokens longer than this were not made here.
const MAX_TOKEN_LEN: usize = 512;
/// Between the fields of a token: a control character, which no field
/// (ids, times, company names) can contain.
const SEPARATOR: char = '\u{1f}';
const VERSION: &str = "v1";

/// The token of a position in the listing `listing`.
pub fn encode_token(listing: &str, fields: &[&str]) -> String {
    let mut raw = format!("{listing}{SEPARATOR}{VERSION}");
    for field in fields {
        raw.push(SEPARATOR);
        raw.push_str(field);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The `N` fields of a token that [`encode_token`] made for `listing`;
/// `None` for anything else.
pub fn decode_token<const N: usize>(listing: &str, token: &str) -> Option<[String; N]> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.split(SEPARATOR);
    if parts.next()? != listing || parts.next()? != VERSION {
        return None;
    }
    let fields: Vec<String> = parts.map(str::to_owned).collect();
    fields.try_into().ok()
}

/// A page from `rows`, fetched with one row more than `limit` to learn
/// whether another page follows: the first `limit` rows, and the token
/// after the last of them when more follow (else empty).
pub fn page<T>(
    mut rows: Vec<T>,
    limit: i64,
    token_after: impl Fn(&T) -> String,
) -> (Vec<T>, String) {
    let limit = usize::try_from(limit).unwrap_or_default();
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(last) if more => token_after(last),
        _ => String::new(),
    };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_aip_158() {
        assert_eq!(page_size(0), Ok(50));
        assert_eq!(page_size(7), Ok(7));
        assert_eq!(page_size(1000), Ok(100));
        assert!(page_size(-1).is_err());
    }

    #[test]
    fn tokens_round_trip_and_belong_to_their_listing() {
        let token = encode_token("choices", &["17", "Zorg: BV", "3"]);
        assert_eq!(
            decode_token::<3>("choices", &token),
            Some(["17".to_owned(), "Zorg: BV".to_owned(), "3".to_owned()])
        );
        assert_eq!(
            decode_token::<3>("dossiers", &token),
            None,
            "another listing"
        );
        assert_eq!(decode_token::<2>("choices", &token), None, "another shape");
        for bad in ["", "abc", "!!!", &"A".repeat(600)] {
            assert_eq!(decode_token::<1>("choices", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let (rows, next) = page(vec![1, 2, 3], 2, |last| last.to_string());
        assert_eq!((rows, next.as_str()), (vec![1, 2], "2"));
        let (rows, next) = page(vec![1, 2], 2, |last| last.to_string());
        assert_eq!((rows, next.as_str()), (vec![1, 2], ""));
    }
}
