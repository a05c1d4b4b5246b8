//! Throttles on what Identity does for anyone who asks: password sign-ins,
//! the service credential, and registrations (`docs/security.md`).
//!
//! - `backoff`: the shared table of failures, attempts in flight and
//!   growing delays;
//! - `sign_in`: LoginPatient per account, per (account, address), per
//!   address;
//! - `registrations`: RegisterPatient and RegisterCompany per address.
//!
//! IssueInternalToken's failures are throttled per address with the same
//! table ([`service_credential_rule`]).

mod backoff;
mod registrations;
mod sign_in;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use backoff::{Backoff, Rule};
pub use registrations::RegistrationThrottle;
pub use sign_in::SignInThrottle;

use crate::settings::ThrottlePolicy;

/// Every throttle of Identity, built from one policy.
pub struct Throttles {
    pub sign_ins: SignInThrottle,
    pub registrations: RegistrationThrottle,
    /// Failed IssueInternalToken calls, per address.
    pub service_credential: Arc<Backoff<IpAddr>>,
}

impl Throttles {
    pub fn new(policy: &ThrottlePolicy) -> Self {
        Self {
            sign_ins: SignInThrottle::new(policy),
            registrations: RegistrationThrottle::new(
                policy.registration_burst,
                policy.registration_refill,
                policy.max_tracked,
            ),
            service_credential: Backoff::new(Duration::from_secs(15 * 60), 10_000),
        }
    }
}

/// Failed IssueInternalToken calls per address: the credential is 32
/// random bytes or more, so this is about the log and the CPU a flood of
/// wrong ones costs, not about guessing. The delay stops at a minute, so a
/// service that shares an address with a flood (every service in `all`)
/// gets its token after a minute at worst.
pub fn service_credential_rule() -> Rule {
    Rule {
        free_failures: 10,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
        max_in_flight: 16,
        cleared_by_success: false,
    }
}
