//! The one binary: `toestemming [all|identity|pseudoniem|dossier]`.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    toestemming::telemetry::init();
    let cli = toestemming::cli::Cli::parse();
    match toestemming::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("toestemming: {error}");
            ExitCode::FAILURE
        }
    }
}
