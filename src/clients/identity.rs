//! The typed Identity client the website and Dossier use.
//!
//! Two clients share one connection: one carries the service's own
//! Internal token (with the end user's token forwarded), so Identity trusts
//! the browser's address the website vouches for on sign-in
//! (`x-forwarded-for`) and answers Dossier's questions about companies; the
//! other carries the signed-in patient's own token, for what the patient
//! may ask themselves.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use tonic::Code;

use super::call_error::CallError;
use super::error::DependencyError;
use futures_util::future::BoxFuture;

use crate::auth::revocation::{RevocationSource, RevokedPage};
use crate::auth::{Credentials, InternalTokenSource};
use crate::ids::CompanyName;
use crate::mesh::CallContext;
use crate::mesh::client::{MeshChannel, layered, upstream};
use crate::proto::identity::v1::identity_service_client::IdentityServiceClient;
use crate::proto::identity::v1::{
    ExchangeProviderCodeRequest, ExchangeProviderCodeResponse, GetCompanyRequest,
    GetMyProfileRequest, GetMyProfileResponse, ListCompaniesRequest, ListCompaniesResponse,
    ListRevokedTokensRequest, LoginPatientRequest, LoginPatientResponse, RegisterPatientRequest,
    RevokeTokenRequest,
};
use crate::settings::ConfigError;

const SERVICE: &str = "identity";
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A registered company as Identity knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// The name as registered: Identity's spelling.
    pub name: CompanyName,
    /// Whether an operator has verified it.
    pub verified: bool,
}

/// A new patient's details, as entered.
pub struct NewPatient<'a> {
    pub bsn: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password: &'a SecretString,
}

#[derive(Clone)]
pub struct IdentityClient {
    as_service: IdentityServiceClient<MeshChannel>,
    as_user: IdentityServiceClient<MeshChannel>,
}

impl IdentityClient {
    pub fn new(
        url: &str,
        tokens: InternalTokenSource,
        max_call_time: Duration,
    ) -> Result<Self, ConfigError> {
        let replicas = upstream(url)?;
        let client = |credentials| {
            IdentityServiceClient::new(layered(replicas.clone(), credentials, max_call_time))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
        };
        Ok(Self {
            as_service: client(Credentials::Service(tokens)),
            as_user: client(Credentials::EndUser),
        })
    }

    /// RegisterPatient; the pseudoniem on success.
    pub async fn register(
        &self,
        context: &CallContext,
        patient: NewPatient<'_>,
    ) -> Result<String, CallError> {
        let request = context.request(RegisterPatientRequest {
            bsn: patient.bsn.to_owned(),
            first_name: patient.first_name.to_owned(),
            last_name: patient.last_name.to_owned(),
            password: patient.password.expose_secret().to_owned(),
        });
        let response = self
            .as_service
            .clone()
            .register_patient(request)
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(response.into_inner().pseudoniem)
    }

    /// LoginPatient, vouching for the browser's address in `context`.
    pub async fn login(
        &self,
        context: &CallContext,
        bsn: &str,
        password: &SecretString,
    ) -> Result<LoginPatientResponse, CallError> {
        let request = context.request(LoginPatientRequest {
            bsn: bsn.to_owned(),
            password: password.expose_secret().to_owned(),
        });
        let response = self
            .as_service
            .clone()
            .login_patient(request)
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(response.into_inner())
    }

    /// ExchangeProviderCode, as the website, vouching for the browser's
    /// address in `context`: what the provider's redirect brought, for the
    /// mesh's Patient token.
    pub async fn exchange_provider_code(
        &self,
        context: &CallContext,
        request: ExchangeProviderCodeRequest,
    ) -> Result<ExchangeProviderCodeResponse, CallError> {
        let response = self
            .as_service
            .clone()
            .exchange_provider_code(context.request(request))
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(response.into_inner())
    }

    /// GetMyProfile, as the signed-in patient in `context`.
    pub async fn profile(&self, context: &CallContext) -> Result<GetMyProfileResponse, CallError> {
        let response = self
            .as_user
            .clone()
            .get_my_profile(context.request(GetMyProfileRequest {}))
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(response.into_inner())
    }

    /// GetCompany, as this service (Dossier), with the end user's token
    /// forwarded: the company registered under `name` in any case, or
    /// `None` when there is none.
    pub async fn company(
        &self,
        context: &CallContext,
        name: &CompanyName,
    ) -> Result<Option<Company>, DependencyError> {
        let request = context.request(GetCompanyRequest {
            company_name: name.to_string(),
        });
        match self.as_service.clone().get_company(request).await {
            Ok(response) => {
                let response = response.into_inner();
                let name = CompanyName::parse(&response.company_name).map_err(|_| {
                    DependencyError::Unavailable {
                        service: SERVICE,
                        why: "answered with a malformed company name",
                    }
                })?;
                Ok(Some(Company {
                    name,
                    verified: response.verified,
                }))
            }
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(DependencyError::from_status(SERVICE, &status)),
        }
    }

    /// ListCompanies, as the signed-in patient in `context`: one page of
    /// verified companies whose names start with `prefix`.
    pub async fn list_companies(
        &self,
        context: &CallContext,
        prefix: &str,
        page_size: i32,
    ) -> Result<ListCompaniesResponse, CallError> {
        let request = context.request(ListCompaniesRequest {
            name_prefix: prefix.to_owned(),
            page_size,
            page_token: String::new(),
        });
        let response = self
            .as_user
            .clone()
            .list_companies(request)
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(response.into_inner())
    }

    /// RevokeToken, as the signed-in patient in `context`: the patient's
    /// own token, revoked (the website's sign-out).
    pub async fn revoke_token(&self, context: &CallContext) -> Result<(), CallError> {
        self.as_user
            .clone()
            .revoke_token(context.request(RevokeTokenRequest {}))
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(())
    }

    /// ListRevokedTokens, as this service: the page after `after`.
    async fn revoked_tokens(&self, after: &str) -> Result<RevokedPage, String> {
        let mut request = tonic::Request::new(ListRevokedTokensRequest {
            after: after.to_owned(),
            page_size: REVOKED_PAGE,
        });
        request.set_timeout(crate::auth::revocation::FETCH_TIMEOUT);
        let answer = self
            .as_service
            .clone()
            .list_revoked_tokens(request)
            .await
            .map_err(|status| {
                format!(
                    "ListRevokedTokens failed: {} {}",
                    crate::errors::code_name(status.code()),
                    status.message()
                )
            })?
            .into_inner();
        Ok(RevokedPage::from_response(answer, REVOKED_PAGE as usize))
    }
}

/// The page a service asks ListRevokedTokens for.
const REVOKED_PAGE: i32 = 1000;

/// Dossier and the website learn revocations from Identity.
impl RevocationSource for IdentityClient {
    fn fetch<'a>(&'a self, after: &'a str) -> BoxFuture<'a, Result<RevokedPage, String>> {
        Box::pin(self.revoked_tokens(after))
    }
}
