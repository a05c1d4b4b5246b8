//! A service's own Internal token, cached and refreshed before it expires.
//!
//! Dossier gets its token from Identity's IssueInternalToken with the
//! service credential; Identity signs its own. Either way the token is
//! fetched once, reused for every call, and refreshed a while before expiry
//! by whichever call first notices, with one refresh in flight at a time
//! (the others wait for it, then reuse its result). So a service calls
//! Identity about once per token lifetime, not once per request, and keeps
//! working on its cached token while Identity is briefly down.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::HeaderValue;
use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;
use tower::util::BoxCloneSyncService;

use super::caller::bearer_header;
use super::claims::{INTERNAL_SUBJECT, Role};
use super::issuer::TokenIssuer;
use crate::proto::identity::v1::IssueInternalTokenRequest;
use crate::proto::identity::v1::identity_service_client::IdentityServiceClient;
use crate::settings::ServiceCredential;
use crate::telemetry::metrics;

/// The longest a refresh may wait before the token's expiry.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// A cached token is not handed out in its last seconds: it could expire
/// on the wire.
const EXPIRY_SAFETY: Duration = Duration::from_secs(5);

/// Where a token comes from.
enum Fetcher {
    /// Identity signs for itself.
    SelfSigned(Arc<TokenIssuer>),
    /// Any other service asks Identity.
    Identity(Box<IdentityFetcher>),
}

/// How a service reaches Identity: any gRPC transport (the mesh's
/// replicas, in practice), boxed so that `auth` need not know it.
pub type Transport = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Status>;

/// IssueInternalToken on Identity, with the service credential.
struct IdentityFetcher {
    client: IdentityServiceClient<Transport>,
    service_name: String,
    credential: ServiceCredential,
}

struct Cached {
    header: HeaderValue,
    refresh_at: Instant,
    expires_at: Instant,
}

struct Inner {
    fetcher: Fetcher,
    cached: Mutex<Option<Cached>>,
    /// Held while a refresh runs: one at a time.
    refreshing: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct InternalTokenSource {
    inner: Arc<Inner>,
}

impl InternalTokenSource {
    /// Identity's source: tokens it signs itself.
    pub fn self_signed(issuer: Arc<TokenIssuer>) -> Self {
        Self::with(Fetcher::SelfSigned(issuer))
    }

    /// Another service's source: IssueInternalToken on `identity` (a plain
    /// channel: this call has no end user to forward).
    pub fn from_identity(
        identity: Transport,
        service_name: &str,
        credential: ServiceCredential,
    ) -> Self {
        Self::with(Fetcher::Identity(Box::new(IdentityFetcher {
            client: IdentityServiceClient::new(identity),
            service_name: service_name.to_owned(),
            credential,
        })))
    }

