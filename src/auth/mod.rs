//! Everything about tokens, in one place.
//!
//! How a JWT moves through the mesh:
//!
//! 1. Identity signs it ([`TokenIssuer`]): the contract's claims, 15
//!    minutes, with the shared HS256 key or, under `JWT_ALGORITHM=EdDSA`,
//!    with a private key only Identity holds ([`keys`]).
//! 2. A client sends it as `authorization: Bearer <jwt>`.
//! 3. Every server runs the same [`VerifyLayer`]: it reads exactly one
//!    bearer ([`bearer`]), verifies it locally ([`TokenVerifier`], with the
//!    shared key or the public key set it loaded), looks up
//!    the RPC's rule from the proto ([`access`]), and hands the handler a
//!    typed [`Caller`]. Nothing here calls Identity: a signed-out token's
//!    `jti` is on the [`RevocationList`] the verifier holds, which a
//!    background task keeps fresh ([`revocation`]).
//! 4. When a handler calls another service, the [`ForwardLayer`] on its
//!    client puts the end user's verified token in
//!    `x-forwarded-authorization` and, for Internal-only services, the
//!    service's own Internal token (from an [`InternalTokenSource`]) in
//!    `authorization`. Handlers never build these headers.

pub mod access;
pub mod bearer;
pub mod caller;
pub mod claims;
pub mod error;
pub mod forward_layer;
pub mod inspect;
pub mod issuer;
pub mod keys;
pub mod revocation;
pub mod token_source;
pub mod verifier;
pub mod verify_layer;

pub use access::{AccessRule, access_rule};
pub use caller::{Caller, ClientAddress, Principal, VerifiedToken};
pub use claims::{Claims, Role};
pub use error::AuthError;
pub use forward_layer::{Credentials, ForwardLayer, Forwarding};
pub use issuer::{IssuedToken, TokenIssuer};
pub use revocation::RevocationList;
pub use token_source::{InternalTokenSource, Transport};
pub use verifier::TokenVerifier;
pub use verify_layer::VerifyLayer;

/// The metadata key of the immediate caller's credential.
pub const AUTHORIZATION: &str = "authorization";
/// The metadata key of the end user's token on a service-to-service call
/// (the name Google's ESPv2 uses).
pub const FORWARDED_AUTHORIZATION: &str = "x-forwarded-authorization";
/// The metadata key of the end user's network address, when a service of
/// the mesh (the website) calls on behalf of a browser. Trusted only from a
/// verified Internal caller; stripped from anyone else.
pub const FORWARDED_FOR: &str = "x-forwarded-for";
