//! The rules of `docs/security.md`, the protos and `src/bsn.rs`, written a
//! second time, plainly and without the library, so the targets can check
//! the library against them (differential fuzzing). Where the library is
//! faster or cleverer, this is slower and obvious.

use std::collections::HashSet;

use crate::tokens::{Algorithm, LEEWAY_SECS, MAX_LIFETIME_SECS, MAX_SUBJECT_BYTES, eddsa_kid};

/// What a string is, as a BSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BsnVerdict {
    Valid,
    /// Not exactly 9 ASCII digits.
    Shape,
    AllZeros,
    ElevenProof,
}

/// The BSN rules: exactly 9 ASCII digits, not all zero, and
/// 9·d1 + 8·d2 + 7·d3 + 6·d4 + 5·d5 + 4·d6 + 3·d7 + 2·d8 − 1·d9 ≡ 0 (mod 11).
pub fn bsn(input: &str) -> BsnVerdict {
    let digits: Vec<u32> = input
        .bytes()
        .map_while(|b| (b as char).to_digit(10))
        .collect();
    if input.len() != 9 || digits.len() != 9 {
        return BsnVerdict::Shape;
    }
    if digits.iter().all(|&d| d == 0) {
        return BsnVerdict::AllZeros;
    }
    let mut weighted = 0u32;
    for (position, digit) in digits[..8].iter().enumerate() {
        weighted += (9 - position as u32) * digit;
    }
    // 9·d1 + … + 2·d8 − d9 ≡ 0 (mod 11)  ⇔  9·d1 + … + 2·d8 ≡ d9 (mod 11)
    if weighted % 11 == digits[8] {
        BsnVerdict::Valid
    } else {
        BsnVerdict::ElevenProof
    }
}

