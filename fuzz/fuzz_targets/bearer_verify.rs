//! The credential's whole way in: metadata values as a client sends them,
//! through the verify layer every server runs (`read_bearer`, the
//! verifier, the role rule, the forwarded end user), and the same values
//! through `parse_bearer`, `read_bearer`, `TokenVerifier::verify` and
//! `toestemming token inspect` directly.
//!
//! Input: up to three lines, the `authorization`,
//! `x-forwarded-authorization` and `x-forwarded-for` values (an empty or
//! absent line: the header is not sent; a value that is no valid HTTP
//! header value is not sent either, as no client could). A line starting
//! with `{` is a payload signed into `Bearer <jwt>` (times as in
//! `signed_claims`); one starting with `!` is a value whose token is
//! re-signed, so mutated header and payload segments get past the
//! signature; any other line is sent as it is.
//!
//! Invariants: `parse_bearer` accepts exactly what the reference RFC 6750
//! reading does; `read_bearer` finds the same token, refuses two values and
//! anything not visible ASCII; an accepted token is a compact JWS whose
//! claims follow the rules; through the layer, a protected RPC's handler
//! runs only with a verified caller of an allowed role, a public RPC's
//! handler never sees a credential, `x-forwarded-*` reach a handler only
//! from a verified Internal caller, a refusal is UNAUTHENTICATED or
//! PERMISSION_DENIED and never repeats a token, and a token that verifies
//! with an allowed role is not refused.

#![no_main]

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use toestemming::auth::bearer::{parse_bearer, read_bearer};
use toestemming::auth::inspect::{Verdict, inspect};
use toestemming::auth::{
    AUTHORIZATION, AccessRule, FORWARDED_AUTHORIZATION, FORWARDED_FOR, Role, access_rule,
};
use toestemming_fuzz::layer::{self, Outcome};
use toestemming_fuzz::reference;
use toestemming_fuzz::tokens::{
    STANDARD_HEADER, assert_claims_follow_the_rules, expand_times, now, resign, sign, verbose,
    verifier,
};
use tonic::Code;

/// Each input goes to one RPC of each kind of rule.
const CALLS: [(&str, &str); 4] = [
    (
        "toestemming.identity.v1.IdentityService",
        "/toestemming.identity.v1.IdentityService/LoginPatient",
    ),
    (
        "toestemming.dossier.v1.DossierService",
        "/toestemming.dossier.v1.DossierService/ListMyDossiers",
    ),
    (
        "toestemming.dossier.v1.DossierService",
        "/toestemming.dossier.v1.DossierService/CreateDossier",
    ),
    (
        "toestemming.pseudoniem.v1.PseudoniemService",
        "/toestemming.pseudoniem.v1.PseudoniemService/GetPseudoniem",
    ),
];

/// What a line of the input sends.
fn materialize(line: &[u8], now: u64) -> Vec<u8> {
    match line.first() {
        Some(b'{') => format!("Bearer {}", sign(STANDARD_HEADER, &expand_times(line, now))).into(),
        Some(b'!') => match std::str::from_utf8(&line[1..]) {
            Ok(value) => resign(value).into(),
            Err(_) => line[1..].to_vec(),
        },
        _ => line.to_vec(),
    }
}

/// One `authorization` value, read every way the library reads one.
fn check_value(value: &[u8]) {
    if let Ok(text) = std::str::from_utf8(value) {
        assert_eq!(
            parse_bearer(text).ok(),
            reference::bearer_token(text),
            "parse_bearer({text:?})"
        );
        let before = now();
        let inspection = inspect(text, Some(verifier()));
        let report = inspection.render(before);
        if let Verdict::Accepted(claims) = &inspection.verdict {
            assert_claims_follow_the_rules(claims, before, now());
            let signature = text.trim().rsplit('.').next().unwrap_or_default();
            assert!(!report.contains(signature), "inspect printed the signature");
        }
    }

    let Ok(header) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, header.clone());
    let read = read_bearer(&headers, AUTHORIZATION);
    match header.to_str() {
        Ok(text) => {
            if let Some(token) = reference::bearer_token(text) {
                assert_eq!(read, Ok(Some(token)), "read_bearer({text:?})");
            }
            if let Ok(Some(token)) = read {
                assert!(text.ends_with(token));
                let before = now();
                let verdict = verifier().verify(token);
                if let Ok(claims) = verdict {
                    assert!(
                        reference::is_compact_jws(token),
                        "verified a token that is not a compact JWS: {token:?}"
                    );
                    assert_claims_follow_the_rules(&claims, before, now());
                }
            }
        }
        Err(_) => assert!(read.is_err(), "read_bearer took a value that is not ASCII"),
    }
    headers.append(AUTHORIZATION, header);
    assert!(
        read_bearer(&headers, AUTHORIZATION).is_err(),
        "two credentials were taken"
    );
}

/// Whether the token under `key` verifies, as far as this target can tell
/// (`None`: no value, or not readable).
fn verified_claims(headers: &HeaderMap, key: &'static str) -> Option<toestemming::auth::Claims> {
    let token = read_bearer(headers, key).ok()??;
    verifier().verify(token).ok()
}

