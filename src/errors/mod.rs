//! The mesh's gRPC error vocabulary, so every service answers alike.
//!
//! Every error a client can receive carries a `google.rpc.ErrorInfo` in the
//! domain [`DOMAIN`] (Google's AIP-193), whose `reason` ([`Reason`]) a client
//! can switch on; the README's error table lists them all. Bad input also
//! carries a `google.rpc.BadRequest` with one `FieldViolation` per bad
//! field ([`FieldErrors`]).
//!
//! Each service has its own error enum (`services/<name>/error.rs`) with one
//! conversion into `tonic::Status`, built with [`status`]; the shared layers
//! build theirs the same way. Errors raised by tonic itself (an undecodable
//! or oversized message) get an ErrorInfo from `mesh::error_info` on the way
//! out, so none leaves without one.
//!
//! Messages never echo a BSN, token, password or secret: they name the field
//! and the rule, not the value.

mod fields;

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

pub use fields::FieldErrors;

/// The `ErrorInfo.domain` of every error the mesh raises.
pub const DOMAIN: &str = "toestemming";

/// Why a call failed: the `ErrorInfo.reason`. Each reason goes with one
/// status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// UNAUTHENTICATED: no `authorization` (or forwarded) credential.
    TokenMissing,
    /// UNAUTHENTICATED: malformed, forged, or failing a claim check.
    TokenInvalid,
    /// UNAUTHENTICATED: a genuine token at or past its `exp`.
    TokenExpired,
    /// UNAUTHENTICATED: a genuine token that was revoked (its holder signed
    /// out); refused within 5 s of RevokeToken.
    TokenRevoked,
    /// FAILED_PRECONDITION: RevokeToken for a token without a `jti`, which
    /// no revocation list can name.
    TokenNotRevocable,
    /// PERMISSION_DENIED: a verified caller whose role the RPC does not
    /// allow; the metadata lists the allowed roles.
    RoleNotAllowed,
    /// UNAUTHENTICATED: a failed LoginPatient, IssueCompanyToken or
    /// IssueInternalToken, the same for an unknown account and a wrong
    /// secret.
    InvalidCredentials,
    /// RESOURCE_EXHAUSTED: too many failed sign-ins for this account or
    /// client; RetryInfo says when to try again.
    TooManyAttempts,
    /// INVALID_ARGUMENT: one or more fields break a rule; BadRequest names
    /// each.
    InvalidArgument,
    /// ALREADY_EXISTS: RegisterPatient for a BSN that has an account.
    PatientAlreadyRegistered,
    /// ALREADY_EXISTS: RegisterCompany with a name taken (any case).
    CompanyNameTaken,
    /// NOT_FOUND: GetMyProfile for a patient token without an account.
    PatientNotFound,
    /// NOT_FOUND: LookupPseudoniem for a BSN never seen.
    PseudoniemNotFound,
    /// NOT_FOUND: no dossier of the caller's matches.
    DossierNotFound,
    /// NOT_FOUND: no registered company has this name (any case).
    CompanyNotFound,
    /// NOT_FOUND: ClearChoice for a choice the patient does not have.
    ChoiceNotFound,
    /// UNAVAILABLE: a service this call depends on is down or refused this
    /// service; the metadata names it. Retry with backoff.
    DependencyUnavailable,
    /// DEADLINE_EXCEEDED: a service this call depends on did not answer in
    /// time; the metadata names it.
    DependencyTimeout,
    /// DEADLINE_EXCEEDED: the call's own deadline passed.
    DeadlineExceeded,
    /// RESOURCE_EXHAUSTED: the server is at its in-flight cap. Retry with
    /// backoff.
    Overloaded,
    /// RESOURCE_EXHAUSTED: the company holds as many WatchConsent streams
    /// as it may; end one first.
    TooManyWatches,
    /// FAILED_PRECONDITION: patients sign in through the OpenID provider
    /// only (`PATIENT_PASSWORD_SIGNIN=false`).
    PasswordSignInDisabled,
    /// FAILED_PRECONDITION: ExchangeProviderCode, but no provider is
    /// configured.
    ProviderNotConfigured,
    /// UNAVAILABLE: the server is shutting down and ended a stream it was
    /// sending; call again (another replica, or this one restarted).
    ShuttingDown,
    /// UNAVAILABLE: the service's database cannot be reached. Retry with
    /// backoff.
    StorageUnavailable,
    /// RESOURCE_EXHAUSTED: the service's database is out of disk, so it
    /// cannot write what the call must write (Dossier's access log: no
    /// log, no answer).
    StorageFull,
    /// UNAVAILABLE: under EdDSA, this service has not loaded the key set
    /// that verifies tokens yet (Identity not reached, `JWT_JWKS_FILE`
    /// unreadable). Not an auth error: the token was not judged. Retry with
    /// backoff.
    KeysUnavailable,
    /// FAILED_PRECONDITION: GetJwks in a deployment that signs with the
    /// shared HS256 key, which has no public key to publish.
    NoPublicKeySet,
    /// UNIMPLEMENTED: no such method on this server.
    MethodNotFound,
    /// INTERNAL: a fault of the service, not of the request.
    Internal,
}

