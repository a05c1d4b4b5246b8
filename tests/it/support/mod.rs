//! Shared test harness: a real mesh on loopback, clients, tokens.
//!
//! Every test talks gRPC over real sockets to real servers with real
//! databases: SQLite files in a temporary directory, or, in the PostgreSQL
//! pass, fresh databases on a real cluster (`databases`). Nothing is mocked.
#![allow(dead_code)]

pub mod calls;
pub mod checks;
pub mod databases;
pub mod oidc_provider;
pub mod rogue_provider;
pub mod token_contents;

// benches/mesh.rs includes this file too and uses none of these.
#[allow(unused_imports)]
pub use calls::*;
#[allow(unused_imports)]
pub use checks::*;
#[allow(unused_imports)]
pub use token_contents::*;

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Request, Status};
use tonic_types::StatusExt as _;

use toestemming::auth::{Role, TokenIssuer};
use toestemming::launch::{MeshListeners, RunningMesh, Started, start_mesh};
use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::identity::v1::identity_service_client::IdentityServiceClient;
use toestemming::proto::identity::v1::*;
use toestemming::proto::pseudoniem::v1::pseudoniem_service_client::PseudoniemServiceClient;
use toestemming::settings::{
    JwtSettings, ServiceCredential, ServiceKind, Settings, SigningSecret, ThrottlePolicy,
};

/// The mesh key used by every test mesh.
pub const SECRET: &[u8] = b"an-hs256-test-key-that-is-long-enough-0123456789";
pub const INTERNAL_SECRET: &str = "test-internal-client-secret-of-40-bytes!";
/// The key under which the test meshes' Pseudoniem stores BSNs.
pub const BSN_KEY: &str = "a-test-key-for-the-keyed-hash-of-bsns-0123456789";
pub const ISSUER: &str = "Online-Toestemming-Workshop-IdentityApi";
pub const AUDIENCE: &str = "Online-Toestemming-Workshop";

pub fn jwt_settings() -> JwtSettings {
    JwtSettings::with_secret(SigningSecret::new(SECRET.to_vec()).unwrap())
}

/// A [`TestMesh::start_with`] tweak: sign with EdDSA, with an Ed25519 key
/// made for this mesh. Only Identity is given it; the other services fetch
/// the public key set from Identity.
pub fn use_eddsa(settings: &mut Settings) {
    settings.jwt = Some(JwtSettings::with_signing_keys(std::sync::Arc::new(
        toestemming::auth::keys::SigningKeyRing::generate(),
    )));
}

/// The settings of a test mesh: the test key and credential, SQLite files in
/// `data_dir`, everything else the contract's defaults.
pub fn test_settings(data_dir: &std::path::Path) -> Settings {
    Settings {
        jwt: Some(jwt_settings()),
        internal_secret: Some(ServiceCredential::new(INTERNAL_SECRET).unwrap()),
        pseudoniem_bsn_key: Some(SigningSecret::new(BSN_KEY.as_bytes().to_vec()).unwrap()),
        data_dir: data_dir.to_path_buf(),
        login_throttle: ThrottlePolicy {
            // Every test client is 127.0.0.1, and some tests register
            // dozens of patients and companies; `throttling.rs` tests the
            // bound itself.
            registration_burst: 10_000,
            ..ThrottlePolicy::default()
        },
        ..Settings::default()
    }
}

/// A whole mesh in this process, on ephemeral ports, started the way
/// `toestemming all` starts it.
pub struct TestMesh {
    pub running: RunningMesh,
    pub dir: TempDir,
    /// The settings it was started with (peers are the bound addresses).
    pub settings: Settings,
    pub issuer: TokenIssuer,
    identity: Channel,
    pseudoniem: Channel,
    dossier: Channel,
}

