//! The request bodies `scripts/bench.py` hands h2load (`-d FILE`): gRPC
//! frames of messages that prost encodes from the protos, so no script
//! encodes protobuf by hand.
//!
//! - `empty.grpc`: `grpc.health.v1.HealthCheckRequest {}` (the health
//!   variants and the bare hop);
//! - `bsn.grpc`: `{ bsn }`, the same bytes for LookupPseudoniem,
//!   CheckPermission and CreateDossier, whose `bsn` is field 1 in each
//!   (checked here before the file is written).
//!
//! Usage: `request_bodies DIR BSN`.

use std::path::PathBuf;
use std::process::ExitCode;

use prost::Message;
use toestemming::proto::dossier::v1::{CheckPermissionRequest, CreateDossierRequest};
use toestemming::proto::pseudoniem::v1::LookupPseudoniemRequest;
use tonic_health::pb::HealthCheckRequest;

/// A length-prefixed gRPC message: not compressed, 4-byte big-endian
/// length, the message.
fn frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let length = u32::try_from(body.len()).expect("a request body is small");
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(0);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(bsn)) = (args.next(), args.next()) else {
        eprintln!("usage: request_bodies DIR BSN");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let check = frame(&CheckPermissionRequest { bsn: bsn.clone() });
    let others = [
        frame(&LookupPseudoniemRequest { bsn: bsn.clone() }),
        frame(&CreateDossierRequest { bsn }),
    ];
    if others.iter().any(|other| *other != check) {
        eprintln!("the requests that carry a BSN no longer encode alike: write one file each");
        return ExitCode::FAILURE;
    }
    let files = [
        ("bsn.grpc", check),
        ("empty.grpc", frame(&HealthCheckRequest::default())),
    ];
    for (name, body) in files {
        if let Err(error) = std::fs::write(dir.join(name), body) {
            eprintln!("cannot write {}: {error}", dir.join(name).display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
