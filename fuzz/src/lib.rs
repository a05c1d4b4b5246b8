//! What the fuzz targets share: the test key and a token signer
//! ([`tokens`]), rules written out a second time, independently of the
//! library, to check it against ([`reference`]), the verify layer driven in
//! process ([`layer`]), the table of every gRPC request message
//! ([`messages`]) and the seed corpus ([`seeds`]).
//!
//! See `docs/fuzzing.md` for what each target covers and how to run it.

pub mod layer;
pub mod messages;
pub mod reference;
pub mod seeds;
pub mod tokens;
