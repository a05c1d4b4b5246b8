//! The integration tests: one binary, so the library is linked once.
//!
//! Every test talks gRPC over real sockets to real servers (started in this
//! process through `toestemming::launch`, or as processes of the real
//! binary in `faults`), with real SQLite files in temporary directories.

mod support;

mod access_log;
mod access_matrix;
mod at_rest;
mod browser_e2e;
mod browser_provider;
mod choice_storage;
mod choices;
mod companies_cli;
mod company_names;
mod concurrency;
mod deadlines_and_dependencies;
mod dossier_pagination;
mod dossier_scoping;
mod eddsa;
mod faults;
mod health;
mod healthcheck;
mod identity_rules;
mod input_validation;
mod internal_tokens;
mod issued_tokens;
mod key_rotation;
mod metrics;
mod postgres;
mod provider_sign_in;
mod replicas;
mod request_ids;
mod revocation;
mod slow_clients;
mod storage_full;
mod throttling;
mod token_inspect;
mod token_verification;
mod transport_bounds;
mod walkthrough;
mod watch_consent;
mod website;
mod website_choices;
mod website_log;
