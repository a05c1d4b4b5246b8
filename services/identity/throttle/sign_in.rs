//! Password sign-ins (LoginPatient), throttled per account, per (account,
//! address) and per address (`docs/security.md`, "Sign-in throttling").
//!
//! - **Per (account, address)** the delay grows to the whole window: one
//!   address guessing one patient's password soon waits fifteen minutes
//!   between guesses.
//! - **Per account**, from every address together, the delay stops at a
//!   minute: that bounds the guesses a botnet gets at one account, while
//!   someone else's guesses can keep the real patient waiting a minute at
//!   most, never locked out.
//! - **Per address**, across accounts, a larger free allowance (a
//!   hospital's NAT is many patients) and then the same growing delay: a
//!   password sprayed over many accounts from one address.
//!
//! Accounts are keyed by a SHA-256 of the BSN, so this memory holds no BSN.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::backoff::{Backoff, Refused, Reservation, Rule};
use crate::bsn::Bsn;
use crate::settings::ThrottlePolicy;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Account([u8; 32]),
    Pair([u8; 32], IpAddr),
    Client(IpAddr),
}

pub struct SignInThrottle {
    table: Arc<Backoff<Key>>,
    account: Rule,
    pair: Rule,
    client: Rule,
}

impl SignInThrottle {
    pub fn new(policy: &ThrottlePolicy) -> Self {
        let per_account = Rule {
            free_failures: policy.max_failures_per_account,
            first_delay: policy.first_delay,
            max_delay: policy.max_account_delay,
            max_in_flight: policy.max_in_flight_per_account,
            cleared_by_success: false,
        };
        Self {
            table: Backoff::new(policy.window, policy.max_tracked),
            account: per_account,
            pair: Rule {
                max_delay: policy.window,
                cleared_by_success: true,
                ..per_account
            },
            client: Rule {
                free_failures: policy.max_failures_per_client,
                first_delay: policy.first_delay,
                max_delay: policy.window,
                max_in_flight: policy.max_in_flight_per_client,
                cleared_by_success: false,
            },
        }
    }

    /// Reserves a sign-in for `bsn` from `client` before its password is
    /// checked; refused, how long until one may be tried.
    pub fn reserve(&self, bsn: &Bsn, client: Option<IpAddr>) -> Result<Reservation<Key>, Duration> {
        let account: [u8; 32] = Sha256::digest(bsn.expose().as_bytes()).into();
        let mut keys = vec![(Key::Account(account), self.account)];
        if let Some(ip) = client {
            keys.push((Key::Pair(account, ip), self.pair));
            keys.push((Key::Client(ip), self.client));
        }
        self.table
            .reserve(&keys)
            .map_err(|Refused { retry_after }| retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> SignInThrottle {
        SignInThrottle::new(&ThrottlePolicy {
            window: Duration::from_secs(900),
            max_failures_per_account: 3,
            max_failures_per_client: 5,
            first_delay: Duration::from_secs(1),
            max_account_delay: Duration::from_secs(60),
            max_in_flight_per_account: 2,
            max_in_flight_per_client: 8,
            ..ThrottlePolicy::default()
        })
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, last]))
    }

    /// Fails `n` sign-ins for `bsn` from `client`, waiting out each delay.
    async fn fail(t: &SignInThrottle, bsn: &Bsn, client: Option<IpAddr>, n: usize) {
        for _ in 0..n {
            loop {
                match t.reserve(bsn, client) {
                    Ok(attempt) => break drop(attempt),
                    Err(wait) => tokio::time::advance(wait).await,
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_soon_waits_the_window_but_the_patient_elsewhere_a_minute_at_most() {
        let t = throttle();
        let bsn = Bsn::parse("111222333").unwrap();
        fail(&t, &bsn, ip(2), 12).await;
        let attacker_wait = t.reserve(&bsn, ip(2)).err().unwrap();
        assert!(attacker_wait > Duration::from_secs(60), "{attacker_wait:?}");
        let patient_wait = t.reserve(&bsn, ip(9)).err().unwrap();
        assert!(patient_wait <= Duration::from_secs(60), "{patient_wait:?}");
        tokio::time::advance(patient_wait).await;
        t.reserve(&bsn, ip(9)).unwrap().succeeded();
        assert!(
            t.reserve(&Bsn::parse("123456782").unwrap(), ip(9)).is_ok(),
            "other accounts are not affected"
        );
    }

    /// The first `n` valid BSNs from 100000000 up.
    fn bsns(n: usize) -> Vec<Bsn> {
        (100_000_000u32..)
            .filter_map(|i| Bsn::parse(&i.to_string()).ok())
            .take(n)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_spraying_accounts_is_delayed_across_accounts() {
        let t = throttle();
        let accounts = bsns(6);
        for bsn in &accounts[..5] {
            fail(&t, bsn, ip(2), 1).await;
        }
        assert!(t.reserve(&accounts[5], ip(2)).is_err());
        assert!(t.reserve(&accounts[5], ip(3)).is_ok(), "another address");
    }
}
