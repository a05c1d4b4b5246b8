//! How a failed call reaches a caller that shows it to a person.

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use super::error::DependencyError;
use crate::errors::Reason;

/// A call to a service of the mesh, made on a person's behalf, failed.
///
/// The website needs finer detail than a service forwarding a dependency's
/// failure: a refusal about the request (wrong password, a bad field) is
/// shown next to the form, while a service that cannot answer is a
/// "try again later".
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The service answered and refused the request; the status carries
    /// the ErrorInfo reason and any field violations.
    #[error("refused: {}", .0.message())]
    Refused(Status),
    /// The service could not be reached or did not answer in time.
    #[error(transparent)]
    Unavailable(#[from] DependencyError),
}

impl CallError {
    /// Sorts the status a call to `service` ended with.
    pub fn from_status(service: &'static str, status: Status) -> Self {
        let overloaded = Reason::of(&status) == Some(Reason::Overloaded);
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
                CallError::Unavailable(DependencyError::from_status(service, &status))
            }
            _ if overloaded => {
                CallError::Unavailable(DependencyError::from_status(service, &status))
            }
            _ => CallError::Refused(status),
        }
    }

    /// The ErrorInfo reason of a refusal.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            CallError::Refused(status) => Reason::of(status),
            CallError::Unavailable(_) => None,
        }
    }

    /// The fields a refusal's BadRequest names.
    pub fn bad_fields(&self) -> Vec<String> {
        match self {
            CallError::Refused(status) => status
                .get_details_bad_request()
                .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
                .unwrap_or_default(),
            CallError::Unavailable(_) => Vec::new(),
        }
    }

    /// The status code of a refusal.
    pub fn code(&self) -> Code {
        match self {
            CallError::Refused(status) => status.code(),
            CallError::Unavailable(DependencyError::Timeout { .. }) => Code::DeadlineExceeded,
            CallError::Unavailable(_) => Code::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{Reason, status};

    #[test]
    fn outages_and_refusals_are_told_apart() {
        let down = CallError::from_status("dossier", Status::unavailable("down"));
        assert!(matches!(down, CallError::Unavailable(_)));
        let busy = CallError::from_status("dossier", status(Reason::Overloaded, "busy"));
        assert!(matches!(busy, CallError::Unavailable(_)));
        let refused = CallError::from_status(
            "identity",
            status(Reason::InvalidCredentials, "unknown BSN or wrong password"),
        );
        assert_eq!(refused.reason(), Some(Reason::InvalidCredentials));
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
}
