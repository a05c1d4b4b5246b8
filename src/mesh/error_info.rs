//! No error leaves a server without an ErrorInfo (AIP-193).
//!
//! The services and layers of the mesh build every status with one
//! (`crate::errors`). What tonic raises itself before a handler runs (a
//! message over the size limit, bytes that are not protobuf, an unknown
//! compression) has none; [`ensure_error_info`] adds one whose reason is the
//! code's name, so a client can rely on finding it on every error.
//!
//! Handlers' errors and tonic's decoding errors are sent as trailers-only
//! responses, whose status is in the headers, so that is where this looks.
//! A failure while encoding a response (after the headers are sent) would
//! end up in the trailers and is not rewritten; with the mesh's small,
//! bounded responses it does not happen.

use http::HeaderMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::errors::{DOMAIN, code_name};

const GRPC_STATUS: &str = "grpc-status";
const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";

/// Adds an ErrorInfo to an error status in `headers` that carries no
/// details.
pub fn ensure_error_info(headers: &mut HeaderMap) {
    let failed = headers
        .get(GRPC_STATUS)
        .is_some_and(|code| code.as_bytes() != b"0");
    if !failed || headers.contains_key(GRPC_STATUS_DETAILS) {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let code: Code = status.code();
    let with_info = Status::with_error_details(
        code,
        status.message(),
        ErrorDetails::with_error_info(code_name(code), DOMAIN, std::collections::HashMap::new()),
    );
    // Only fails for a message that cannot be a header, and this one came
    // from a header.
    let _ = with_info.add_header(headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_of(status: Status) -> HeaderMap {
        let mut headers = HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers
    }

    #[test]
    fn a_bare_error_gets_error_info_named_after_its_code() {
        let mut headers = headers_of(Status::out_of_range("message too large"));
        ensure_error_info(&mut headers);
        let status = Status::from_header_map(&headers).unwrap();
        assert_eq!(status.code(), Code::OutOfRange);
        assert_eq!(status.message(), "message too large");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("OUT_OF_RANGE", DOMAIN)
        );
    }

    #[test]
    fn existing_details_and_successes_are_left_alone() {
        let original = crate::errors::status(crate::errors::Reason::DossierNotFound, "no");
        let mut headers = headers_of(original);
        let before = headers.clone();
        ensure_error_info(&mut headers);
        assert_eq!(headers, before);

        let mut ok = HeaderMap::new();
        ok.insert(GRPC_STATUS, "0".parse().unwrap());
        ensure_error_info(&mut ok);
        assert!(!ok.contains_key(GRPC_STATUS_DETAILS));
    }
}
