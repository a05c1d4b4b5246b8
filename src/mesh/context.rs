//! What one request carries to every call it makes.
//!
//! The request-context and verify layers put a [`RequestId`], a [`Deadline`]
//! and a [`Caller`] into the inbound request's extensions. A handler takes
//! them together as a [`CallContext`] and attaches it to each outbound
//! request; the forward layer then turns it into metadata. Handlers never
//! build headers themselves.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::auth::{Caller, ClientAddress};

/// The metadata key of the request id.
pub const REQUEST_ID: &str = "x-request-id";
/// The metadata key of the deadline (gRPC over HTTP/2).
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The id of a request across every hop: taken from the caller when it is
/// sane, generated at the edge when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The longest request id taken from a caller.
    const MAX_LEN: usize = 128;

    /// A fresh random id.
    pub fn generate() -> Self {
        Self(Arc::from(uuid::Uuid::new_v4().to_string()))
    }

    /// The caller's id if it is 1 to 128 characters of `[A-Za-z0-9._:-]`,
    /// so it is safe in log lines and headers; otherwise `None`.
    pub fn parse(value: &str) -> Option<Self> {
        let sane = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        sane.then(|| Self(Arc::from(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value; always valid, since it was sanitised or
    /// generated.
    pub fn header_value(&self) -> http::HeaderValue {
        http::HeaderValue::from_str(&self.0).expect("request ids are sanitised")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When the inbound call must be answered: the caller's `grpc-timeout`,
/// capped by the server's own request budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Instant);

impl Deadline {
    pub fn after(duration: Duration) -> Self {
        Self(Instant::now() + duration)
    }

    /// Time left, zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// The inbound request's context, to attach to outbound calls.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub caller: Option<Caller>,
    pub request_id: Option<RequestId>,
    pub deadline: Option<Deadline>,
    /// The end user's address, for a service that vouches for it (the
    /// website, on sign-in).
    pub client_address: Option<ClientAddress>,
}

impl CallContext {
    /// Collects what the server layers stored in `request`.
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        let extensions = request.extensions();
        Self {
            caller: extensions.get::<Caller>().cloned(),
            request_id: extensions.get::<RequestId>().cloned(),
            deadline: extensions.get::<Deadline>().copied(),
            client_address: None,
        }
    }

    /// Wraps `message` in a request that carries this context to the
    /// client layers: the caller to `auth::ForwardLayer`, the request id and
    /// deadline to `mesh::propagate`.
    pub fn request<M>(&self, message: M) -> tonic::Request<M> {
        let mut request = tonic::Request::new(message);
        let extensions = request.extensions_mut();
        if let Some(caller) = &self.caller {
            extensions.insert(caller.clone());
        }
        if let Some(id) = &self.request_id {
            extensions.insert(id.clone());
        }
        if let Some(deadline) = self.deadline {
            extensions.insert(deadline);
        }
        if let Some(address) = self.client_address {
            extensions.insert(address);
        }
        request
    }
}

/// Parses a `grpc-timeout` value: up to 8 digits and a unit of H, M, S, m,
/// u or n (gRPC over HTTP/2 spec).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Formats a duration as `grpc-timeout`, in milliseconds, rounded up so a
/// callee never gets less time than is left.
pub fn format_grpc_timeout(duration: Duration) -> String {
    let millis = duration.as_micros().div_ceil(1000).clamp(1, 99_999_999);
    format!("{millis}m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_round_trips() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        for bad in ["", "m", "123456789m", "12x", "-1S", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
        assert_eq!(format_grpc_timeout(Duration::from_micros(1500)), "2m");
        assert_eq!(format_grpc_timeout(Duration::ZERO), "1m");
    }

    #[test]
    fn request_ids_from_callers_are_sanitised() {
        assert!(RequestId::parse("abc-123_x.y:z").is_some());
        for bad in ["", "has space", "new\nline", "ü", &"a".repeat(129)] {
            assert!(RequestId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
