//! Who may hold a connection to a server of the mesh, and for how long
//! before it says anything (`docs/security.md`, "The transport").
//!
//! Every server of a process (four in `toestemming all`) accepts through
//! one [`ConnectionGate`]:
//!
//! - a process-wide cap below the file-descriptor limit: at the cap a
//!   server stops accepting, and the kernel's backlog holds new clients
//!   until a connection closes. Accepting and then failing would cost a
//!   descriptor per attempt, and running out of them (`accept error: Too
//!   many open files`) stopped every server of the process at once, live
//!   calls included;
//! - a per-address cap (an IPv6 client's /64 counts as one address, as it
//!   is one subscriber's): a connection over it is reset at once, so one
//!   address cannot take the process-wide budget from everyone else;
//! - for gRPC, a deadline for the HTTP/2 preface ([`GatedStream`]): a
//!   connection that has not sent the preface and the header of its first
//!   SETTINGS frame within `preface_timeout` is closed. After it, hyper's
//!   HTTP/2 keep-alive pings judge the connection, so a quiet stream (an
//!   open WatchConsent) lives as long as its client answers them. The
//!   website's equivalent is hyper's own `header_read_timeout`.
//!
//! Refusals and time-outs are counted (Prometheus, when enabled) and logged
//! at warn in one aggregated line at most every [`REPORT_EVERY`], never a
//! line per connection: a flood must not become a flood of logs.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use crate::settings::ServerLimits;

/// At most one warn line about refused and timed-out connections per this
/// long; the counts in it are everything since the last line.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after the kernel refused an accept for
/// want of resources (no descriptor, no buffer memory): retrying at once
/// would spin a core on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The HTTP/2 client preface (RFC 9113 §3.4) is these 24 bytes followed by
/// a SETTINGS frame, whose 9-byte header a client sends with it.
pub const HTTP2_PREFACE_BYTES: usize = 24 + 9;

/// Raises this process's soft RLIMIT_NOFILE to its hard limit, once at
/// start-up: the default soft limit (often 1024) is a fraction of what the
/// system allows, and every connection is a descriptor. Returns the limit
/// in force afterwards (or `None` where there is none to read).
pub fn raise_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(limit, "open-file limit (RLIMIT_NOFILE)");
            Some(limit)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit; keeping the one in force");
            file_limit()
        }
    }
}

/// The soft RLIMIT_NOFILE in force.
fn file_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// The process-wide connection cap for `limits`: the file-descriptor limit
/// less a reserve for everything else the process opens (database files
/// and their journals, outbound connections to the other services and the
/// identity provider, the listeners), at most `limits.max_connections`.
pub fn process_cap(limits: &ServerLimits, file_limit: Option<u64>) -> usize {
    let Some(file_limit) = file_limit else {
        return limits.max_connections;
    };
    let file_limit = usize::try_from(file_limit).unwrap_or(usize::MAX);
    let reserve = (file_limit / 4).max(limits.min_reserved_files);
    file_limit
        .saturating_sub(reserve)
        .min(limits.max_connections)
        .max(MIN_PROCESS_CAP.min(limits.max_connections))
}

/// The least process-wide cap a descriptor limit can bring about: each
/// server holds a slot while it waits to accept, so a cap of a few would
/// leave the four servers of `toestemming all` nothing to serve with.
const MIN_PROCESS_CAP: usize = 16;

/// What a gate has seen; see [`ConnectionGate::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateStats {
    /// The process-wide cap.
    pub cap: usize,
    /// Connections open now.
    pub open: usize,
    /// The most ever open at once.
    pub peak: usize,
    /// Connections reset at once by the per-address cap.
    pub refused_per_address: u64,
    /// Times a server found every slot taken and stopped accepting.
    pub paused_at_cap: u64,
    /// Website connections closed by the header-read timeout before their
    /// first request (after one, the timeout closes an idle keep-alive,
    /// which is not counted).
    pub header_timeouts: u64,
    /// gRPC connections closed for want of an HTTP/2 preface in time.
    pub preface_timeouts: u64,
    /// Accepts the kernel failed (no descriptor, no memory).
    pub accept_errors: u64,
}

/// The connection caps of one process; see the module docs.
pub struct ConnectionGate {
    slots: Arc<Semaphore>,
    cap: usize,
    per_address_cap: usize,
    by_address: Mutex<HashMap<AddressKey, usize>>,
    open: AtomicUsize,
    peak: AtomicUsize,
    tcp_keepalive: Duration,
    events: Arc<Events>,
    stop_reporting: CancellationToken,
}

impl Drop for ConnectionGate {
    fn drop(&mut self) {
        self.stop_reporting.cancel();
    }
}

