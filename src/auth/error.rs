//! Why a call was refused, and how that is told to the caller.
//!
//! Missing or bad credentials are UNAUTHENTICATED; a verified caller whose
//! role the RPC does not allow is PERMISSION_DENIED. Both carry a
//! `google.rpc.ErrorInfo` (domain `toestemming`) whose `reason` a client can
//! switch on, and whose metadata names the header at fault or the roles that
//! would have been allowed. Messages describe the rule that failed, never
//! the token.

use tonic::Status;

use super::claims::Role;
use crate::errors::{Reason, status_with};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential under `header`. Reason `TOKEN_MISSING`.
    #[error("missing credential: send `{header}: Bearer <token>`")]
    Missing { header: &'static str },
    /// A credential that is malformed, forged, or fails a claim check.
    /// Reason `TOKEN_INVALID`.
    #[error("invalid credential in `{header}`: {problem}")]
    Invalid {
        header: &'static str,
        problem: &'static str,
    },
    /// A genuine token at or past its `exp`. Reason `TOKEN_EXPIRED`.
    #[error("the token in `{header}` has expired; get a new one")]
    Expired { header: &'static str },
    /// A genuine token whose holder signed out: its `jti` is on the
    /// revocation list. Reason `TOKEN_REVOKED`.
    #[error("the token in `{header}` was revoked (signed out); sign in again")]
    Revoked { header: &'static str },
    /// A verified caller the RPC's rule does not admit. Reason
    /// `ROLE_NOT_ALLOWED`.
    #[error(
        "role {role} may not call this method; allowed roles: {}",
        roles(allowed)
    )]
    RoleNotAllowed {
        role: Role,
        allowed: &'static [Role],
    },
    /// Under EdDSA, no key set is loaded yet, so the token cannot be judged
    /// either way: a missing dependency, not a bad credential. Reason
    /// `KEYS_UNAVAILABLE`, code UNAVAILABLE.
    #[error("this service has not loaded the keys that verify tokens yet; retry shortly")]
    KeysUnavailable,
    /// A handler of a protected RPC found no verified caller: the verify
    /// layer is not wired in front of it. A fault of the server, never a
    /// reason to let the call through. Reason `INTERNAL`.
    #[error("the request was not authenticated by the verify layer")]
    NotVerified,
}

impl AuthError {
    pub fn invalid(header: &'static str, problem: &'static str) -> Self {
        AuthError::Invalid { header, problem }
    }

    /// The `ErrorInfo.reason`.
    pub fn reason(&self) -> Reason {
        match self {
            AuthError::Missing { .. } => Reason::TokenMissing,
            AuthError::Invalid { .. } => Reason::TokenInvalid,
            AuthError::Expired { .. } => Reason::TokenExpired,
            AuthError::Revoked { .. } => Reason::TokenRevoked,
            AuthError::RoleNotAllowed { .. } => Reason::RoleNotAllowed,
            AuthError::KeysUnavailable => Reason::KeysUnavailable,
            AuthError::NotVerified => Reason::Internal,
        }
    }

    /// Puts the problem under another header: the verifier does not know
    /// which header its token came from.
    pub fn for_header(self, header: &'static str) -> Self {
        match self {
            AuthError::Missing { .. } => AuthError::Missing { header },
            AuthError::Invalid { problem, .. } => AuthError::Invalid { header, problem },
            AuthError::Expired { .. } => AuthError::Expired { header },
            AuthError::Revoked { .. } => AuthError::Revoked { header },
            other => other,
        }
    }
}

fn roles(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    names.join(",")
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        let reason = error.reason();
        let message = error.to_string();
        match error {
            AuthError::Missing { header }
            | AuthError::Invalid { header, .. }
            | AuthError::Expired { header }
            | AuthError::Revoked { header } => {
                status_with(reason, message, [("header", header.to_owned())])
            }
            AuthError::RoleNotAllowed { role, allowed } => status_with(
                reason,
                message,
                [
                    ("allowed_roles", roles(allowed)),
                    ("role", role.as_str().to_owned()),
                ],
            ),
            AuthError::KeysUnavailable | AuthError::NotVerified => status_with(reason, message, []),
        }
    }
}