impl TestMesh {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a mesh after `tweak` has adjusted the settings.
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(dir.path());
        tweak(&mut settings);
        for kind in ServiceKind::START_ORDER
            .into_iter()
            .filter(|k| k.has_database())
        {
            if databases::on_postgres() && !settings.service_database_urls.contains_key(&kind) {
                let url = databases::fresh_database(dir.path(), kind, kind.name()).await;
                settings.service_database_urls.insert(kind, url);
            }
        }
        // Key files are read once, here, so the tests' issuer and Identity
        // sign with the same keys (and a reload reaches both).
        settings.jwt.as_mut().unwrap().load_signing_keys().unwrap();
        let issuer = TokenIssuer::new(settings.jwt.as_ref().unwrap());
        let listeners = MeshListeners::ephemeral().await.unwrap();
        let running = start_mesh(listeners, &settings, CancellationToken::new())
            .await
            .unwrap();
        let identity = channel(running.addr(ServiceKind::Identity)).await;
        let pseudoniem = channel(running.addr(ServiceKind::Pseudoniem)).await;
        let dossier = channel(running.addr(ServiceKind::Dossier)).await;
        Self {
            running,
            dir,
            settings,
            issuer,
            identity,
            pseudoniem,
            dossier,
        }
    }

    pub fn addr(&self, kind: ServiceKind) -> std::net::SocketAddr {
        self.running.addr(kind)
    }

    /// Everything `kind`'s database holds, to search.
    pub async fn database_contents(&self, kind: ServiceKind) -> Vec<u8> {
        databases::contents(&self.settings.database_url(kind)).await
    }

    /// How many Internal tokens `kind` has signed or fetched so far.
    pub fn internal_token_fetches(&self, kind: ServiceKind) -> u64 {
        self.running
            .handles(kind)
            .internal_tokens
            .as_ref()
            .expect("this service has an internal token source")
            .fetches()
    }

    /// One more instance of `kind` beside the mesh, started through the same
    /// path, with the mesh's settings (peers included) adjusted by `tweak`
    /// and a database of its own. It stops when `shutdown` is cancelled.
    pub async fn start_extra(
        &self,
        kind: ServiceKind,
        shutdown: CancellationToken,
        tweak: impl FnOnce(&mut Settings),
    ) -> Started {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.start_extra_on(kind, listener, shutdown, tweak).await
    }

    /// A second instance of `kind` on the mesh's own database for that
    /// service: a replica, as a second pod of one Deployment runs.
    pub async fn start_replica(&self, kind: ServiceKind, shutdown: CancellationToken) -> Started {
        let shared = self.settings.database_url(kind);
        self.start_extra(kind, shutdown, move |settings| {
            settings.service_database_urls.insert(kind, shared);
        })
        .await
    }

    /// [`Self::start_extra`] on a listener the test bound (to know its
    /// address beforehand: a redirect URI, a public URL).
    pub async fn start_extra_on(
        &self,
        kind: ServiceKind,
        listener: TcpListener,
        shutdown: CancellationToken,
        tweak: impl FnOnce(&mut Settings),
    ) -> Started {
        let port = listener.local_addr().unwrap().port();
        let mut settings = self.settings.clone();
        settings.peers = toestemming::settings::Peers {
            identity: format!("http://{}", self.addr(ServiceKind::Identity)),
            pseudoniem: format!("http://{}", self.addr(ServiceKind::Pseudoniem)),
            dossier: format!("http://{}", self.addr(ServiceKind::Dossier)),
        };
        if kind.has_database() {
            let url =
                databases::fresh_database(self.dir.path(), kind, &format!("{kind}-{port}")).await;
            settings.service_database_urls.insert(kind, url);
        }
        tweak(&mut settings);
        toestemming::launch::start(kind, &settings, listener, shutdown)
            .await
            .unwrap()
    }

    pub fn identity(&self) -> IdentityServiceClient<Channel> {
        IdentityServiceClient::new(self.identity.clone())
    }

    pub fn pseudoniem(&self) -> PseudoniemServiceClient<Channel> {
        PseudoniemServiceClient::new(self.pseudoniem.clone())
    }

    pub fn dossier(&self) -> DossierServiceClient<Channel> {
        DossierServiceClient::new(self.dossier.clone())
    }

    pub fn identity_channel(&self) -> Channel {
        self.identity.clone()
    }

    pub fn pseudoniem_channel(&self) -> Channel {
        self.pseudoniem.clone()
    }

    pub fn dossier_channel(&self) -> Channel {
        self.dossier.clone()
    }

    /// A genuine token signed with the mesh key.
    pub fn token(&self, role: Role, subject: &str) -> String {
        self.issuer.issue(subject, role).unwrap().access_token
    }

    /// Registers a company and returns its token.
    pub async fn company_token(&self, name: &str) -> String {
        self.register_company(name).await.token
    }

    /// Registers a company; returns its credentials and a token.
    pub async fn register_company(&self, name: &str) -> Company {
        let registered = self
            .identity()
            .register_company(RegisterCompanyRequest {
                company_name: name.into(),
            })
            .await
            .unwrap()
            .into_inner();
        let token = self
            .issue_company_token(&registered.company_id, &registered.client_secret)
            .await
            .unwrap();
        Company {
            id: registered.company_id,
            secret: registered.client_secret,
            token,
        }
    }

    /// IssueCompanyToken with these credentials.
    pub async fn issue_company_token(&self, id: &str, secret: &str) -> Result<String, Status> {
        Ok(self
            .identity()
            .issue_company_token(IssueCompanyTokenRequest {
                company_id: id.into(),
                client_secret: secret.into(),
            })
            .await?
            .into_inner()
            .access_token)
    }

    /// Registers a patient and signs in; returns (pseudoniem, token).
    pub async fn patient_token(&self, bsn: &str) -> (String, String) {
        let pseudoniem = self
            .identity()
            .register_patient(RegisterPatientRequest {
                bsn: bsn.into(),
                first_name: "Jan".into(),
                last_name: "Jansen".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .pseudoniem;
        let token = self
            .identity()
            .login_patient(LoginPatientRequest {
                bsn: bsn.into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_token;
        (pseudoniem, token)
    }

    /// Verifies the company registered as `name`, as an operator does with
    /// `toestemming companies verify NAME` on Identity's database.
    pub async fn verify_company(&self, name: &str) {
        use toestemming::identity::operator::{CompanyCommand, companies};
        companies(&self.settings, CompanyCommand::Verify(name.into()))
            .await
            .unwrap();
    }

    pub async fn stop(self) {
        self.running.stop().await.unwrap();
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A registered company: its credentials and a token.
pub struct Company {
    pub id: String,
    pub secret: String,
    pub token: String,
}

/// A connected channel to `addr`.
pub async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy()
}

/// A connected channel to `addr` from the loopback address `source`
/// (127.0.0.x): how the tests stand for clients at different addresses.
pub async fn channel_from(addr: std::net::SocketAddr, source: std::net::IpAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .local_address(Some(source))
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy()
}

/// `message` with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// `message` as a service of the mesh sends it on an end user's behalf:
/// `authorization` its own (Internal) token, `x-forwarded-authorization`
/// the user's.
pub fn forwarded_by<T>(service: &str, message: T, user: &str) -> Request<T> {
    let mut request = authed(message, service);
    request.metadata_mut().insert(
        "x-forwarded-authorization",
        format!("Bearer {user}").parse().unwrap(),
    );
    request
}

/// The `n`th of a sequence of distinct valid BSNs.
pub fn bsn(n: u32) -> String {
    let mut prefix = 10_000_000 + n * 2;
    loop {
        for last in 0..10u32 {
            let candidate = format!("{prefix}{last}");
            if toestemming::bsn::Bsn::parse(&candidate).is_ok() {
                return candidate;
            }
        }
        prefix += 1;
    }
}

/// The `ErrorInfo.reason` of a status, if it carries one.
pub fn reason(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// Fails unless `status` carries an ErrorInfo in the mesh's domain, as
/// every error must (AIP-193).
#[track_caller]
pub fn assert_has_error_info(status: &Status) {
    let info = status.get_details_error_info();
    assert!(
        info.as_ref()
            .is_some_and(|info| info.domain == "toestemming" && !info.reason.is_empty()),
        "no ErrorInfo in domain toestemming: {status:?}"
    );
}

/// The fields named by a status's `BadRequest`, if any.
pub fn bad_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Now, in milliseconds since the epoch (as the services store times).
pub fn now_millis() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A protobuf timestamp of `millis` since the epoch.
pub fn at_millis(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: i32::try_from(millis.rem_euclid(1000) * 1_000_000).unwrap(),
    }
}

/// A protobuf timestamp in milliseconds since the epoch.
pub fn millis_of(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1000 + i64::from(timestamp.nanos) / 1_000_000
}

/// Hand-made JWTs, for tokens the issuer would never produce.
pub mod jwt {
    use super::*;

    pub fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `header.payload.signature` with an HS256 signature over the given raw
    /// JSON texts (so duplicate keys and odd types can be expressed).
    pub fn sign_raw(header: &str, payload: &str, key: &[u8]) -> String {
        let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(message.as_bytes());
        format!("{message}.{}", b64(&mac.finalize().into_bytes()))
    }

    pub const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

    /// Claims JSON like the issuer's, for `role` and `sub`, valid now.
    pub fn claims(role: &str, sub: &str) -> serde_json::Value {
        let now = now();
        serde_json::json!({
            "sub": sub, "role": role, "iss": ISSUER, "aud": AUDIENCE,
            "exp": now + 600, "iat": now, "nbf": now, "jti": uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Signs `claims` with the standard header and the mesh key.
    pub fn sign(claims: &serde_json::Value) -> String {
        sign_raw(HEADER, &claims.to_string(), SECRET)
    }
}