/// One request through the verify layer of `service`.
fn check_call(service: &'static str, path: &str, headers: &HeaderMap) {
    let rule = access_rule(service, path).expect("the path is an RPC of the service");
    let before = now();
    let outcome = layer::call(service, path, headers.clone());
    // Cross-checks that verify again are skipped when the clock ticked
    // meanwhile: a token may have expired in between.
    let stable = now() == before;
    if verbose() {
        match &outcome {
            Outcome::Handled { caller, .. } => eprintln!(
                "{path}: handled, caller {:?}",
                caller.as_ref().map(|c| (
                    &c.principal.subject,
                    c.principal.role,
                    c.on_behalf_of.as_ref().map(|e| &e.subject),
                    c.forwarded_for
                ))
            ),
            Outcome::Refused(status) => {
                eprintln!("{path}: {:?} {}", status.code(), status.message())
            }
        }
    }
    match outcome {
        Outcome::Handled {
            caller,
            headers: seen,
        } => {
            match rule {
                AccessRule::Public => {
                    assert!(
                        seen.get(AUTHORIZATION).is_none()
                            && seen.get(FORWARDED_AUTHORIZATION).is_none(),
                        "a public RPC's handler saw a credential"
                    );
                    if let Some(caller) = &caller {
                        assert_eq!(caller.principal.role, Role::Internal);
                    }
                }
                AccessRule::Roles(allowed) => {
                    let caller = caller
                        .as_ref()
                        .expect("a protected RPC's handler runs with a caller");
                    assert!(allowed.contains(&caller.principal.role));
                    assert_eq!(seen.get(AUTHORIZATION), headers.get(AUTHORIZATION));
                    if stable {
                        let claims = verified_claims(headers, AUTHORIZATION)
                            .expect("the layer let through a token the verifier refuses");
                        assert_eq!(claims.sub, caller.principal.subject);
                        assert_eq!(claims.role, caller.principal.role);
                    }
                }
            }
            if let Some(caller) = &caller {
                let internal = caller.principal.role == Role::Internal;
                if let Some(end_user) = &caller.on_behalf_of {
                    assert!(internal, "only an Internal caller speaks for an end user");
                    if stable {
                        let claims = verified_claims(headers, FORWARDED_AUTHORIZATION)
                            .expect("the layer took a forwarded token the verifier refuses");
                        assert_eq!(claims.sub, end_user.subject);
                    }
                }
                if let Some(address) = caller.forwarded_for {
                    assert!(internal, "only an Internal caller vouches for an address");
                    let sent: Option<IpAddr> = headers
                        .get(FORWARDED_FOR)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    assert_eq!(sent, Some(address));
                }
            }
            if caller.as_ref().is_none_or(|c| c.on_behalf_of.is_none()) {
                assert!(
                    seen.get(FORWARDED_AUTHORIZATION).is_none(),
                    "an unverified x-forwarded-authorization reached a handler"
                );
            }
            if caller.as_ref().is_none_or(|c| c.forwarded_for.is_none()) {
                assert!(
                    seen.get(FORWARDED_FOR).is_none(),
                    "an x-forwarded-for nobody vouched for reached a handler"
                );
            }
        }
        Outcome::Refused(status) => {
            let AccessRule::Roles(allowed) = rule else {
                panic!("a public RPC was refused: {status:?}");
            };
            assert!(
                matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ),
                "{status:?}"
            );
            for key in [AUTHORIZATION, FORWARDED_AUTHORIZATION] {
                if let Ok(Some(token)) = read_bearer(headers, key)
                    && token.len() >= 16
                {
                    assert!(
                        !status.message().contains(token),
                        "the refusal names a token"
                    );
                    assert!(
                        !status
                            .details()
                            .windows(token.len())
                            .any(|w| w == token.as_bytes()),
                        "the refusal's details carry a token"
                    );
                }
            }
            if !stable {
                return;
            }
            if let Some(claims) = verified_claims(headers, AUTHORIZATION) {
                if !allowed.contains(&claims.role) {
                    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
                } else {
                    // A good token of an allowed role is refused only for
                    // the end user an Internal caller names.
                    assert_eq!(
                        claims.role,
                        Role::Internal,
                        "refused a verified caller of an allowed role: {status:?}"
                    );
                    let forward_is_bad = match read_bearer(headers, FORWARDED_AUTHORIZATION) {
                        Err(_) => true,
                        Ok(None) => false,
                        Ok(Some(token)) => verifier().verify(token).is_err(),
                    };
                    assert!(
                        forward_is_bad,
                        "refused an Internal caller with a good forward: {status:?}"
                    );
                }
            }
        }
    }
}

fuzz_target!(
    init: {
        let kinds: Vec<_> = CALLS
            .iter()
            .map(|(service, path)| access_rule(service, path).expect("an RPC of the service"))
            .collect();
        assert!(kinds.contains(&AccessRule::Public), "no public RPC among {kinds:?}");
        for role in Role::ALL {
            assert!(
                kinds.iter().any(|k| k.admits(role) && *k != AccessRule::Public),
                "no RPC for {role} among {kinds:?}"
            );
        }
    },
    |data: &[u8]| {
        let now = now();
        let mut lines = data.splitn(3, |&b| b == b'\n');
        let values: [Option<Vec<u8>>; 3] = std::array::from_fn(|_| {
            lines
                .next()
                .filter(|line| !line.is_empty())
                .map(|line| materialize(line, now))
        });
        if let Some(value) = &values[0] {
            check_value(value);
        }
        let mut headers = HeaderMap::new();
        for (key, value) in [AUTHORIZATION, FORWARDED_AUTHORIZATION, FORWARDED_FOR]
            .into_iter()
            .zip(&values)
        {
            if let Some(Ok(value)) = value.as_deref().map(HeaderValue::from_bytes) {
                headers.insert(key, value);
            }
        }
        for (service, path) in CALLS {
            check_call(service, path, &headers);
        }
    }
);
