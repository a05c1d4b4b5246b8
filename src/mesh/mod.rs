//! How a service of the mesh serves and calls.
//!
//! - [`context`]: what a request carries from the inbound edge to every
//!   outbound call (request id, deadline, verified caller).
//! - [`rpc_metrics`]: every RPC counted and timed by method and status.
//! - [`request_context`]: the outermost server layer that opens the request
//!   span, fixes the request id and the deadline.
//! - [`error_info`]: an ErrorInfo on every error, tonic's own included.
//! - [`load_shed`]: the in-flight cap that answers RESOURCE_EXHAUSTED.
//! - [`connections`]: the process-wide and per-address connection caps
//!   that every server accepts through, and the HTTP/2 preface deadline.
//! - [`server`]: the bounded tonic server with health, reflection and the
//!   layer stack, and graceful shutdown; `http`: the same for the website.
//! - [`discovery`] and [`replicas`]: a dependency's replicas, found by
//!   list or by name, and a caller's calls spread over them.
//! - [`client`]: channels to other services, behind the client layers:
//!   [`propagate`] (request id, deadline) and `auth::ForwardLayer`
//!   (credentials).
//! - [`service`]: the surface every service presents ([`MeshService`]),
//!   and the [`App`] that [`serve`] serves.

pub mod client;
pub mod connections;
pub mod context;
pub mod discovery;
pub mod error_info;
mod http;
pub mod load_shed;
pub mod propagate;
pub mod replicas;
pub mod request_context;
pub mod rpc_metrics;
pub mod server;
pub mod service;
pub mod shutdown;

pub use context::{CallContext, Deadline, RequestId};
pub use server::serve;
pub use service::{App, MeshService};
