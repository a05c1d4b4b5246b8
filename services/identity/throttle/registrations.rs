//! New accounts and companies per address: a token bucket each.
//!
//! RegisterPatient answers whether a BSN is registered (it must: the
//! patient needs to know), so without a bound anyone could test thousands
//! of BSNs a second, and registrations and companies would grow the
//! databases without end. A burst covers a family or a hospital desk; past
//! it one registration per `refill` interval.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RegistrationThrottle {
    burst: u32,
    refill: Duration,
    max_tracked: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RegistrationThrottle {
    pub fn new(burst: u32, refill: Duration, max_tracked: usize) -> Self {
        Self {
            burst,
            refill,
            max_tracked,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one registration for `client`; refused, how long until the
    /// next may be made.
    pub fn take(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        let Some(client) = client else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("registration lock");
        let burst = f64::from(self.burst);
        let per_second = 1.0 / self.refill.as_secs_f64().max(f64::MIN_POSITIVE);
        let refilled = |bucket: &Bucket| {
            (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second)
                .min(burst)
        };
        if buckets.len() >= self.max_tracked && !buckets.contains_key(&client) {
            buckets.retain(|_, bucket| refilled(bucket) < burst);
            if buckets.len() >= self.max_tracked {
                tracing::warn!("the registration throttle's table is full: one goes uncounted");
                return Ok(());
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        bucket.tokens = refilled(bucket);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_per_interval_per_address() {
        let t = RegistrationThrottle::new(3, Duration::from_secs(10), 100);
        let a = Some(IpAddr::from([127, 0, 0, 2]));
        for _ in 0..3 {
            assert!(t.take(a).is_ok());
        }
        let wait = t.take(a).unwrap_err();
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        assert!(t.take(Some(IpAddr::from([127, 0, 0, 3]))).is_ok());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(t.take(a).is_ok());
        assert!(t.take(a).is_err());
    }
}
