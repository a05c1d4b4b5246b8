//! Bounds on what clients may ask of a server. Not read from the
//! environment except where noted: the defaults suit the mesh, and tests
//! tighten them to reach the edges quickly.

use std::time::Duration;

/// Transport bounds of every gRPC server (`docs/security.md`, "The
/// transport"); the defaults suit the mesh's small unary messages.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Largest message decoded or encoded, per message.
    pub max_message_bytes: usize,
    /// HTTP/2 streams per connection (tonic sets no limit unless told): the
    /// bound on requests at once per connection. (A tonic concurrency limit
    /// per connection on top of it, with shedding, raced the protocol's own
    /// count: a permit is released a moment after the client sees its
    /// stream end, so a busy multiplexed connection, such as Dossier's one
    /// connection to Pseudoniem, had streams it rightly opened refused.)
    pub max_concurrent_streams: u32,
    /// Requests in flight on the whole server; more are answered
    /// RESOURCE_EXHAUSTED at once.
    pub max_in_flight: usize,
    /// The longest any request may run, whatever `grpc-timeout` asks.
    pub request_budget: Duration,
    /// HTTP/2 PING interval and how long to wait for the answer.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// Streams a client may reset before they are answered (the "rapid
    /// reset" guard); past it the connection is closed. As many as a
    /// server of the mesh has requests in flight: a client of the mesh
    /// (Dossier multiplexes all its calls to Pseudoniem on one connection)
    /// may rightly cancel every call it has in flight at once when its own
    /// callers go away, and it has at most `max_in_flight` of them. One
    /// connection's worth of streams (128) was too few: a reset frees its
    /// stream's slot at once, the client sends the next queued call, that
    /// one is reset too, and a busy server that has not yet accepted the
    /// first ones counts them all (the benchmark's cut-off of 800
    /// concurrent CheckPermission calls closed Dossier's connection). The
    /// attack still buys a bounded number of streams per connection, each
    /// reset before any handler runs.
    pub max_pending_reset_streams: usize,
    /// Largest header block (metadata) accepted.
    pub max_header_list_bytes: u32,
    /// How long a shutdown waits for requests and connections to finish
    /// before closing what is left. Without a bound, a client that keeps an
    /// idle HTTP/2 connection open can hold a graceful shutdown forever
    /// (hyper#4170).
    pub drain_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_concurrent_streams: 128,
            max_in_flight: 1024,
            request_budget: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_pending_reset_streams: 1024,
            max_header_list_bytes: 16 * 1024,
            drain_grace: Duration::from_secs(5),
        }
    }
}

/// How many failed sign-ins Identity tolerates before it refuses further
/// attempts for a while (`LOGIN_*` variables).
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// How long failures are remembered (`LOGIN_THROTTLE_WINDOW_SECONDS`).
    pub window: Duration,
    /// Failures per patient account (`LOGIN_MAX_FAILURES_PER_ACCOUNT`).
    pub max_failures_per_account: u32,
    /// Failures per client address (`LOGIN_MAX_FAILURES_PER_CLIENT`): the
    /// gRPC peer, or the browser's address that the website vouches for.
    pub max_failures_per_client: u32,
    /// Entries kept at most; bounds the memory a flood can take.
    pub max_tracked: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            max_failures_per_account: 5,
            // A client address may be shared by many patients (a hospital's
            // NAT, a proxy), so it gets more room than one account.
            max_failures_per_client: 100,
            max_tracked: 100_000,
        }
    }
}
