//! The one binary: `toestemming [all|identity|pseudoniem|dossier]`.

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc rather than glibc's malloc: a request allocates a few dozen
/// small, short-lived objects (headers, futures, messages) across two
/// threads, and glibc's allocator took about 12% of the CPU of a
/// CheckPermission under load (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    toestemming::telemetry::init();
    // Every connection is a descriptor: take all the system allows, before
    // any server derives its connection cap from it.
    toestemming::mesh::connections::raise_file_limit();
    let cli = toestemming::cli::Cli::parse();
    match toestemming::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("toestemming: {error}");
            ExitCode::FAILURE
        }
    }
}
