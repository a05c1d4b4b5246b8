//! The IdentityService handlers.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::credentials::{
    decoy_hash, hash_client_secret, hash_password, new_client_secret, secrets_match,
    verify_password,
};
use super::login_throttle::LoginThrottle;
use super::store::{IdentityStore, Inserted};
use super::validation;
use crate::auth::{Caller, IssuedToken, Role, TokenIssuer};
use crate::bsn::Bsn;
use crate::config::ServiceCredential;
use crate::errors::{FieldErrors, storage_failed};
use crate::mesh::CallContext;
use crate::proto::identity::v1::identity_service_server::IdentityService;
use crate::proto::identity::v1::*;
use crate::pseudoniem::PseudoniemClient;

/// The one answer for every failed sign-in, whatever the cause.
const SIGN_IN_FAILED: &str = "unknown BSN or wrong password";
const COMPANY_CREDENTIALS_REJECTED: &str = "unknown company or wrong client secret";

pub struct IdentityApi {
    store: IdentityStore,
    issuer: Arc<TokenIssuer>,
    pseudoniemen: PseudoniemClient,
    internal_secret: ServiceCredential,
    throttle: LoginThrottle,
    /// Verified against when the account does not exist, so that case takes
    /// as long as a wrong password.
    decoy_password_hash: String,
    /// Compared against when the company does not exist, for the same reason.
    decoy_secret_hash: String,
}

impl IdentityApi {
    pub async fn new(
        store: IdentityStore,
        issuer: Arc<TokenIssuer>,
        pseudoniemen: PseudoniemClient,
        internal_secret: ServiceCredential,
        throttle: LoginThrottle,
    ) -> Result<Self, Status> {
        Ok(Self {
            store,
            issuer,
            pseudoniemen,
            internal_secret,
            throttle,
            decoy_password_hash: decoy_hash().await?,
            decoy_secret_hash: hash_client_secret(&new_client_secret()),
        })
    }

    fn issue(&self, subject: &str, role: Role) -> Result<IssuedToken, Status> {
        self.issuer.issue(subject, role).map_err(|_| {
            tracing::error!("token signing failed");
            Status::internal("cannot sign a token")
        })
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn register_patient(
        &self,
        request: Request<RegisterPatientRequest>,
    ) -> Result<Response<RegisterPatientResponse>, Status> {
        let context = CallContext::of(&request);
        let input = request.into_inner();
        let mut errors = FieldErrors::new();
        let bsn = errors.check("bsn", Bsn::parse(&input.bsn));
        let first_name = errors.check("first_name", validation::name(&input.first_name));
        let last_name = errors.check("last_name", validation::name(&input.last_name));
        errors.check("password", validation::new_password(&input.password));
        errors.into_result()?;
        let (Some(bsn), Some(first_name), Some(last_name)) = (bsn, first_name, last_name) else {
            return Err(Status::internal("field validation lost a value"));
        };

        let (pseudoniem, _) = self.pseudoniemen.get(&context, &bsn).await?;
        if self
            .store
            .patient_exists(&pseudoniem)
            .await
            .map_err(storage_failed)?
        {
            return Err(Status::already_exists(
                "a patient with this BSN is already registered",
            ));
        }
        let password_hash = hash_password(input.password).await?;
        match self
            .store
            .insert_patient(&pseudoniem, &first_name, &last_name, &password_hash)
            .await
            .map_err(storage_failed)?
        {
            Inserted::Created => {
                tracing::info!(patient = %pseudoniem, "patient registered");
                Ok(Response::new(RegisterPatientResponse { pseudoniem }))
            }
            Inserted::AlreadyExists => Err(Status::already_exists(
                "a patient with this BSN is already registered",
            )),
        }
    }

    async fn login_patient(
        &self,
        request: Request<LoginPatientRequest>,
    ) -> Result<Response<LoginPatientResponse>, Status> {
        let context = CallContext::of(&request);
        let peer = request.remote_addr().map(|addr| addr.ip());
        let input = request.into_inner();
        let bsn = Bsn::from_field("bsn", &input.bsn)?;
        if !self.throttle.allows(&bsn, peer) {
            tracing::warn!(peer = ?peer, "sign-in refused: too many failed attempts");
            return Err(Status::resource_exhausted(
                "too many failed sign-in attempts; try again later",
            ));
        }

        let account = match self.pseudoniemen.lookup(&context, &bsn).await? {
            Some(pseudoniem) => self
                .store
                .patient(&pseudoniem)
                .await
                .map_err(storage_failed)?
                .map(|patient| (pseudoniem, patient)),
            None => None,
        };
        // Unknown accounts are checked against the decoy, so both failures
        // cost the same argon2 work.
        let stored_hash = account.as_ref().map_or_else(
            || self.decoy_password_hash.clone(),
            |(_, p)| p.password_hash.clone(),
        );
        let password_ok = verify_password(input.password, stored_hash).await;
        let Some((pseudoniem, _)) = account.filter(|_| password_ok) else {
            self.throttle.record_failure(&bsn, peer);
            tracing::info!(peer = ?peer, "sign-in failed");
            return Err(Status::unauthenticated(SIGN_IN_FAILED));
        };
        self.throttle.record_success(&bsn);
        let token = self.issue(&pseudoniem, Role::Patient)?;
        tracing::info!(patient = %pseudoniem, "patient signed in");
        Ok(Response::new(LoginPatientResponse {
            access_token: token.access_token,
            token_type: "Bearer".into(),
            expires_in: token.expires_in,
        }))
    }

    async fn get_my_profile(
        &self,
        request: Request<GetMyProfileRequest>,
    ) -> Result<Response<GetMyProfileResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let pseudoniem = caller.subject_as(Role::Patient)?;
        let patient = self
            .store
            .patient(pseudoniem)
            .await
            .map_err(storage_failed)?
            .ok_or_else(|| Status::not_found("no patient account for this token"))?;
        Ok(Response::new(GetMyProfileResponse {
            first_name: patient.first_name,
            last_name: patient.last_name,
        }))
    }

