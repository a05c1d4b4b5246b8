//! How a failed call to another service reaches this service's caller.

use tonic::{Code, Status};

use crate::errors::{Reason, status_with};

/// A call to another service of the mesh failed.
///
/// Unavailability and deadlines pass through as what they are. A dependency
/// that refuses this service's own credentials is a deployment fault
/// (mismatched secrets), not the caller's: it becomes UNAVAILABLE, never
/// UNAUTHENTICATED, so a client is not told to sign in again for a problem
/// it cannot fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DependencyError {
    /// Reason `DEPENDENCY_TIMEOUT`.
    #[error("the {service} service did not answer in time")]
    Timeout { service: &'static str },
    /// Reason `DEPENDENCY_UNAVAILABLE`.
    #[error("the {service} service {why}")]
    Unavailable {
        service: &'static str,
        why: &'static str,
    },
}

impl DependencyError {
    /// Classifies the status a call to `service` ended with, and logs it
    /// (its message comes from a peer of the mesh and never holds a value
    /// of the request).
    pub fn from_status(service: &'static str, status: &Status) -> Self {
        tracing::warn!(
            dependency = service,
            code = ?status.code(),
            message = status.message(),
            "dependency call failed"
        );
        let why = match status.code() {
            Code::DeadlineExceeded => return DependencyError::Timeout { service },
            Code::Unavailable => "is unavailable",
            Code::Cancelled => "dropped the call",
            Code::Unauthenticated | Code::PermissionDenied => "refused this service's credentials",
            Code::ResourceExhausted => "is overloaded",
            _ => "failed",
        };
        DependencyError::Unavailable { service, why }
    }
}

impl From<DependencyError> for Status {
    fn from(error: DependencyError) -> Self {
        let (reason, service) = match &error {
            DependencyError::Timeout { service } => (Reason::DependencyTimeout, *service),
            DependencyError::Unavailable { service, .. } => {
                (Reason::DependencyUnavailable, *service)
            }
        };
        status_with(
            reason,
            error.to_string(),
            [("dependency", service.to_owned())],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_never_makes_the_caller_unauthenticated() {
        for code in [
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unavailable,
        ] {
            let error = DependencyError::from_status("pseudoniem", &Status::new(code, "x"));
            assert_eq!(Status::from(error).code(), Code::Unavailable, "{code:?}");
        }
        let late = DependencyError::from_status("pseudoniem", &Status::deadline_exceeded("x"));
        assert_eq!(Status::from(late).code(), Code::DeadlineExceeded);
    }
}
