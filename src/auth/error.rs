//! Why a call was refused, and how that is told to the caller.
//!
//! Missing or bad credentials are UNAUTHENTICATED; a verified caller whose
//! role the RPC does not allow is PERMISSION_DENIED. Both carry a
//! `google.rpc.ErrorInfo` (domain `toestemming`) whose `reason` a client can
//! switch on, and whose metadata names the header at fault or the roles that
//! would have been allowed. Messages describe the rule that failed, never
//! the token.

use std::collections::HashMap;

use tonic::{Code, Status};

use super::claims::Role;
use crate::errors::with_error_info;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No credential under `header`. Reason `TOKEN_MISSING`.
    Missing { header: &'static str },
    /// A credential that is malformed, forged, or fails a claim check.
    /// Reason `TOKEN_INVALID`.
    Invalid {
        header: &'static str,
        problem: &'static str,
    },
    /// A genuine token at or past its `exp`. Reason `TOKEN_EXPIRED`.
    Expired { header: &'static str },
    /// A verified caller the RPC's rule does not admit. Reason
    /// `ROLE_NOT_ALLOWED`.
    RoleNotAllowed {
        role: Role,
        allowed: &'static [Role],
    },
}

impl AuthError {
    pub fn invalid(header: &'static str, problem: &'static str) -> Self {
        AuthError::Invalid { header, problem }
    }

    /// The `ErrorInfo.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing { .. } => "TOKEN_MISSING",
            AuthError::Invalid { .. } => "TOKEN_INVALID",
            AuthError::Expired { .. } => "TOKEN_EXPIRED",
            AuthError::RoleNotAllowed { .. } => "ROLE_NOT_ALLOWED",
        }
    }

    /// Puts the problem under another header: the verifier does not know
    /// which header its token came from.
    pub fn for_header(self, header: &'static str) -> Self {
        match self {
            AuthError::Missing { .. } => AuthError::Missing { header },
            AuthError::Invalid { problem, .. } => AuthError::Invalid { header, problem },
            AuthError::Expired { .. } => AuthError::Expired { header },
            other => other,
        }
    }

    pub fn into_status(self) -> Status {
        let reason = self.reason();
        match self {
            AuthError::Missing { header } => with_error_info(
                Code::Unauthenticated,
                format!("missing credential: send `{header}: Bearer <token>`"),
                reason,
                HashMap::from([("header".to_owned(), header.to_owned())]),
            ),
            AuthError::Invalid { header, problem } => with_error_info(
                Code::Unauthenticated,
                format!("invalid credential in `{header}`: {problem}"),
                reason,
                HashMap::from([("header".to_owned(), header.to_owned())]),
            ),
            AuthError::Expired { header } => with_error_info(
                Code::Unauthenticated,
                format!("the token in `{header}` has expired; get a new one"),
                reason,
                HashMap::from([("header".to_owned(), header.to_owned())]),
            ),
            AuthError::RoleNotAllowed { role, allowed } => {
                let allowed: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                let allowed = allowed.join(",");
                with_error_info(
                    Code::PermissionDenied,
                    format!("role {role} may not call this method; allowed roles: {allowed}"),
                    reason,
                    HashMap::from([
                        ("allowed_roles".to_owned(), allowed),
                        ("role".to_owned(), role.as_str().to_owned()),
                    ]),
                )
            }
        }
    }
}
