//! Typed clients of the mesh's services, for the services that call them.
//!
//! A client lives apart from the server it calls: its users depend on the
//! proto and the client plumbing (`crate::mesh::client`), never on the
//! other service's handlers or store.

mod error;
mod pseudoniem;

pub use error::DependencyError;
pub use pseudoniem::PseudoniemClient;
