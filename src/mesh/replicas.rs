//! A client's calls spread over a dependency's replicas, around any that
//! is down.
//!
//! tonic's own balancer (tower's power-of-two-choices over lazily connected
//! endpoints) keeps choosing a replica that was stopped: its connection
//! reports ready and fails each call at once, which makes it look the least
//! loaded. Calls from a service whose dependency lost one of two replicas
//! then fail about a third of the time. So the mesh balances itself, the way
//! Envoy does with outlier detection and `retry_on: connect-failure`:
//!
//! - calls go round-robin over the replicas that are not marked down;
//! - a call whose replica cannot be reached (refused, reset, closed before
//!   it answered) marks that replica down for a while (1 s, doubling up to
//!   30 s while it stays down) and is sent once more to the next replica;
//! - when every replica is marked down, they are all tried anyway, so a
//!   recovered dependency is found without waiting out the backoff.
//!
//! To send a call twice its body is kept: unary calls carry one small
//! message, which is all the mesh's clients send. With one replica, calls
//! pass straight to its channel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;
use tonic::transport::Channel;
use tower::{Service, ServiceExt as _};

/// How long a replica that could not be reached is left out at first.
const FIRST_PENALTY: Duration = Duration::from_secs(1);
/// The longest a replica is left out before it is tried again.
const MAX_PENALTY: Duration = Duration::from_secs(30);

/// One replica: its address, its own connection, and whether it is down.
struct Replica {
    address: String,
    channel: Channel,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    down_until: Option<Instant>,
    penalty: Duration,
}

impl Replica {
    fn is_up(&self, now: Instant) -> bool {
        let health = self.health.lock().expect("replica health lock");
        health.down_until.is_none_or(|until| now >= until)
    }

    /// Leaves the replica out for its next penalty. The calls in flight on
    /// a connection that breaks all fail together; they are one event, so
    /// while the replica is already left out they change nothing.
    fn mark_down(&self) {
        let mut health = self.health.lock().expect("replica health lock");
        let now = Instant::now();
        if health.down_until.is_some_and(|until| now < until) {
            return;
        }
        health.penalty = (health.penalty * 2).clamp(FIRST_PENALTY, MAX_PENALTY);
        health.down_until = Some(now + health.penalty);
        tracing::warn!(replica = %self.address, penalty_ms = health.penalty.as_millis() as u64, "replica unreachable; leaving it out");
    }

    fn mark_up(&self) {
        let mut health = self.health.lock().expect("replica health lock");
        if health.down_until.take().is_some() {
            tracing::info!(replica = %self.address, "replica reachable again");
        }
        health.penalty = Duration::ZERO;
    }
}

/// The replicas of one dependency; cheap to clone, clones share them.
#[derive(Clone)]
pub struct Replicas {
    set: Arc<ReplicaSet>,
    next: Arc<AtomicUsize>,
}

/// The replicas themselves, which a resolver may replace. A resolver holds
/// it weakly, so it stops once no client uses the replicas any more.
pub struct ReplicaSet(RwLock<Vec<Arc<Replica>>>);

impl Replicas {
    /// Replicas at `addresses`, each with its channel.
    pub fn new(replicas: Vec<(String, Channel)>) -> Self {
        let this = Self {
            set: Arc::new(ReplicaSet(RwLock::new(Vec::new()))),
            next: Arc::new(AtomicUsize::new(0)),
        };
        this.set.replace(replicas);
        this
    }

    /// The set, for a resolver to keep up to date.
    pub(super) fn set(&self) -> &Arc<ReplicaSet> {
        &self.set
    }
}

impl ReplicaSet {
    /// The replicas' addresses, in order.
    pub fn addresses(&self) -> Vec<String> {
        let set = self.0.read().expect("replica set lock");
        set.iter().map(|replica| replica.address.clone()).collect()
    }

    /// Replaces the replicas, keeping the connection and health of every
    /// one that stays (for a name resolved again).
    pub fn replace(&self, replicas: Vec<(String, Channel)>) {
        let mut set = self.0.write().expect("replica set lock");
        let kept: Vec<Arc<Replica>> = replicas
            .into_iter()
            .map(|(address, channel)| {
                set.iter()
                    .find(|replica| replica.address == address)
                    .cloned()
                    .unwrap_or_else(|| {
                        Arc::new(Replica {
                            address,
                            channel,
                            health: Mutex::new(Health::default()),
                        })
                    })
            })
            .collect();
        *set = kept;
    }
}

