//! The one surface every service presents, so one path starts them all.
//!
//! A service is a [`MeshService`]: it turns the process [`Settings`] into
//! its own `Config` (taking what it needs, refusing what is missing), and
//! turns that `Config` into an [`App`] (its routes, with its storage and
//! clients opened). `crate::launch` strings these together for the CLI, the
//! tests and the benchmark alike, and [`super::serve`] serves any `App`:
//! limits, health, reflection, the layer stack and shutdown live there
//! once, not in each service.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tonic::service::Routes;

use crate::auth::{InternalTokenSource, TokenVerifier};
use crate::proto::GeneratedServer;
use crate::settings::{ConfigError, ServiceKind, Settings};

/// What every service of the mesh provides.
pub trait MeshService {
    /// Which service this is: its name and default address.
    const KIND: ServiceKind;

    /// Everything the service needs, and nothing else.
    type Config: Send + 'static;

    /// Takes what this service needs from the process settings; fails with
    /// what to set when something it requires is missing.
    fn config(settings: &Settings) -> Result<Self::Config, ConfigError>;

    /// Opens the service's storage and clients and returns what to serve.
    fn build(config: Self::Config) -> impl Future<Output = crate::Result<Built>> + Send;
}

/// A built service: what to serve, and handles to watch it by.
pub struct Built {
    pub app: App,
    pub handles: Handles,
}

/// What a running service exposes to tests, the benchmark and operators.
#[derive(Clone, Default)]
pub struct Handles {
    /// The service's own Internal token source, when it calls an
    /// Internal-only service: `fetches()` tells how often it signed or
    /// asked Identity for one.
    pub internal_tokens: Option<InternalTokenSource>,
    /// The verifier of the service's verify layer (or session cookie): to
    /// wait until it can judge tokens.
    pub verifier: Option<Arc<TokenVerifier>>,
    /// Identity's signing keys under EdDSA, to load again (a rotation).
    pub signing_keys: Option<crate::auth::keys::KeyReloader>,
    /// Requests this server has received (counted by `mesh::serve`), so
    /// one can see how calls spread over replicas.
    pub requests: Arc<AtomicU64>,
}

/// What [`super::serve`] serves.
pub enum App {
    /// A gRPC service of the mesh, served with health, reflection and the
    /// server layer stack.
    Grpc(GrpcApp),
    /// An HTTP app (the patient website), served with the HTTP layer stack
    /// (`super::http`).
    Http(HttpApp),
}

/// An HTTP app: its routes, and the headers every response carries. The
/// server sets them outermost, so its own answers (413 for a body past the
/// limit, 503 when shedding load, 504 past the deadline) carry them too.
pub struct HttpApp {
    pub routes: axum::Router,
    /// Set on every response that does not set the header itself.
    pub response_headers: axum::http::HeaderMap,
}

/// A gRPC service: its generated server and the verifier its verify layer
/// uses.
pub struct GrpcApp {
    /// The full proto name, e.g. `toestemming.dossier.v1.DossierService`:
    /// health reports it, reflection lists it, and the verify layer answers
    /// UNIMPLEMENTED for the methods of any other.
    pub(super) proto_name: &'static str,
    pub(super) verifier: Arc<TokenVerifier>,
    /// Applies the message-size limit and makes the routes; deferred so
    /// the limits stay `mesh`'s business.
    pub(super) routes: Box<dyn FnOnce(usize) -> Routes + Send>,
}

impl GrpcApp {
    pub fn new<S: GeneratedServer>(server: S, verifier: Arc<TokenVerifier>) -> Self {
        Self {
            proto_name: S::NAME,
            verifier,
            routes: Box::new(move |max_bytes| Routes::new(server.with_message_limit(max_bytes))),
        }
    }
}

impl From<GrpcApp> for App {
    fn from(app: GrpcApp) -> Self {
        App::Grpc(app)
    }
}