/// A pseudoniem: a UUID written lowercase and hyphenated, 8-4-4-4-12.
pub fn is_lowercase_uuid(value: &str) -> bool {
    value.len() == 36
        && value.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// A name shown to people: trimmed, 1 to 100 characters, no control
/// characters (`src/ids.rs`, the proto comments).
pub fn display_name(value: &str) -> Option<&str> {
    let trimmed = value.trim();
    let characters = trimmed.chars().count();
    ((1..=100).contains(&characters) && !trimmed.chars().any(char::is_control)).then_some(trimmed)
}

/// Three non-empty segments of base64url characters, two dots.
pub fn is_compact_jws(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The whole `authorization` value the mesh accepts, RFC 6750 strictly:
/// `Bearer` in any case, one or more spaces, a compact JWS, and the value at
/// most `Bearer` + one space + 8 KiB long. Returns the token.
pub fn bearer_token(value: &str) -> Option<&str> {
    const MAX_VALUE: usize = "Bearer ".len() + 8 * 1024;
    if value.len() > MAX_VALUE || value.len() < 7 || !value.is_char_boundary(6) {
        return None;
    }
    let (scheme, rest) = value.split_at(6);
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(' ') {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    is_compact_jws(token).then_some(token)
}

/// Whether `text` is JSON text by the grammar of RFC 8259: one value with
/// optional whitespace around it, strings without raw control characters
/// and with only the defined escapes. (A lone surrogate escape is grammar,
/// and so is a number too big for any float.)
pub fn is_json_text(text: &str) -> bool {
    let mut parser = Grammar {
        bytes: text.as_bytes(),
        at: 0,
    };
    parser.whitespace();
    if !parser.value() {
        return false;
    }
    parser.whitespace();
    parser.at == parser.bytes.len()
}

struct Grammar<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Grammar<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        if matched {
            self.at += 1;
        }
        matched
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self) -> bool {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let matched = self.bytes[self.at..].starts_with(word);
        if matched {
            self.at += word.len();
        }
        matched
    }

    fn object(&mut self) -> bool {
        self.at += 1;
        self.whitespace();
        if self.eat(b'}') {
            return true;
        }
        loop {
            self.whitespace();
            if self.peek() != Some(b'"') || !self.string() {
                return false;
            }
            self.whitespace();
            if !self.eat(b':') {
                return false;
            }
            self.whitespace();
            if !self.value() {
                return false;
            }
            self.whitespace();
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn array(&mut self) -> bool {
        self.at += 1;
        self.whitespace();
        if self.eat(b']') {
            return true;
        }
        loop {
            self.whitespace();
            if !self.value() {
                return false;
            }
            self.whitespace();
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn string(&mut self) -> bool {
        self.at += 1;
        loop {
            let Some(byte) = self.peek() else {
                return false;
            };
            self.at += 1;
            match byte {
                b'"' => return true,
                b'\\' => match self.peek() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 1,
                    Some(b'u') => {
                        let hex = self.bytes.get(self.at + 1..self.at + 5);
                        if !hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                            return false;
                        }
                        self.at += 5;
                    }
                    _ => return false,
                },
                0x00..=0x1f => return false,
                _ => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> bool {
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return false;
        }
        if self.eat(b'.') && self.digits() == 0 {
            return false;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return false;
            }
        }
        true
    }
}

/// The names of an object's members, in order, duplicates kept; `None` when
/// `json` is not an object serde_json can read.
fn member_names(json: &str) -> Option<Vec<String>> {
    struct Names(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Names {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Names;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Names, A::Error> {
                    let mut names = Vec::new();
                    while let Some(name) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        names.push(name);
                    }
                    Ok(Names(names))
                }
            }
            deserializer.deserialize_map(Visitor)
        }
    }
    serde_json::from_str::<Names>(json)
        .ok()
        .map(|names| names.0)
}

/// Whether the mesh must accept a token with this header and payload (its
/// signature right) at time `now`: every rule of `docs/security.md`, from a
/// serde_json `Value`, not the library's typed decoding. `false` also where
/// this model is unsure (a member serde_json's `Value` cannot hold).
pub fn token_must_be_accepted(
    algorithm: Algorithm,
    header: &[u8],
    payload: &[u8],
    now: u64,
) -> bool {
    header_is_allowed(algorithm, header) && claims_are_accepted(payload, now)
}

fn header_is_allowed(algorithm: Algorithm, header: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(header) else {
        return false;
    };
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text) else {
        return false;
    };
    let Some(names) = member_names(text) else {
        return false;
    };
    let unique: HashSet<&String> = names.iter().collect();
    // A parameter that is there must be a string: `null` is not absence.
    let kid = object.get("kid");
    let (alg, kid_ok) = match algorithm {
        Algorithm::Hs256 => ("HS256", kid.is_none()),
        Algorithm::EdDsa => (
            "EdDSA",
            kid.and_then(|kid| kid.as_str()) == Some(eddsa_kid().as_str()),
        ),
    };
    unique.len() == names.len()
        && object
            .keys()
            .all(|name| name == "alg" || name == "typ" || name == "kid")
        && object.get("alg").and_then(|v| v.as_str()) == Some(alg)
        && kid_ok
        && object
            .get("typ")
            .is_none_or(|typ| typ.as_str() == Some("JWT"))
}

fn claims_are_accepted(payload: &[u8], now: u64) -> bool {
    let Ok(text) = std::str::from_utf8(payload) else {
        return false;
    };
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_str(text) else {
        return false;
    };
    let Some(names) = member_names(text) else {
        return false;
    };
    // A known claim given twice is refused (RFC 7519 §4: unique names);
    // unknown ones are ignored, twice or not.
    const KNOWN: [&str; 8] = ["sub", "role", "iss", "aud", "exp", "iat", "nbf", "jti"];
    if KNOWN
        .iter()
        .any(|known| names.iter().filter(|name| name == known).count() > 1)
    {
        return false;
    }
    let text_claim = |name: &str| claims.get(name).and_then(|v| v.as_str());
    let number_claim = |name: &str| claims.get(name).and_then(|v| v.as_u64());
    let (Some(sub), Some(role), Some(iss), Some(aud)) = (
        text_claim("sub"),
        text_claim("role"),
        text_claim("iss"),
        text_claim("aud"),
    ) else {
        return false;
    };
    let (Some(exp), Some(iat), Some(nbf)) = (
        number_claim("exp"),
        number_claim("iat"),
        number_claim("nbf"),
    ) else {
        return false;
    };
    let jti_ok = claims
        .get("jti")
        .is_none_or(|jti| jti.is_null() || jti.is_string());
    let sub_fits_role = match role {
        "Patient" => is_lowercase_uuid(sub),
        "Internal" => sub == "internal",
        "HealthcareCompany" => sub.trim() == sub,
        _ => false,
    };
    jti_ok
        && iss == toestemming::settings::DEFAULT_ISSUER
        && aud == toestemming::settings::DEFAULT_AUDIENCE
        && now < exp
        && iat <= now + LEEWAY_SECS
        && nbf <= now + LEEWAY_SECS
        && exp > iat
        && exp - iat <= MAX_LIFETIME_SECS
        && !sub.is_empty()
        && sub.len() <= MAX_SUBJECT_BYTES
        && !sub.chars().any(char::is_control)
        && sub_fits_role
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsn_examples() {
        assert_eq!(bsn("111222333"), BsnVerdict::Valid);
        assert_eq!(bsn("123456782"), BsnVerdict::Valid);
        assert_eq!(bsn("123456780"), BsnVerdict::ElevenProof);
        assert_eq!(bsn("000000000"), BsnVerdict::AllZeros);
        assert_eq!(bsn("12345678 "), BsnVerdict::Shape);
        assert_eq!(bsn("１２３４５６７８２"), BsnVerdict::Shape);
    }

    #[test]
    fn json_grammar() {
        for good in [
            "{}",
            " {\"a\" : [1, -0.5e+3, true, null, \"\\u00e9\\n\"]} ",
            "\"\\ud800\"",
            "1e999",
        ] {
            assert!(is_json_text(good), "{good:?}");
        }
        for bad in [
            "",
            "{",
            "{\"a\":1,}",
            "[1 2]",
            "01",
            "1.",
            "\"\u{1}\"",
            "\"\\x\"",
            "{} x",
            "\u{c}{}",
        ] {
            assert!(!is_json_text(bad), "{bad:?}");
        }
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer_token("bEaReR   a.b.c"), Some("a.b.c"));
        assert_eq!(bearer_token("Bearer a.b.c "), None);
        assert_eq!(bearer_token("Bearer\ta.b.c"), None);
        assert_eq!(bearer_token("Beare\u{e9} a.b.c"), None);
    }
}
