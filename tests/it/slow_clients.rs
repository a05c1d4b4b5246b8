//! Slow and idle clients (issue 17, finding 3), with real sockets against
//! real servers: sockets that send half a request line to the website, or
//! nothing at all to a gRPC server, are closed after the header-read and
//! preface timeouts; one client address cannot hold more than its cap of
//! connections while another is served; at the process-wide cap the servers
//! stop accepting and a client waits in the backlog until a slot frees
//! (in-process, and in a process of the real binary whose descriptor limit
//! is lowered, where the flood used to end in `Too many open files`); and a
//! WatchConsent stream quiet for longer than every timeout still receives
//! its change. The attackers' sockets come from their own loopback
//! addresses (127.0.0.2, ...), bound before they connect.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use toestemming::mesh::connections::GateStats;
use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::settings::{ServiceKind, Settings};
use toestemming::telemetry::metrics::names;

use crate::support::*;

/// The timeouts of these tests' meshes.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How long after a timeout a socket may take to be seen closed.
const SLACK: Duration = Duration::from_secs(2);

/// The HTTP/2 client preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A TCP connection to `to` from 127.0.0.`from`.
async fn connect_from(from: u8, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(loopback(from), 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// How long after `since` the server closed `stream` (EOF or reset),
/// reading and dropping whatever it sends meanwhile (an HTTP/2 server
/// sends its SETTINGS first); `None` if it was still open at `until`.
async fn closed_by_server(
    mut stream: TcpStream,
    since: Instant,
    until: Instant,
) -> Option<Duration> {
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(until.into(), stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Of the sockets `watching`, how many were still held open at their
/// deadline, and the latest that any of the others was closed.
async fn held_and_latest(mut watching: JoinSet<Option<Duration>>) -> (usize, Duration) {
    let mut held = 0;
    let mut latest = Duration::ZERO;
    while let Some(closed) = watching.join_next().await {
        match closed.unwrap() {
            None => held += 1,
            Some(after) => latest = latest.max(after),
        }
    }
    (held, latest)
}

/// A plain `GET path` to the website from 127.0.0.`from`: the status code.
async fn get_from(from: u8, website: SocketAddr, path: &str) -> u16 {
    let mut stream = connect_from(from, website).await;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {website}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// A health check of the gRPC server at `addr` (from 127.0.0.1).
async fn grpc_serving(addr: SocketAddr) -> bool {
    let Ok(channel) = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
    else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .is_ok()
}

fn gate(mesh: &TestMesh) -> GateStats {
    mesh.running.connections().stats()
}

/// This test process's descriptor limit raised as the binary raises its
/// own: the sockets of both ends of these floods are in this process.
fn enough_files() {
    toestemming::mesh::connections::raise_file_limit();
}

/// Every timeout of the transport tightened to [`TIMEOUT`].
fn tight_timeouts(settings: &mut Settings) {
    settings.limits.header_read_timeout = TIMEOUT;
    settings.limits.preface_timeout = TIMEOUT;
}

#[tokio::test]
async fn half_request_lines_to_the_website_are_closed_after_the_header_timeout() {
    enough_files();
    const SOCKETS: usize = 500;
    let mesh = TestMesh::start_with(|settings| {
        tight_timeouts(settings);
        settings.limits.max_connections_per_address = 2 * SOCKETS;
    })
    .await;
    let website = mesh.addr(ServiceKind::Website);

    let started = Instant::now();
    let mut watching = JoinSet::new();
    for _ in 0..SOCKETS {
        let mut stream = connect_from(2, website).await;
        stream.write_all(b"GET /signin HTT").await.unwrap();
        watching.spawn(closed_by_server(stream, started, started + TIMEOUT + SLACK));
    }
    // Meanwhile the website answers a whole request at once.
    let asked = Instant::now();
    assert_eq!(get_from(3, website, "/healthz").await, 200);
    let answered_in = asked.elapsed();

    let (held, latest) = held_and_latest(watching).await;
    let stats = gate(&mesh);
    println!(
        "{SOCKETS} sockets with half a request line: {held} held {:?} after the {TIMEOUT:?} header timeout; \
         the last closed {latest:?} after they opened; a normal request meanwhile answered in {answered_in:?}; {stats:?}",
        SLACK
    );
    assert_eq!(held, 0, "every half request closed by the header timeout");
    assert!(latest >= TIMEOUT, "not before the timeout: {latest:?}");
    assert!(stats.header_timeouts >= SOCKETS as u64);
    // The website still serves after the flood.
    assert_eq!(get_from(2, website, "/healthz").await, 200);
}

#[tokio::test]
async fn silent_connections_to_a_grpc_server_are_closed_after_the_preface_timeout() {
    enough_files();
    const SILENT: usize = 200;
    const PARTIAL: usize = 20;
    let mesh = TestMesh::start_with(|settings| {
        tight_timeouts(settings);
        settings.limits.keepalive_interval = TIMEOUT;
        settings.limits.keepalive_timeout = TIMEOUT;
        settings.limits.max_connections_per_address = 4 * SILENT;
    })
    .await;
    let identity = mesh.addr(ServiceKind::Identity);

    let started = Instant::now();
    let mut silent = JoinSet::new();
    for _ in 0..SILENT {
        let stream = connect_from(2, identity).await;
        silent.spawn(closed_by_server(stream, started, started + TIMEOUT + SLACK));
    }
    // Half the preface, then nothing.
    let mut partial = JoinSet::new();
    for _ in 0..PARTIAL {
        let mut stream = connect_from(2, identity).await;
        stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        partial.spawn(closed_by_server(stream, started, started + TIMEOUT + SLACK));
    }
    // The whole preface and an empty SETTINGS frame, then silence: no
    // answer to the server's keep-alive PING closes it.
    let mut handshaken = JoinSet::new();
    for _ in 0..PARTIAL {
        let mut stream = connect_from(2, identity).await;
        stream.write_all(PREFACE).await.unwrap();
        handshaken.spawn(closed_by_server(
            stream,
            started,
            started + 3 * TIMEOUT + SLACK,
        ));
    }
    assert!(
        grpc_serving(identity).await,
        "a real client is served meanwhile"
    );

    let (held, latest) = held_and_latest(silent).await;
    let (held_partial, latest_partial) = held_and_latest(partial).await;
    let (held_handshaken, latest_handshaken) = held_and_latest(handshaken).await;
    let stats = gate(&mesh);
    println!(
        "{SILENT} silent TCP connections to Identity: {held} held {SLACK:?} after the {TIMEOUT:?} preface timeout \
         (last closed after {latest:?}); {PARTIAL} with half a preface: {held_partial} held (last {latest_partial:?}); \
         {PARTIAL} silent after the preface: {held_handshaken} held (last {latest_handshaken:?}, by keep-alive \
         {TIMEOUT:?} + {TIMEOUT:?}); {stats:?}"
    );
    assert_eq!(held, 0, "every silent connection closed");
    assert_eq!(held_partial, 0, "every half preface closed");
    assert_eq!(held_handshaken, 0, "every unanswered keep-alive closed");
    assert!(latest >= TIMEOUT, "not before the timeout: {latest:?}");
    assert!(stats.preface_timeouts >= (SILENT + PARTIAL) as u64);
    assert!(grpc_serving(identity).await);
}

#[tokio::test]
async fn one_address_over_its_cap_is_refused_while_another_is_served() {
    enough_files();
    const CAP: usize = 16;
    // The process's recorder (shared with other tests: counts only grow).
    let metrics = toestemming::telemetry::metrics::install().unwrap();
    let mesh = TestMesh::start_with(|settings| {
        settings.limits.max_connections_per_address = CAP;
    })
    .await;
    let website = mesh.addr(ServiceKind::Website);
    let identity = mesh.addr(ServiceKind::Identity);

    // 127.0.0.2 takes its whole cap, on two servers: the cap is the
    // process's, not one server's.
    let mut held = Vec::new();
    for n in 0..CAP {
        let to = if n % 2 == 0 { website } else { identity };
        let mut stream = connect_from(2, to).await;
        if to == identity {
            stream.write_all(PREFACE).await.unwrap();
        }
        held.push(stream);
    }
    // Until the servers have accepted them all.
    let deadline = Instant::now() + Duration::from_secs(5);
    while mesh.running.connections().held_by(loopback(2)) < CAP {
        assert!(Instant::now() < deadline, "not accepted: {:?}", gate(&mesh));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // One more from 127.0.0.2, to either server, is closed at once.
    let mut refused = Vec::new();
    for to in [website, identity] {
        let stream = connect_from(2, to).await;
        let since = Instant::now();
        refused.push(closed_by_server(stream, since, since + Duration::from_secs(2)).await);
    }
    // Another address is served meanwhile, on both.
    let open = |stream: &TcpStream| {
        // Read what the server sent (an HTTP/2 server's SETTINGS) until
        // nothing more is there: open, or until the end: closed.
        let mut buffer = [0u8; 4096];
        loop {
            match stream.try_read(&mut buffer) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    };
    assert_eq!(get_from(3, website, "/healthz").await, 200);
    assert!(grpc_serving(identity).await);
    // The ones within the cap are still open.
    for stream in &held {
        assert!(open(stream), "a connection within the cap was closed");
    }
    let stats = gate(&mesh);
    println!(
        "per-address cap {CAP}: the next connections from 127.0.0.2 closed after {refused:?}; \
         127.0.0.3 served on both servers; {stats:?}"
    );
    for closed in refused {
        assert!(
            closed.is_some_and(|after| after < Duration::from_millis(500)),
            "refused at once"
        );
    }
    assert!(stats.refused_per_address >= 2);
    let scrape = metrics.render();
    let refused = scrape
        .lines()
        .find(|line| {
            line.starts_with(names::CONNECTION_LIMITS) && line.contains("refused_per_address")
        })
        .and_then(|line| line.rsplit_once(' '))
        .and_then(|(_, count)| count.parse::<f64>().ok());
    assert!(
        refused.is_some_and(|count| count >= 2.0),
        "counted in the metrics: {refused:?}"
    );
    drop(held);
}

#[tokio::test]
async fn at_the_process_cap_the_servers_stop_accepting_and_a_client_waits_its_turn() {
    enough_files();
    const CAP: usize = 40;
    const FLOOD: usize = 100;
    let mesh = TestMesh::start_with(|settings| {
        tight_timeouts(settings);
        settings.limits.max_connections = CAP;
        settings.limits.max_connections_per_address = 10 * FLOOD;
    })
    .await;
    let website = mesh.addr(ServiceKind::Website);
    let identity = mesh.addr(ServiceKind::Identity);

    // The flood: more silent sockets than the process may hold, on the
    // website and on Identity. The kernel completes every connect; the
    // servers accept only as slots free.
    let started = Instant::now();
    let until = started + Duration::from_secs(20);
    let mut flood = JoinSet::new();
    for n in 0..FLOOD {
        let to = if n % 4 == 3 { identity } else { website };
        let mut stream = connect_from(2, to).await;
        if to == website {
            stream.write_all(b"GET / HT").await.unwrap();
        }
        flood.spawn(closed_by_server(stream, started, until));
    }
    // A normal client behind the flood is served once slots free.
    let asked = Instant::now();
    let status = get_from(3, website, "/healthz").await;
    let website_waited = asked.elapsed();
    let asked = Instant::now();
    let serving = grpc_serving(identity).await;
    let grpc_waited = asked.elapsed();
    let (held, latest) = held_and_latest(flood).await;
    let stats = gate(&mesh);
    println!(
        "process cap {CAP}, {FLOOD} silent sockets: a website request behind them answered {status} after \
         {website_waited:?}, a gRPC health check after {grpc_waited:?}; {held} flood sockets held at the end, \
         the last closed after {latest:?}; {stats:?}"
    );
    assert_eq!(status, 200);
    assert!(serving);
    assert_eq!(held, 0);
    assert!(stats.peak <= CAP, "never more open than the cap");
    assert!(stats.paused_at_cap > 0, "the servers paused accepting");
    assert_eq!(stats.accept_errors, 0, "no failed accept");
    // Afterwards everything answers at once again.
    let asked = Instant::now();
    assert_eq!(get_from(3, website, "/healthz").await, 200);
    assert!(asked.elapsed() < Duration::from_secs(2), "accepting again");
}

#[tokio::test]
async fn a_quiet_watch_outlives_every_timeout_and_still_gets_its_change() {
    enough_files();
    let mesh = TestMesh::start_with(|settings| {
        tight_timeouts(settings);
        // Pings every half second, answered by the client's HTTP/2 layer.
        settings.limits.keepalive_interval = Duration::from_millis(500);
        settings.limits.keepalive_timeout = Duration::from_millis(500);
    })
    .await;
    let company = mesh.company_token("Stille Zorg").await;
    let patient = bsn(7);
    mesh.patient_token(&patient).await;
    let mut stream = DossierServiceClient::new(mesh.dossier_channel())
        .watch_consent(authed(
            WatchConsentRequest {
                after: String::new(),
            },
            &company,
        ))
        .await
        .unwrap()
        .into_inner();
    // A silent socket beside it: the timeouts are in force.
    let dossier = mesh.addr(ServiceKind::Dossier);
    let started = Instant::now();
    let silent = connect_from(2, dossier).await;
    let silent = tokio::spawn(closed_by_server(silent, started, started + TIMEOUT + SLACK));

    let quiet = 4 * TIMEOUT;
    let nothing = tokio::time::timeout(quiet, stream.message()).await;
    assert!(nothing.is_err(), "nothing happened: {nothing:?}");
    let silent_closed = silent.await.unwrap();

    let changed = Instant::now();
    let created = create_dossier(&mesh, &company, &patient).await;
    let change = tokio::time::timeout(Duration::from_secs(2), stream.message())
        .await
        .expect("the change arrives")
        .expect("the stream is alive")
        .expect("a change, not the end");
    println!(
        "a WatchConsent stream quiet for {quiet:?} (timeouts {TIMEOUT:?}, keep-alive 500 ms + 500 ms) got its \
         change {:?} after it; a silent socket beside it was closed after {silent_closed:?}",
        changed.elapsed()
    );
    assert_eq!(change.dossier_id, created.id);
    assert!(silent_closed.is_some(), "the silent socket was closed");
}

/// The finding itself, in a process of the real binary: Identity alone,
/// with its descriptor limit lowered to 600 (soft and hard, so the
/// start-up raise cannot lift it), flooded with 650 silent sockets from
/// four addresses. It used to accept until `Too many open files` and then
/// answer nobody while the sockets stayed open. Now it holds at its cap,
/// closes each silent socket after the preface timeout, and a health check
/// behind the flood is answered.
#[tokio::test]
async fn a_flood_past_the_descriptor_limit_never_runs_the_process_out_of_files() {
    enough_files();
    const LIMIT: u64 = 600;
    const FLOOD: usize = 650;
    let dir = tempfile::tempdir().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let log = dir.path().join("identity.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {LIMIT} && exec \"$0\" identity"))
        .arg(env!("CARGO_BIN_EXE_toestemming"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("JWT_SECRET_KEY", std::str::from_utf8(SECRET).unwrap())
        .env("INTERNAL_CLIENT_SECRET", INTERNAL_SECRET)
        .env("PSEUDONIEM_BSN_KEY", BSN_KEY)
        .env("LISTEN_ADDR", addr.to_string())
        .env(
            "DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("identity.db").display()
            ),
        )
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !grpc_serving(addr).await {
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "Identity did not start; log:\n{}",
            log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // About 160 from each of four addresses: within the default per-address
    // cap.
    let started = Instant::now();
    let until = started + Duration::from_secs(25);
    let mut flood = JoinSet::new();
    for n in 0..FLOOD {
        let stream = connect_from(2 + (n % 4) as u8, addr).await;
        flood.spawn(closed_by_server(stream, started, until));
    }
    let asked = Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(20), grpc_serving(addr)).await;
    let waited = asked.elapsed();
    let (held, latest) = held_and_latest(flood).await;
    let _ = child.kill();
    let _ = child.wait();
    let log = log_text();
    let caps = log
        .lines()
        .find(|line| line.contains("connection caps"))
        .unwrap_or("(no line on the caps)")
        .to_owned();
    let warnings = log
        .lines()
        .filter(|line| line.contains("closed by the connection limits"))
        .count();
    println!(
        "Identity with RLIMIT_NOFILE {LIMIT}, {FLOOD} silent sockets: a health check behind them answered after \
         {waited:?}; {held} held at the end, the last closed after {latest:?}; {warnings} warn lines; {caps}"
    );
    assert!(
        !log.contains("Too many open files"),
        "the process ran out of descriptors; log:\n{log}"
    );
    assert_eq!(
        served.ok(),
        Some(true),
        "served behind the flood; log:\n{log}"
    );
    assert_eq!(held, 0, "every silent socket closed; log:\n{log}");
    // Aggregated: a line at most every 10 s, not one per connection.
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} warn lines; log:\n{log}"
    );
}
