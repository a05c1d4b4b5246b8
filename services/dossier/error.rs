//! What a Dossier call can fail with, and how each failure is answered.

use tonic::Status;

use super::access_log::Failure;
use crate::auth::AuthError;
use crate::clients::DependencyError;
use crate::errors::{FieldErrors, Reason, status};
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum DossierError {
    /// INVALID_ARGUMENT: a field breaks its rules.
    #[error(transparent)]
    InvalidFields(#[from] FieldErrors),
    /// NOT_FOUND (`DOSSIER_NOT_FOUND`): the calling company has no dossier
    /// for this patient. Said the same way whether the patient is unknown to
    /// the mesh or only to this company.
    #[error("your company has no dossier for this patient")]
    NoDossierForPatient,
    /// NOT_FOUND (`DOSSIER_NOT_FOUND`): the calling patient has no dossier
    /// with this id (it may be someone else's).
    #[error("you have no dossier with this id")]
    NotYourDossier,
    /// NOT_FOUND (`COMPANY_NOT_FOUND`): SetChoice names a company Identity
    /// does not know.
    #[error("no company is registered under this name")]
    CompanyNotFound,
    /// NOT_FOUND (`CHOICE_NOT_FOUND`): ClearChoice for a choice the patient
    /// does not have (never made, or withdrawn already).
    #[error("you have no such choice")]
    ChoiceNotFound,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// UNAVAILABLE (`STORAGE_UNAVAILABLE`) or RESOURCE_EXHAUSTED
    /// (`STORAGE_FULL`): the access log could not be written, so the call
    /// did nothing and answers nothing (no log, no answer).
    #[error(transparent)]
    Log(#[from] Failure),
}

impl From<DossierError> for Status {
    fn from(error: DossierError) -> Self {
        match error {
            DossierError::InvalidFields(fields) => fields.into(),
            DossierError::NoDossierForPatient | DossierError::NotYourDossier => {
                status(Reason::DossierNotFound, error.to_string())
            }
            DossierError::CompanyNotFound => status(Reason::CompanyNotFound, error.to_string()),
            DossierError::ChoiceNotFound => status(Reason::ChoiceNotFound, error.to_string()),
            DossierError::Auth(auth) => auth.into(),
            DossierError::Dependency(dependency) => dependency.into(),
            DossierError::Storage(storage) => storage.into(),
            DossierError::Log(Failure::Unavailable) => status(
                Reason::StorageUnavailable,
                "the access log cannot be written right now, so nothing was done; retry later",
            ),
            DossierError::Log(Failure::Full) => status(
                Reason::StorageFull,
                "the access log's storage is full, so nothing was done",
            ),
        }
    }
}
