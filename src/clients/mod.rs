//! Typed clients of the mesh's services, for the services that call them.
//!
//! A client lives apart from the server it calls: its users depend on the
//! proto and the client plumbing (`crate::mesh::client`), never on the
//! other service's handlers or store.
//!
//! - [`PseudoniemClient`]: Identity and Dossier resolve BSNs, with their own
//!   Internal token and the end user's token forwarded; failures become a
//!   [`DependencyError`] for their caller.
//! - [`IdentityClient`], [`DossierClient`]: the website, for the patient in
//!   the browser; failures become a [`CallError`] it can show. Dossier also
//!   asks Identity about companies, and gets a [`DependencyError`].

mod call_error;
mod dossier;
mod error;
mod identity;
pub mod oidc_http;
mod pseudoniem;

pub use call_error::CallError;
pub use dossier::{ChoiceTarget, DossierClient, TakeoverNotice};
pub use error::DependencyError;
pub use identity::{Company, IdentityClient, NewPatient};
pub use pseudoniem::PseudoniemClient;