impl Replicas {
    /// The replicas to try for one call, in order: the next up replica in
    /// round-robin order, then another up one; or, when none is up, the
    /// next two regardless.
    fn pick(&self) -> Vec<Arc<Replica>> {
        let set = self.set.0.read().expect("replica set lock");
        if set.is_empty() {
            return Vec::new();
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let rotated = (0..set.len()).map(|i| set[(start + i) % set.len()].clone());
        let now = Instant::now();
        let up: Vec<Arc<Replica>> = rotated.clone().filter(|r| r.is_up(now)).take(2).collect();
        if up.is_empty() {
            rotated.take(2).collect()
        } else {
            up
        }
    }
}

impl Service<Request<Body>> for Replicas {
    type Response = Response<Body>;
    /// A concrete error, as tonic's clients and the layers above expect: a
    /// replica that cannot be reached is UNAVAILABLE, tonic's own deadline
    /// DEADLINE_EXCEEDED.
    type Error = Status;
    type Future = BoxFuture<'static, Result<Response<Body>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each attempt readies its replica's channel.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let order = self.pick();
        Box::pin(async move {
            let Some(first) = order.first().cloned() else {
                return Err(Status::unavailable("no replica of the dependency is known"));
            };
            if order.len() == 1 {
                return attempt(&first, request).await.map_err(to_status);
            }
            let (parts, body) = request.into_parts();
            let body: Bytes = body
                .collect()
                .await
                .map_err(|error| Status::internal(format!("cannot read the request: {error}")))?
                .to_bytes();
            let mut last = None;
            for replica in &order {
                let mut again = Request::new(Body::new(Full::new(body.clone())));
                *again.method_mut() = parts.method.clone();
                *again.uri_mut() = parts.uri.clone();
                *again.version_mut() = parts.version;
                *again.headers_mut() = parts.headers.clone();
                match attempt(replica, again).await {
                    Err(error) if is_unreachable(&error) => last = Some(error),
                    outcome => return outcome.map_err(to_status),
                }
            }
            Err(last.map_or_else(|| Status::unavailable("no replica answered"), to_status))
        })
    }
}

/// One try on `replica`, recording whether it could be reached.
async fn attempt(
    replica: &Replica,
    request: Request<Body>,
) -> Result<Response<Body>, tonic::transport::Error> {
    let outcome = replica.channel.clone().oneshot(request).await;
    match &outcome {
        Ok(_) => replica.mark_up(),
        Err(error) if is_unreachable(error) => replica.mark_down(),
        Err(_) => {}
    }
    outcome
}

/// What a caller sees of a transport failure. tonic's own expiry of the
/// call's `grpc-timeout` is the deadline, not a cancellation.
fn to_status(error: tonic::transport::Error) -> Status {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = current {
        if cause.is::<tonic::TimeoutExpired>() {
            return Status::deadline_exceeded("the dependency did not answer in time");
        }
        current = cause.source();
    }
    Status::from_error(Box::new(error))
}

/// Whether `error` says the replica could not be reached at all: the
/// connection was refused, reset or closed, rather than the call timing out
/// or being answered.
fn is_unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::BrokenPipe
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        let text = error.to_string();
        if text.contains("connection closed") || text.contains("tcp connect error") {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(n: usize) -> Replicas {
        Replicas::new(
            (0..n)
                .map(|i| {
                    let address = format!("http://127.0.0.1:{}", 9 + i);
                    let channel = tonic::transport::Endpoint::from_shared(address.clone())
                        .unwrap()
                        .connect_lazy();
                    (address, channel)
                })
                .collect(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn calls_go_round_robin_and_around_a_replica_that_is_down() {
        let set = replicas(3);
        let firsts: Vec<String> = (0..3).map(|_| set.pick()[0].address.clone()).collect();
        assert_eq!(firsts.len(), 3);
        assert_eq!(
            firsts
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            3,
            "each replica in turn"
        );
        let down = set.pick()[0].clone();
        down.mark_down();
        for _ in 0..6 {
            assert!(set.pick().iter().all(|r| r.address != down.address));
        }
        tokio::time::advance(FIRST_PENALTY).await;
        assert!(
            (0..3).any(|_| set.pick()[0].address == down.address),
            "tried again after its penalty"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn when_all_are_down_they_are_tried_anyway_and_penalties_grow() {
        let set = replicas(2);
        let all = set.pick();
        for replica in &all {
            replica.mark_down();
        }
        assert_eq!(set.pick().len(), 2, "nothing up: try them all");
        all[0].mark_down();
        assert_eq!(
            all[0].health.lock().unwrap().penalty,
            FIRST_PENALTY,
            "failures while it is left out are the same event"
        );
        tokio::time::advance(FIRST_PENALTY).await;
        all[0].mark_down();
        assert_eq!(all[0].health.lock().unwrap().penalty, FIRST_PENALTY * 2);
    }

    #[tokio::test]
    async fn a_resolved_again_set_keeps_what_stays() {
        let set = replicas(2);
        let kept = set
            .pick()
            .into_iter()
            .find(|r| r.address.ends_with(":9"))
            .unwrap();
        kept.mark_down();
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:11").connect_lazy();
        set.set().replace(vec![
            (kept.address.clone(), kept.channel.clone()),
            ("http://127.0.0.1:11".into(), channel),
        ]);
        let addresses: Vec<String> = set
            .set
            .0
            .read()
            .unwrap()
            .iter()
            .map(|r| r.address.clone())
            .collect();
        assert_eq!(addresses, vec!["http://127.0.0.1:9", "http://127.0.0.1:11"]);
        let now = Instant::now();
        let still = set.set.0.read().unwrap()[0].clone();
        assert!(!still.is_up(now), "its health is kept");
    }
}
