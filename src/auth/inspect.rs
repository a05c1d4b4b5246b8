//! `toestemming token inspect`: what a token says, and whether this mesh
//! would accept it, offline.
//!
//! A developer pastes a token into jwt.io to read it; a credential of the
//! mesh has no business on a website. This decodes the header and claims
//! for display and asks the very verifier the services use (with the
//! configured key: the shared HS256 key, or under EdDSA the key set in
//! `JWT_JWKS_FILE` or the public halves of `JWT_PRIVATE_KEY_FILE` and its
//! companions) for its verdict, so "why is my call UNAUTHENTICATED?"
//! gets the same answer the verify layer gives, reason and all.
//!
//! It never prints the token, its signature or a key: only the decoded
//! header and claims (which the token's holder can read anyway) and the
//! verdict. Decoding for display trusts nothing: a segment that is not
//! base64url JSON is shown as such, and nothing decoded here is used for
//! anything but printing.

use std::fmt::Write as _;

use base64::Engine as _;

use super::bearer::MAX_TOKEN_BYTES;
use super::claims::Claims;
use super::error::AuthError;
use super::verifier::TokenVerifier;

/// What `inspect` found.
pub struct Inspection {
    /// The header, or why it could not be read.
    pub header: Result<serde_json::Value, &'static str>,
    /// The claims, or why they could not be read.
    pub claims: Result<serde_json::Value, &'static str>,
    pub verdict: Verdict,
}

/// The verifier's answer.
pub enum Verdict {
    /// Every check passed.
    Accepted(Claims),
    /// Refused, with the reason and message the verify layer would give.
    Refused(AuthError),
    /// No key is configured (`JWT_SECRET_KEY`; under EdDSA `JWT_JWKS_FILE`
    /// or `JWT_PRIVATE_KEY_FILE`), so only the decoding is shown.
    NotChecked,
}

/// Reads `input` (a token, or a whole `Bearer <token>` value) and asks
/// `verifier`, when there is one, for its verdict.
pub fn inspect(input: &str, verifier: Option<&TokenVerifier>) -> Inspection {
    let token = input.trim();
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim_start();
    let mut segments = token.splitn(3, '.');
    let header = segments.next().map_or(Err("missing"), decode_segment);
    let claims = segments.next().map_or(Err("missing"), decode_segment);
    let verdict = match verifier {
        None => Verdict::NotChecked,
        Some(verifier) => match verifier.verify(token) {
            Ok(claims) => Verdict::Accepted(claims),
            Err(error) => Verdict::Refused(error),
        },
    };
    Inspection {
        header,
        claims,
        verdict,
    }
}

fn decode_segment(segment: &str) -> Result<serde_json::Value, &'static str> {
    if segment.len() > MAX_TOKEN_BYTES {
        return Err("longer than any token the mesh accepts");
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| "not base64url")?;
    serde_json::from_slice(&bytes).map_err(|_| "not JSON")
}

impl Inspection {
    /// The report, as `toestemming token inspect` prints it; `now` in
    /// seconds since the epoch, for the times.
    pub fn render(&self, now: u64) -> String {
        let mut out = String::new();
        for (title, part) in [("header", &self.header), ("claims", &self.claims)] {
            match part {
                Ok(json) => {
                    let pretty = serde_json::to_string_pretty(json).unwrap_or_default();
                    let _ = writeln!(out, "{title}:\n{pretty}");
                }
                Err(problem) => {
                    let _ = writeln!(out, "{title}: ({problem})");
                }
            }
        }
        if let Ok(claims) = &self.claims {
            for name in ["iat", "nbf", "exp"] {
                if let Some(at) = claims.get(name).and_then(serde_json::Value::as_u64) {
                    let _ = writeln!(out, "{name}: {}", describe_time(at, now));
                }
            }
        }
        let verdict = match &self.verdict {
            Verdict::Accepted(claims) => format!(
                "verdict: ACCEPTED, a {} token for {:?}, expires {}",
                claims.role,
                claims.sub,
                describe_time(claims.exp, now)
            ),
            Verdict::Refused(error) => {
                format!("verdict: REFUSED, {} ({error})", error.reason().as_str())
            }
            Verdict::NotChecked => {
                "verdict: NOT CHECKED, no key is configured: JWT_SECRET_KEY (HS256), or under \
                 JWT_ALGORITHM=EdDSA JWT_JWKS_FILE or JWT_PRIVATE_KEY_FILE"
                    .to_owned()
            }
        };
        out.push_str(&verdict);
        out.push('\n');
        out
    }
}

