//! What an Identity call can fail with, and how each failure is answered.

use std::time::Duration;

use tonic::Status;

use crate::auth::AuthError;
use crate::clients::DependencyError;
use crate::errors::{FieldErrors, Reason, status, status_retry_after, status_with};
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// INVALID_ARGUMENT: one or more fields break their rules.
    #[error(transparent)]
    InvalidFields(#[from] FieldErrors),
    /// UNAUTHENTICATED (`INVALID_CREDENTIALS`): a credential exchange
    /// failed. One message per exchange, the same whether the account is
    /// unknown or the secret is wrong.
    #[error("{0}")]
    InvalidCredentials(&'static str),
    /// RESOURCE_EXHAUSTED (`TOO_MANY_ATTEMPTS`): too many failed sign-ins
    /// for this account or client, or one already in progress; try again
    /// after `retry_after`.
    #[error("too many sign-in attempts for this account or from this address; try again later")]
    TooManyAttempts { retry_after: Duration },
    /// RESOURCE_EXHAUSTED (`TOO_MANY_ATTEMPTS`): too many registrations
    /// from this address; try again after `retry_after`.
    #[error("too many registrations from this address; try again later")]
    TooManyRegistrations { retry_after: Duration },
    /// RESOURCE_EXHAUSTED (`TOO_MANY_ATTEMPTS`): too many wrong service
    /// credentials from this address.
    #[error("too many refused service credentials from this address; try again later")]
    TooManyCredentialFailures { retry_after: Duration },
    /// RESOURCE_EXHAUSTED (`OVERLOADED`): the password hasher's queue is
    /// full; try again after `retry_after`.
    #[error("too many sign-ins and registrations at once; try again in a moment")]
    HasherBusy { retry_after: Duration },
    /// ALREADY_EXISTS (`PATIENT_ALREADY_REGISTERED`).
    #[error("a patient with this BSN is already registered")]
    PatientAlreadyRegistered,
    /// ALREADY_EXISTS (`COMPANY_NAME_TAKEN`): the name, in any case, or
    /// one that looks like it.
    #[error("a company with this name, or one that looks like it, is already registered")]
    CompanyNameTaken,
    /// NOT_FOUND (`PATIENT_NOT_FOUND`): a patient token without an account.
    #[error("no patient account for this token")]
    PatientNotFound,
    /// NOT_FOUND (`COMPANY_NOT_FOUND`): no company is registered under this
    /// name.
    #[error("no company is registered under this name")]
    CompanyNotFound,
    /// FAILED_PRECONDITION (`PASSWORD_SIGNIN_DISABLED`): patients sign in
    /// through the OpenID provider only here.
    #[error(
        "patients sign in through the identity provider here, not with a password; \
         use the website's sign-in"
    )]
    PasswordSignInDisabled,
    /// FAILED_PRECONDITION (`PROVIDER_NOT_CONFIGURED`): no OpenID provider
    /// is configured (PATIENT_OIDC_ISSUER).
    #[error("no identity provider is configured for patients")]
    ProviderNotConfigured,
    /// UNAVAILABLE (`DEPENDENCY_UNAVAILABLE`, dependency `openid-provider`):
    /// the provider cannot be reached now.
    #[error("the identity provider cannot be reached; try again later")]
    ProviderUnavailable,
    /// FAILED_PRECONDITION (`TOKEN_NOT_REVOCABLE`): RevokeToken for a token
    /// without a `jti` (or one too long to list).
    #[error("this token has no usable jti claim, so it cannot be revoked; it ends at its exp")]
    TokenNotRevocable,
    /// INTERNAL: signing or hashing failed; a fault of this service.
    #[error("{0}")]
    Internal(&'static str),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The one answer for every failed sign-in, whatever the cause.
pub const SIGN_IN_FAILED: IdentityError =
    IdentityError::InvalidCredentials("unknown BSN or wrong password");
/// The one answer for every refused company credential.
pub const COMPANY_CREDENTIALS_REJECTED: IdentityError =
    IdentityError::InvalidCredentials("unknown company or wrong client secret");
/// The one answer for every sign-in through the provider that proves
/// nothing, whatever it was (the log says which).
pub const PROVIDER_SIGN_IN_FAILED: IdentityError =
    IdentityError::InvalidCredentials("the identity provider's sign-in could not be verified");
/// The answer for a wrong service credential.
pub const SERVICE_CREDENTIAL_REJECTED: IdentityError =
    IdentityError::InvalidCredentials("the service credential is not valid");

impl From<IdentityError> for Status {
    fn from(error: IdentityError) -> Self {
        let message = error.to_string();
        match error {
            IdentityError::InvalidFields(fields) => fields.into(),
            IdentityError::InvalidCredentials(_) => status(Reason::InvalidCredentials, message),
            IdentityError::TooManyAttempts { retry_after }
            | IdentityError::TooManyRegistrations { retry_after }
            | IdentityError::TooManyCredentialFailures { retry_after } => {
                status_retry_after(Reason::TooManyAttempts, message, retry_after)
            }
            IdentityError::HasherBusy { retry_after } => {
                status_retry_after(Reason::Overloaded, message, retry_after)
            }
            IdentityError::PatientAlreadyRegistered => {
                status(Reason::PatientAlreadyRegistered, message)
            }
            IdentityError::CompanyNameTaken => status(Reason::CompanyNameTaken, message),
            IdentityError::PatientNotFound => status(Reason::PatientNotFound, message),
            IdentityError::CompanyNotFound => status(Reason::CompanyNotFound, message),
            IdentityError::PasswordSignInDisabled => {
                status(Reason::PasswordSignInDisabled, message)
            }
            IdentityError::ProviderNotConfigured => status(Reason::ProviderNotConfigured, message),
            IdentityError::TokenNotRevocable => status(Reason::TokenNotRevocable, message),
            IdentityError::ProviderUnavailable => status_with(
                Reason::DependencyUnavailable,
                message,
                [("dependency", "openid-provider".to_owned())],
            ),
            IdentityError::Internal(_) => {
                tracing::error!(%message, "identity fault");
                status(Reason::Internal, message)
            }
            IdentityError::Auth(auth) => auth.into(),
            IdentityError::Dependency(dependency) => dependency.into(),
            IdentityError::Storage(storage) => storage.into(),
        }
    }
}
