//! How a service of the mesh serves and calls.
//!
//! - [`context`]: what a request carries from the inbound edge to every
//!   outbound call (request id, deadline, verified caller).
//! - [`request_context`]: the outermost server layer that opens the request
//!   span, fixes the request id and the deadline.
//! - [`load_shed`]: the in-flight cap that answers RESOURCE_EXHAUSTED.
//! - [`server`]: the bounded tonic server with health, reflection and the
//!   layer stack, and graceful shutdown.
//! - [`client`]: channels to other services, behind the forward layer.

pub mod client;
pub mod context;
pub mod load_shed;
pub mod request_context;
pub mod server;
pub mod shutdown;

pub use context::{CallContext, Deadline, RequestId};
