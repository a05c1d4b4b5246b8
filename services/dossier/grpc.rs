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

use std::sync::Arc;

use futures_util::future::try_join_all;
use tonic::{Request, Response, Status};

use super::access_log::{AccessLog, Action, Actor, Change, Entry, Outcome, Republish};
use super::companies::Companies;
use super::consent::{Choices, Decision, Millis};
use super::error::DossierError;
use super::feed::Feed;
use super::model::DossierView;
use super::store::DossierStore;
use super::wire;
use crate::auth::Caller;
use crate::auth::RevocationList;
use crate::clients::PseudoniemClient;
use crate::ids::{CompanyName, Pseudoniem};
use crate::mesh::{CallContext, RequestId};
use crate::proto::dossier::v1::dossier_service_server::DossierService;
use crate::proto::dossier::v1::*;
use crate::storage::now_millis;

pub struct DossierApi {
    pub(super) store: DossierStore,
    pub(super) pseudoniemen: PseudoniemClient,
    pub(super) companies: Companies,
    /// Every call about a patient is logged here before it is answered.
    pub(super) log: AccessLog,
    /// WatchConsent's streams and the publications waiting on Identity.
    pub(super) feed: Arc<Feed>,
    /// The verifier's revocation list: an open WatchConsent stream ends
    /// when its token is revoked.
    pub(super) revocations: Arc<RevocationList>,
}

/// A dossier's answer at one moment: the decision, and when it last
/// changed.
pub(super) struct Answer {
    pub decision: Decision,
    pub changed: Millis,
}

impl DossierApi {
    pub fn new(
        store: DossierStore,
        pseudoniemen: PseudoniemClient,
        companies: Companies,
        log: AccessLog,
        feed: Arc<Feed>,
        revocations: Arc<RevocationList>,
    ) -> Self {
        Self {
            store,
            pseudoniemen,
            companies,
            log,
            feed,
            revocations,
        }
    }

    /// Whether `company` is verified, asked of Identity only when it
    /// matters: when the patient's default would decide (`None` when it
    /// would not).
    pub(super) async fn verified_if_asked(
        &self,
        context: &CallContext,
        company: &CompanyName,
        choices: &Choices,
    ) -> Result<Option<bool>, DossierError> {
        if choices.default_would_decide() {
            Ok(Some(self.companies.is_verified(context, company).await?))
        } else {
            Ok(None)
        }
    }

    /// What `choices` answer about `company` at `now`.
    pub(super) async fn decision(
        &self,
        context: &CallContext,
        company: &CompanyName,
        choices: &Choices,
        now: Millis,
    ) -> Result<Decision, DossierError> {
        let verified = self.verified_if_asked(context, company, choices).await?;
        Ok(choices.decide(verified.unwrap_or(false), now))
    }

    /// Applies `change` with its `entry` in one transaction, publishing the
    /// decisions `republish` names that it changed (WatchConsent). A
    /// decision that waits on whether its company is verified is published
    /// right after, once Identity has said; if Identity cannot say now, it
    /// is retried in the background rather than failing a change that is
    /// already committed.
    pub(super) async fn write(
        &self,
        context: &CallContext,
        change: Change,
        entry: Option<Entry>,
        republish: Option<Republish>,
    ) -> Result<Outcome, DossierError> {
        let committed = self.log.record(change, entry, republish.clone()).await?;
        if let Some(republish) = republish
            && !committed.unresolved.is_empty()
        {
            let rest = Republish {
                companies: Some(committed.unresolved),
                ..republish
            };
            self.resolve(context, rest).await;
        }
        Ok(committed.outcome)
    }

    /// Asks Identity whether each company `republish` names is verified,
    /// then publishes; keeps it for a retry when Identity or the log
    /// cannot be reached.
    pub(super) async fn resolve(&self, context: &CallContext, mut republish: Republish) {
        let companies = republish.companies.clone().unwrap_or_default();
        let asked = try_join_all(
            companies
                .iter()
                .map(|company| self.companies.is_verified(context, company)),
        )
        .await;
        let published = match asked {
            Ok(verified) => {
                republish.verified = companies.into_iter().zip(verified).collect();
                self.log
                    .record(Change::None, None, Some(republish.clone()))
                    .await
                    .map(drop)
                    .map_err(|failure| failure.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = published {
            tracing::warn!(
                %error,
                "a changed decision waits on Identity; publishing it to watchers later"
            );
            self.feed.defer(republish);
        }
    }

    /// The answer the patient's choices give about `view`'s company now.
    pub(super) async fn answer(
        &self,
        context: &CallContext,
        view: &DossierView,
    ) -> Result<Answer, DossierError> {
        let now = now_millis();
        let decision = self
            .decision(context, &view.record.company_name, &view.choices, now)
            .await?;
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

/// A new entry of the access log for this call: `action` about
/// `pseudoniem` and `company_name` ("" for the patient's default), by the
/// verified caller, on behalf of the end user a service forwarded (else the
/// caller), now, with the call's request id. The outcome fields start
/// empty; the handler fills in what it answered.
pub(super) fn entry<T>(
    request: &Request<T>,
    action: Action,
    pseudoniem: &Pseudoniem,
    company_name: &str,
) -> Result<Entry, DossierError> {
    let caller = Caller::from_request(request)?;
    let actor = match caller.principal.role {
        crate::auth::Role::Patient => Actor::Patient,
        _ => Actor::HealthcareCompany,
    };
    let principal = caller.on_behalf_of.as_ref().unwrap_or(&caller.principal);
    Ok(Entry {
        time: now_millis(),
        action,
        pseudoniem: pseudoniem.clone(),
        company_name: company_name.to_owned(),
        actor,
        on_behalf_of: format!("{}:{}", principal.role, principal.subject),
        refused: false,
        gave_permission: false,
        consent: None,
        reason: None,
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
    })
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

    async fn list_my_access_log(
        &self,
        request: Request<ListMyAccessLogRequest>,
    ) -> Result<Response<ListMyAccessLogResponse>, Status> {
        Ok(Response::new(self.list_access_log(request).await?))
    }

    async fn record_account_takeover(
        &self,
        request: Request<RecordAccountTakeoverRequest>,
    ) -> Result<Response<RecordAccountTakeoverResponse>, Status> {
        Ok(Response::new(self.record_takeover(request).await?))
    }

    type WatchConsentStream = super::watch::ChangeStream;

    async fn watch_consent(
        &self,
        request: Request<WatchConsentRequest>,
    ) -> Result<Response<Self::WatchConsentStream>, Status> {
        Ok(Response::new(self.watch(request).await?))
    }
}
