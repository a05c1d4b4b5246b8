//! What local verification costs, against the floor it cannot go below:
//! one HMAC-SHA256 over the same bytes. A criterion benchmark, so the
//! figures come with confidence intervals and comparisons between runs.
//!
//! - `raw_hmac`: HMAC-SHA256 over the token's signed part (the floor);
//! - `fresh`: a token this verifier has not seen (every check, then cached);
//! - `cached`: a token seen before (one cache look-up, `exp` rechecked);
//! - `forged`: a token whose signature does not verify (never cached).
//!
//! The same three cases again under `JWT_ALGORITHM=EdDSA` (group
//! `verify_eddsa`), against its own floor, `raw_ed25519`: one strict
//! Ed25519 verification of the signed part with a key parsed beforehand.
//!
//! Targets (issue 9): fresh ≤ 6× raw HMAC, cached ≤ 1.5×, and rejection no
//! slower than acceptance. Issue 8 asks what EdDSA costs against HS256:
//! compare `verify_eddsa/fresh` with `verify/fresh` (a cached token costs
//! the same under both: the cache is in front of the algorithm).
//! `cargo bench --bench verify`; `cargo test --all-targets` runs each case
//! once as a smoke test.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hmac::Mac as _;
use toestemming::auth::keys::SigningKeyRing;
use toestemming::auth::{Role, TokenIssuer, TokenVerifier};
use toestemming::settings::{JwtSettings, SigningSecret};

const SECRET: &[u8] = b"bench-key-bench-key-bench-key-32";

fn verification(c: &mut Criterion) {
    let settings = JwtSettings::with_secret(SigningSecret::new(SECRET.to_vec()).unwrap());
    let issuer = TokenIssuer::new(&settings);
    let issue = issuing(&issuer);
    let token = issue();
    let signed_part = token[..token.rfind('.').unwrap()].to_owned();

    let mut group = c.benchmark_group("verify");
    group.bench_function("raw_hmac", |b| {
        b.iter(|| {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
            mac.update(black_box(signed_part.as_bytes()));
            black_box(mac.finalize())
        })
    });
    verifier_cases(group, &TokenVerifier::new(&settings), issue);
}

/// A new company token from `issuer` per call (each with its own `jti`).
fn issuing(issuer: &TokenIssuer) -> impl Fn() -> String + '_ {
    || {
        issuer
            .issue("Bench BV", Role::HealthcareCompany)
            .unwrap()
            .access_token
    }
}

/// `fresh`, `cached` and `forged` for `verifier`, with tokens from `issue`.
fn verifier_cases(
    mut group: criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    verifier: &TokenVerifier,
    issue: impl Fn() -> String,
) {
    let token = issue();
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    // Each iteration gets a token with a jti of its own, issued outside the
    // timed part, so "not seen before" really is.
    group.bench_function("fresh", |b| {
        b.iter_batched(
            &issue,
            |fresh| black_box(verifier.verify(&fresh).is_ok()),
            BatchSize::SmallInput,
        )
    });
    assert!(verifier.verify(&token).is_ok());
    group.bench_function("cached", |b| {
        b.iter(|| black_box(verifier.verify(black_box(&token)).is_ok()))
    });
    group.bench_function("forged", |b| {
        b.iter(|| black_box(verifier.verify(black_box(&forged)).is_err()))
    });
    group.finish();
}

/// The same cases signed with Ed25519 and verified with the public key set,
/// as a service other than Identity does.
fn eddsa_verification(c: &mut Criterion) {
    let ring = std::sync::Arc::new(SigningKeyRing::generate());
    let settings = JwtSettings::with_signing_keys(ring.clone());
    let issuer = TokenIssuer::new(&settings);
    let issue = issuing(&issuer);
    let token = issue();
    let (signed_part, signature) = token.rsplit_once('.').unwrap();
    let signature: [u8; 64] =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
            .unwrap()
            .try_into()
            .unwrap();
    let signature = ed25519_dalek::Signature::from_bytes(&signature);
    let public = ring.current().current.key;

    let mut group = c.benchmark_group("verify_eddsa");
    group.bench_function("raw_ed25519", |b| {
        b.iter(|| {
            black_box(public.verify_strict(black_box(signed_part.as_bytes()), &signature)).is_ok()
        })
    });
    let verifier = TokenVerifier::new(&settings.verify_only());
    verifier
        .key_store()
        .unwrap()
        .replace(ring.current().published.clone());
    verifier_cases(group, &verifier, issue);
}

criterion_group!(benches, verification, eddsa_verification);
criterion_main!(benches);
