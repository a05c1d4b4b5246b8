//! Assertions about the errors the mesh returns: the code, the
//! `google.rpc.ErrorInfo` reason and metadata (README.md "Errors"), the
//! BadRequest fields, and that no value of the request is echoed.

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use super::{assert_has_error_info, bad_fields, reason};

/// Fails unless `status` carries an ErrorInfo in domain `toestemming`
/// whose reason is `expected`.
#[track_caller]
pub fn assert_reason(status: &Status, expected: &str) {
    assert_has_error_info(status);
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
}

/// The value of `key` in the ErrorInfo metadata of `status`, if any.
pub fn error_metadata(status: &Status, key: &str) -> Option<String> {
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get(key).cloned())
}

/// Asserts `status` is INVALID_ARGUMENT (reason `INVALID_ARGUMENT`) naming
/// exactly `fields` (in any order, once each).
#[track_caller]
pub fn assert_invalid(status: &Status, fields: &[&str]) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_reason(status, "INVALID_ARGUMENT");
    let mut named = bad_fields(status);
    named.sort();
    let mut expected: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    expected.sort();
    assert_eq!(named, expected, "{status:?}");
}

/// The field violations' descriptions of a status, for "never echoes the
/// value" checks.
pub fn violation_texts(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| v.description)
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts neither the message nor the violations of `status` repeat
/// `secret`.
#[track_caller]
pub fn assert_not_echoed(status: &Status, secret: &str) {
    if secret.is_empty() {
        return;
    }
    assert!(
        !status.message().contains(secret),
        "the message repeats the input: {:?}",
        status.message()
    );
    for text in violation_texts(status) {
        assert!(
            !text.contains(secret),
            "a violation repeats the input: {text:?}"
        );
    }
}

/// Asserts `status` is UNAVAILABLE because `dependency` is down: reason
/// `DEPENDENCY_UNAVAILABLE`, naming it in the ErrorInfo metadata.
#[track_caller]
pub fn assert_dependency_unavailable(status: &Status, dependency: &str) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_reason(status, "DEPENDENCY_UNAVAILABLE");
    assert_eq!(
        error_metadata(status, "dependency").as_deref(),
        Some(dependency),
        "{status:?}"
    );
}

/// Asserts `status` is DEADLINE_EXCEEDED, either because `dependency` did
/// not answer in time (reason `DEPENDENCY_TIMEOUT`, naming it in the
/// metadata) or because the call's own deadline passed (reason
/// `DEADLINE_EXCEEDED`).
#[track_caller]
pub fn assert_deadline_exceeded(status: &Status, dependency: &str) {
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_has_error_info(status);
    match reason(status).as_deref() {
        Some("DEPENDENCY_TIMEOUT") => assert_eq!(
            error_metadata(status, "dependency").as_deref(),
            Some(dependency),
            "{status:?}"
        ),
        Some("DEADLINE_EXCEEDED") => {}
        other => panic!("DEADLINE_EXCEEDED with reason {other:?}: {status:?}"),
    }
}

/// The contract's row for a dependency that is too slow or down: UNAVAILABLE
/// or DEADLINE_EXCEEDED with the matching reason, never an auth error.
#[track_caller]
pub fn assert_dependency_failure(status: &Status, dependency: &str) {
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
        "{status:?}"
    );
    if status.code() == Code::Unavailable {
        assert_dependency_unavailable(status, dependency);
    } else {
        assert_deadline_exceeded(status, dependency);
    }
}
