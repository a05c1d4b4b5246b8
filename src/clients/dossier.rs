//! The typed Dossier client the website uses, as the signed-in patient:
//! the patient's dossiers, choices and access log.

use std::time::Duration;

use super::call_error::CallError;
use crate::auth::Credentials;
use crate::mesh::CallContext;
use crate::mesh::client::{MeshChannel, mesh_channel};
use crate::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use crate::proto::dossier::v1::{
    Choice, ClearChoiceRequest, ConsentStatus, Dossier, ListMyAccessLogRequest,
    ListMyAccessLogResponse, ListMyChoicesRequest, ListMyDossiersRequest, SetChoiceRequest,
    SetConsentRequest, clear_choice_request, set_choice_request,
};
use crate::settings::ConfigError;

const SERVICE: &str = "dossier";
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Pages read at most for one listing: 20 pages of 100.
const MAX_PAGES: usize = 20;

/// Whom a choice is about, as the website asks.
#[derive(Debug, Clone)]
pub enum ChoiceTarget {
    /// A company's name, as the patient typed or picked it.
    Company(String),
    EveryCompany,
}

#[derive(Clone)]
pub struct DossierClient {
    as_user: DossierServiceClient<MeshChannel>,
}

impl DossierClient {
    pub fn new(url: &str, max_call_time: Duration) -> Result<Self, ConfigError> {
        let channel = mesh_channel(url, Credentials::EndUser, max_call_time)?;
        Ok(Self {
            as_user: DossierServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        })
    }

    /// Every dossier of the signed-in patient, oldest first.
    pub async fn list_mine(&self, context: &CallContext) -> Result<Vec<Dossier>, CallError> {
        let mut dossiers = Vec::new();
        let mut page_token = String::new();
        for _ in 0..MAX_PAGES {
            let request = context.request(ListMyDossiersRequest {
                page_size: 100,
                page_token,
            });
            let page = self
                .as_user
                .clone()
                .list_my_dossiers(request)
                .await
                .map_err(|status| CallError::from_status(SERVICE, status))?
                .into_inner();
            dossiers.extend(page.dossiers);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        Ok(dossiers)
    }

    /// SetConsent on one of the signed-in patient's dossiers, a grant
    /// optionally until `expire_time`.
    pub async fn set_consent(
        &self,
        context: &CallContext,
        dossier_id: &str,
        consent: ConsentStatus,
        expire_time: Option<prost_types::Timestamp>,
    ) -> Result<Dossier, CallError> {
        let request = context.request(SetConsentRequest {
            dossier_id: dossier_id.to_owned(),
            consent: consent as i32,
            expire_time,
        });
        let response = self
            .as_user
            .clone()
            .set_consent(request)
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?
            .into_inner();
        response.dossier.ok_or_else(|| {
            CallError::Unavailable(super::DependencyError::Unavailable {
                service: SERVICE,
                why: "answered without the dossier",
            })
        })
    }

    /// Every choice of the signed-in patient, newest first: the current
    /// ones, or with `history` every version.
    pub async fn list_choices(
        &self,
        context: &CallContext,
        history: bool,
    ) -> Result<Vec<Choice>, CallError> {
        let mut choices = Vec::new();
        let mut page_token = String::new();
        for _ in 0..MAX_PAGES {
            let request = context.request(ListMyChoicesRequest {
                include_history: history,
                page_size: 100,
                page_token,
            });
            let page = self
                .as_user
                .clone()
                .list_my_choices(request)
                .await
                .map_err(|status| CallError::from_status(SERVICE, status))?
                .into_inner();
            choices.extend(page.choices);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        Ok(choices)
    }

    /// SetChoice for the signed-in patient.
    pub async fn set_choice(
        &self,
        context: &CallContext,
        target: ChoiceTarget,
        consent: ConsentStatus,
        expire_time: Option<prost_types::Timestamp>,
    ) -> Result<Choice, CallError> {
        let request = context.request(SetChoiceRequest {
            target: Some(match target {
                ChoiceTarget::Company(name) => set_choice_request::Target::CompanyName(name),
                ChoiceTarget::EveryCompany => set_choice_request::Target::EveryCompany(true),
            }),
            consent: consent as i32,
            expire_time,
        });
        let response = self
            .as_user
            .clone()
            .set_choice(request)
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?
            .into_inner();
        response.choice.ok_or_else(|| {
            CallError::Unavailable(super::DependencyError::Unavailable {
                service: SERVICE,
                why: "answered without the choice",
            })
        })
    }

    /// ClearChoice for the signed-in patient.
    pub async fn clear_choice(
        &self,
        context: &CallContext,
        target: ChoiceTarget,
    ) -> Result<(), CallError> {
        let request = context.request(ClearChoiceRequest {
            target: Some(match target {
                ChoiceTarget::Company(name) => clear_choice_request::Target::CompanyName(name),
                ChoiceTarget::EveryCompany => clear_choice_request::Target::EveryCompany(true),
            }),
        });
        self.as_user
            .clone()
            .clear_choice(request)
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(())
    }

    /// One page of the signed-in patient's access log, newest first.
    pub async fn access_log(
        &self,
        context: &CallContext,
        request: ListMyAccessLogRequest,
    ) -> Result<ListMyAccessLogResponse, CallError> {
        let response = self
            .as_user
            .clone()
            .list_my_access_log(context.request(request))
            .await
            .map_err(|status| CallError::from_status(SERVICE, status))?;
        Ok(response.into_inner())
    }
}

/// What Identity tells Dossier, with its own Internal token: that a
/// patient's first sign-in through the identity provider took over a
/// password account (RecordAccountTakeover).
#[derive(Clone)]
pub struct TakeoverNotice {
    as_service: DossierServiceClient<MeshChannel>,
}

impl TakeoverNotice {
    pub fn new(
        url: &str,
        tokens: crate::auth::InternalTokenSource,
        max_call_time: Duration,
    ) -> Result<Self, ConfigError> {
        let channel = mesh_channel(url, Credentials::Service(tokens), max_call_time)?;
        Ok(Self {
            as_service: DossierServiceClient::new(channel),
        })
    }

    /// RecordAccountTakeover for the patient `pseudoniem`.
    pub async fn taken_over(
        &self,
        context: &CallContext,
        pseudoniem: &crate::ids::Pseudoniem,
    ) -> Result<(), super::DependencyError> {
        let request = context.request(crate::proto::dossier::v1::RecordAccountTakeoverRequest {
            pseudoniem: pseudoniem.to_string(),
        });
        self.as_service
            .clone()
            .record_account_takeover(request)
            .await
            .map_err(|status| super::DependencyError::from_status(SERVICE, &status))?;
        Ok(())
    }
}