/// What the per-address cap counts by: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6Prefix(u64),
}

impl AddressKey {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4.to_bits()),
            IpAddr::V6(v6) => Self::V6Prefix((v6.to_bits() >> 64) as u64),
        }
    }
}

impl ConnectionGate {
    /// The gate the servers of this process share (`crate::launch` makes
    /// one per process, so the four servers of `toestemming all` hold one
    /// budget), its cap derived from the descriptor limit in force. Call
    /// within the runtime: its reporter is a task.
    pub fn for_this_process(limits: &ServerLimits) -> Arc<Self> {
        Arc::new(Self::new(limits, file_limit()))
    }

    /// A gate for `limits`, its process-wide cap derived from `file_limit`
    /// (see [`process_cap`]).
    pub fn new(limits: &ServerLimits, file_limit: Option<u64>) -> Self {
        let cap = process_cap(limits, file_limit);
        tracing::info!(
            process_cap = cap,
            per_address_cap = limits.max_connections_per_address,
            file_limit = ?file_limit,
            "connection caps"
        );
        let events = Arc::new(Events::default());
        let stop_reporting = CancellationToken::new();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(report(events.clone(), stop_reporting.clone()));
        }
        Self {
            slots: Arc::new(Semaphore::new(cap)),
            cap,
            per_address_cap: limits.max_connections_per_address.max(1),
            by_address: Mutex::new(HashMap::new()),
            open: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            tcp_keepalive: limits.keepalive_interval,
            events,
            stop_reporting,
        }
    }

    /// What this gate has seen so far.
    pub fn stats(&self) -> GateStats {
        GateStats {
            cap: self.cap,
            open: self.open.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            refused_per_address: self.events.total(Event::RefusedPerAddress),
            paused_at_cap: self.events.total(Event::PausedAtCap),
            header_timeouts: self.events.total(Event::HeaderTimeout),
            preface_timeouts: self.events.total(Event::PrefaceTimeout),
            accept_errors: self.events.total(Event::AcceptError),
        }
    }

    /// Connections that `ip`'s address (its /64 for IPv6) holds now.
    pub fn held_by(&self, ip: IpAddr) -> usize {
        let by_address = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        by_address.get(&AddressKey::of(ip)).copied().unwrap_or(0)
    }

    /// Records that a website connection was closed by hyper's
    /// header-read timeout before its first request.
    pub fn header_timed_out(&self) {
        self.events.record(Event::HeaderTimeout);
    }

    /// The next connection on `listener` that the caps admit. Waits for a
    /// free slot before accepting (so, at the cap, clients wait in the
    /// kernel's backlog), and resets at once a connection over its
    /// address's cap. A server holds one slot while it waits to accept.
    pub async fn accept(self: &Arc<Self>, listener: &TcpListener) -> Admitted {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.events.record(Event::PausedAtCap);
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the gate's semaphore is never closed")
            }
        };
        loop {
            let (stream, remote) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_per_connection(&error) {
                        self.events.record(Event::AcceptError);
                        tracing::debug!(%error, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            };
            let key = AddressKey::of(remote.ip());
            if !self.take_address_slot(key) {
                self.events.record(Event::RefusedPerAddress);
                // A reset, not a FIN: the descriptor and the port pair are
                // free at once, with no TIME_WAIT on our side.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                drop(stream);
                continue;
            }
            let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
            self.peak.fetch_max(open, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            let keepalive = socket2::TcpKeepalive::new().with_time(self.tcp_keepalive);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
            return Admitted {
                stream,
                remote,
                slot: Slot {
                    gate: self.clone(),
                    key,
                    _permit: permit,
                },
            };
        }
    }

    fn take_address_slot(&self, key: AddressKey) -> bool {
        let mut by_address = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        let held = by_address.entry(key).or_insert(0);
        if *held >= self.per_address_cap {
            return false;
        }
        *held += 1;
        true
    }

    fn release(&self, key: AddressKey) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        let mut by_address = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = by_address.get_mut(&key) {
            *held -= 1;
            if *held == 0 {
                by_address.remove(&key);
            }
        }
    }
}

/// Errors of one incoming connection (it went away before we accepted it),
/// after which the next accept may go ahead at once.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// A connection the caps admitted.
pub struct Admitted {
    pub stream: TcpStream,
    pub remote: SocketAddr,
    slot: Slot,
}

impl Admitted {
    /// The connection as a server reads it; with `first_bytes`, it fails
    /// with `TimedOut` unless that many bytes arrive within the deadline.
    pub fn into_stream(self, first_bytes: Option<(usize, Duration)>) -> GatedStream {
        let first_bytes = first_bytes.map(|(needed, within)| FirstBytes {
            needed,
            deadline: Box::pin(tokio::time::sleep(within)),
        });
        GatedStream {
            inner: self.stream,
            first_bytes,
            slot: self.slot,
        }
    }
}