impl Reason {
    pub const ALL: [Reason; 30] = [
        Reason::TokenMissing,
        Reason::TokenInvalid,
        Reason::TokenExpired,
        Reason::TokenRevoked,
        Reason::TokenNotRevocable,
        Reason::RoleNotAllowed,
        Reason::InvalidCredentials,
        Reason::TooManyAttempts,
        Reason::InvalidArgument,
        Reason::PatientAlreadyRegistered,
        Reason::CompanyNameTaken,
        Reason::PatientNotFound,
        Reason::PseudoniemNotFound,
        Reason::DossierNotFound,
        Reason::CompanyNotFound,
        Reason::ChoiceNotFound,
        Reason::DependencyUnavailable,
        Reason::DependencyTimeout,
        Reason::DeadlineExceeded,
        Reason::Overloaded,
        Reason::TooManyWatches,
        Reason::ShuttingDown,
        Reason::PasswordSignInDisabled,
        Reason::ProviderNotConfigured,
        Reason::StorageUnavailable,
        Reason::StorageFull,
        Reason::KeysUnavailable,
        Reason::NoPublicKeySet,
        Reason::MethodNotFound,
        Reason::Internal,
    ];

    /// The reason a status carries in its ErrorInfo, when it is one of the
    /// mesh's (domain `toestemming`): how a caller inside the mesh (the
    /// website, a client) switches on a refusal without comparing strings.
    pub fn of(status: &Status) -> Option<Reason> {
        let info = status.get_details_error_info()?;
        if info.domain != DOMAIN {
            return None;
        }
        Reason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == info.reason)
    }

    /// The `ErrorInfo.reason` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TokenMissing => "TOKEN_MISSING",
            Reason::TokenInvalid => "TOKEN_INVALID",
            Reason::TokenExpired => "TOKEN_EXPIRED",
            Reason::TokenRevoked => "TOKEN_REVOKED",
            Reason::TokenNotRevocable => "TOKEN_NOT_REVOCABLE",
            Reason::RoleNotAllowed => "ROLE_NOT_ALLOWED",
            Reason::InvalidCredentials => "INVALID_CREDENTIALS",
            Reason::TooManyAttempts => "TOO_MANY_ATTEMPTS",
            Reason::InvalidArgument => "INVALID_ARGUMENT",
            Reason::PatientAlreadyRegistered => "PATIENT_ALREADY_REGISTERED",
            Reason::CompanyNameTaken => "COMPANY_NAME_TAKEN",
            Reason::PatientNotFound => "PATIENT_NOT_FOUND",
            Reason::PseudoniemNotFound => "PSEUDONIEM_NOT_FOUND",
            Reason::DossierNotFound => "DOSSIER_NOT_FOUND",
            Reason::CompanyNotFound => "COMPANY_NOT_FOUND",
            Reason::ChoiceNotFound => "CHOICE_NOT_FOUND",
            Reason::DependencyUnavailable => "DEPENDENCY_UNAVAILABLE",
            Reason::DependencyTimeout => "DEPENDENCY_TIMEOUT",
            Reason::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Reason::Overloaded => "OVERLOADED",
            Reason::TooManyWatches => "TOO_MANY_WATCHES",
            Reason::ShuttingDown => "SHUTTING_DOWN",
            Reason::PasswordSignInDisabled => "PASSWORD_SIGNIN_DISABLED",
            Reason::ProviderNotConfigured => "PROVIDER_NOT_CONFIGURED",
            Reason::StorageUnavailable => "STORAGE_UNAVAILABLE",
            Reason::StorageFull => "STORAGE_FULL",
            Reason::KeysUnavailable => "KEYS_UNAVAILABLE",
            Reason::NoPublicKeySet => "NO_PUBLIC_KEY_SET",
            Reason::MethodNotFound => "METHOD_NOT_FOUND",
            Reason::Internal => "INTERNAL",
        }
    }

    /// The status code that goes with the reason.
    pub fn code(self) -> Code {
        match self {
            Reason::TokenMissing
            | Reason::TokenInvalid
            | Reason::TokenExpired
            | Reason::TokenRevoked
            | Reason::InvalidCredentials => Code::Unauthenticated,
            Reason::RoleNotAllowed => Code::PermissionDenied,
            Reason::TooManyAttempts
            | Reason::Overloaded
            | Reason::StorageFull
            | Reason::TooManyWatches => Code::ResourceExhausted,
            Reason::InvalidArgument => Code::InvalidArgument,
            Reason::PatientAlreadyRegistered | Reason::CompanyNameTaken => Code::AlreadyExists,
            Reason::PatientNotFound
            | Reason::PseudoniemNotFound
            | Reason::DossierNotFound
            | Reason::CompanyNotFound
            | Reason::ChoiceNotFound => Code::NotFound,
            Reason::DependencyUnavailable
            | Reason::ShuttingDown
            | Reason::StorageUnavailable
            | Reason::KeysUnavailable => Code::Unavailable,
            Reason::NoPublicKeySet
            | Reason::TokenNotRevocable
            | Reason::PasswordSignInDisabled
            | Reason::ProviderNotConfigured => Code::FailedPrecondition,
            Reason::DependencyTimeout | Reason::DeadlineExceeded => Code::DeadlineExceeded,
            Reason::MethodNotFound => Code::Unimplemented,
            Reason::Internal => Code::Internal,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status for `reason` with its ErrorInfo.
pub fn status(reason: Reason, message: impl Into<String>) -> Status {
    status_with(reason, message, [])
}

/// A status for `reason` with its ErrorInfo carrying `metadata`.
pub fn status_with<const N: usize>(
    reason: Reason,
    message: impl Into<String>,
    metadata: [(&str, String); N],
) -> Status {
    let metadata: HashMap<String, String> = metadata
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    Status::with_error_details(
        reason.code(),
        message,
        ErrorDetails::with_error_info(reason.as_str(), DOMAIN, metadata),
    )
}

/// A status for `reason` that also tells the client when to retry
/// (`google.rpc.RetryInfo`).
pub fn status_retry_after(reason: Reason, message: impl Into<String>, after: Duration) -> Status {
    let mut details = ErrorDetails::with_error_info(reason.as_str(), DOMAIN, HashMap::new());
    details.set_retry_info(Some(after));
    Status::with_error_details(reason.code(), message, details)
}

/// A gRPC code's canonical name, e.g. `OUT_OF_RANGE`: the `ErrorInfo.reason`
/// of an error that carries none because tonic itself raised it (an
/// undecodable or oversized message, an unknown compression), and the
/// `grpc_code` label of the RPC metrics.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_distinct_and_carried_with_its_code() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            assert!(seen.insert(reason.as_str()), "{reason} twice");
            let status = status(reason, "message");
            assert_eq!(status.code(), reason.code());
            let info = status.get_details_error_info().unwrap();
            assert_eq!(
                (info.reason.as_str(), info.domain.as_str()),
                (reason.as_str(), DOMAIN)
            );
        }
    }

    #[test]
    fn the_readme_lists_every_reason() {
        let readme = include_str!("../../README.md");
        for reason in Reason::ALL {
            assert!(
                readme.contains(&format!("`{}`", reason.as_str())),
                "README.md's error table lacks {reason}"
            );
        }
    }

    #[test]
    fn retry_info_is_attached() {
        let status = status_retry_after(Reason::TooManyAttempts, "wait", Duration::from_secs(60));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.get_details_retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(60))
        );
    }
}
