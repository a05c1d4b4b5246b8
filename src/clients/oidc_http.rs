//! The HTTP client Identity and the website talk to the patients' OpenID
//! provider with: the relying-party library (`openidconnect`) asks for a
//! function from request to response, and this is it, on reqwest.
//!
//! It follows no redirect (a token endpoint that redirects is misconfigured
//! or hostile, and following one would send the client secret on), bounds
//! each exchange in time and each answer in size, and speaks TLS through
//! rustls with the system's roots.

use std::time::Duration;

use futures_util::future::BoxFuture;
use openidconnect::{HttpRequest, HttpResponse};

/// The longest one request to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider (discovery documents and key
/// sets are a few KiB).
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("the provider could not be reached: {}", chain(.0))]
    Transport(#[from] reqwest::Error),
    #[error("the provider's answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the provider's answer is not valid HTTP: {0}")]
    Invalid(#[from] http::Error),
}

/// A client for the provider.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        // A connection per request: calls are rare (a sign-in, a discovery
        // every few minutes), and a kept one the provider has closed in the
        // meantime fails the next call with a reset.
        .pool_max_idle_per_host(0)
        .user_agent(concat!("toestemming/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The function the library sends its requests through.
pub fn sender(
    client: &reqwest::Client,
) -> impl Fn(HttpRequest) -> BoxFuture<'static, Result<HttpResponse, HttpError>> + '_ {
    move |request| {
        let client = client.clone();
        Box::pin(async move { send(&client, request).await })
    }
}

async fn send(client: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let mut response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut answer = http::Response::builder().status(response.status());
    if let Some(headers) = answer.headers_mut() {
        *headers = response.headers().clone();
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(answer.body(body)?)
}

/// An error and its causes, one line: reqwest's own message says only
/// "error sending request"; the cause says why (refused, timed out, TLS).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
