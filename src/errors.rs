//! The mesh's gRPC error vocabulary, so every service answers alike.
//!
//! - bad input: INVALID_ARGUMENT with a `google.rpc.BadRequest`, one
//!   `FieldViolation` per bad field;
//! - auth failures: UNAUTHENTICATED / PERMISSION_DENIED with a
//!   `google.rpc.ErrorInfo` in the domain [`DOMAIN`] (built in `auth::error`);
//! - a dependency down or slow: UNAVAILABLE / DEADLINE_EXCEEDED, never an
//!   auth code ([`dependency_failed`]).
//!
//! Messages never echo a BSN, token, password or secret: they name the field
//! and the rule, not the value.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `ErrorInfo.domain` of every error the mesh itself raises.
pub const DOMAIN: &str = "toestemming";

/// Collects field violations while a request is validated, so the caller
/// learns about every bad field at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldViolation>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` breaks `rule` (a description, never the value).
    pub fn add(&mut self, field: &str, rule: impl Into<String>) {
        self.0.push(FieldViolation::new(field, rule));
    }

    /// Records the error of a validation result, keeping its value.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    /// INVALID_ARGUMENT with every violation, or `Ok` when there were none.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            return Ok(());
        }
        let fields: Vec<&str> = self.0.iter().map(|v| v.field.as_str()).collect();
        let message = format!("invalid field(s): {}", fields.join(", "));
        Err(Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_bad_request(self.0),
        ))
    }
}

/// INVALID_ARGUMENT for a single bad field.
pub fn invalid_field(field: &str, rule: impl Into<String>) -> Status {
    let mut errors = FieldErrors::new();
    errors.add(field, rule);
    errors.into_result().expect_err("one violation was added")
}

/// A status with an `ErrorInfo` detail in the mesh's domain.
pub fn with_error_info(
    code: Code,
    message: impl Into<String>,
    reason: &str,
    metadata: HashMap<String, String>,
) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, DOMAIN, metadata),
    )
}

/// Maps the failure of a call to another service of the mesh to what this
/// service answers its own caller.
///
/// Unavailability and deadlines pass through as they are. A dependency that
/// refuses this service's credentials is a deployment fault (mismatched
/// secrets), not the caller's: it becomes UNAVAILABLE, never UNAUTHENTICATED,
/// so a client is not told to sign in again for a problem it cannot fix.
pub fn dependency_failed(dependency: &str, status: Status) -> Status {
    let reason = match status.code() {
        Code::DeadlineExceeded => {
            return Status::deadline_exceeded(format!("{dependency} did not answer in time"));
        }
        Code::Unavailable => "is unavailable",
        Code::Cancelled => "cancelled the call",
        Code::Unauthenticated | Code::PermissionDenied => "refused this service's credentials",
        Code::ResourceExhausted => "is overloaded",
        _ => "failed",
    };
    tracing::warn!(dependency, code = ?status.code(), message = status.message(), "dependency call failed");
    Status::unavailable(format!("{dependency} {reason}"))
}

/// Answers a storage failure. The database's own text is logged (it names
/// tables and constraints, never bound values) but not returned: a caller
/// learns only that it may retry (UNAVAILABLE) or that it should not
/// (INTERNAL).
pub fn storage_failed(error: sqlx::Error) -> Status {
    tracing::error!(%error, "storage failure");
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Status::unavailable("storage is unavailable; retry later")
        }
        _ => Status::internal("storage failure"),
    }
}
