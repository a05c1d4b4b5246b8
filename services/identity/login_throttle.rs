//! Failed sign-ins, counted per account and per client address
//! (`docs/security.md`).
//!
//! After too many failures in a window, further attempts for that account,
//! or from that client, are refused with RESOURCE_EXHAUSTED before any
//! password is checked, until the window has passed. Accounts are keyed by
//! a SHA-256 of the BSN, so this memory never holds a BSN. The table is
//! bounded: when full, expired windows are dropped, and if none are, the
//! attempt is let through to the password check rather than the table grown.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use crate::bsn::Bsn;
use crate::settings::ThrottlePolicy;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account([u8; 32]),
    Client(IpAddr),
}

struct Window {
    started: Instant,
    failures: u32,
}

pub struct LoginThrottle {
    policy: ThrottlePolicy,
    windows: Mutex<HashMap<Key, Window>>,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a sign-in for `bsn` from `client` may be tried now; when
    /// not, how long until it may.
    pub fn check(&self, bsn: &Bsn, client: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = self.windows.lock().expect("throttle lock");
        let blocked_for = |key: &Key, limit: u32| {
            windows.get(key).and_then(|w| {
                let age = now.duration_since(w.started);
                (age < self.policy.window && w.failures >= limit).then(|| self.policy.window - age)
            })
        };
        let account = blocked_for(&account_key(bsn), self.policy.max_failures_per_account);
        let client = client
            .and_then(|ip| blocked_for(&Key::Client(ip), self.policy.max_failures_per_client));
        match account.into_iter().chain(client).max() {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in.
    pub fn record_failure(&self, bsn: &Bsn, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("throttle lock");
        if windows.len() >= self.policy.max_tracked {
            windows.retain(|_, w| now.duration_since(w.started) < self.policy.window);
        }
        let keys = std::iter::once(account_key(bsn)).chain(client.map(Key::Client));
        for key in keys {
            if windows.len() >= self.policy.max_tracked && !windows.contains_key(&key) {
                continue;
            }
            let window = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(window.started) >= self.policy.window {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    /// A successful sign-in clears the account's count (not the client's).
    pub fn record_success(&self, bsn: &Bsn) {
        self.windows
            .lock()
            .expect("throttle lock")
            .remove(&account_key(bsn));
    }
}

fn account_key(bsn: &Bsn) -> Key {
    Key::Account(Sha256::digest(bsn.expose().as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy {
            window: Duration::from_secs(60),
            max_failures_per_account: 3,
            max_failures_per_client: 5,
            max_tracked: 100,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_is_locked_after_its_failures_until_the_window_passes() {
        let t = throttle();
        let bsn = Bsn::parse("111222333").unwrap();
        for _ in 0..3 {
            assert!(t.check(&bsn, None).is_ok());
            t.record_failure(&bsn, None);
        }
        assert!(t.check(&bsn, None).is_err());
        assert!(
            t.check(&Bsn::parse("123456782").unwrap(), None).is_ok(),
            "other accounts are not affected"
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(t.check(&bsn, None).is_ok());
    }

    /// The first `n` valid BSNs from 100000000 up.
    fn bsns(n: usize) -> Vec<Bsn> {
        (100_000_000u32..)
            .filter_map(|i| Bsn::parse(&i.to_string()).ok())
            .take(n)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_is_locked_across_accounts() {
        let t = throttle();
        let peer = Some(IpAddr::from([10, 0, 0, 1]));
        let accounts = bsns(6);
        for bsn in &accounts[..5] {
            t.record_failure(bsn, peer);
        }
        let fresh = &accounts[5];
        assert!(
            t.check(fresh, peer).is_err(),
            "the client used up its failures"
        );
        assert!(
            t.check(fresh, Some(IpAddr::from([10, 0, 0, 2]))).is_ok(),
            "another client may still try"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn success_clears_the_account() {
        let t = throttle();
        let bsn = Bsn::parse("111222333").unwrap();
        t.record_failure(&bsn, None);
        t.record_failure(&bsn, None);
        t.record_success(&bsn);
        t.record_failure(&bsn, None);
        t.record_failure(&bsn, None);
        assert!(t.check(&bsn, None).is_ok());
    }
}
