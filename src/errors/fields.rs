//! Bad fields, collected while a request is validated.

use std::collections::HashMap;
use std::fmt;

use tonic::Status;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt as _};

use super::{DOMAIN, Reason};

/// Every rule a request breaks, so the caller learns about all its bad
/// fields at once. Becomes INVALID_ARGUMENT with an ErrorInfo
/// (`INVALID_ARGUMENT`, metadata `fields`) and a BadRequest with one
/// violation per field.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldViolation>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// One bad field.
    pub fn one(field: &str, rule: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, rule);
        errors
    }

    /// Records that `field` breaks `rule` (a description, never the value).
    pub fn add(&mut self, field: &str, rule: impl Into<String>) {
        self.0.push(FieldViolation::new(field, rule));
    }

    /// Records the error of a validation result, keeping its value.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    /// `Err(self)` when a field was bad, so `?` ends the request.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn field_names(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|v| v.field.as_str()).collect();
        names.join(",")
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid field(s): {}",
            self.field_names().replace(',', ", ")
        )
    }
}

impl std::error::Error for FieldErrors {}

impl From<FieldErrors> for Status {
    fn from(errors: FieldErrors) -> Self {
        let message = errors.to_string();
        let reason = Reason::InvalidArgument;
        let mut details = ErrorDetails::with_error_info(
            reason.as_str(),
            DOMAIN,
            HashMap::from([("fields".to_owned(), errors.field_names())]),
        );
        details.set_bad_request(errors.0);
        Status::with_error_details(reason.code(), message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn every_bad_field_is_named_with_error_info_and_bad_request() {
        let mut errors = FieldErrors::new();
        errors.add("bsn", "fails the 11-proof");
        let kept: Option<u8> = errors.check("password", Err("too short"));
        assert!(kept.is_none());
        let status = Status::from(errors.into_result().unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["bsn", "password"]);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.metadata["fields"], "bsn,password");
    }

    #[test]
    fn no_bad_field_is_ok() {
        assert!(FieldErrors::new().into_result().is_ok());
    }
}
