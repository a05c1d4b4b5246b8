//! Identity as a relying party of the patients' OpenID Connect provider (a
//! DigiD broker in production): a patient is who the provider says, not
//! whoever knows a BSN.
//!
//! - `claims`: the library's types, the extra claims, the pinned
//!   algorithms; the HTTP client the library talks through is
//!   `crate::clients::oidc_http`, shared with the website.
//!
//! The website sends the browser to the provider and receives the
//! authorization code; Identity does the rest here: it exchanges the code
//! (with the PKCE verifier and its own client secret, which never leaves
//! Identity), and verifies the ID token fully before believing a word of
//! it: the signature by a key of the provider's key set, the algorithm
//! pinned to what discovery announced (never `none` or HMAC), `iss`, `aud`
//! (and no audience it does not trust), `exp`, `iat`, and the `nonce` the
//! website made. Only then is the BSN read, from the configured claim, and
//! checked with the 11-proof.
//!
//! The discovery document and the key set are kept, and fetched again
//! every [`REFRESH_EVERY`] or as soon as a token names a key that is not in
//! them (the provider rotated): the same habit as the mesh's own key set.

mod claims;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, Nonce,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, SignatureVerificationError,
    TokenResponse as _,
};
use tokio::sync::RwLock;

use self::claims::{IdTokenClaims, ProviderClient, ProviderMetadata, pinned_algorithms};
use crate::bsn::Bsn;
use crate::clients::oidc_http as http;
use crate::ids::display_name;
use crate::settings::ProviderSettings;

/// How long a discovery document and key set are used before they are
/// fetched again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
/// How far in the future an ID token's `iat` may be (clocks differ).
const IAT_LEEWAY: Duration = Duration::from_secs(60);
/// How old an ID token may be: it was issued for this very exchange.
const IAT_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// A patient the provider vouched for.
#[derive(Debug)]
pub struct ProvenPatient {
    pub bsn: Bsn,
    /// Empty when the provider sends no names (DigiD does not).
    pub first_name: String,
    pub last_name: String,
}

/// Why a sign-in through the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached, or answered what no provider
    /// should: UNAVAILABLE, retry later.
    #[error("the OpenID provider cannot be reached: {0}")]
    Unreachable(String),
    /// The code, the token or its claims prove nothing (a replayed or
    /// expired code, a wrong nonce, another issuer or audience, a bad
    /// signature, no or an invalid BSN): UNAUTHENTICATED. The text is for
    /// the log, never for the caller.
    #[error("the provider's sign-in proves nothing: {0}")]
    Refused(String),
}

/// What Identity needs to know of the provider, fetched by discovery.
struct Discovered {
    metadata: ProviderMetadata,
    fetched: Instant,
}

pub struct PatientProvider {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    bsn_claim: String,
    http: reqwest::Client,
    discovered: RwLock<Option<Arc<Discovered>>>,
}

impl PatientProvider {
    pub fn new(settings: &ProviderSettings) -> Result<Self, String> {
        Ok(Self {
            issuer: IssuerUrl::new(settings.issuer.clone()).map_err(|error| error.to_string())?,
            client_id: ClientId::new(settings.client_id.clone()),
            client_secret: settings
                .client_secret
                .as_ref()
                .map(|secret| ClientSecret::new(secret.expose().to_owned())),
            bsn_claim: settings.bsn_claim.clone(),
            http: http::client().map_err(|error| error.to_string())?,
            discovered: RwLock::new(None),
        })
    }

    /// Fetches the discovery document now, so that the first sign-in does
    /// not wait for it; a provider that is down is only logged.
    pub async fn warm_up(&self) {
        match self.discovered(false).await {
            Ok(_) => tracing::info!(issuer = %self.issuer.as_str(), "OpenID provider discovered"),
            Err(error) => {
                tracing::warn!(%error, "OpenID provider not discovered yet; trying again at the first sign-in")
            }
        }
    }

