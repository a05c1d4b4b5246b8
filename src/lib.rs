//! Online Toestemming: a gRPC mesh for healthcare consent.
//!
//! The library holds what every service shares; each service lives in its own
//! folder under `services/` and is mounted here as a module.
//!
//! - [`auth`]: the one place where JWTs are read, verified, issued and
//!   forwarded.
//! - [`mesh`]: how a server is bounded and layered, and how a service calls
//!   another (request id, deadline, the forward layer).
//! - [`proto`]: the code generated from `proto/`, and the descriptor set
//!   served by reflection.
//! - [`settings`]: every environment variable, read once; each service
//!   takes its own `Config` from it.
//! - [`launch`]: the one path that starts a service, alone or in a mesh.
//! - [`clients`]: typed clients of the services, for the services that call
//!   them.
//! - [`ids`]: the identifiers that travel between services, as types.
//! - [`bsn`], [`errors`], [`paging`], [`storage`], [`telemetry`], [`cli`]:
//!   the small shared pieces.

pub mod auth;
pub mod bsn;
pub mod cli;
pub mod clients;
pub mod errors;
pub mod healthcheck;
pub mod ids;
pub mod launch;
pub mod mesh;
pub mod paging;
pub mod proto;
pub mod settings;
pub mod storage;
pub mod telemetry;

#[path = "../services/dossier/mod.rs"]
pub mod dossier;
#[path = "../services/identity/mod.rs"]
pub mod identity;
#[path = "../services/pseudoniem/mod.rs"]
pub mod pseudoniem;
#[path = "../services/website/mod.rs"]
pub mod website;

/// What a server's start-up or run can fail with (configuration, storage,
/// bind, transport).
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;