/// `2026-12-01T10:00:00Z (in 14m 30s)` or `(… ago)`.
fn describe_time(at: u64, now: u64) -> String {
    let when = i64::try_from(at)
        .ok()
        .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok())
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "(out of range)".to_owned());
    let (distance, relation) = if at >= now {
        (at - now, "in ")
    } else {
        (now - at, "")
    };
    let span = format!("{}m {}s", distance / 60, distance % 60);
    if relation.is_empty() {
        format!("{when} ({span} ago)")
    } else {
        format!("{when} ({relation}{span})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Role, TokenIssuer};
    use crate::settings::{JwtSettings, SigningSecret};

    fn settings(key: u8) -> JwtSettings {
        JwtSettings::with_secret(SigningSecret::new(vec![key; 32]).unwrap())
    }

    /// A company token signed with key 1.
    fn company_token() -> String {
        TokenIssuer::new(&settings(1))
            .issue("Inspect Zorg", Role::HealthcareCompany)
            .unwrap()
            .access_token
    }

    #[test]
    fn a_good_token_is_shown_and_accepted_and_never_printed() {
        let token = company_token();
        let verifier = TokenVerifier::new(&settings(1));
        let now = jsonwebtoken::get_current_timestamp();
        let report = inspect(&format!("Bearer {token}\n"), Some(&verifier)).render(now);
        assert!(report.contains("\"sub\": \"Inspect Zorg\""), "{report}");
        assert!(report.contains("\"alg\": \"HS256\""), "{report}");
        assert!(
            report.contains("verdict: ACCEPTED, a HealthcareCompany token for \"Inspect Zorg\""),
            "{report}"
        );
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !report.contains(signature),
            "the signature is never printed"
        );
        assert!(!report.contains(&token));
    }

    #[test]
    fn the_verdict_is_the_verifiers_reason() {
        let token = company_token();
        let other_key = TokenVerifier::new(&settings(2));
        let report = inspect(&token, Some(&other_key)).render(0);
        assert!(
            report.contains("verdict: REFUSED, TOKEN_INVALID"),
            "{report}"
        );
        assert!(
            report.contains("\"sub\": \"Inspect Zorg\""),
            "still decoded for reading"
        );

        let report = inspect(&token, None).render(0);
        assert!(report.contains("verdict: NOT CHECKED"), "{report}");
    }

    #[test]
    fn garbage_is_described_not_trusted() {
        let verifier = TokenVerifier::new(&settings(1));
        let report = inspect("not-a-token", Some(&verifier)).render(0);
        assert!(report.contains("header: (not base64url)"), "{report}");
        assert!(report.contains("claims: (missing)"), "{report}");
        assert!(
            report.contains("verdict: REFUSED, TOKEN_INVALID"),
            "{report}"
        );
        let report = inspect("e30.bm90IGpzb24.c2ln", Some(&verifier)).render(0);
        assert!(report.contains("header:\n{}"), "{report}");
        assert!(report.contains("claims: (not JSON)"), "{report}");
    }

    #[test]
    fn times_read_both_ways() {
        assert_eq!(
            describe_time(1_000, 910),
            "1970-01-01T00:16:40Z (in 1m 30s)"
        );
        assert_eq!(
            describe_time(1_000, 1_065),
            "1970-01-01T00:16:40Z (1m 5s ago)"
        );
    }
}
