//! The IdentityService handlers.

use std::net::IpAddr;
use std::sync::Arc;

use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::credentials::{
    StoredHash, decoy_hash, hash_client_secret, hashes_match, new_client_secret,
};
use super::error::{
    COMPANY_CREDENTIALS_REJECTED, IdentityError, PROVIDER_SIGN_IN_FAILED,
    SERVICE_CREDENTIAL_REJECTED, SIGN_IN_FAILED,
};
use super::hash_queue::{Full, HashQueue};
use super::provider::{PatientProvider, ProviderError};
use super::revocations;
use super::store::{IdentityStore, NewPatient, Proofed};
use super::throttle::{Throttles, service_credential_rule};
use super::validation;
use crate::auth::keys::SigningKeyRing;
use crate::auth::{Caller, IssuedToken, RevocationList, Role, TokenIssuer};
use crate::bsn::Bsn;
use crate::clients::{PseudoniemClient, TakeoverNotice};
use crate::errors::FieldErrors;
use crate::ids::{CompanyName, Pseudoniem, display_name};
use crate::mesh::CallContext;
use crate::paging::{decode_token, encode_token, page, page_size};
use crate::proto::identity::v1::identity_service_server::IdentityService;
use crate::proto::identity::v1::*;
use crate::settings::{ServiceCredential, ThrottlePolicy};
use crate::storage::Inserted;

pub struct IdentityApi {
    store: IdentityStore,
    issuer: Arc<TokenIssuer>,
    pseudoniemen: PseudoniemClient,
    /// What IssueInternalToken compares against, hashed once.
    internal_secret_hash: StoredHash,
    throttles: Throttles,
    /// Every argon2 hash and verification goes through it.
    hashes: HashQueue,
    /// Verified against when the account does not exist, so that case takes
    /// as long as a wrong password.
    decoy_password_hash: StoredHash,
    /// Compared against when the company does not exist, for the same reason.
    decoy_secret_hash: StoredHash,
    /// Under EdDSA, the keys whose public halves GetJwks publishes.
    signing_keys: Option<Arc<SigningKeyRing>>,
    /// RegisterPatient and LoginPatient work (the development mode).
    password_sign_in: bool,
    /// The patients' OpenID provider, when one is configured.
    provider: Option<PatientProvider>,
    /// Dossier, told when a sign-in through the provider takes a password
    /// account over.
    takeovers: TakeoverNotice,
    /// The revocation list of this replica's verifier: RevokeToken adds
    /// to it at once, so Identity refuses a revoked token from then on.
    revocations: Arc<RevocationList>,
}

/// How patients may sign in, for [`IdentityApi::new`].
pub struct PatientSignIn {
    pub password: bool,
    pub provider: Option<PatientProvider>,
    pub takeovers: TakeoverNotice,
}

/// The parts of [`IdentityApi`] about tokens, for [`IdentityApi::new`].
pub struct Tokens {
    pub issuer: Arc<TokenIssuer>,
    /// Under EdDSA, the keys whose public halves GetJwks publishes.
    pub signing_keys: Option<Arc<SigningKeyRing>>,
    /// The verifier's revocation list.
    pub revocations: Arc<RevocationList>,
}

impl IdentityApi {
    pub async fn new(
        store: IdentityStore,
        tokens: Tokens,
        pseudoniemen: PseudoniemClient,
        internal_secret: ServiceCredential,
        throttle: &ThrottlePolicy,
        patients: PatientSignIn,
    ) -> Result<Self, IdentityError> {
        let Tokens {
            issuer,
            signing_keys,
            revocations,
        } = tokens;
        Ok(Self {
            signing_keys,
            revocations,
            password_sign_in: patients.password,
            provider: patients.provider,
            takeovers: patients.takeovers,
            store,
            issuer,
            pseudoniemen,
            internal_secret_hash: hash_client_secret(internal_secret.expose()),
            throttles: Throttles::new(throttle),
            hashes: HashQueue::sized_to_the_cores(throttle.password_hash_queue),
            decoy_password_hash: decoy_hash().await.ok_or(IdentityError::Internal(
                "cannot make the decoy password hash",
            ))?,
            decoy_secret_hash: hash_client_secret(&new_client_secret()),
        })
    }

    fn issue(&self, subject: &str, role: Role) -> Result<IssuedToken, IdentityError> {
        self.issuer
            .issue(subject, role)
            .map_err(|_| IdentityError::Internal("cannot sign a token"))
    }

