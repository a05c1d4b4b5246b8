//! The transport bounds of security.md: oversized and malformed input gets a
//! clear status, never a panic, and the server keeps serving; overload is
//! shed with RESOURCE_EXHAUSTED.

use std::time::Duration;

use crate::support::*;
use bytes::{Buf as _, BufMut as _};
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::pseudoniem::v1::LookupPseudoniemRequest;
use toestemming::settings::{ServerLimits, ServiceKind};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Sends and receives raw bytes, so a test can put any payload on the wire.
#[derive(Default, Clone)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.copy_to_bytes(src.remaining()).to_vec();
        Ok(Some(bytes))
    }
}

async fn raw_call(
    channel: Channel,
    path: &'static str,
    token: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        authed(body, token),
        http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(|r| r.into_inner())
}

const LOOKUP: &str = "/toestemming.pseudoniem.v1.PseudoniemService/LookupPseudoniem";

/// The server still answers a well-formed call.
async fn still_serves(mesh: &TestMesh, internal: &str) {
    let status = mesh
        .pseudoniem()
        .lookup_pseudoniem(authed(LookupPseudoniemRequest { bsn: bsn(1) }, internal))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_reason(&status, "PSEUDONIEM_NOT_FOUND");
}

#[tokio::test]
async fn malformed_protobuf_is_a_clear_error_and_the_server_keeps_serving() {
    let mesh = TestMesh::start().await;
    let internal = mesh.token(Role::Internal, "internal");
    for (name, body) in [
        ("length beyond the message", vec![0x0A, 0xFF, 0x01]),
        ("truncated varint", vec![0x08, 0xFF]),
        (
            "invalid UTF-8 in a string field",
            vec![0x0A, 0x02, 0xC3, 0x28],
        ),
        ("wire type 7", vec![0x0F]),
    ] {
        let status = raw_call(mesh.pseudoniem_channel(), LOOKUP, &internal, body)
            .await
            .unwrap_err();
        assert!(
            matches!(status.code(), Code::Internal | Code::InvalidArgument),
            "{name}: {status:?}"
        );
        assert_has_error_info(&status);
        // tonic refused it before any handler ran: the reason is the code's
        // name.
        let expected = match status.code() {
            Code::Internal => "INTERNAL",
            _ => "INVALID_ARGUMENT",
        };
        assert_reason(&status, expected);
        still_serves(&mesh, &internal).await;
    }
    mesh.stop().await;
}

#[tokio::test]
async fn an_oversized_message_is_refused_and_the_server_keeps_serving() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Groot Zorg").await;
    let huge = "1".repeat(ServerLimits::default().max_message_bytes + 1);
    let status = mesh
        .dossier()
        .create_dossier(authed(CreateDossierRequest { bsn: huge }, &company))
        .await
        .unwrap_err();
    // tonic answers OUT_OF_RANGE where grpc-go says RESOURCE_EXHAUSTED;
    // either way the message is refused before any handler runs.
    assert!(
        matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{status:?}"
    );
    assert_has_error_info(&status);
    let expected = match status.code() {
        Code::OutOfRange => "OUT_OF_RANGE",
        _ => "RESOURCE_EXHAUSTED",
    };
    assert_reason(&status, expected);
    let created = mesh
        .dossier()
        .create_dossier(authed(CreateDossierRequest { bsn: bsn(2) }, &company))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created);
    mesh.stop().await;
}

#[tokio::test]
async fn oversized_metadata_is_refused_and_the_server_keeps_serving() {
    let mesh = TestMesh::start().await;
    let internal = mesh.token(Role::Internal, "internal");
    let mut request = authed(LookupPseudoniemRequest { bsn: bsn(1) }, &internal);
    let filler = "x".repeat(64 * 1024);
    request
        .metadata_mut()
        .insert("x-filler", filler.parse().unwrap());
    let outcome = mesh.pseudoniem().lookup_pseudoniem(request).await;
    let status = outcome.unwrap_err();
    assert!(
        !matches!(
            status.code(),
            Code::Ok | Code::NotFound | Code::Unauthenticated | Code::PermissionDenied
        ),
        "oversized metadata reached the handler: {status:?}"
    );
    // A fresh connection is served normally.
    let fresh =
        toestemming::proto::pseudoniem::v1::pseudoniem_service_client::PseudoniemServiceClient::new(
            channel(mesh.addr(ServiceKind::Pseudoniem)).await,
        );
    let status = fresh
        .clone()
        .lookup_pseudoniem(authed(LookupPseudoniemRequest { bsn: bsn(1) }, &internal))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_reason(&status, "PSEUDONIEM_NOT_FOUND");
    mesh.stop().await;
}

#[tokio::test]
async fn past_the_in_flight_cap_requests_are_shed_with_resource_exhausted() {
    // A Dossier whose Pseudoniem never answers keeps every CreateDossier in
    // flight for the dependency timeout; with two slots, the rest are shed.
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Druk Zorg").await;
    let hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}", hole.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            held.push(socket);
        }
    });
    let shutdown = CancellationToken::new();
    let started = mesh
        .start_extra(ServiceKind::Dossier, shutdown.clone(), |settings| {
            settings.peers.pseudoniem = hole_url;
            settings.dependency_timeout = Duration::from_secs(2);
            settings.limits.max_in_flight = 2;
        })
        .await;
    let address = started.addr;
    let client = DossierServiceClient::new(channel(address).await);

    let calls: Vec<_> = (0..8)
        .map(|n| {
            let mut client = client.clone();
            let company = company.clone();
            tokio::spawn(async move {
                client
                    .create_dossier(authed(CreateDossierRequest { bsn: bsn(10 + n) }, &company))
                    .await
                    .unwrap_err()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for call in calls {
        let status = call.await.unwrap();
        match status.code() {
            Code::ResourceExhausted => assert_reason(&status, "OVERLOADED"),
            Code::DeadlineExceeded => assert_deadline_exceeded(&status, "pseudoniem"),
            _ => {}
        }
        codes.push(status.code());
    }
    let shed = codes
        .iter()
        .filter(|c| **c == Code::ResourceExhausted)
        .count();
    let timed_out = codes
        .iter()
        .filter(|c| **c == Code::DeadlineExceeded)
        .count();
    assert!(shed >= 1, "nothing was shed: {codes:?}");
    assert!(timed_out <= 2, "more than the cap were admitted: {codes:?}");
    assert_eq!(shed + timed_out, codes.len(), "{codes:?}");
    shutdown.cancel();
    holder.abort();
    mesh.stop().await;
}
