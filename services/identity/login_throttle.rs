//! Failed sign-ins, counted per account and per peer (security.md).
//!
//! After too many failures in a window, further attempts for that account,
//! or from that peer, are refused with RESOURCE_EXHAUSTED before any
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

/// What the throttle allows.
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    pub window: Duration,
    pub max_failures_per_account: u32,
    pub max_failures_per_peer: u32,
    pub max_tracked: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            max_failures_per_account: 5,
            // A peer may be a proxy for many patients (the website), so it
            // gets far more room than one account.
            max_failures_per_peer: 100,
            max_tracked: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account([u8; 32]),
    Peer(IpAddr),
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

    /// Whether a sign-in for `bsn` from `peer` may be tried now.
    pub fn allows(&self, bsn: &Bsn, peer: Option<IpAddr>) -> bool {
        let now = Instant::now();
        let windows = self.windows.lock().expect("throttle lock");
        let over = |key: &Key, limit: u32| {
            windows.get(key).is_some_and(|w| {
                now.duration_since(w.started) < self.policy.window && w.failures >= limit
            })
        };
        let account_blocked = over(&account_key(bsn), self.policy.max_failures_per_account);
        let peer_blocked =
            peer.is_some_and(|ip| over(&Key::Peer(ip), self.policy.max_failures_per_peer));
        !(account_blocked || peer_blocked)
    }

    /// Counts a failed sign-in.
    pub fn record_failure(&self, bsn: &Bsn, peer: Option<IpAddr>) {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("throttle lock");
        if windows.len() >= self.policy.max_tracked {
            windows.retain(|_, w| now.duration_since(w.started) < self.policy.window);
        }
        let keys = std::iter::once(account_key(bsn)).chain(peer.map(Key::Peer));
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

    /// A successful sign-in clears the account's count (not the peer's).
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
            max_failures_per_peer: 5,
            max_tracked: 100,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_is_locked_after_its_failures_until_the_window_passes() {
        let t = throttle();
        let bsn = Bsn::parse("111222333").unwrap();
        for _ in 0..3 {
            assert!(t.allows(&bsn, None));
            t.record_failure(&bsn, None);
        }
        assert!(!t.allows(&bsn, None));
        assert!(
            t.allows(&Bsn::parse("123456782").unwrap(), None),
            "other accounts are not affected"
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(t.allows(&bsn, None));
    }

    /// The first `n` valid BSNs from 100000000 up.
    fn bsns(n: usize) -> Vec<Bsn> {
        (100_000_000u32..)
            .filter_map(|i| Bsn::parse(&i.to_string()).ok())
            .take(n)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_is_locked_across_accounts() {
        let t = throttle();
        let peer = Some(IpAddr::from([10, 0, 0, 1]));
        let accounts = bsns(6);
        for bsn in &accounts[..5] {
            t.record_failure(bsn, peer);
        }
        let fresh = &accounts[5];
        assert!(!t.allows(fresh, peer), "the peer used up its failures");
        assert!(
            t.allows(fresh, Some(IpAddr::from([10, 0, 0, 2]))),
            "another peer may still try"
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
        assert!(t.allows(&bsn, None));
    }
}
