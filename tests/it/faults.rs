//! Faults, with each service as its own process of the real binary, wired
//! like the compose deployment: separate databases, one shared key, the
//! others found through IDENTITY_URL / PSEUDONIEM_URL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::databases;
use crate::support::*;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::identity::v1::*;
use toestemming::settings::ServiceKind;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const BINARY: &str = env!("CARGO_BIN_EXE_toestemming");
const SECRET_TEXT: &str = "faults-test-key-with-more-than-32-bytes-0123456789";

/// A free loopback port (bound then released; good enough on a test host).
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The three addresses and data directory of one deployment.
struct Deployment {
    dir: tempfile::TempDir,
    /// Each service's `DATABASE_URL`.
    databases: std::collections::BTreeMap<&'static str, String>,
    identity: SocketAddr,
    pseudoniem: SocketAddr,
    dossier: SocketAddr,
}

/// A running service process, killed when dropped.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Sends SIGTERM to every service at once and waits for their exit
    /// statuses.
    fn terminate_all(mut services: Vec<Service>) -> Vec<std::process::ExitStatus> {
        for service in &services {
            let pid = service.child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        services
            .iter_mut()
            .map(|service| {
                loop {
                    if let Some(status) = service.child.try_wait().unwrap() {
                        return status;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "no exit after SIGTERM; log:\n{}",
                        service.log()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Deployment {
    /// Three free addresses and a fresh database per service (SQLite files,
    /// or PostgreSQL databases in the PostgreSQL pass).
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut databases = std::collections::BTreeMap::new();
        for kind in [
            ServiceKind::Identity,
            ServiceKind::Pseudoniem,
            ServiceKind::Dossier,
        ] {
            let url = databases::fresh_database(dir.path(), kind, kind.name()).await;
            databases.insert(kind.name(), url.expose().to_owned());
        }
        Self {
            dir,
            databases,
            identity: free_addr(),
            pseudoniem: free_addr(),
            dossier: free_addr(),
        }
    }

    fn command(&self, service: &str) -> Command {
        let addr = match service {
            "identity" => self.identity,
            "pseudoniem" => self.pseudoniem,
            _ => self.dossier,
        };
        let mut command = Command::new(BINARY);
        command
            .arg(service)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("JWT_SECRET_KEY", SECRET_TEXT)
            .env("INTERNAL_CLIENT_SECRET", INTERNAL_SECRET)
            .env("PSEUDONIEM_BSN_KEY", BSN_KEY)
            .env("LISTEN_ADDR", addr.to_string())
            .env("DATABASE_URL", &self.databases[service])
            .env("IDENTITY_URL", format!("http://{}", self.identity))
            .env("PSEUDONIEM_URL", format!("http://{}", self.pseudoniem))
            .env("DEPENDENCY_TIMEOUT_MS", "1500");
        command
    }

    /// Starts `service` and waits until its health check says SERVING.
    async fn start(&self, service: &str) -> Service {
        self.start_with(service, |_| {}).await
    }

    async fn start_with(&self, service: &str, adjust: impl FnOnce(&mut Command)) -> Service {
        let log = self.dir.path().join(format!("{service}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut command = self.command(service);
        adjust(&mut command);
        let child = command
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let service_handle = Service { child, log };
        let addr = match service {
            "identity" => self.identity,
            "pseudoniem" => self.pseudoniem,
            _ => self.dossier,
        };
        wait_until_serving(addr, &service_handle).await;
        service_handle
    }

    async fn start_all(&self) -> (Service, Service, Service) {
        let pseudoniem = self.start("pseudoniem").await;
        let identity = self.start("identity").await;
        let dossier = self.start("dossier").await;
        (identity, pseudoniem, dossier)
    }

    async fn clients(&self) -> (IdentityClient, DossierClient) {
        (
            IdentityClient::new(channel(self.identity).await),
            DossierClient::new(channel(self.dossier).await),
        )
    }
}

type IdentityClient =
    toestemming::proto::identity::v1::identity_service_client::IdentityServiceClient<
        tonic::transport::Channel,
    >;
type DossierClient = toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient<
    tonic::transport::Channel,
>;

async fn wait_until_serving(addr: SocketAddr, service: &Service) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut health = HealthClient::new(channel(addr).await);
        let answer = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        if answer.is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} never became healthy; log:\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn register_company(identity: &mut IdentityClient, name: &str) -> String {
    let company = identity
        .register_company(RegisterCompanyRequest {
            company_name: name.into(),
        })
        .await
        .unwrap()
        .into_inner();
    identity
        .issue_company_token(IssueCompanyTokenRequest {
            company_id: company.company_id,
            client_secret: company.client_secret,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

async fn register_patient(identity: &mut IdentityClient, bsn: &str) -> String {
    identity
        .register_patient(RegisterPatientRequest {
            bsn: bsn.into(),
            first_name: "Piet".into(),
            last_name: "Pieters".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
    login(identity, bsn).await.unwrap()
}

async fn login(identity: &mut IdentityClient, bsn: &str) -> Result<String, tonic::Status> {
    Ok(identity
        .login_patient(LoginPatientRequest {
            bsn: bsn.into(),
            password: PASSWORD.into(),
        })
        .await?
        .into_inner()
        .access_token)
}

async fn create(
    dossier: &mut DossierClient,
    token: &str,
    bsn: &str,
) -> Result<CreateDossierResponse, tonic::Status> {
    dossier
        .create_dossier(authed(CreateDossierRequest { bsn: bsn.into() }, token))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn with_identity_down_dossier_still_serves_authenticated_calls() {
    let deployment = Deployment::new().await;
    let (identity_process, _pseudoniem, _dossier) = deployment.start_all().await;
    let (mut identity, mut dossier) = deployment.clients().await;
    let company = register_company(&mut identity, "Apotheek Noord").await;
    let patient = register_patient(&mut identity, &bsn(1)).await;
    create(&mut dossier, &company, &bsn(1)).await.unwrap();

    drop(identity_process);
    assert!(
        identity
            .register_company(RegisterCompanyRequest {
                company_name: "x".into()
            })
            .await
            .is_err()
    );

    // Tokens are verified locally, and Dossier's Internal token is cached.
    let created = create(&mut dossier, &company, &bsn(2)).await.unwrap();
    assert!(created.created);
    let permission = dossier
        .check_permission(authed(CheckPermissionRequest { bsn: bsn(1) }, &company))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(permission.consent(), ConsentStatus::Pending);
    let listed = dossier
        .list_my_dossiers(authed(ListMyDossiersRequest::default(), &patient))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.dossiers.len(), 1);
}

#[tokio::test]
async fn with_pseudoniem_down_dossier_answers_unavailable_quickly_and_recovers() {
    let deployment = Deployment::new().await;
    let (mut identity_client, mut dossier) = deployment.clients().await;
    let (_identity, pseudoniem_process, _dossier) = deployment.start_all().await;
    let company = register_company(&mut identity_client, "Ziekenhuis Oost").await;
    let first = create(&mut dossier, &company, &bsn(3))
        .await
        .unwrap()
        .dossier
        .unwrap();

    drop(pseudoniem_process);
    let started = Instant::now();
    let failure = create(&mut dossier, &company, &bsn(4)).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(failure.code(), Code::Unavailable | Code::DeadlineExceeded),
        "expected UNAVAILABLE or DEADLINE_EXCEEDED, got {failure:?}"
    );
    assert_dependency_failure(&failure, "pseudoniem");
    assert!(took < Duration::from_secs(10), "answering took {took:?}");
    let check = dossier
        .check_permission(authed(CheckPermissionRequest { bsn: bsn(3) }, &company))
        .await
        .unwrap_err();
    assert!(
        matches!(check.code(), Code::Unavailable | Code::DeadlineExceeded),
        "{check:?}"
    );
    assert_dependency_failure(&check, "pseudoniem");

    // Back on the same address with the same database: Dossier reconnects,
    // and the old pseudoniem still leads to the old dossier.
    let _pseudoniem = deployment.start("pseudoniem").await;
    let mut recovered = None;
    for _ in 0..50 {
        match create(&mut dossier, &company, &bsn(3)).await {
            Ok(response) => {
                recovered = Some(response);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let recovered = recovered.expect("Dossier did not recover after Pseudoniem came back");
    assert!(!recovered.created);
    assert_eq!(recovered.dossier.unwrap().id, first.id);
    assert!(
        create(&mut dossier, &company, &bsn(4))
            .await
            .unwrap()
            .created
    );
}

#[tokio::test]
async fn a_hung_dependency_is_a_deadline_not_a_hang() {
    let deployment = Deployment::new().await;
    // A "Pseudoniem" that accepts connections and never answers.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_addr = hung.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.push(socket);
        }
    });
    let _identity = deployment
        .start_with("identity", |c| {
            c.env("PSEUDONIEM_URL", format!("http://{hung_addr}"));
        })
        .await;
    let _dossier = deployment
        .start_with("dossier", |c| {
            c.env("PSEUDONIEM_URL", format!("http://{hung_addr}"));
        })
        .await;
    let (mut identity, mut dossier) = deployment.clients().await;
    let company = register_company(&mut identity, "Tandarts Zuid").await;

    let started = Instant::now();
    let failure = create(&mut dossier, &company, &bsn(5)).await.unwrap_err();
    assert!(
        matches!(failure.code(), Code::DeadlineExceeded | Code::Unavailable),
        "expected DEADLINE_EXCEEDED or UNAVAILABLE, got {failure:?}"
    );
    assert_dependency_failure(&failure, "pseudoniem");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    // Identity's own call to Pseudoniem is bounded the same way.
    let registration = identity
        .register_patient(RegisterPatientRequest {
            bsn: bsn(5),
            first_name: "Kees".into(),
            last_name: "Keesen".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            registration.code(),
            Code::DeadlineExceeded | Code::Unavailable
        ),
        "{registration:?}"
    );
    assert_dependency_failure(&registration, "pseudoniem");
    holder.abort();
}

#[tokio::test]
async fn data_and_tokens_survive_a_restart_of_every_service() {
    let deployment = Deployment::new().await;
    let (company, patient, dossier_id) = {
        let (identity, pseudoniem, dossier_process) = deployment.start_all().await;
        let (mut identity_client, mut dossier) = deployment.clients().await;
        let company = register_company(&mut identity_client, "Fysio West").await;
        let patient = register_patient(&mut identity_client, &bsn(6)).await;
        let dossier_id = create(&mut dossier, &company, &bsn(6))
            .await
            .unwrap()
            .dossier
            .unwrap()
            .id;
        // Graceful shutdown exits cleanly, even with clients still connected.
        for status in Service::terminate_all(vec![dossier_process, identity, pseudoniem]) {
            assert!(status.success(), "{status:?}");
        }
        (company, patient, dossier_id)
    };

    let _running = deployment.start_all().await;
    let (mut identity, mut dossier) = deployment.clients().await;
    // The same key verifies tokens issued before the restart.
    let listed = dossier
        .list_my_dossiers(authed(ListMyDossiersRequest::default(), &patient))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.dossiers.len(), 1);
    assert_eq!(listed.dossiers[0].id, dossier_id);
    let again = create(&mut dossier, &company, &bsn(6)).await.unwrap();
    assert!(!again.created, "the pseudoniem and the dossier were kept");
    assert!(
        login(&mut identity, &bsn(6)).await.is_ok(),
        "the account was kept"
    );
}

/// Runs `toestemming <service>` with `env` and returns (success, stderr).
fn start_refused(service: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BINARY);
    command
        .arg(service)
        .env_clear()
        .env("LISTEN_ADDR", free_addr().to_string())
        .env("DATA_DIR", dir.path())
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.success(), text)
}

#[test]
fn a_lone_service_refuses_to_start_without_what_it_needs() {
    for service in ["identity", "pseudoniem", "dossier"] {
        let (ok, text) = start_refused(service, &[]);
        assert!(!ok, "{service} started without JWT_SECRET_KEY");
        assert!(text.contains("JWT_SECRET_KEY"), "{service}: {text}");
    }

    let (ok, text) = start_refused("dossier", &[("JWT_SECRET_KEY", "short-key-1234")]);
    assert!(!ok);
    assert!(text.contains("32"), "{text}");
    assert!(
        !text.contains("short-key-1234"),
        "the key was echoed: {text}"
    );

    for service in ["identity", "dossier"] {
        let (ok, text) = start_refused(service, &[("JWT_SECRET_KEY", SECRET_TEXT)]);
        assert!(!ok, "{service} started without INTERNAL_CLIENT_SECRET");
        assert!(text.contains("INTERNAL_CLIENT_SECRET"), "{service}: {text}");
        assert!(!text.contains(SECRET_TEXT), "the key was echoed: {text}");
    }

    // A credential that could be guessed is refused like a short key.
    let short = "a-short-service-credential";
    let (ok, text) = start_refused(
        "identity",
        &[
            ("JWT_SECRET_KEY", SECRET_TEXT),
            ("INTERNAL_CLIENT_SECRET", short),
        ],
    );
    assert!(
        !ok,
        "identity started with a 26-byte INTERNAL_CLIENT_SECRET"
    );
    assert!(
        text.contains("INTERNAL_CLIENT_SECRET") && text.contains("at least 32"),
        "{text}"
    );
    assert!(!text.contains(short), "the credential was echoed: {text}");
}

/// Sign-out revocation across processes, as compose runs them: Dossier
/// learns a revocation from Identity's ListRevokedTokens, and neither
/// service logs the token or its `jti` while revoking, listing or refusing
/// it.
#[tokio::test]
async fn a_revoked_token_is_refused_across_processes_and_never_logged() {
    let deployment = Deployment::new().await;
    let (identity_process, _pseudoniem, dossier_process) = deployment.start_all().await;
    let (mut identity, mut dossier) = deployment.clients().await;
    register_patient(&mut identity, &bsn(7)).await;
    let token = login(&mut identity, &bsn(7)).await.unwrap();
    dossier
        .list_my_dossiers(authed(ListMyDossiersRequest::default(), &token))
        .await
        .unwrap();

    identity
        .revoke_token(authed(RevokeTokenRequest {}, &token))
        .await
        .unwrap();
    let revoked_at = Instant::now();
    loop {
        match dossier
            .list_my_dossiers(authed(ListMyDossiersRequest::default(), &token))
            .await
        {
            Ok(_) => {}
            Err(status) => {
                assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
                assert_eq!(reason(&status).as_deref(), Some("TOKEN_REVOKED"));
                break;
            }
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "Dossier still accepts a revoked token; log:\n{}",
            dossier_process.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "separate processes: Dossier refused the revoked token after {} ms",
        revoked_at.elapsed().as_millis()
    );

    let jti = decode(&token).payload["jti"].as_str().unwrap().to_owned();
    let signature = token.rsplit('.').next().unwrap().to_owned();
    let identity_log = identity_process.log();
    let dossier_log = dossier_process.log();
    assert!(identity_log.contains("token revoked"), "{identity_log}");
    assert!(dossier_log.contains("TOKEN_REVOKED"), "{dossier_log}");
    for (name, log) in [("identity", &identity_log), ("dossier", &dossier_log)] {
        for (what, secret) in [("token", &token), ("signature", &signature), ("jti", &jti)] {
            assert!(
                !log.contains(secret.as_str()),
                "{name} logged the {what}:\n{log}"
            );
        }
    }
}
