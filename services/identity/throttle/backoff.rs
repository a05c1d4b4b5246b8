//! The table behind every throttle of Identity: per key, the failures seen,
//! the attempts in flight, and the delay the next attempt must wait.
//!
//! Why it is shaped this way (issue 17, `docs/security.md`):
//! - An attempt is **reserved** before any secret is checked, and counted as
//!   a failure at that moment, under one lock for all its keys. Concurrent
//!   guesses therefore see each other: the sixth of a thousand simultaneous
//!   calls finds five failures already counted. A success gives back only
//!   its own count, so failures in flight beside it are never erased.
//! - Past its free failures a key waits a delay that doubles with each
//!   failure up to a cap, instead of a hard lock-out: the cap per key kind
//!   decides how long someone else's guesses can keep a patient waiting.
//! - The attempts in flight per key are bounded too, so one account or one
//!   address cannot hold the password hasher.
//! - Failures are forgotten `window` after a key's last one. The table is
//!   bounded; when full, forgotten keys are dropped, and a new key that
//!   still finds no room is let through uncounted (logged) rather than the
//!   table grown or everyone refused.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How one kind of key is throttled.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Failures (counted at reservation) before any delay.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest delay: the most a key can be made to wait.
    pub max_delay: Duration,
    /// Attempts under this key at once.
    pub max_in_flight: u32,
    /// Whether a success clears the key's earlier failures (when nothing
    /// else is in flight under it): right for an (account, address) pair,
    /// whose success proves that address knows the secret.
    pub cleared_by_success: bool,
}

impl Rule {
    /// How long after the last failure the next attempt may start, with
    /// `failures` counted.
    fn delay(&self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.free_failures) else {
            return Duration::ZERO;
        };
        self.first_delay
            .checked_mul(1u32.checked_shl(over).unwrap_or(u32::MAX))
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }
}

/// Why an attempt may not be made now, and when it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    in_flight: u32,
}

pub struct Backoff<K> {
    window: Duration,
    max_tracked: usize,
    entries: Mutex<HashMap<K, Entry>>,
}

impl<K: Hash + Eq + Clone + Send + 'static> Backoff<K> {
    pub fn new(window: Duration, max_tracked: usize) -> Arc<Self> {
        Arc::new(Self {
            window,
            max_tracked,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// Reserves one attempt under every key at once (counted as a failure
    /// until [`Reservation::succeeded`]), or refuses it with the wait of
    /// the key that waits longest. An attempt in flight under a key
    /// refuses a new one past the key's bound for a second.
    pub fn reserve(self: &Arc<Self>, keys: &[(K, Rule)]) -> Result<Reservation<K>, Refused> {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        let mut wait = Duration::ZERO;
        for (key, rule) in keys {
            let Some(entry) = entries.get_mut(key) else {
                continue;
            };
            if now.duration_since(entry.last_failure) >= self.window {
                entry.failures = 0;
            }
            if entry.in_flight >= rule.max_in_flight {
                wait = wait.max(BUSY_RETRY);
            }
            let ready = entry.last_failure + rule.delay(entry.failures);
            wait = wait.max(ready.saturating_duration_since(now));
        }
        if !wait.is_zero() {
            return Err(Refused { retry_after: wait });
        }
        if entries.len() + keys.len() > self.max_tracked {
            let window = self.window;
            entries.retain(|_, e| e.in_flight > 0 || now.duration_since(e.last_failure) < window);
        }
        let mut held = Vec::with_capacity(keys.len());
        for (key, rule) in keys {
            if entries.len() >= self.max_tracked && !entries.contains_key(key) {
                tracing::warn!("the throttle's table is full: an attempt goes uncounted");
                continue;
            }
            let entry = entries.entry(key.clone()).or_insert(Entry {
                failures: 0,
                last_failure: now,
                in_flight: 0,
            });
            entry.failures += 1;
            entry.last_failure = now;
            entry.in_flight += 1;
            held.push((key.clone(), rule.cleared_by_success));
        }
        Ok(Reservation {
            table: Arc::clone(self),
            keys: held,
            succeeded: false,
        })
    }

    fn release(&self, keys: &[(K, bool)], succeeded: bool) {
        let mut entries = self.entries.lock().expect("throttle lock");
        for (key, cleared_by_success) in keys {
            let Some(entry) = entries.get_mut(key) else {
                continue;
            };
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if succeeded {
                entry.failures = if *cleared_by_success && entry.in_flight == 0 {
                    0
                } else {
                    entry.failures.saturating_sub(1)
                };
            }
        }
    }

    #[cfg(test)]
    pub fn failures(&self, key: &K) -> u32 {
        self.entries
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |e| e.failures)
    }
}

/// How long a caller refused for an attempt in flight waits.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// One attempt in flight. Dropped without [`Self::succeeded`] (a wrong
/// secret, an error, a caller that went away), it stays a failure.
pub struct Reservation<K: Hash + Eq + Clone + Send + 'static> {
    table: Arc<Backoff<K>>,
    keys: Vec<(K, bool)>,
    succeeded: bool,
}

