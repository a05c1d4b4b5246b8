//! Every rule of `security.md` ("Reading the credential", "Verifying it",
//! "Errors") against protected RPCs over real gRPC.
//!
//! Targets:
//! - Pseudoniem `LookupPseudoniem` (Internal only, `sub` must be `internal`).
//!   A call that gets past the verify layer is answered NOT_FOUND, because
//!   the BSN was never seen;
//! - Dossier `ListMyDossiers` (Patient only, `sub` a lowercase UUID). A call
//!   that gets past the verify layer is answered OK with an empty list; a
//!   verified HealthcareCompany caller is answered PERMISSION_DENIED, which
//!   tells "verified, wrong role" apart from "not verified".
//!
//! Every table row names its case, so a failure says which token broke
//! which rule. Every crafted token is signed with the mesh key unless the
//! case is about the signature, so the one thing wrong with it is the thing
//! the case names. Every refusal is also checked for leaking the token.

use std::collections::HashMap;

use crate::support::jwt::{HEADER, b64, sign, sign_raw};
use crate::support::*;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::{Sha256, Sha384, Sha512};
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::{CreateDossierRequest, ListMyDossiersRequest};
use toestemming::proto::identity::v1::IssueInternalTokenRequest;
use toestemming::proto::pseudoniem::v1::LookupPseudoniemRequest;
use tonic::metadata::{AsciiMetadataValue, BinaryMetadataValue, MetadataMap};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

/// A valid BSN the Pseudoniem service has never seen in a fresh mesh.
const UNSEEN_BSN: &str = "123456782";
const AUTHORIZATION: &str = "authorization";
const FORWARDED: &str = "x-forwarded-authorization";
const COMPANY: &str = "Matrix BV";

// ---------------------------------------------------------------------------
// The table machinery
// ---------------------------------------------------------------------------

/// Which protected RPC a case calls.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `PseudoniemService/LookupPseudoniem`, Internal only.
    Lookup,
    /// `DossierService/ListMyDossiers`, Patient only.
    ListMine,
}

/// What the caller must see.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The call got past the verify layer into the handler.
    Pass,
    /// Verified, but the role is not allowed: PERMISSION_DENIED,
    /// `ROLE_NOT_ALLOWED`.
    Denied,
    /// UNAUTHENTICATED with ErrorInfo domain `toestemming`, this reason, and
    /// metadata `header` naming the header at fault.
    Refused {
        reason: &'static str,
        header: &'static str,
    },
}

const MISSING: Expect = Expect::Refused {
    reason: "TOKEN_MISSING",
    header: AUTHORIZATION,
};
const INVALID: Expect = Expect::Refused {
    reason: "TOKEN_INVALID",
    header: AUTHORIZATION,
};
const EXPIRED: Expect = Expect::Refused {
    reason: "TOKEN_EXPIRED",
    header: AUTHORIZATION,
};
const FORWARDED_INVALID: Expect = Expect::Refused {
    reason: "TOKEN_INVALID",
    header: FORWARDED,
};
const FORWARDED_EXPIRED: Expect = Expect::Refused {
    reason: "TOKEN_EXPIRED",
    header: FORWARDED,
};