    async fn register_company(
        &self,
        request: Request<RegisterCompanyRequest>,
    ) -> Result<Response<RegisterCompanyResponse>, Status> {
        let name = validation::name(&request.get_ref().company_name)
            .map_err(|rule| crate::errors::invalid_field("company_name", rule))?;
        let id = uuid::Uuid::new_v4().to_string();
        let client_secret = new_client_secret();
        let inserted = self
            .store
            .insert_company(
                &id,
                &name,
                &validation::company_name_key(&name),
                &hash_client_secret(&client_secret),
            )
            .await
            .map_err(storage_failed)?;
        if inserted == Inserted::AlreadyExists {
            return Err(Status::already_exists(
                "a company with this name is already registered",
            ));
        }
        tracing::info!(company = %name, company_id = %id, "company registered");
        Ok(Response::new(RegisterCompanyResponse {
            company_id: id,
            client_secret,
        }))
    }

    async fn issue_company_token(
        &self,
        request: Request<IssueCompanyTokenRequest>,
    ) -> Result<Response<IssueCompanyTokenResponse>, Status> {
        let input = request.into_inner();
        // A malformed id is just another unknown company: same answer.
        let company = match uuid::Uuid::try_parse(&input.company_id) {
            Ok(id) => self
                .store
                .company(&id.to_string())
                .await
                .map_err(storage_failed)?,
            Err(_) => None,
        };
        let expected = company
            .as_ref()
            .map_or(&self.decoy_secret_hash, |c| &c.secret_hash);
        let secret_ok = secrets_match(expected, &hash_client_secret(&input.client_secret));
        let Some(company) = company.filter(|_| secret_ok) else {
            tracing::info!("company token refused");
            return Err(Status::unauthenticated(COMPANY_CREDENTIALS_REJECTED));
        };
        let token = self.issue(&company.name, Role::HealthcareCompany)?;
        tracing::info!(company = %company.name, "company token issued");
        Ok(Response::new(IssueCompanyTokenResponse {
            access_token: token.access_token,
            token_type: "Bearer".into(),
            expires_in: token.expires_in,
        }))
    }

    async fn issue_internal_token(
        &self,
        request: Request<IssueInternalTokenRequest>,
    ) -> Result<Response<IssueInternalTokenResponse>, Status> {
        let peer = request.remote_addr();
        let input = request.into_inner();
        // Hashing both sides first keeps the comparison's time independent of
        // the lengths involved.
        let presented = hash_client_secret(&input.service_secret);
        if !secrets_match(
            &hash_client_secret(self.internal_secret.expose()),
            &presented,
        ) {
            tracing::warn!(peer = ?peer, "internal token refused: wrong service credential");
            return Err(Status::unauthenticated(
                "the service credential is not valid",
            ));
        }
        validation::service_name(&input.service_name)
            .map_err(|rule| crate::errors::invalid_field("service_name", rule))?;
        let token = self.issue(crate::auth::claims::INTERNAL_SUBJECT, Role::Internal)?;
        let service = if input.service_name.is_empty() {
            "(unnamed)"
        } else {
            input.service_name.as_str()
        };
        tracing::info!(service, peer = ?peer, "internal token issued");
        Ok(Response::new(IssueInternalTokenResponse {
            access_token: token.access_token,
            token_type: "Bearer".into(),
            expires_in: token.expires_in,
        }))
    }
}