impl<K: Hash + Eq + Clone + Send + 'static> Reservation<K> {
    /// The secret was right: this attempt's failure is taken back (and the
    /// keys a success clears are cleared).
    pub fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> Drop for Reservation<K> {
    fn drop(&mut self) {
        self.table.release(&self.keys, self.succeeded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        free_failures: 3,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
        max_in_flight: 2,
        cleared_by_success: false,
    };

    #[test]
    fn delays_double_after_the_free_failures_up_to_the_cap() {
        let delays: Vec<u64> = (0..10).map(|f| RULE.delay(f).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 1, 2, 4, 8, 10, 10, 10]);
        assert_eq!(RULE.delay(u32::MAX - 1), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_attempts_see_each_other() {
        let table = Backoff::new(Duration::from_secs(60), 100);
        let rule = Rule {
            max_in_flight: 100,
            ..RULE
        };
        let held: Vec<_> = (0..10)
            .filter_map(|_| table.reserve(&[("a", rule)]).ok())
            .collect();
        assert_eq!(held.len(), 3, "only the free failures may be in flight");
        drop(held);
        let refused = table.reserve(&[("a", rule)]).err().unwrap();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(table.reserve(&[("a", rule)]).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_takes_back_only_its_own_failure() {
        let table = Backoff::new(Duration::from_secs(60), 100);
        let failing = table.reserve(&[("a", RULE)]).unwrap();
        let right = table.reserve(&[("a", RULE)]).unwrap();
        right.succeeded();
        drop(failing);
        assert_eq!(table.failures(&"a"), 1, "the failure in flight stays");
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_clears_a_pair_when_nothing_else_is_in_flight() {
        let table = Backoff::new(Duration::from_secs(60), 100);
        let rule = Rule {
            cleared_by_success: true,
            ..RULE
        };
        drop(table.reserve(&[("pair", rule)]).unwrap());
        drop(table.reserve(&[("pair", rule)]).unwrap());
        table.reserve(&[("pair", rule)]).unwrap().succeeded();
        assert_eq!(table.failures(&"pair"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_in_flight_are_bounded_per_key() {
        let table = Backoff::new(Duration::from_secs(60), 100);
        let first = table.reserve(&[("a", RULE)]).unwrap();
        let second = table.reserve(&[("a", RULE)]).unwrap();
        assert_eq!(
            table.reserve(&[("a", RULE)]).err(),
            Some(Refused {
                retry_after: BUSY_RETRY
            })
        );
        assert!(table.reserve(&[("b", RULE)]).is_ok(), "other keys go on");
        drop((first, second));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_forgotten_a_window_after_the_last() {
        let table = Backoff::new(Duration::from_secs(60), 100);
        for _ in 0..3 {
            drop(table.reserve(&[("a", RULE)]).unwrap());
        }
        assert!(table.reserve(&[("a", RULE)]).is_err());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(table.reserve(&[("a", RULE)]).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_table_lets_new_keys_through_uncounted() {
        let table = Backoff::new(Duration::from_secs(60), 2);
        drop(table.reserve(&[("a", RULE)]).unwrap());
        drop(table.reserve(&[("b", RULE)]).unwrap());
        for _ in 0..5 {
            drop(table.reserve(&[("c", RULE)]).unwrap());
        }
        assert_eq!(table.failures(&"c"), 0);
        tokio::time::advance(Duration::from_secs(60)).await;
        drop(table.reserve(&[("c", RULE)]).unwrap());
        assert_eq!(table.failures(&"c"), 1, "forgotten keys made room");
    }
}