    /// Discovers the OpenID provider in the background, so the first
    /// sign-in need not wait for it.
    pub fn warm_up_provider(self: &Arc<Self>) {
        if self.provider.is_some() {
            let api = Arc::downgrade(self);
            tokio::spawn(async move {
                if let Some(api) = api.upgrade()
                    && let Some(provider) = &api.provider
                {
                    provider.warm_up().await;
                }
            });
        }
    }

    /// Refuses a password call where patients sign in through the
    /// provider only.
    fn password_sign_in(&self) -> Result<(), IdentityError> {
        if self.password_sign_in {
            Ok(())
        } else {
            Err(IdentityError::PasswordSignInDisabled)
        }
    }

    async fn register_patient(
        &self,
        request: Request<RegisterPatientRequest>,
    ) -> Result<RegisterPatientResponse, IdentityError> {
        self.password_sign_in()?;
        let context = CallContext::of(&request);
        let client = client_address(&request);
        let input = request.into_inner();
        let mut errors = FieldErrors::new();
        let bsn = errors.check("bsn", Bsn::parse(&input.bsn));
        let first_name = errors.check("first_name", display_name(&input.first_name));
        let last_name = errors.check("last_name", display_name(&input.last_name));
        let password = errors.check("password", validation::new_password(&input.password));
        let (Some(bsn), Some(first_name), Some(last_name), Some(())) =
            (bsn, first_name, last_name, password)
        else {
            return Err(errors.into());
        };
        let password = SecretString::from(input.password);
        self.throttles
            .registrations
            .take(client)
            .map_err(|retry_after| IdentityError::TooManyRegistrations { retry_after })?;
        let hasher = self.hashes.admit_registration().map_err(busy)?;

        let pseudoniem = self.pseudoniemen.get(&context, &bsn).await?;
        let store = self.store.for_sign_ins();
        if store.patient_exists(&pseudoniem).await? {
            return Err(IdentityError::PatientAlreadyRegistered);
        }
        let password_hash = hasher
            .hash(password)
            .await
            .ok_or(IdentityError::Internal("password hashing failed"))?;
        let inserted = store
            .insert_patient(NewPatient {
                pseudoniem: &pseudoniem,
                first_name: &first_name,
                last_name: &last_name,
                password_hash: &password_hash,
            })
            .await?;
        if inserted == Inserted::AlreadyExists {
            return Err(IdentityError::PatientAlreadyRegistered);
        }
        tracing::info!(patient = %pseudoniem, "patient registered");
        Ok(RegisterPatientResponse {
            pseudoniem: pseudoniem.to_string(),
        })
    }

    async fn login_patient(
        &self,
        request: Request<LoginPatientRequest>,
    ) -> Result<LoginPatientResponse, IdentityError> {
        self.password_sign_in()?;
        let context = CallContext::of(&request);
        let client = client_address(&request);
        let input = request.into_inner();
        let bsn = Bsn::from_field("bsn", &input.bsn)?;
        // A place at the hasher first, so a flood is turned away before
        // it counts against anyone's account or reads a database; then the
        // attempt, counted as a failure until the password proves right.
        let hasher = self.hashes.admit_sign_in().map_err(busy)?;
        let attempt = self
            .throttles
            .sign_ins
            .reserve(&bsn, client)
            .map_err(|retry_after| {
                tracing::debug!(client = ?client, "sign-in refused: too many attempts");
                IdentityError::TooManyAttempts { retry_after }
            })?;

        let account = match self.pseudoniemen.lookup(&context, &bsn).await? {
            Some(pseudoniem) => self
                .store
                .for_sign_ins()
                .patient(&pseudoniem)
                .await?
                .map(|patient| (pseudoniem, patient)),
            None => None,
        };
        // Unknown accounts, and accounts the identity provider signs in
        // (they have no password), are checked against the decoy, so every
        // failure costs the same argon2 work.
        let stored_hash = account
            .as_ref()
            .and_then(|(_, patient)| patient.password())
            .map_or_else(|| self.decoy_password_hash.clone(), Clone::clone);
        let password_ok = hasher.verify(input.password.into(), stored_hash).await;
        let Some((pseudoniem, _)) =
            account.filter(|(_, patient)| password_ok && patient.password().is_some())
        else {
            drop(attempt);
            tracing::info!(client = ?client, "sign-in failed");
            return Err(SIGN_IN_FAILED);
        };
        attempt.succeeded();
        let token = self.issue(pseudoniem.as_str(), Role::Patient)?;
        tracing::info!(patient = %pseudoniem, "patient signed in");
        Ok(LoginPatientResponse {
            access_token: token.access_token,
            token_type: "Bearer".into(),
            expires_in: token.expires_in,
        })
    }

