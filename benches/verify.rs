//! What local verification costs, against the floor it cannot go below:
//! one HMAC-SHA256 over the same bytes. A criterion benchmark, so the
//! figures come with confidence intervals and comparisons between runs.
//!
//! - `raw_hmac`: HMAC-SHA256 over the token's signed part (the floor);
//! - `fresh`: a token this verifier has not seen (every check, then cached);
//! - `cached`: a token seen before (one cache look-up, `exp` rechecked);
//! - `forged`: a token whose signature does not verify (never cached).
//!
//! Targets (issue 9): fresh ≤ 6× raw HMAC, cached ≤ 1.5×, and rejection no
//! slower than acceptance. `cargo bench --bench verify`; `cargo test
//! --all-targets` runs each case once as a smoke test.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hmac::Mac as _;
use toestemming::auth::{Role, TokenIssuer, TokenVerifier};
use toestemming::settings::{JwtSettings, SigningSecret};

const SECRET: &[u8] = b"bench-key-bench-key-bench-key-32";

fn verification(c: &mut Criterion) {
    let settings = JwtSettings::with_secret(SigningSecret::new(SECRET.to_vec()).unwrap());
    let issuer = TokenIssuer::new(&settings);
    let issue = || {
        issuer
            .issue("Bench BV", Role::HealthcareCompany)
            .unwrap()
            .access_token
    };
    let token = issue();
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    let signed_part = token[..token.rfind('.').unwrap()].to_owned();

    let mut group = c.benchmark_group("verify");
    group.bench_function("raw_hmac", |b| {
        b.iter(|| {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
            mac.update(black_box(signed_part.as_bytes()));
            black_box(mac.finalize())
        })
    });
    let verifier = TokenVerifier::new(&settings);
    // Each iteration gets a token with a jti of its own, issued outside the
    // timed part, so "not seen before" really is.
    group.bench_function("fresh", |b| {
        b.iter_batched(
            issue,
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

criterion_group!(benches, verification);
criterion_main!(benches);