    /// Exchanges `code` and returns the patient its verified ID token
    /// names.
    pub async fn sign_in(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
        nonce: &str,
    ) -> Result<ProvenPatient, ProviderError> {
        let discovered = self.discovered(false).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| ProviderError::Refused("the redirect URI is not a URL".into()))?;
        let client = self.client(&discovered.metadata).set_redirect_uri(redirect);
        let sender = http::sender(&self.http);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| ProviderError::Unreachable(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(code_verifier.to_owned()))
            .request_async(&sender)
            .await
            .map_err(|error| match error {
                // invalid_grant and the like: a replayed, expired or
                // foreign code, a wrong verifier or redirect URI.
                RequestTokenError::ServerResponse(answer) => {
                    ProviderError::Refused(format!("the token endpoint said {}", answer.error()))
                }
                RequestTokenError::Request(error) => ProviderError::Unreachable(error.to_string()),
                RequestTokenError::Parse(error, _) => ProviderError::Refused(format!(
                    "the token endpoint's answer is not a token response: {error}"
                )),
                RequestTokenError::Other(error) => ProviderError::Refused(error),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| ProviderError::Refused("the token response has no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match self.verify(&discovered, id_token, &nonce) {
            // A key we do not know: the provider may have rotated. Fetch
            // its key set again and judge the same token once more (the
            // code cannot be exchanged twice).
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.discovered(true).await?;
                self.verify(&fresh, id_token, &nonce)
            }
            verified => verified,
        }
        .map_err(|error| ProviderError::Refused(format!("the ID token: {error}")))?;
        self.patient(&claims)
    }

    /// The client for the provider `metadata` describes.
    fn client(&self, metadata: &ProviderMetadata) -> ProviderClient {
        ProviderClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
    }

    fn verify(
        &self,
        discovered: &Discovered,
        id_token: &openidconnect::IdToken<
            claims::ExtraClaims,
            openidconnect::core::CoreGenderClaim,
            openidconnect::core::CoreJweContentEncryptionAlgorithm,
            openidconnect::core::CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
    ) -> Result<IdTokenClaims, ClaimsVerificationError> {
        let client = self.client(&discovered.metadata);
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(pinned_algorithms(&discovered.metadata))
            .set_issue_time_verifier_fn(issued_recently);
        id_token.claims(&verifier, nonce).cloned()
    }

    /// The patient `claims` name: the BSN from the configured claim, the
    /// names if the provider sent usable ones.
    fn patient(&self, claims: &IdTokenClaims) -> Result<ProvenPatient, ProviderError> {
        let bsn = match claims.additional_claims().claims.get(&self.bsn_claim) {
            Some(serde_json::Value::String(bsn)) => Bsn::parse(bsn).map_err(|_| {
                ProviderError::Refused(format!("the `{}` claim is not a valid BSN", self.bsn_claim))
            })?,
            Some(_) => {
                return Err(ProviderError::Refused(format!(
                    "the `{}` claim is not a string",
                    self.bsn_claim
                )));
            }
            None => {
                return Err(ProviderError::Refused(format!(
                    "the ID token has no `{}` claim",
                    self.bsn_claim
                )));
            }
        };
        let name = |claim: Option<String>| {
            claim
                .and_then(|name| display_name(&name).ok())
                .unwrap_or_default()
        };
        Ok(ProvenPatient {
            bsn,
            first_name: name(
                claims
                    .given_name()
                    .and_then(|names| names.get(None))
                    .map(|name| name.to_string()),
            ),
            last_name: name(
                claims
                    .family_name()
                    .and_then(|names| names.get(None))
                    .map(|name| name.to_string()),
            ),
        })
    }

    /// The provider's discovery document and key set: the kept ones unless
    /// they are old or `fresh` is asked for.
    async fn discovered(&self, fresh: bool) -> Result<Arc<Discovered>, ProviderError> {
        if !fresh
            && let Some(kept) = self.discovered.read().await.as_ref()
            && kept.fetched.elapsed() < REFRESH_EVERY
        {
            return Ok(kept.clone());
        }
        let mut kept = self.discovered.write().await;
        // Another call may have fetched it while this one waited.
        if let Some(current) = kept.as_ref()
            && current.fetched.elapsed() < Duration::from_secs(1)
        {
            return Ok(current.clone());
        }
        let sender = http::sender(&self.http);
        let metadata = ProviderMetadata::discover_async(self.issuer.clone(), &sender)
            .await
            .map_err(|error| ProviderError::Unreachable(format!("discovery: {error}")))?;
        if pinned_algorithms(&metadata).is_empty() {
            return Err(ProviderError::Unreachable(
                "the provider announces no asymmetric ID token algorithm".into(),
            ));
        }
        let discovered = Arc::new(Discovered {
            metadata,
            fetched: Instant::now(),
        });
        *kept = Some(discovered.clone());
        Ok(discovered)
    }
}

/// An ID token's `iat`: not in the future beyond the leeway, and not
/// older than a sign-in takes.
fn issued_recently(issued: DateTime<Utc>) -> Result<(), String> {
    let now = Utc::now();
    let leeway = chrono::Duration::from_std(IAT_LEEWAY).unwrap_or_default();
    let max_age = chrono::Duration::from_std(IAT_MAX_AGE).unwrap_or_default();
    if issued > now + leeway {
        return Err("issued in the future".into());
    }
    if issued < now - max_age {
        return Err("issued too long ago".into());
    }
    Ok(())
}