    /// ExchangeProviderCode: the patient the provider vouches for, signed
    /// in; the account made on the first sign-in, or taken over from a
    /// password account of the development mode.
    async fn exchange_provider_code(
        &self,
        request: Request<ExchangeProviderCodeRequest>,
    ) -> Result<ExchangeProviderCodeResponse, IdentityError> {
        let provider = self
            .provider
            .as_ref()
            .ok_or(IdentityError::ProviderNotConfigured)?;
        let context = CallContext::of(&request);
        let client = client_address(&request);
        let input = request.into_inner();
        validation::provider_code(&input)?;
        let proven = provider
            .sign_in(
                &input.code,
                &input.code_verifier,
                &input.redirect_uri,
                &input.nonce,
            )
            .await
            .map_err(|error| match error {
                ProviderError::Unreachable(why) => {
                    tracing::warn!(reason = %why, "provider sign-in failed: the provider cannot be reached");
                    IdentityError::ProviderUnavailable
                }
                ProviderError::Refused(why) => {
                    tracing::warn!(client = ?client, reason = %why, "provider sign-in refused");
                    PROVIDER_SIGN_IN_FAILED
                }
            })?;
        let pseudoniem = self.pseudoniemen.get(&context, &proven.bsn).await?;
        // A password account for this BSN is about to become the patient's:
        // Dossier first suspends the grants it made (anyone who knew the
        // BSN could have made them), so there is no moment in which the
        // account is the patient's and those grants still count. If Dossier
        // cannot be told, the sign-in fails and nothing is taken over.
        if self
            .store
            .patient(&pseudoniem)
            .await?
            .is_some_and(|patient| patient.proofed_at.is_none())
        {
            self.takeovers.taken_over(&context, &pseudoniem).await?;
        }
        let proofed = self
            .store
            .proofed_sign_in(&pseudoniem, &proven.first_name, &proven.last_name)
            .await?;
        match proofed {
            Proofed::Created => {
                tracing::info!(patient = %pseudoniem, "patient registered through the identity provider");
            }
            Proofed::TakenOver => tracing::warn!(
                patient = %pseudoniem,
                "a password account was taken over by the patient's first sign-in through the \
                 identity provider; its password no longer works"
            ),
            Proofed::Returning => {}
        }
        let token = self.issue(pseudoniem.as_str(), Role::Patient)?;
        tracing::info!(patient = %pseudoniem, "patient signed in through the identity provider");
        Ok(ExchangeProviderCodeResponse {
            access_token: token.access_token,
            token_type: "Bearer".into(),
            expires_in: token.expires_in,
        })
    }

    async fn profile(
        &self,
        request: Request<GetMyProfileRequest>,
    ) -> Result<GetMyProfileResponse, IdentityError> {
        let pseudoniem: Pseudoniem = Caller::from_request(&request)?.patient()?;
        let patient = self
            .store
            .patient(&pseudoniem)
            .await?
            .ok_or(IdentityError::PatientNotFound)?;
        Ok(GetMyProfileResponse {
            first_name: patient.first_name,
            last_name: patient.last_name,
        })
    }

    async fn register_company(
        &self,
        request: Request<RegisterCompanyRequest>,
    ) -> Result<RegisterCompanyResponse, IdentityError> {
        let name = CompanyName::register(&request.get_ref().company_name)
            .map_err(|rule| FieldErrors::one("company_name", rule))?;
        self.throttles
            .registrations
            .take(client_address(&request))
            .map_err(|retry_after| IdentityError::TooManyRegistrations { retry_after })?;
        let id = uuid::Uuid::new_v4();
        let client_secret = new_client_secret();
        let inserted = self
            .store
            .insert_company(id, &name, &hash_client_secret(&client_secret))
            .await?;
        if inserted == Inserted::AlreadyExists {
            return Err(IdentityError::CompanyNameTaken);
        }
        tracing::info!(company = %name, company_id = %id, "company registered");
        Ok(RegisterCompanyResponse {
            company_id: id.to_string(),
            client_secret,
        })
    }

