//! `toestemming healthcheck [URL]`: the containers' health check.
//!
//! A URL without a path (`http://127.0.0.1:50051`) is a gRPC service: it
//! asks `grpc.health.v1.Health/Check` for the whole server. A URL with a
//! path (`http://127.0.0.1:8080/healthz`) is the website: it asks for the
//! page. Either way it answers within a few seconds, and only SERVING (or
//! HTTP 200) is healthy.

use std::time::Duration;

use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the service at `url` is serving; the error says why not.
pub async fn check(url: &str) -> crate::Result<()> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| format!("{url:?} is not a URL, e.g. http://127.0.0.1:50051"))?;
    let outcome = tokio::time::timeout(TIMEOUT, async {
        match uri.path() {
            "" | "/" => grpc(url).await,
            _ => http(uri).await,
        }
    })
    .await;
    outcome.map_err(|_| format!("{url} did not answer within {TIMEOUT:?}"))?
}

async fn grpc(url: &str) -> crate::Result<()> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(TIMEOUT)
        .connect_lazy();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|status| {
            format!(
                "health check failed: {:?}: {}",
                status.code(),
                status.message()
            )
        })?;
    match response.into_inner().status() {
        ServingStatus::Serving => Ok(()),
        other => Err(format!("not serving: {other:?}").into()),
    }
}

async fn http(uri: http::Uri) -> crate::Result<()> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let response = client.get(uri).await?;
    let status = response.status();
    // Read the (small) body so the connection closes cleanly.
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("not serving: HTTP {status}").into())
    }
}
