//! The bare tonic hop: the yardstick for one service-to-service call.
//!
//! One process, two tonic servers and nothing else: no auth, no storage, no
//! extra layers. Server B serves only `tonic_health` (SERVING for "").
//! Server A serves `grpc.health.v1.Health` itself: its `check` asks B's
//! `Check` over one shared `Channel` (made once, cloned per call) and
//! returns B's answer. So a `Check` on A costs what one hop costs in tonic
//! on this machine. `scripts/bench.py` runs it beside the mesh, because
//! CheckPermission (Dossier → Pseudoniem, one hop) must reach at least 0.6
//! of this hop's req/s in the same run.
//!
//! Usage: `bare_hop [A_ADDR] [B_ADDR]` (127.0.0.1:50061, 127.0.0.1:50062);
//! runs until Ctrl-C.

use std::net::SocketAddr;

use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

struct Hop {
    b: HealthClient<Channel>,
}

#[tonic::async_trait]
impl Health for Hop {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let answer = self.b.clone().check(request.into_inner()).await?;
        Ok(Response::new(answer.into_inner()))
    }

    type WatchStream = tonic::codegen::tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("the bare hop only answers Check"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let a_addr = args.next().unwrap_or_else(|| "127.0.0.1:50061".into());
    let b_addr = args.next().unwrap_or_else(|| "127.0.0.1:50062".into());
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (a_addr.parse()?, b_addr.parse()?);
    let stop = || async {
        let _ = tokio::signal::ctrl_c().await;
    };

    let (_reporter, b_health) = tonic_health::server::health_reporter();
    let b = Server::builder()
        .tcp_nodelay(true)
        .add_service(b_health)
        .serve_with_shutdown(b_addr, stop());

    let channel = Channel::from_shared(format!("http://{b_addr}"))?.connect_lazy();
    let hop = Hop {
        b: HealthClient::new(channel),
    };
    let a = Server::builder()
        .tcp_nodelay(true)
        .add_service(HealthServer::new(hop))
        .serve_with_shutdown(a_addr, stop());

    eprintln!("bare_hop: A on {a_addr} -> B on {b_addr}; Ctrl-C stops");
    tokio::try_join!(a, b)?;
    Ok(())
}