    async fn issue_company_token(
        &self,
        request: Request<IssueCompanyTokenRequest>,
    ) -> Result<IssueCompanyTokenResponse, IdentityError> {
        let input = request.into_inner();
        // A malformed id is just another unknown company: same answer.
        let company = match uuid::Uuid::try_parse(&input.company_id) {
            Ok(id) => self.store.company(id).await?,
            Err(_) => None,
        };
        let expected = company
            .as_ref()
            .map_or(&self.decoy_secret_hash, |c| &c.secret_hash);
        let secret_ok = hashes_match(expected, &hash_client_secret(&input.client_secret));
        let Some(company) = company.filter(|_| secret_ok) else {
            tracing::info!("company token refused");
            return Err(COMPANY_CREDENTIALS_REJECTED);
        };
        let token = self.issue(company.name.as_str(), Role::HealthcareCompany)?;
        tracing::info!(company = %company.name, "company token issued");
        Ok(IssueCompanyTokenResponse {
            access_token: token.access_token,
            token_type: "Bearer".into(),
            expires_in: token.expires_in,
        })
    }

    async fn issue_internal_token(
        &self,
        request: Request<IssueInternalTokenRequest>,
    ) -> Result<IssueInternalTokenResponse, IdentityError> {
        let peer = request.remote_addr();
        let input = request.into_inner();
        // Hashing both sides keeps the comparison's time independent of the
        // lengths involved.
        // The right credential is never throttled: the services of the
        // mesh may share an address with whoever floods it (every one of
        // them in `all`). A wrong one is counted, and past the allowance
        // refused without a log line each.
        if !hashes_match(
            &self.internal_secret_hash,
            &hash_client_secret(&input.service_secret),
        ) {
            if let Some(ip) = peer.map(|peer| peer.ip()) {
                let counted = self
                    .throttles
                    .service_credential
                    .reserve(&[(ip, service_credential_rule())]);
                if let Err(refused) = counted {
                    return Err(IdentityError::TooManyCredentialFailures {
                        retry_after: refused.retry_after,
                    });
                }
            }
            tracing::warn!(peer = ?peer, "internal token refused: wrong service credential");
            return Err(SERVICE_CREDENTIAL_REJECTED);
        }
        validation::service_name(&input.service_name)
            .map_err(|rule| FieldErrors::one("service_name", rule))?;
        let token = self.issue(crate::auth::claims::INTERNAL_SUBJECT, Role::Internal)?;
        let service = if input.service_name.is_empty() {
            "(unnamed)"
        } else {
            input.service_name.as_str()
        };
        tracing::info!(service, peer = ?peer, "internal token issued");
        Ok(IssueInternalTokenResponse {
            access_token: token.access_token,
            token_type: "Bearer".into(),
            expires_in: token.expires_in,
        })
    }
}

impl IdentityApi {
    /// RevokeToken: the caller's own token (`authorization`), on the
    /// revocation list until its `exp`; refused here from now on.
    async fn revoke_token(
        &self,
        request: Request<RevokeTokenRequest>,
    ) -> Result<RevokeTokenResponse, IdentityError> {
        let caller = Caller::from_request(&request)?;
        let principal = &caller.principal;
        let jti = principal
            .token_id
            .as_deref()
            .filter(|jti| !jti.is_empty() && jti.len() <= revocations::MAX_JTI_BYTES)
            .ok_or(IdentityError::TokenNotRevocable)?;
        let exp = i64::try_from(principal.expires_at).unwrap_or(i64::MAX);
        let inserted = self.store.revoke(jti, exp).await?;
        self.revocations.insert(
            jti,
            principal.expires_at,
            jsonwebtoken::get_current_timestamp(),
        );
        // Who, never the token or its jti.
        tracing::info!(
            role = %principal.role,
            again = inserted == Inserted::AlreadyExists,
            "token revoked"
        );
        Ok(RevokeTokenResponse {})
    }

    async fn list_revoked_tokens(
        &self,
        request: Request<ListRevokedTokensRequest>,
    ) -> Result<ListRevokedTokensResponse, IdentityError> {
        let input = request.into_inner();
        revocations::page(&self.store, &input.after, input.page_size).await
    }

    async fn list_companies(
        &self,
        request: Request<ListCompaniesRequest>,
    ) -> Result<ListCompaniesResponse, IdentityError> {
        /// Names a page token of this listing.
        const LISTING: &str = "companies";
        let input = request.into_inner();
        let mut errors = FieldErrors::new();
        let prefix = errors.check("name_prefix", validation::name_prefix(&input.name_prefix));
        let limit = errors.check("page_size", page_size(input.page_size));
        let after = match input.page_token.as_str() {
            "" => Some(String::new()),
            token => errors.check(
                "page_token",
                decode_token::<1>(LISTING, token)
                    .map(|[after]| after)
                    .ok_or("is not a token from a previous page"),
            ),
        };
        let (Some(prefix), Some(limit), Some(after)) = (prefix, limit, after) else {
            return Err(errors.into());
        };
        let rows = self
            .store
            .verified_companies(&prefix, &after, limit + 1)
            .await?;
        let (rows, next_page_token) = page(rows, limit, |(_, key)| encode_token(LISTING, &[key]));
        Ok(ListCompaniesResponse {
            company_names: rows.into_iter().map(|(name, _)| name).collect(),
            next_page_token,
        })
    }

