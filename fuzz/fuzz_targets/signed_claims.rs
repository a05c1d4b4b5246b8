//! Past the signature: header and payload bytes from the fuzzer, signed
//! with the verifier's own key, so every input reaches the header
//! allow-list, the payload's UTF-8 and JSON checks, the typed claims and
//! the time and subject rules: the code no forger can reach and the most
//! likely to hide a bug. Both deployments: HS256 with the shared key, and
//! EdDSA with the Ed25519 key in the verifier's key set (`kid` lookup and
//! `verify_strict` included).
//!
//! Input: a selector byte, then the payload. Selector bits 0-1 pick the
//! header (0 or 3: the standard one; 1: the minimal one; 2: the header's own
//! bytes, a NUL, then the payload); bit 2 picks EdDSA over HS256. `@now`,
//! `@exp`, `@old` and `@far` in the payload become times around the clock
//! (`tokens::expand_times`) and `@kid` in a header the EdDSA key's id, so
//! seeds stay valid.
//!
//! Invariants: an accepted token's header is allowed, its payload is UTF-8
//! JSON text holding one object whose claims are the ones returned, and
//! those claims follow every rule of docs/security.md; a token the
//! reference model (`reference::token_must_be_accepted`) accepts is not
//! refused; a refusal is UNAUTHENTICATED's (never UNAVAILABLE: the key set
//! is loaded) and never repeats the token.

#![no_main]

use libfuzzer_sys::fuzz_target;
use toestemming::auth::AuthError;
use toestemming_fuzz::reference;
use toestemming_fuzz::tokens::{
    Algorithm, STANDARD_HEADER, assert_claims_are_the_payload, assert_claims_follow_the_rules,
    assert_header_is_allowed, eddsa_verifier, expand_kid, expand_times, now, sign, sign_eddsa,
    verbose, verifier,
};

fuzz_target!(
    init: {
        // Load the Ed25519 key before the first input, not during it.
        let _ = eddsa_verifier();
    },
    |data: &[u8]| {
        let Some((&selector, rest)) = data.split_first() else {
            return;
        };
        let algorithm = if selector & 4 == 0 {
            Algorithm::Hs256
        } else {
            Algorithm::EdDsa
        };
        let (header, payload): (Vec<u8>, &[u8]) = match (selector % 4, algorithm) {
            (1, Algorithm::Hs256) => (br#"{"alg":"HS256"}"#.to_vec(), rest),
            (1, Algorithm::EdDsa) => (expand_kid(br#"{"alg":"EdDSA","kid":"@kid"}"#), rest),
            (2, _) => match rest.iter().position(|&b| b == 0) {
                Some(nul) => (expand_kid(&rest[..nul]), &rest[nul + 1..]),
                None => (expand_kid(rest), b""),
            },
            (_, Algorithm::Hs256) => (STANDARD_HEADER.to_vec(), rest),
            (_, Algorithm::EdDsa) => (
                expand_kid(br#"{"alg":"EdDSA","typ":"JWT","kid":"@kid"}"#),
                rest,
            ),
        };
        let before = now();
        let payload = expand_times(payload, before);
        let (token, verifier) = match algorithm {
            Algorithm::Hs256 => (sign(&header, &payload), verifier()),
            Algorithm::EdDsa => (sign_eddsa(&header, &payload), eddsa_verifier()),
        };
        let result = verifier.verify(&token);
        let after = now();
        if verbose() {
            eprintln!("{algorithm:?} {:?}: {result:?}", String::from_utf8_lossy(&header));
        }
        match result {
            Ok(claims) => {
                assert_header_is_allowed(&header, algorithm);
                assert_claims_are_the_payload(&payload, &claims);
                assert_claims_follow_the_rules(&claims, before, after);
            }
            Err(error) => {
                assert!(
                    matches!(error, AuthError::Invalid { .. } | AuthError::Expired { .. }),
                    "{error:?}"
                );
                let message = error.to_string();
                assert!(!message.contains(&token), "the refusal repeats the token");
                assert!(
                    !(reference::token_must_be_accepted(algorithm, &header, &payload, before)
                        && reference::token_must_be_accepted(algorithm, &header, &payload, after)),
                    "refused a token every rule accepts ({message}): header {:?}, payload {:?}",
                    String::from_utf8_lossy(&header),
                    String::from_utf8_lossy(&payload)
                );
            }
        }
    }
);
