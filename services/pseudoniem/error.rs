//! What a Pseudoniem call can fail with, and how each failure is answered.

use tonic::Status;

use crate::auth::AuthError;
use crate::errors::{FieldErrors, Reason, status};
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum PseudoniemError {
    /// INVALID_ARGUMENT: the BSN fails its rules.
    #[error(transparent)]
    InvalidFields(#[from] FieldErrors),
    /// NOT_FOUND (`PSEUDONIEM_NOT_FOUND`): LookupPseudoniem for a BSN never
    /// seen.
    #[error("this BSN has no pseudoniem")]
    NotFound,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<PseudoniemError> for Status {
    fn from(error: PseudoniemError) -> Self {
        match error {
            PseudoniemError::InvalidFields(fields) => fields.into(),
            PseudoniemError::NotFound => status(Reason::PseudoniemNotFound, error.to_string()),
            PseudoniemError::Auth(auth) => auth.into(),
            PseudoniemError::Storage(storage) => storage.into(),
        }
    }
}
