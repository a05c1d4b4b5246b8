//! The one way to the password hasher: a bounded queue in front of argon2.
//!
//! argon2 is meant to be costly, which makes it a tap anyone can open:
//! 600 concurrent registrations once put 600 hashes on the blocking pool at
//! once, an innocent sign-in waited 4.9 s and database pools timed out for
//! unrelated calls. Here at most one hash per core runs (on the blocking
//! pool, never on an async worker), and at most `capacity` sign-ins and
//! registrations are admitted at all, waiting or running. Admission is
//! taken before the call reads any database, so a flood is refused at the
//! door, RESOURCE_EXHAUSTED `OVERLOADED` with a RetryInfo, instead of
//! holding connections other calls need.
//!
//! Registrations may take only half the places: a flood of them (anyone
//! may register) leaves room for patients signing in, whose own floods the
//! sign-in throttle bounds per account and per address.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::credentials::{StoredHash, hash_password, verify_password};

/// How long a caller turned away is told to wait: about what the admitted
/// calls need to drain.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub struct HashQueue {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    /// The half of the places registrations may hold.
    registrations: Arc<Semaphore>,
}

/// Refused admission: the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub retry_after: Duration,
}

impl HashQueue {
    /// `workers` hashes at once (the cores), `capacity` calls admitted.
    pub fn new(workers: usize, capacity: usize) -> Self {
        let workers = workers.max(1);
        let capacity = capacity.max(2 * workers);
        Self {
            running: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(capacity)),
            registrations: Arc::new(Semaphore::new(capacity / 2)),
        }
    }

    /// One hash per core.
    pub fn sized_to_the_cores(capacity: usize) -> Self {
        Self::new(
            std::thread::available_parallelism().map_or(1, usize::from),
            capacity,
        )
    }

    /// A place in the queue for one sign-in, held until it is dropped.
    pub fn admit_sign_in(&self) -> Result<Admitted, Full> {
        Ok(Admitted {
            _slots: vec![take(&self.admitted)?],
            running: Arc::clone(&self.running),
        })
    }

    /// A place for one registration, within the registrations' half.
    pub fn admit_registration(&self) -> Result<Admitted, Full> {
        Ok(Admitted {
            _slots: vec![take(&self.registrations)?, take(&self.admitted)?],
            running: Arc::clone(&self.running),
        })
    }
}

fn take(places: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, Full> {
    Arc::clone(places).try_acquire_owned().map_err(|_| Full {
        retry_after: RETRY_AFTER,
    })
}

/// An admitted call: it may hash and verify, one at a time per core.
pub struct Admitted {
    _slots: Vec<OwnedSemaphorePermit>,
    running: Arc<Semaphore>,
}

impl Admitted {
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let _turn = Arc::clone(&self.running).acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(work).await.ok()
    }

    /// A new password's hash; `None` only if the hasher fails.
    pub async fn hash(&self, password: SecretString) -> Option<StoredHash> {
        self.run(move || hash_password(&password)).await.flatten()
    }

    /// Whether `password` matches `stored`.
    pub async fn verify(&self, password: SecretString, stored: StoredHash) -> bool {
        self.run(move || verify_password(&password, &stored))
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_queue_refuses_past_its_capacity_and_frees_on_drop() {
        let queue = HashQueue::new(1, 4);
        let first = queue.admit_registration().unwrap();
        let second = queue.admit_registration().unwrap();
        assert!(
            queue.admit_registration().is_err(),
            "registrations hold half the places"
        );
        let signing_in = queue.admit_sign_in().unwrap();
        let _another = queue.admit_sign_in().unwrap();
        assert_eq!(
            queue.admit_sign_in().err(),
            Some(Full {
                retry_after: RETRY_AFTER
            })
        );
        drop(signing_in);
        drop(first);
        let third = queue.admit_registration().unwrap();
        let hash = third
            .hash("a password of some length".into())
            .await
            .unwrap();
        assert!(
            second
                .verify("a password of some length".into(), hash)
                .await
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_workers() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let queue = Arc::new(HashQueue::new(2, 16));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let admitted = queue.admit_sign_in().unwrap();
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(async move {
                    admitted
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
