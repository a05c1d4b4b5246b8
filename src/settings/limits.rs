//! Bounds on what clients may ask of a server. Not read from the
//! environment except where noted: the defaults suit the mesh, and tests
//! tighten them to reach the edges quickly.

use std::time::Duration;

/// Transport bounds of every server (`docs/security.md`, "The
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
    /// How long the website waits for a request's whole header block,
    /// counted from when it starts waiting for one: on a new connection,
    /// and between the requests of a kept-alive one. hyper's own
    /// `header_read_timeout`. Without it a socket that sends half a request
    /// line holds a descriptor for ever, and 21,000 of them exhausted the
    /// process's descriptors. A browser sends its headers at once; 10 s
    /// also closes a kept-alive connection idle for that long, which a
    /// browser reopens.
    pub header_read_timeout: Duration,
    /// How long a gRPC server waits for the HTTP/2 client preface and its
    /// first SETTINGS frame header: the first 33 bytes every client sends
    /// at once. There is no setting for it in hyper or tonic, so the
    /// accepted socket is wrapped (`mesh::connections::GatedStream`). After
    /// the preface, the HTTP/2 keep-alive pings above judge the connection:
    /// a stream that is quiet for minutes (WatchConsent) stays while its
    /// client answers them.
    pub preface_timeout: Duration,
    /// Connections one client address (an IPv6 /64) may hold on all the
    /// servers of the process together; a connection over it is reset at
    /// once. Without it one address can take the whole process-wide budget.
    /// A browser opens about 6 connections and the mesh's own clients a few
    /// each, so 256 leaves room for a hospital's NAT.
    pub max_connections_per_address: usize,
    /// The ceiling of the process-wide connection cap. The cap itself is
    /// derived from RLIMIT_NOFILE (raised to its hard limit at start-up):
    /// the limit less a reserve of a quarter of it, at least
    /// `min_reserved_files`, for database files, outbound connections and
    /// the listeners. At the cap the servers stop accepting and the kernel's
    /// backlog holds new clients, rather than accepting and failing for
    /// want of descriptors. The ceiling bounds memory where the descriptor
    /// limit is huge (each connection keeps buffers).
    pub max_connections: usize,
    /// The least number of descriptors kept out of the connection budget.
    pub min_reserved_files: usize,
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
            header_read_timeout: Duration::from_secs(10),
            preface_timeout: Duration::from_secs(5),
            max_connections_per_address: 256,
            max_connections: 32_768,
            min_reserved_files: 256,
        }
    }
}

/// How Identity throttles password sign-ins and registrations (`LOGIN_*`
/// variables; `services/identity/throttle/`, `docs/security.md`).
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// How long failures are remembered after a key's last one
    /// (`LOGIN_THROTTLE_WINDOW_SECONDS`); also the longest delay one
    /// address can earn.
    pub window: Duration,
    /// Failures per patient account before its sign-ins are delayed
    /// (`LOGIN_MAX_FAILURES_PER_ACCOUNT`).
    pub max_failures_per_account: u32,
    /// Failures per client address, across accounts, before its sign-ins
    /// are delayed (`LOGIN_MAX_FAILURES_PER_CLIENT`): the gRPC peer, or the
    /// browser's address that the website vouches for.
    pub max_failures_per_client: u32,
    /// The first delay; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest delay of an account from every address together: the
    /// most someone else's guesses can make the patient wait.
    pub max_account_delay: Duration,
    /// Sign-ins at once per account, and per address.
    pub max_in_flight_per_account: u32,
    pub max_in_flight_per_client: u32,
    /// Registrations (patients and companies) an address may make at once,
    /// and how often it earns another.
    pub registration_burst: u32,
    pub registration_refill: Duration,
    /// Sign-ins and registrations admitted to the password hasher at once,
    /// waiting or running (one hash runs per core); more are answered
    /// RESOURCE_EXHAUSTED `OVERLOADED`.
    pub password_hash_queue: usize,
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
            first_delay: Duration::from_secs(1),
            max_account_delay: Duration::from_secs(60),
            max_in_flight_per_account: 2,
            max_in_flight_per_client: 8,
            registration_burst: 20,
            registration_refill: Duration::from_secs(10),
            password_hash_queue: 32,
            max_tracked: 100_000,
        }
    }
}
