//! Structured logs.
//!
//! One line per event, with the request span's fields (request id, method,
//! caller), on standard error: standard output is what a command prints
//! (`token inspect`, `keys`, `companies`), so a script can read it while the
//! log goes where logs go. `RUST_LOG` filters (default `info`);
//! `LOG_FORMAT=json` writes JSON lines for a log pipeline. Nothing here logs a value by itself:
//! secrets, tokens, passwords and BSNs are kept out of log calls at the
//! source, and their types redact `Debug`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call is a no-op (tests start
/// many servers in one process).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