/// One metadata entry, appended (never inserted) so duplicates survive.
#[derive(Debug, Clone)]
enum Entry {
    /// An ASCII-encoded key with these raw value bytes (visible ASCII, or
    /// the obs-text bytes 0x80..=0xFF that HTTP allows and tonic sends).
    Ascii(&'static str, Vec<u8>),
    /// A `-bin` key; tonic base64-encodes the bytes on the wire.
    Binary(&'static str, Vec<u8>),
}

struct Case {
    name: String,
    target: Target,
    metadata: Vec<Entry>,
    expect: Expect,
    /// Strings that must never show up in an error the caller sees.
    secrets: Vec<String>,
}

impl Case {
    /// `authorization: Bearer <token>`.
    fn token(name: impl Into<String>, target: Target, token: &str, expect: Expect) -> Self {
        Self::header(name, target, format!("Bearer {token}"), expect).with_secret(token.to_owned())
    }

    /// `authorization: <value>`, verbatim.
    fn header(
        name: impl Into<String>,
        target: Target,
        value: impl Into<Vec<u8>>,
        expect: Expect,
    ) -> Self {
        Self::raw(
            name,
            target,
            vec![Entry::Ascii(AUTHORIZATION, value.into())],
            expect,
        )
    }

    fn raw(name: impl Into<String>, target: Target, metadata: Vec<Entry>, expect: Expect) -> Self {
        Self {
            name: name.into(),
            target,
            metadata,
            expect,
            secrets: Vec::new(),
        }
    }

    fn with_secret(mut self, secret: String) -> Self {
        self.secrets.push(secret);
        self
    }
}

fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

fn metadata_of(entries: &[Entry]) -> MetadataMap {
    let mut map = MetadataMap::new();
    for entry in entries {
        match entry {
            Entry::Ascii(key, value) => {
                let value = AsciiMetadataValue::try_from(value.as_slice()).unwrap_or_else(|_| {
                    panic!("tonic refuses to send {value:?} as ASCII metadata")
                });
                map.append(*key, value);
            }
            Entry::Binary(key, value) => {
                map.append_bin(*key, BinaryMetadataValue::from_bytes(value));
            }
        }
    }
    map
}

/// Calls the case's target with its metadata; `Ok` means the handler
/// answered OK.
async fn call(mesh: &TestMesh, case: &Case) -> Result<(), Status> {
    let metadata = metadata_of(&case.metadata);
    match case.target {
        Target::Lookup => {
            let mut request = Request::new(LookupPseudoniemRequest {
                bsn: UNSEEN_BSN.into(),
            });
            *request.metadata_mut() = metadata;
            mesh.pseudoniem().lookup_pseudoniem(request).await.map(drop)
        }
        Target::ListMine => {
            let mut request = Request::new(ListMyDossiersRequest::default());
            *request.metadata_mut() = metadata;
            mesh.dossier().list_my_dossiers(request).await.map(|r| {
                assert!(
                    r.get_ref().dossiers.is_empty(),
                    "{}: a stranger's dossiers were listed",
                    case.name
                );
            })
        }
    }
}

fn describe(outcome: &Result<(), Status>) -> String {
    match outcome {
        Ok(()) => "OK".into(),
        Err(status) => {
            let info = status.get_details_error_info();
            format!(
                "{:?} (domain {:?}, reason {:?}, metadata {:?}) {:?}",
                status.code(),
                info.as_ref().map(|i| i.domain.clone()),
                info.as_ref().map(|i| i.reason.clone()),
                info.as_ref().map(|i| i.metadata.clone()),
                status.message()
            )
        }
    }
}

/// Whether `outcome` is what `case` expects; `Err` says why not.
fn judge(case: &Case, outcome: &Result<(), Status>) -> Result<(), String> {
    let got = || describe(outcome);
    if let Err(status) = outcome {
        check_no_leak(status, &case.secrets)?;
    }
    match case.expect {
        Expect::Pass => match (case.target, outcome) {
            (Target::Lookup, Err(status)) if status.code() == Code::NotFound => Ok(()),
            (Target::ListMine, Ok(())) => Ok(()),
            (Target::Lookup, _) => Err(format!("expected to pass (NOT_FOUND), got {}", got())),
            (Target::ListMine, _) => Err(format!("expected to pass (OK), got {}", got())),
        },
        Expect::Denied => match outcome {
            Err(status)
                if status.code() == Code::PermissionDenied
                    && reason(status).as_deref() == Some("ROLE_NOT_ALLOWED") =>
            {
                Ok(())
            }
            _ => Err(format!(
                "expected PERMISSION_DENIED ROLE_NOT_ALLOWED, got {}",
                got()
            )),
        },
        Expect::Refused {
            reason: want_reason,
            header,
        } => {
            let Err(status) = outcome else {
                return Err(format!(
                    "expected UNAUTHENTICATED {want_reason} on `{header}`, got OK"
                ));
            };
            let info = status.get_details_error_info();
            let matches = status.code() == Code::Unauthenticated
                && info.as_ref().is_some_and(|info| {
                    info.domain == "toestemming"
                        && info.reason == want_reason
                        && info.metadata.get("header").map(String::as_str) == Some(header)
                });
            if matches {
                Ok(())
            } else {
                Err(format!(
                    "expected UNAUTHENTICATED {want_reason} (domain toestemming, header \
                     {header:?}), got {}",
                    got()
                ))
            }
        }
    }
}

/// security.md: never return a token. Checks the message and every ErrorInfo
/// value for the token and for any of its segments long enough to matter.
fn check_no_leak(status: &Status, secrets: &[String]) -> Result<(), String> {
    let mut visible = vec![status.message().to_owned()];
    if let Some(info) = status.get_details_error_info() {
        visible.push(info.reason);
        visible.extend(info.metadata.into_values());
    }
    for secret in secrets {
        let pieces = std::iter::once(secret.as_str())
            .chain(secret.split('.').filter(|segment| segment.len() >= 16));
        for piece in pieces {
            if visible.iter().any(|text| text.contains(piece)) {
                return Err(format!(
                    "the error shows (part of) the token: {:?}",
                    status.message()
                ));
            }
        }
    }
    Ok(())
}

/// Runs every case against `mesh` and fails with one line per broken case.
async fn run(mesh: &TestMesh, group: &str, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = call(mesh, case).await;
        if let Err(why) = judge(case, &outcome) {
            failures.push(format!("  [{group}] {}: {why}", case.name));
        }
    }
    println!("{group}: {} cases, {} failed", cases.len(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} `{group}` cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Token crafting
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Hash {
    S256,
    S384,
    S512,
}

/// `header.payload.signature` with an HMAC of the chosen size over the raw
/// JSON texts.
fn hmac_sign(hash: Hash, header: &str, payload: &str, key: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = match hash {
        Hash::S256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Hash::S384 => {
            let mut mac = Hmac::<Sha384>::new_from_slice(key).unwrap();
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Hash::S512 => {
            let mut mac = Hmac::<Sha512>::new_from_slice(key).unwrap();
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    format!("{message}.{}", b64(&signature))
}

fn internal() -> Value {
    jwt::claims("Internal", "internal")
}

fn patient_sub() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

fn patient() -> Value {
    jwt::claims("Patient", &patient_sub())
}

fn company() -> Value {
    jwt::claims("HealthcareCompany", COMPANY)
}

/// `claims` with `key` set to `value`.
fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// `claims` with `key` removed.
fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// Time claims relative to now: `(iat, nbf, exp)` offsets in seconds.
fn timed(claims: Value, iat: i64, nbf: i64, exp: i64) -> Value {
    let now = now();
    let at = |offset: i64| json!(now.checked_add_signed(offset).unwrap());
    let claims = with(claims, "iat", at(iat));
    let claims = with(claims, "nbf", at(nbf));
    with(claims, "exp", at(exp))
}

/// The JSON text of `claims` with `"key":value` added once more, before or
/// after the existing entries.
fn duplicated(claims: &Value, key: &str, value: Value, first: bool) -> String {
    let text = claims.to_string();
    let extra = format!("{}:{}", json!(key), value);
    if first {
        format!("{{{extra},{}", &text[1..])
    } else {
        format!("{},{extra}}}", &text[..text.len() - 1])
    }
}

/// Signs `claims` under a raw header text with the mesh key.
fn with_header(header: &str, claims: &Value) -> String {
    sign_raw(header, &claims.to_string(), SECRET)
}

fn segments(token: &str) -> (&str, &str, &str) {
    let mut parts = token.split('.');
    let parts = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert_eq!(token.matches('.').count(), 2, "not a compact JWS");
    parts
}

/// An Internal token issued by Identity itself, through the public RPC.
async fn identity_issued_internal_token(mesh: &TestMesh) -> String {
    mesh.identity()
        .issue_internal_token(IssueInternalTokenRequest {
            service_name: "token-verification-test".into(),
            service_secret: INTERNAL_SECRET.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

use Target::{ListMine, Lookup};

// ---------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------

/// The control group: genuine tokens, and tokens crafted by this file's
/// helpers with nothing wrong, pass. Without this, every refusal below could
/// be the helpers' fault.
#[tokio::test]
async fn genuine_tokens_pass() {
    let mesh = TestMesh::start().await;
    let (_, signed_in_patient) = mesh.patient_token(&bsn(1)).await;
    let cases = vec![
        Case::token(
            "issuer: Internal/internal",
            Lookup,
            &mesh.token(Role::Internal, "internal"),
            Expect::Pass,
        ),
        Case::token(
            "Identity IssueInternalToken",
            Lookup,
            &identity_issued_internal_token(&mesh).await,
            Expect::Pass,
        ),
        Case::token(
            "issuer: Patient/<lowercase uuid>",
            ListMine,
            &mesh.token(Role::Patient, &patient_sub()),
            Expect::Pass,
        ),
        Case::token(
            "Identity LoginPatient",
            ListMine,
            &signed_in_patient,
            Expect::Pass,
        ),
        Case::token(
            "issuer: HealthcareCompany on a Patient RPC is verified, then denied",
            ListMine,
            &mesh.token(Role::HealthcareCompany, COMPANY),
            Expect::Denied,
        ),
        Case::token(
            "issuer: Patient on an Internal RPC is verified, then denied",
            Lookup,
            &mesh.token(Role::Patient, &patient_sub()),
            Expect::Denied,
        ),
        Case::token("crafted Internal", Lookup, &sign(&internal()), Expect::Pass),
        Case::token("crafted Patient", ListMine, &sign(&patient()), Expect::Pass),
        Case::token(
            "crafted company",
            ListMine,
            &sign(&company()),
            Expect::Denied,
        ),
        Case::token(
            "crafted via hmac_sign(HS256)",
            Lookup,
            &hmac_sign(Hash::S256, HEADER, &internal().to_string(), SECRET),
            Expect::Pass,
        ),
        Case::token(
            "crafted, lifetime exactly 15 minutes",
            Lookup,
            &sign(&timed(internal(), 0, 0, 900)),
            Expect::Pass,
        ),
        Case::token(
            "crafted, nearly expired (issued 14 min ago, 60 s left)",
            Lookup,
            &sign(&timed(internal(), -840, -840, 60)),
            Expect::Pass,
        ),
        Case::token(
            "crafted, without the optional jti",
            Lookup,
            &sign(&without(internal(), "jti")),
            Expect::Pass,
        ),
        Case::token(
            "crafted, with an unknown extra claim (RFC 7519: ignored)",
            Lookup,
            &sign(&with(internal(), "x-extra", json!("ignored"))),
            Expect::Pass,
        ),
    ];
    run(&mesh, "genuine", cases).await;
    mesh.stop().await;
}

/// RFC 8725 §3.1 / security.md: the algorithm is pinned to HS256.
#[tokio::test]
async fn algorithm_is_pinned_to_hs256() {
    let mesh = TestMesh::start().await;
    let payload = internal().to_string();
    let none = |alg: &str| format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let unsigned = |alg: &str| format!("{}.{}", b64(none(alg).as_bytes()), b64(payload.as_bytes()));
    let mut cases = vec![
        Case::token(
            "alg none, empty signature",
            Lookup,
            &format!("{}.", unsigned("none")),
            INVALID,
        ),
        Case::token(
            "alg none, fake signature",
            Lookup,
            &format!("{}.{}", unsigned("none"), b64(b"fake-signature")),
            INVALID,
        ),
        Case::token(
            "alg none, no typ, empty signature",
            Lookup,
            &format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(payload.as_bytes())),
            INVALID,
        ),
        Case::token(
            "alg HS384 signed with the mesh key",
            Lookup,
            &hmac_sign(Hash::S384, &none("HS384"), &payload, SECRET),
            INVALID,
        ),
        Case::token(
            "alg HS512 signed with the mesh key",
            Lookup,
            &hmac_sign(Hash::S512, &none("HS512"), &payload, SECRET),
            INVALID,
        ),
        Case::token(
            "alg HS256 in the header, HS512 signature",
            Lookup,
            &hmac_sign(Hash::S512, HEADER, &payload, SECRET),
            INVALID,
        ),
        Case::token(
            "alg hs256 (wrong case)",
            Lookup,
            &with_header(&none("hs256"), &internal()),
            INVALID,
        ),
    ];
    // alg none / asymmetric algs, each with a *valid* HMAC-SHA256 signature
    // by the mesh key: only the declared algorithm is wrong (key confusion).
    for alg in [
        "none", "None", "NONE", "RS256", "ES256", "PS256", "EdDSA", "RS512",
    ] {
        cases.push(Case::token(
            format!("alg {alg} with an HS256 signature by the mesh key"),
            Lookup,
            &with_header(&none(alg), &internal()),
            INVALID,
        ));
    }
    run(&mesh, "algorithm", cases).await;
    mesh.stop().await;
}

/// The signature must verify with the mesh key over exactly these bytes.
#[tokio::test]
async fn signature_must_verify() {
    let mesh = TestMesh::start().await;
    let genuine = mesh.token(Role::Internal, "internal");
    let other = mesh.token(Role::Internal, "internal");
    let (header, payload, signature) = segments(&genuine);

    // The same claims with one second less to live: a perfectly good
    // payload, but not the one the signature covers.
    let original: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let exp = original["exp"].as_u64().unwrap();
    let tampered = b64(with(original, "exp", json!(exp - 1)).to_string().as_bytes());
    let (_, _, other_signature) = segments(&other);
    let mut flipped = signature.to_owned();
    let first = if flipped.starts_with('A') { "B" } else { "A" };
    flipped.replace_range(0..1, first);

    let payload_text = internal().to_string();
    let cases = vec![
        Case::token(
            "signed with another 48-byte key",
            Lookup,
            &sign_raw(HEADER, &payload_text, &[0x5a; 48]),
            INVALID,
        ),
        Case::token(
            "signed with the mesh key minus its last byte",
            Lookup,
            &sign_raw(HEADER, &payload_text, &SECRET[..SECRET.len() - 1]),
            INVALID,
        ),
        Case::token(
            "signed with an empty key",
            Lookup,
            &sign_raw(HEADER, &payload_text, b""),
            INVALID,
        ),
        Case::token(
            "tampered payload (exp - 1), original signature",
            Lookup,
            &format!("{header}.{tampered}.{signature}"),
            INVALID,
        ),
        Case::token(
            "signature of another genuine token",
            Lookup,
            &format!("{header}.{payload}.{other_signature}"),
            INVALID,
        ),
        Case::token(
            "first signature character changed",
            Lookup,
            &format!("{header}.{payload}.{flipped}"),
            INVALID,
        ),
        Case::token(
            "signature truncated",
            Lookup,
            &format!("{header}.{payload}.{}", &signature[..signature.len() - 4]),
            INVALID,
        ),
        Case::token(
            "signature not base64url",
            Lookup,
            &format!("{header}.{payload}.{}", "_".repeat(signature.len())),
            INVALID,
        ),
    ];
    assert_ne!(
        other_signature, signature,
        "two tokens should differ by jti"
    );
    run(&mesh, "signature", cases).await;
    mesh.stop().await;
}

/// `exp` (at or after is expired), `nbf` and `iat` not in the future, and a
/// lifetime of at most 15 minutes. Only a genuine token past its `exp` is
/// TOKEN_EXPIRED.
#[tokio::test]
async fn time_claims_are_enforced() {
    let mesh = TestMesh::start().await;
    let cases = vec![
        Case::token(
            "expired 1 s ago",
            Lookup,
            &sign(&timed(internal(), -601, -601, -1)),
            EXPIRED,
        ),
        Case::token(
            "expired an hour ago",
            Lookup,
            &sign(&timed(internal(), -4200, -4200, -3600)),
            EXPIRED,
        ),
        Case::token(
            "expired a year ago",
            Lookup,
            &sign(&timed(internal(), -31_536_600, -31_536_600, -31_536_000)),
            EXPIRED,
        ),
        Case::token(
            "exp == now is expired",
            Lookup,
            &sign(&timed(internal(), -600, -600, 0)),
            EXPIRED,
        ),
        Case::token(
            "expired Patient token",
            ListMine,
            &sign(&timed(patient(), -601, -601, -1)),
            EXPIRED,
        ),
        Case::token(
            "nbf 120 s in the future",
            Lookup,
            &sign(&timed(internal(), 0, 120, 600)),
            INVALID,
        ),
        Case::token(
            "nbf an hour in the future",
            Lookup,
            &sign(&timed(internal(), 0, 3600, 600)),
            INVALID,
        ),
        Case::token(
            "iat 120 s in the future",
            Lookup,
            &sign(&timed(internal(), 120, 0, 600)),
            INVALID,
        ),
        Case::token(
            "iat and nbf 120 s in the future",
            Lookup,
            &sign(&timed(internal(), 120, 120, 900)),
            INVALID,
        ),
        Case::token(
            "lifetime 16 minutes (iat=now, exp=now+16min)",
            Lookup,
            &sign(&timed(internal(), 0, 0, 960)),
            INVALID,
        ),
        Case::token(
            "lifetime 15 min + 1 s",
            Lookup,
            &sign(&timed(internal(), 0, 0, 901)),
            INVALID,
        ),
        Case::token(
            "lifetime a year",
            Lookup,
            &sign(&timed(internal(), 0, 0, 31_536_000)),
            INVALID,
        ),
        Case::token(
            "issued a day ago, still 10 minutes to live",
            Lookup,
            &sign(&timed(internal(), -86_400, -86_400, 600)),
            INVALID,
        ),
    ];
    run(&mesh, "time", cases).await;
    mesh.stop().await;
}

/// exp, iat, nbf, iss, aud, sub, role are required: absent or null fails.
#[tokio::test]
async fn every_required_claim_must_be_present() {
    let mesh = TestMesh::start().await;
    let mut cases = Vec::new();
    for claim in ["exp", "iat", "nbf", "iss", "aud", "sub", "role"] {
        cases.push(Case::token(
            format!("{claim} missing"),
            Lookup,
            &sign(&without(internal(), claim)),
            INVALID,
        ));
        cases.push(Case::token(
            format!("{claim} null"),
            Lookup,
            &sign(&with(internal(), claim, Value::Null)),
            INVALID,
        ));
        cases.push(Case::token(
            format!("{claim} missing (Patient)"),
            ListMine,
            &sign(&without(patient(), claim)),
            INVALID,
        ));
    }
    cases.push(Case::token(
        "empty claims object",
        Lookup,
        &sign(&json!({})),
        INVALID,
    ));
    run(&mesh, "required claims", cases).await;
    mesh.stop().await;
}

/// iss and aud are exact single strings; role is exactly one of the three.
#[tokio::test]
async fn issuer_audience_and_role_must_match_exactly() {
    let mesh = TestMesh::start().await;
    let cases = vec![
        Case::token(
            "wrong iss",
            Lookup,
            &sign(&with(internal(), "iss", json!("Someone-Else"))),
            INVALID,
        ),
        Case::token(
            "iss in another case",
            Lookup,
            &sign(&with(internal(), "iss", json!(ISSUER.to_lowercase()))),
            INVALID,
        ),
        Case::token(
            "iss with a trailing space",
            Lookup,
            &sign(&with(internal(), "iss", json!(format!("{ISSUER} ")))),
            INVALID,
        ),
        Case::token(
            "iss as an array",
            Lookup,
            &sign(&with(internal(), "iss", json!([ISSUER]))),
            INVALID,
        ),
        Case::token(
            "wrong aud",
            Lookup,
            &sign(&with(internal(), "aud", json!("Another-Audience"))),
            INVALID,
        ),
        Case::token(
            "aud empty string",
            Lookup,
            &sign(&with(internal(), "aud", json!(""))),
            INVALID,
        ),
        Case::token(
            "aud as an array of the right audience",
            Lookup,
            &sign(&with(internal(), "aud", json!([AUDIENCE]))),
            INVALID,
        ),
        Case::token(
            "aud as an array with the right and a wrong audience",
            Lookup,
            &sign(&with(internal(), "aud", json!([AUDIENCE, "other"]))),
            INVALID,
        ),
        Case::token(
            "role Admin",
            Lookup,
            &sign(&with(internal(), "role", json!("Admin"))),
            INVALID,
        ),
        Case::token(
            "role patient (lowercase), Patient-shaped sub",
            ListMine,
            &sign(&with(patient(), "role", json!("patient"))),
            INVALID,
        ),
        Case::token(
            "role PATIENT (uppercase), Patient-shaped sub",
            ListMine,
            &sign(&with(patient(), "role", json!("PATIENT"))),
            INVALID,
        ),
        Case::token(
            "role internal (lowercase)",
            Lookup,
            &sign(&with(internal(), "role", json!("internal"))),
            INVALID,
        ),
        Case::token(
            "role ROLE_INTERNAL (the proto enum name)",
            Lookup,
            &sign(&with(internal(), "role", json!("ROLE_INTERNAL"))),
            INVALID,
        ),
        Case::token(
            "role empty string",
            Lookup,
            &sign(&with(internal(), "role", json!(""))),
            INVALID,
        ),
        Case::token(
            "role as a number (3, the proto enum value)",
            Lookup,
            &sign(&with(internal(), "role", json!(3))),
            INVALID,
        ),
        Case::token(
            "role as a number (0)",
            Lookup,
            &sign(&with(internal(), "role", json!(0))),
            INVALID,
        ),
        Case::token(
            "role as an array",
            Lookup,
            &sign(&with(internal(), "role", json!(["Internal"]))),
            INVALID,
        ),
        Case::token(
            "role as serde's tagged unit variant {\"Internal\": null}",
            Lookup,
            &sign(&with(internal(), "role", json!({"Internal": null}))),
            INVALID,
        ),
        Case::token(
            "role as {\"Patient\": null}",
            Lookup,
            &sign(&with(internal(), "role", json!({"Patient": null}))),
            INVALID,
        ),
    ];
    run(&mesh, "iss/aud/role", cases).await;
    mesh.stop().await;
}

/// Claims are decoded into typed fields: wrong types and duplicate keys fail.
#[tokio::test]
async fn claims_are_strictly_typed_without_duplicate_keys() {
    let mesh = TestMesh::start().await;
    let claims = internal();
    let exp = claims["exp"].as_u64().unwrap();
    let past = now() - 3600;
    let mut cases = vec![
        Case::token(
            "exp as a string",
            Lookup,
            &sign(&with(internal(), "exp", json!(exp.to_string()))),
            INVALID,
        ),
        Case::token(
            "iat as a string",
            Lookup,
            &sign(&with(internal(), "iat", json!(now().to_string()))),
            INVALID,
        ),
        Case::token(
            "nbf as a string",
            Lookup,
            &sign(&with(internal(), "nbf", json!(now().to_string()))),
            INVALID,
        ),
        Case::token(
            "exp as a boolean",
            Lookup,
            &sign(&with(internal(), "exp", json!(true))),
            INVALID,
        ),
        Case::token(
            "sub as a number",
            Lookup,
            &sign(&with(internal(), "sub", json!(1))),
            INVALID,
        ),
        Case::token(
            "iss as a number",
            Lookup,
            &sign(&with(internal(), "iss", json!(1))),
            INVALID,
        ),
        Case::token(
            "aud as an object",
            Lookup,
            &sign(&with(internal(), "aud", json!({ "aud": AUDIENCE }))),
            INVALID,
        ),
        Case::token(
            "jti as a number",
            Lookup,
            &sign(&with(internal(), "jti", json!(42))),
            INVALID,
        ),
        Case::token(
            "payload is a JSON array",
            Lookup,
            &sign_raw(HEADER, &json!([claims]).to_string(), SECRET),
            INVALID,
        ),
        Case::token(
            "payload is not JSON",
            Lookup,
            &sign_raw(HEADER, "sub=internal&role=Internal", SECRET),
            INVALID,
        ),
        Case::token(
            "payload with trailing bytes after the object",
            Lookup,
            &sign_raw(HEADER, &format!("{claims}x"), SECRET),
            INVALID,
        ),
    ];
    // Duplicates: for a different second value, one of the two orders is
    // what a last-wins or first-wins parser would happily accept; the same
    // value twice is accepted by any lenient parser.
    let duplicates: Vec<(&str, Value, Target, Value)> = vec![
        ("role", json!("Internal"), Lookup, internal()),
        ("role", json!("Patient"), Lookup, internal()),
        ("role", json!("Internal"), ListMine, patient()),
        ("exp", json!(exp), Lookup, internal()),
        ("exp", json!(past), Lookup, internal()),
        ("sub", json!("internal"), Lookup, internal()),
        ("sub", json!("someone"), Lookup, internal()),
        ("iss", json!(ISSUER), Lookup, internal()),
        ("iss", json!("Someone-Else"), Lookup, internal()),
        ("aud", json!(AUDIENCE), Lookup, internal()),
        ("iat", json!(now()), Lookup, internal()),
        ("nbf", json!(now()), Lookup, internal()),
    ];
    for (key, value, target, claims) in duplicates {
        for first in [true, false] {
            let payload = duplicated(&claims, key, value.clone(), first);
            let order = if first { "before" } else { "after" };
            cases.push(Case::token(
                format!("duplicate {key:?}: {value} {order} the original ({target:?})"),
                target,
                &sign_raw(HEADER, &payload, SECRET),
                INVALID,
            ));
        }
    }
    run(&mesh, "types and duplicates", cases).await;
    mesh.stop().await;
}

/// Header: only `alg` and `typ` (= JWT); anything that names a key or a
/// critical extension is refused. Every token here carries a valid HS256
/// signature by the mesh key, so the header is the only thing wrong.
#[tokio::test]
async fn header_allows_only_alg_and_typ() {
    let mesh = TestMesh::start().await;
    let claims = internal();
    let headers = [
        (
            "kid",
            r#"{"alg":"HS256","typ":"JWT","kid":"mesh-1"}"#.to_owned(),
        ),
        (
            "jku",
            r#"{"alg":"HS256","typ":"JWT","jku":"https://attacker.example/jwks.json"}"#.to_owned(),
        ),
        (
            "jwk",
            format!(
                r#"{{"alg":"HS256","typ":"JWT","jwk":{{"kty":"oct","k":"{}"}}}}"#,
                b64(SECRET)
            ),
        ),
        (
            "x5u",
            r#"{"alg":"HS256","typ":"JWT","x5u":"https://attacker.example/cert.pem"}"#.to_owned(),
        ),
        (
            "x5c",
            r#"{"alg":"HS256","typ":"JWT","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}"#
                .to_owned(),
        ),
        (
            "x5t",
            r#"{"alg":"HS256","typ":"JWT","x5t":"dGhpcyBpcyBub3QgYSB0aHVtYnByaW50"}"#.to_owned(),
        ),
        (
            "crit",
            r#"{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}"#.to_owned(),
        ),
        (
            "zip",
            r#"{"alg":"HS256","typ":"JWT","zip":"DEF"}"#.to_owned(),
        ),
        (
            "cty",
            r#"{"alg":"HS256","typ":"JWT","cty":"JWT"}"#.to_owned(),
        ),
        ("typ JWS", r#"{"alg":"HS256","typ":"JWS"}"#.to_owned()),
        ("typ at+jwt", r#"{"alg":"HS256","typ":"at+jwt"}"#.to_owned()),
        ("typ empty", r#"{"alg":"HS256","typ":""}"#.to_owned()),
        ("typ as a number", r#"{"alg":"HS256","typ":1}"#.to_owned()),
        (
            "duplicate alg (HS256, then none)",
            r#"{"alg":"HS256","alg":"none","typ":"JWT"}"#.to_owned(),
        ),
        (
            "duplicate alg (none, then HS256)",
            r#"{"alg":"none","alg":"HS256","typ":"JWT"}"#.to_owned(),
        ),
        (
            "duplicate alg (HS256 twice)",
            r#"{"alg":"HS256","alg":"HS256","typ":"JWT"}"#.to_owned(),
        ),
        (
            "duplicate typ",
            r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#.to_owned(),
        ),
        ("alg missing", r#"{"typ":"JWT"}"#.to_owned()),
        (
            "alg as an array",
            r#"{"alg":["HS256"],"typ":"JWT"}"#.to_owned(),
        ),
        ("header is a JSON array", r#"["HS256","JWT"]"#.to_owned()),
        ("header is not JSON", "alg=HS256".to_owned()),
    ];
    let mut cases: Vec<Case> = headers
        .iter()
        .map(|(name, header)| {
            Case::token(
                format!("header {name}"),
                Lookup,
                &with_header(header, &claims),
                INVALID,
            )
        })
        .collect();
    cases.push(Case::token(
        "header segment not base64url-decodable",
        Lookup,
        &format!(
            "Zm9v_.{}.{}",
            b64(claims.to_string().as_bytes()),
            b64(&[0; 32])
        ),
        INVALID,
    ));
    run(&mesh, "header", cases).await;
    mesh.stop().await;
}

/// `sub` is non-empty and bounded, and has the shape its role implies.
#[tokio::test]
async fn subject_must_fit_the_role() {
    let mesh = TestMesh::start().await;
    let uuid = uuid::Uuid::new_v4();
    let patient_with = |sub: String| sign(&with(patient(), "sub", json!(sub)));
    let internal_with = |sub: &str| sign(&with(internal(), "sub", json!(sub)));
    let company_with = |sub: String| sign(&with(company(), "sub", json!(sub)));
    let cases = vec![
        // A verified company is PERMISSION_DENIED on ListMyDossiers (see
        // genuine_tokens_pass), so TOKEN_INVALID here is the sub check.
        Case::token(
            "company, empty sub",
            ListMine,
            &company_with(String::new()),
            INVALID,
        ),
        Case::token(
            "company, 1000-character sub",
            ListMine,
            &company_with("M".repeat(1000)),
            INVALID,
        ),
        Case::token(
            "company, 4000-character sub",
            ListMine,
            &company_with("M".repeat(4000)),
            INVALID,
        ),
        Case::token("Internal, empty sub", Lookup, &internal_with(""), INVALID),
        Case::token(
            "Patient, empty sub",
            ListMine,
            &patient_with(String::new()),
            INVALID,
        ),
        Case::token(
            "Patient, sub not a UUID",
            ListMine,
            &patient_with("jan-jansen".into()),
            INVALID,
        ),
        Case::token(
            "Patient, sub an uppercase UUID",
            ListMine,
            &patient_with(uuid.hyphenated().to_string().to_uppercase()),
            INVALID,
        ),
        Case::token(
            "Patient, sub a UUID without hyphens",
            ListMine,
            &patient_with(uuid.simple().to_string()),
            INVALID,
        ),
        Case::token(
            "Patient, sub a braced UUID",
            ListMine,
            &patient_with(uuid.braced().to_string()),
            INVALID,
        ),
        Case::token(
            "Patient, sub a urn:uuid",
            ListMine,
            &patient_with(uuid.urn().to_string()),
            INVALID,
        ),
        Case::token(
            "Patient, sub a UUID with a trailing space",
            ListMine,
            &patient_with(format!("{uuid} ")),
            INVALID,
        ),
        Case::token(
            "Patient, sub a BSN",
            ListMine,
            &patient_with(UNSEEN_BSN.into()),
            INVALID,
        ),
        Case::token(
            "Internal, sub Internal",
            Lookup,
            &internal_with("Internal"),
            INVALID,
        ),
        Case::token(
            "Internal, sub INTERNAL",
            Lookup,
            &internal_with("INTERNAL"),
            INVALID,
        ),
        Case::token(
            "Internal, sub 'internal ' (trailing space)",
            Lookup,
            &internal_with("internal "),
            INVALID,
        ),
        Case::token(
            "Internal, sub dossier",
            Lookup,
            &internal_with("dossier"),
            INVALID,
        ),
        Case::token(
            "Internal, sub a pseudoniem",
            Lookup,
            &internal_with(&uuid.to_string()),
            INVALID,
        ),
    ];
    run(&mesh, "subject", cases).await;
    mesh.stop().await;
}

/// RFC 6750 §2.1, strictly: exactly one `authorization`, `Bearer` in any
/// case, one or more spaces, a compact JWS, nothing else; no fallback.
#[tokio::test]
async fn bearer_credential_is_parsed_strictly() {
    let mesh = TestMesh::start().await;
    let token = mesh.token(Role::Internal, "internal");
    let t = token.as_str();
    let (header, payload, signature) = segments(t);
    let auth = |value: String| Entry::Ascii(AUTHORIZATION, value.into_bytes());
    let with_token = |case: Case| case.with_secret(token.clone());
    let mut cases = vec![
        Case::raw("no authorization at all", Lookup, vec![], MISSING),
        with_token(Case::raw(
            "token only under authorization-bin",
            Lookup,
            vec![Entry::Binary("authorization-bin", t.as_bytes().to_vec())],
            MISSING,
        )),
        with_token(Case::raw(
            "`Bearer <token>` only under authorization-bin",
            Lookup,
            vec![Entry::Binary("authorization-bin", bearer(t))],
            MISSING,
        )),
        with_token(Case::raw(
            "token only under a cookie",
            Lookup,
            vec![Entry::Ascii("cookie", format!("token={t}").into_bytes())],
            MISSING,
        )),
        with_token(Case::raw(
            "token only under x-forwarded-authorization",
            Lookup,
            vec![Entry::Ascii(FORWARDED, bearer(t))],
            MISSING,
        )),
        with_token(Case::raw(
            "two authorization entries, both the same genuine token",
            Lookup,
            vec![auth(format!("Bearer {t}")), auth(format!("Bearer {t}"))],
            INVALID,
        )),
        with_token(Case::raw(
            "two authorization entries, genuine then garbage",
            Lookup,
            vec![
                auth(format!("Bearer {t}")),
                auth("Bearer abc.def.ghi".into()),
            ],
            INVALID,
        )),
        with_token(Case::raw(
            "two authorization entries, garbage then genuine",
            Lookup,
            vec![
                auth("Bearer abc.def.ghi".into()),
                auth(format!("Bearer {t}")),
            ],
            INVALID,
        )),
        Case::header("scheme Basic", Lookup, format!("Basic {t}"), INVALID)
            .with_secret(token.clone()),
        Case::header("scheme Token", Lookup, format!("Token {t}"), INVALID)
            .with_secret(token.clone()),
        Case::header(
            "scheme Bearer-ish: Bearers",
            Lookup,
            format!("Bearers {t}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header("no scheme", Lookup, t.to_owned(), INVALID).with_secret(token.clone()),
        Case::header(
            "scheme lowercase bearer",
            Lookup,
            format!("bearer {t}"),
            Expect::Pass,
        ),
        Case::header("scheme BEARER", Lookup, format!("BEARER {t}"), Expect::Pass),
        Case::header("scheme bEaReR", Lookup, format!("bEaReR {t}"), Expect::Pass),
        Case::header(
            "three spaces after Bearer",
            Lookup,
            format!("Bearer   {t}"),
            Expect::Pass,
        ),
        Case::header(
            "no space after Bearer",
            Lookup,
            format!("Bearer{t}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header("tab after Bearer", Lookup, format!("Bearer\t{t}"), INVALID)
            .with_secret(token.clone()),
        Case::header(
            "space and tab after Bearer",
            Lookup,
            format!("Bearer \t{t}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header("trailing space", Lookup, format!("Bearer {t} "), INVALID)
            .with_secret(token.clone()),
        Case::header("trailing tab", Lookup, format!("Bearer {t}\t"), INVALID)
            .with_secret(token.clone()),
        Case::header("leading space", Lookup, format!(" Bearer {t}"), INVALID)
            .with_secret(token.clone()),
        Case::header("Bearer and nothing else", Lookup, "Bearer", INVALID),
        Case::header("empty value", Lookup, "", INVALID),
        Case::header(
            "a list of two credentials",
            Lookup,
            format!("Bearer {t}, Bearer {t}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header(
            "two segments (signature dropped)",
            Lookup,
            format!("Bearer {header}.{payload}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header(
            "two segments (header dropped)",
            Lookup,
            format!("Bearer {payload}.{signature}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header(
            "four segments",
            Lookup,
            format!("Bearer {t}.{signature}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header("trailing dot", Lookup, format!("Bearer {t}."), INVALID)
            .with_secret(token.clone()),
        Case::header(
            "empty payload segment",
            Lookup,
            format!("Bearer {header}..{signature}"),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header("padded signature", Lookup, format!("Bearer {t}="), INVALID)
            .with_secret(token.clone()),
        Case::header(
            "standard base64 characters (+ and /)",
            Lookup,
            format!("Bearer {}+/.{payload}.{signature}", header),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header("quoted token", Lookup, format!("Bearer \"{t}\""), INVALID)
            .with_secret(token.clone()),
        // Non-ASCII: tonic sends obs-text bytes (0x80..=0xFF) as they are;
        // control characters (CR, LF, NUL) it refuses to send at all, so
        // those cannot reach the server from this client.
        Case::header(
            "0xFF byte inside the token",
            Lookup,
            [
                b"Bearer ".as_slice(),
                header.as_bytes(),
                b".\xff",
                payload.as_bytes(),
                b".",
                signature.as_bytes(),
            ]
            .concat(),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header(
            "0xFF byte after the token",
            Lookup,
            [bearer(t).as_slice(), b"\xff"].concat(),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header(
            "UTF-8 (é) in the scheme",
            Lookup,
            [b"B\xc3\xa9arer ".as_slice(), t.as_bytes()].concat(),
            INVALID,
        )
        .with_secret(token.clone()),
        Case::header(
            "lone 0x80 byte as the whole value",
            Lookup,
            b"\x80".to_vec(),
            INVALID,
        ),
    ];
    cases.push(with_token(Case::raw(
        "genuine token plus an empty second authorization",
        Lookup,
        vec![auth(format!("Bearer {t}")), auth(String::new())],
        INVALID,
    )));
    run(&mesh, "bearer", cases).await;
    mesh.stop().await;
}

/// The token length is capped at 8 KiB before anything is decoded. The
/// tokens here are correctly signed, so only their length is wrong.
#[tokio::test]
async fn token_length_is_capped_at_8_kib() {
    const CAP: usize = 8 * 1024;
    let mesh = TestMesh::start().await;
    let padded = |pad: usize| sign(&with(internal(), "pad", json!("p".repeat(pad))));
    // The largest signable token within the cap and the smallest beyond it
    // (base64 lengths move in steps, so exact sizes are not all reachable).
    let mut pad = 0;
    while padded(pad + 1).len() <= CAP {
        pad += 1;
    }
    let at_cap = padded(pad);
    let mut over = pad + 1;
    while padded(over).len() <= CAP {
        over += 1;
    }
    let over_cap = padded(over);
    assert!(
        at_cap.len() <= CAP && at_cap.len() > CAP - 4,
        "{}",
        at_cap.len()
    );
    assert!(
        over_cap.len() > CAP && over_cap.len() < CAP + 4,
        "{}",
        over_cap.len()
    );
    let cases = vec![
        Case::token(
            format!("genuine, {} bytes (largest within 8 KiB)", at_cap.len()),
            Lookup,
            &at_cap,
            Expect::Pass,
        ),
        Case::token(
            format!("genuine, {} bytes (just over 8 KiB)", over_cap.len()),
            Lookup,
            &over_cap,
            INVALID,
        ),
        Case::token("genuine, ~12 KiB", Lookup, &padded(9000), INVALID),
        Case::header(
            "12 KiB of garbage",
            Lookup,
            format!("Bearer {}.b.c", "a".repeat(12 * 1024)),
            INVALID,
        ),
    ];
    run(&mesh, "length", cases).await;
    mesh.stop().await;
}

/// `x-forwarded-authorization` is verified like any token when an Internal
/// caller sends it, and stripped (never trusted, never rejected) when anyone
/// else does.
#[tokio::test]
async fn forwarded_authorization_is_verified_for_internal_callers_only() {
    let mesh = TestMesh::start().await;
    let internal_token = mesh.token(Role::Internal, "internal");
    let company_token = mesh.token(Role::HealthcareCompany, COMPANY);
    let patient_token = mesh.token(Role::Patient, &patient_sub());
    let expired_company = sign(&timed(company(), -601, -601, -1));
    let forged_company = sign_raw(HEADER, &company().to_string(), &[0x42; 48]);
    let auth = |token: &str| Entry::Ascii(AUTHORIZATION, bearer(token));
    let fwd = |value: Vec<u8>| Entry::Ascii(FORWARDED, value);
    let internal_with = |name: &str, forwarded: Vec<Entry>, expect: Expect| {
        let mut metadata = vec![auth(&internal_token)];
        metadata.extend(forwarded);
        Case::raw(name, Lookup, metadata, expect).with_secret(internal_token.clone())
    };
    let cases = vec![
        internal_with(
            "Internal + genuine company token",
            vec![fwd(bearer(&company_token))],
            Expect::Pass,
        )
        .with_secret(company_token.clone()),
        internal_with(
            "Internal + genuine patient token",
            vec![fwd(bearer(&patient_token))],
            Expect::Pass,
        ),
        internal_with(
            "Internal + forwarded, lowercase bearer",
            vec![fwd(format!("bearer {company_token}").into_bytes())],
            Expect::Pass,
        ),
        internal_with(
            "Internal + garbage `Bearer abc.def.ghi`",
            vec![fwd(bearer("abc.def.ghi"))],
            FORWARDED_INVALID,
        ),
        internal_with(
            "Internal + `garbage` without a scheme",
            vec![fwd(b"garbage".to_vec())],
            FORWARDED_INVALID,
        ),
        internal_with(
            "Internal + expired company token",
            vec![fwd(bearer(&expired_company))],
            FORWARDED_EXPIRED,
        )
        .with_secret(expired_company.clone()),
        internal_with(
            "Internal + company token signed with another key",
            vec![fwd(bearer(&forged_company))],
            FORWARDED_INVALID,
        )
        .with_secret(forged_company.clone()),
        internal_with(
            "Internal + forwarded Basic scheme",
            vec![fwd(format!("Basic {company_token}").into_bytes())],
            FORWARDED_INVALID,
        )
        .with_secret(company_token.clone()),
        internal_with(
            "Internal + two forwarded entries",
            vec![fwd(bearer(&company_token)), fwd(bearer(&company_token))],
            FORWARDED_INVALID,
        )
        .with_secret(company_token.clone()),
        internal_with(
            "Internal + forwarded 0xFF byte",
            vec![fwd([bearer(&company_token).as_slice(), b"\xff"].concat())],
            FORWARDED_INVALID,
        )
        .with_secret(company_token.clone()),
        // The forwarded header never stands in for the caller's own.
        Case::raw(
            "no authorization, genuine Internal token forwarded",
            Lookup,
            vec![fwd(bearer(&internal_token))],
            MISSING,
        )
        .with_secret(internal_token.clone()),
        Case::raw(
            "garbage authorization, genuine Internal token forwarded",
            Lookup,
            vec![auth("abc.def.ghi"), fwd(bearer(&internal_token))],
            INVALID,
        )
        .with_secret(internal_token.clone()),
        Case::raw(
            "Patient + forwarded Internal token is still a Patient",
            Lookup,
            vec![auth(&patient_token), fwd(bearer(&internal_token))],
            Expect::Denied,
        ),
        // From a non-Internal caller the header is stripped, not verified.
        Case::raw(
            "Patient + garbage forwarded token",
            ListMine,
            vec![auth(&patient_token), fwd(bearer("abc.def.ghi"))],
            Expect::Pass,
        ),
        Case::raw(
            "Patient + `garbage` forwarded without a scheme",
            ListMine,
            vec![auth(&patient_token), fwd(b"garbage".to_vec())],
            Expect::Pass,
        ),
        Case::raw(
            "Patient + expired forwarded token",
            ListMine,
            vec![auth(&patient_token), fwd(bearer(&expired_company))],
            Expect::Pass,
        ),
        Case::raw(
            "Patient + two forwarded entries",
            ListMine,
            vec![
                auth(&patient_token),
                fwd(bearer("abc.def.ghi")),
                fwd(bearer("abc.def.ghi")),
            ],
            Expect::Pass,
        ),
        Case::raw(
            "company + garbage forwarded token on a Patient RPC is denied, not unauthenticated",
            ListMine,
            vec![auth(&company_token), fwd(bearer("abc.def.ghi"))],
            Expect::Denied,
        ),
    ];
    run(&mesh, "forwarded", cases).await;

    // A company's garbage x-forwarded-authorization must neither fail its
    // call nor travel on: Dossier calls Pseudoniem for CreateDossier and
    // forwards the company's own verified token, not what the company sent.
    let mut request = authed(
        CreateDossierRequest {
            bsn: UNSEEN_BSN.into(),
        },
        &company_token,
    );
    request
        .metadata_mut()
        .append(FORWARDED, "Bearer abc.def.ghi".parse().unwrap());
    let created = mesh
        .dossier()
        .create_dossier(request)
        .await
        .unwrap_or_else(|status| {
            panic!(
                "CreateDossier with a stripped x-forwarded-authorization failed: {}",
                describe(&Err(status))
            )
        })
        .into_inner();
    assert!(created.created);
    assert_eq!(created.dossier.unwrap().company_name, COMPANY);
    mesh.stop().await;
}

/// The error details name the header and the rule; the reason set is the
/// contract's, and no refusal carries a token.
#[tokio::test]
async fn refusals_name_the_rule_not_the_token() {
    let mesh = TestMesh::start().await;
    let genuine = mesh.token(Role::Internal, "internal");
    let expired = sign(&timed(internal(), -601, -601, -1));
    let forged = sign_raw(HEADER, &internal().to_string(), &[1; 48]);
    let mut seen_messages = HashMap::new();
    for (name, token) in [
        ("expired", expired.as_str()),
        ("forged", forged.as_str()),
        ("garbage", "abc.def.ghi"),
        ("four segments", &format!("{genuine}.x")),
    ] {
        let status = mesh
            .pseudoniem()
            .lookup_pseudoniem(authed(
                LookupPseudoniemRequest {
                    bsn: UNSEEN_BSN.into(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{name}");
        check_no_leak(&status, &[token.to_owned(), genuine.clone()])
            .unwrap_or_else(|why| panic!("{name}: {why}"));
        let text = format!("{status:?}");
        assert!(
            !text.contains(token),
            "{name}: the status' Debug output carries the token"
        );
        assert!(
            !status.message().contains(UNSEEN_BSN),
            "{name}: the BSN is in the message"
        );
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.domain, "toestemming", "{name}");
        seen_messages.insert(name, status.message().to_owned());
    }
    assert!(
        seen_messages.values().all(|message| !message.is_empty()),
        "refusals should say what rule failed: {seen_messages:?}"
    );
    mesh.stop().await;
}