    fn with(fetcher: Fetcher) -> Self {
        Self {
            inner: Arc::new(Inner {
                fetcher,
                cached: Mutex::new(None),
                refreshing: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// How many tokens this source has fetched or signed so far.
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// `Bearer <internal token>`, from the cache when it is fresh.
    pub async fn authorization(&self) -> Result<HeaderValue, Status> {
        if let Some(header) = self.cached(|c| Instant::now() < c.refresh_at) {
            return Ok(header);
        }
        let _one_refresh = self.inner.refreshing.lock().await;
        // Another caller may have refreshed while this one waited.
        if let Some(header) = self.cached(|c| Instant::now() < c.refresh_at) {
            return Ok(header);
        }
        match self.fetch().await {
            Ok(fresh) => {
                let header = fresh.header.clone();
                *self.inner.cached.lock().expect("token cache lock") = Some(fresh);
                Ok(header)
            }
            Err(status) => {
                // Keep going on the old token while it is still good.
                if let Some(header) = self.cached(|c| Instant::now() + EXPIRY_SAFETY < c.expires_at)
                {
                    tracing::warn!(code = ?status.code(), "internal token refresh failed; using the cached token");
                    return Ok(header);
                }
                tracing::warn!(code = ?status.code(), "cannot get an internal token");
                Err(Status::unavailable(
                    "this service cannot get its internal token from Identity",
                ))
            }
        }
    }

    fn cached(&self, usable: impl Fn(&Cached) -> bool) -> Option<HeaderValue> {
        let cached = self.inner.cached.lock().expect("token cache lock");
        cached
            .as_ref()
            .filter(|c| usable(c))
            .map(|c| c.header.clone())
    }

    async fn fetch(&self) -> Result<Cached, Status> {
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched_at = Instant::now();
        let (token, expires_in) = match &self.inner.fetcher {
            Fetcher::SelfSigned(issuer) => {
                metrics::internal_token_obtained("self_signed");
                let issued = issuer
                    .issue(INTERNAL_SUBJECT, Role::Internal)
                    .map_err(|_| Status::internal("cannot sign the internal token"))?;
                (issued.access_token, issued.expires_in)
            }
            Fetcher::Identity(remote) => {
                metrics::internal_token_obtained("identity");
                let mut request = tonic::Request::new(IssueInternalTokenRequest {
                    service_name: remote.service_name.clone(),
                    service_secret: remote.credential.expose().to_owned(),
                });
                request.set_timeout(Duration::from_secs(5));
                let response = remote
                    .client
                    .clone()
                    .issue_internal_token(request)
                    .await?
                    .into_inner();
                (response.access_token, response.expires_in)
            }
        };
        if crate::auth::bearer::parse_bearer(&format!("Bearer {token}")).is_err() {
            return Err(Status::internal(
                "Identity returned a malformed internal token",
            ));
        }
        let lifetime = Duration::from_secs(u64::try_from(expires_in).unwrap_or(0));
        let margin = (lifetime / 5).min(MAX_REFRESH_MARGIN);
        tracing::info!(
            lifetime_secs = lifetime.as_secs(),
            "internal token obtained"
        );
        Ok(Cached {
            header: bearer_header(&token),
            refresh_at: fetched_at + lifetime - margin,
            expires_at: fetched_at + lifetime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{JwtSettings, SigningSecret};

    fn source() -> InternalTokenSource {
        let settings = JwtSettings::with_secret(SigningSecret::new(vec![9u8; 32]).unwrap());
        InternalTokenSource::self_signed(Arc::new(TokenIssuer::new(&settings)))
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_first_calls_share_one_fetch() {
        let tokens = source();
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.authorization().await.unwrap() })
            })
            .collect();
        let mut values = Vec::new();
        for call in calls {
            values.push(call.await.unwrap());
        }
        assert_eq!(tokens.fetches(), 1);
        assert!(
            values.windows(2).all(|pair| pair[0] == pair[1]),
            "every caller got the one token"
        );
        assert!(values[0].is_sensitive());
    }

    #[tokio::test(start_paused = true)]
    async fn the_token_is_refreshed_before_it_expires_not_per_call() {
        let tokens = source();
        tokens.authorization().await.unwrap();
        // 15 minutes lifetime, refreshed 2 minutes before expiry.
        tokio::time::advance(Duration::from_secs(12 * 60)).await;
        tokens.authorization().await.unwrap();
        assert_eq!(tokens.fetches(), 1, "still fresh at 12 minutes");
        tokio::time::advance(Duration::from_secs(90)).await;
        tokens.authorization().await.unwrap();
        assert_eq!(
            tokens.fetches(),
            2,
            "refreshed at 13.5 minutes, before expiry"
        );
        tokens.authorization().await.unwrap();
        assert_eq!(tokens.fetches(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn identity_down_without_a_cached_token_is_unavailable() {
        // Nothing listens on port 9 of loopback.
        use tower::ServiceExt as _;
        let channel = Transport::new(
            tonic::transport::Endpoint::from_static("http://127.0.0.1:9")
                .connect_lazy()
                .map_err(|error| Status::from_error(Box::new(error))),
        );
        let tokens = InternalTokenSource::from_identity(
            channel,
            "dossier",
            ServiceCredential::new("a-service-credential-of-32-bytes!").unwrap(),
        );
        let status = tokens.authorization().await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(
            !status
                .message()
                .contains("a-service-credential-of-32-bytes!")
        );
    }
}
