//! The integration tests: one binary, so the library is linked once.
//!
//! Every test talks gRPC over real sockets to real servers (started in this
//! process through `toestemming::launch`, or as processes of the real
//! binary in `faults`), with real SQLite files in temporary directories.

mod support;

mod access_matrix;
mod concurrency;
mod faults;
mod mesh_behaviour;
mod token_verification;
mod transport_bounds;
mod walkthrough;