    async fn get_company(
        &self,
        request: Request<GetCompanyRequest>,
    ) -> Result<GetCompanyResponse, IdentityError> {
        let name = CompanyName::parse(&request.get_ref().company_name)
            .map_err(|rule| FieldErrors::one("company_name", rule))?;
        let company = self
            .store
            .company_by_name(&name)
            .await?
            .ok_or(IdentityError::CompanyNotFound)?;
        Ok(GetCompanyResponse {
            company_name: company.name.to_string(),
            verified: company.verified,
        })
    }
}

/// The hasher's queue is full.
fn busy(full: Full) -> IdentityError {
    IdentityError::HasherBusy {
        retry_after: full.retry_after,
    }
}

/// The address failed sign-ins are counted against: the browser's, when a
/// service of the mesh vouches for it with its Internal token (the website
/// signing a patient in; every patient would otherwise share the website's
/// address), else the gRPC peer's.
fn client_address<T>(request: &Request<T>) -> Option<IpAddr> {
    let vouched = Caller::from_request(request)
        .ok()
        .and_then(|caller| caller.forwarded_for);
    vouched.or_else(|| request.remote_addr().map(|addr| addr.ip()))
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn register_patient(
        &self,
        request: Request<RegisterPatientRequest>,
    ) -> Result<Response<RegisterPatientResponse>, Status> {
        Ok(Response::new(self.register_patient(request).await?))
    }

    async fn login_patient(
        &self,
        request: Request<LoginPatientRequest>,
    ) -> Result<Response<LoginPatientResponse>, Status> {
        Ok(Response::new(self.login_patient(request).await?))
    }

    async fn exchange_provider_code(
        &self,
        request: Request<ExchangeProviderCodeRequest>,
    ) -> Result<Response<ExchangeProviderCodeResponse>, Status> {
        Ok(Response::new(self.exchange_provider_code(request).await?))
    }

    async fn get_my_profile(
        &self,
        request: Request<GetMyProfileRequest>,
    ) -> Result<Response<GetMyProfileResponse>, Status> {
        Ok(Response::new(self.profile(request).await?))
    }

    async fn register_company(
        &self,
        request: Request<RegisterCompanyRequest>,
    ) -> Result<Response<RegisterCompanyResponse>, Status> {
        Ok(Response::new(self.register_company(request).await?))
    }

    async fn issue_company_token(
        &self,
        request: Request<IssueCompanyTokenRequest>,
    ) -> Result<Response<IssueCompanyTokenResponse>, Status> {
        Ok(Response::new(self.issue_company_token(request).await?))
    }

    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        match &self.signing_keys {
            Some(ring) => Ok(Response::new(ring.current().published.to_proto())),
            None => Err(crate::errors::status(
                crate::errors::Reason::NoPublicKeySet,
                "this deployment signs with the shared HS256 key, which is secret: there is no \
                 public key set (JWT_ALGORITHM=EdDSA publishes one)",
            )),
        }
    }

    async fn issue_internal_token(
        &self,
        request: Request<IssueInternalTokenRequest>,
    ) -> Result<Response<IssueInternalTokenResponse>, Status> {
        Ok(Response::new(self.issue_internal_token(request).await?))
    }

    async fn list_companies(
        &self,
        request: Request<ListCompaniesRequest>,
    ) -> Result<Response<ListCompaniesResponse>, Status> {
        Ok(Response::new(self.list_companies(request).await?))
    }

    async fn get_company(
        &self,
        request: Request<GetCompanyRequest>,
    ) -> Result<Response<GetCompanyResponse>, Status> {
        Ok(Response::new(self.get_company(request).await?))
    }

    async fn revoke_token(
        &self,
        request: Request<RevokeTokenRequest>,
    ) -> Result<Response<RevokeTokenResponse>, Status> {
        Ok(Response::new(self.revoke_token(request).await?))
    }

    async fn list_revoked_tokens(
        &self,
        request: Request<ListRevokedTokensRequest>,
    ) -> Result<Response<ListRevokedTokensResponse>, Status> {
        Ok(Response::new(self.list_revoked_tokens(request).await?))
    }
}