/// A held slot of the caps: given back when the connection is dropped.
struct Slot {
    gate: Arc<ConnectionGate>,
    key: AddressKey,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.release(self.key);
    }
}

/// An admitted TCP connection, holding its slot until it is dropped, and
/// with the deadline for its first bytes if it has one.
pub struct GatedStream {
    inner: TcpStream,
    first_bytes: Option<FirstBytes>,
    slot: Slot,
}

struct FirstBytes {
    needed: usize,
    deadline: Pin<Box<Sleep>>,
}

impl GatedStream {
    /// The underlying socket.
    pub fn tcp(&self) -> &TcpStream {
        &self.inner
    }
}

impl AsyncRead for GatedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Some(first) = &mut this.first_bytes else {
            return read;
        };
        match read {
            Poll::Ready(Ok(())) => {
                first.needed = first.needed.saturating_sub(buf.filled().len() - before);
                if first.needed == 0 {
                    this.first_bytes = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if first.deadline.as_mut().poll(cx).is_ready() {
                    this.first_bytes = None;
                    this.slot.gate.events.record(Event::PrefaceTimeout);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no HTTP/2 preface within the preface timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for GatedStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    /// The socket's own addresses, so `Request::remote_addr` works as with
    /// tonic's own listener.
    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// What the gate counts and reports.
#[derive(Debug, Clone, Copy)]
enum Event {
    RefusedPerAddress,
    PausedAtCap,
    HeaderTimeout,
    PrefaceTimeout,
    AcceptError,
}

impl Event {
    const ALL: [Event; 5] = [
        Event::RefusedPerAddress,
        Event::PausedAtCap,
        Event::HeaderTimeout,
        Event::PrefaceTimeout,
        Event::AcceptError,
    ];

    fn label(self) -> &'static str {
        match self {
            Event::RefusedPerAddress => "refused_per_address",
            Event::PausedAtCap => "paused_at_cap",
            Event::HeaderTimeout => "header_timeout",
            Event::PrefaceTimeout => "preface_timeout",
            Event::AcceptError => "accept_error",
        }
    }
}

/// Counts of each [`Event`]: since the last report, and in total.
#[derive(Default)]
struct Events {
    unreported: [AtomicU64; 5],
    totals: [AtomicU64; 5],
    happened: Notify,
}

impl Events {
    fn record(&self, event: Event) {
        self.unreported[event as usize].fetch_add(1, Ordering::Relaxed);
        self.totals[event as usize].fetch_add(1, Ordering::Relaxed);
        crate::telemetry::metrics::connection_event(event.label());
        self.happened.notify_one();
    }

    fn total(&self, event: Event) -> u64 {
        self.totals[event as usize].load(Ordering::Relaxed)
    }
}

/// Logs what happened, one line at most every [`REPORT_EVERY`]: the first
/// event of a quiet spell at once, the rest summed up in the next line.
async fn report(events: Arc<Events>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = events.happened.notified() => {}
            () = stop.cancelled() => return,
        }
        let counts = Event::ALL.map(|event| {
            (
                event.label(),
                events.unreported[event as usize].swap(0, Ordering::Relaxed),
            )
        });
        if counts.iter().any(|(_, count)| *count > 0) {
            let [refused, paused, header, preface, accept] = counts.map(|(_, count)| count);
            tracing::warn!(
                refused_per_address = refused,
                paused_at_cap = paused,
                header_timeouts = header,
                preface_timeouts = preface,
                accept_errors = accept,
                "connections refused, paused or closed by the connection limits"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(REPORT_EVERY) => {}
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_a_reserve_below_the_file_limit() {
        let limits = ServerLimits::default();
        // A quarter of the limit, at least `min_reserved_files`.
        assert_eq!(process_cap(&limits, Some(20_000)), 15_000);
        assert_eq!(
            process_cap(&limits, Some(1024)),
            1024 - limits.min_reserved_files
        );
        // Never above the configured ceiling, never below a few per server.
        assert_eq!(process_cap(&limits, Some(1 << 20)), limits.max_connections);
        assert_eq!(process_cap(&limits, Some(10)), MIN_PROCESS_CAP);
        assert_eq!(process_cap(&limits, None), limits.max_connections);
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_address() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::of(a), AddressKey::of(b));
        assert_ne!(AddressKey::of(a), AddressKey::of(c));
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let v4: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(AddressKey::of(mapped), AddressKey::of(v4));
    }
}
