//! What a running service tells its operator: structured logs
//! ([`logs`]) and Prometheus metrics ([`metrics`]).

pub mod logs;
pub mod metrics;

pub use logs::init;
