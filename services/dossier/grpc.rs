//! The DossierService: the API struct, the answer every dossier gets, and
//! the trait impl that hands each RPC to its handler. The verify layer
//! admitted only the roles in the proto; each handler scopes its query to
//! the caller it was given.
//!
//! The handlers are split by who calls them, so that what a company can
//! do is one short file to read: `for_companies` (CreateDossier,
//! CheckPermission, DeleteDossier) reads choices and never writes one;
//! `for_patients` holds every RPC that records, withdraws or lists a
//! patient's choice.

use futures_util::future::try_join_all;
use tonic::{Request, Response, Status};

use super::companies::Companies;
use super::consent::{Decision, Millis};
use super::error::DossierError;
use super::model::DossierView;
use super::store::DossierStore;
use super::wire;
use crate::clients::PseudoniemClient;
use crate::mesh::CallContext;
use crate::proto::dossier::v1::dossier_service_server::DossierService;
use crate::proto::dossier::v1::*;
use crate::storage::now_millis;

pub struct DossierApi {
    pub(super) store: DossierStore,
    pub(super) pseudoniemen: PseudoniemClient,
    pub(super) companies: Companies,
}

/// A dossier's answer at one moment: the decision, and when it last
/// changed.
pub(super) struct Answer {
    pub decision: Decision,
    pub changed: Millis,
}

impl DossierApi {
    pub fn new(store: DossierStore, pseudoniemen: PseudoniemClient, companies: Companies) -> Self {
        Self {
            store,
            pseudoniemen,
            companies,
        }
    }

    /// The answer the patient's choices give about `view`'s company now.
    /// Identity is asked whether the company is verified only when the
    /// patient's default would decide.
    pub(super) async fn answer(
        &self,
        context: &CallContext,
        view: &DossierView,
    ) -> Result<Answer, DossierError> {
        let verified = if view.choices.default_would_decide() {
            self.companies
                .is_verified(context, &view.record.company_name)
                .await?
        } else {
            false
        };
        let now = now_millis();
        let decision = view.choices.decide(verified, now);
        let changed = view
            .choices
            .changed(view.record.create_time, &decision, now);
        Ok(Answer { decision, changed })
    }

    /// `view` as the API shows it, with its answer now.
    pub(super) async fn shown(
        &self,
        context: &CallContext,
        view: &DossierView,
    ) -> Result<Dossier, DossierError> {
        let answer = self.answer(context, view).await?;
        Ok(wire::dossier(
            &view.record,
            &answer.decision,
            answer.changed,
        ))
    }

    /// Several dossiers as the API shows them, their answers found
    /// together.
    pub(super) async fn shown_all(
        &self,
        context: &CallContext,
        views: &[DossierView],
    ) -> Result<Vec<Dossier>, DossierError> {
        try_join_all(views.iter().map(|view| self.shown(context, view))).await
    }
}

#[tonic::async_trait]
impl DossierService for DossierApi {
    async fn create_dossier(
        &self,
        request: Request<CreateDossierRequest>,
    ) -> Result<Response<CreateDossierResponse>, Status> {
        Ok(Response::new(self.create(request).await?))
    }

    async fn check_permission(
        &self,
        request: Request<CheckPermissionRequest>,
    ) -> Result<Response<CheckPermissionResponse>, Status> {
        Ok(Response::new(self.check(request).await?))
    }

    async fn delete_dossier(
        &self,
        request: Request<DeleteDossierRequest>,
    ) -> Result<Response<DeleteDossierResponse>, Status> {
        Ok(Response::new(self.delete(request).await?))
    }

    async fn list_my_dossiers(
        &self,
        request: Request<ListMyDossiersRequest>,
    ) -> Result<Response<ListMyDossiersResponse>, Status> {
        Ok(Response::new(self.list(request).await?))
    }

    async fn set_consent(
        &self,
        request: Request<SetConsentRequest>,
    ) -> Result<Response<SetConsentResponse>, Status> {
        Ok(Response::new(self.decide_dossier(request).await?))
    }

    async fn set_choice(
        &self,
        request: Request<SetChoiceRequest>,
    ) -> Result<Response<SetChoiceResponse>, Status> {
        Ok(Response::new(self.choose(request).await?))
    }

    async fn clear_choice(
        &self,
        request: Request<ClearChoiceRequest>,
    ) -> Result<Response<ClearChoiceResponse>, Status> {
        Ok(Response::new(self.withdraw(request).await?))
    }

    async fn list_my_choices(
        &self,
        request: Request<ListMyChoicesRequest>,
    ) -> Result<Response<ListMyChoicesResponse>, Status> {
        Ok(Response::new(self.list_choices(request).await?))
    }
}
