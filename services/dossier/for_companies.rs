//! The RPCs a healthcare company calls: CreateDossier, CheckPermission and
//! DeleteDossier. They read the patient's choices and never write one: a
//! company cannot set, change or clear a patient's choice, and deleting
//! its dossier leaves the patient's choice as it was. Each is logged before
//! it is answered, a refused attempt about a known patient included.

use tonic::Request;

use super::access_log::{Action, Change, Outcome, Republish};
use super::error::DossierError;
use super::grpc::{DossierApi, entry};
use super::wire;
use crate::auth::Caller;
use crate::bsn::Bsn;
use crate::ids::{CompanyName, DossierId, Pseudoniem};
use crate::mesh::CallContext;
use crate::proto::dossier::v1::*;
use crate::storage::StorageError;

impl DossierApi {
    /// The calling company and the patient's validated BSN.
    fn company_and_bsn<T>(
        request: &Request<T>,
        bsn: &str,
    ) -> Result<(CompanyName, Bsn), DossierError> {
        let company = Caller::from_request(request)?.company()?;
        Ok((company, Bsn::from_field("bsn", bsn)?))
    }

    /// The calling company and the pseudoniem of the patient it names. A
    /// patient the mesh has never seen has no dossier anywhere.
    async fn company_and_known_patient<T>(
        &self,
        request: &Request<T>,
        bsn: &str,
    ) -> Result<(CompanyName, Pseudoniem), DossierError> {
        let (company, bsn) = Self::company_and_bsn(request, bsn)?;
        let pseudoniem = self
            .pseudoniemen
            .lookup(&CallContext::of(request), &bsn)
            .await?
            .ok_or(DossierError::NoDossierForPatient)?;
        Ok((company, pseudoniem))
    }

    pub(super) async fn create(
        &self,
        request: Request<CreateDossierRequest>,
    ) -> Result<CreateDossierResponse, DossierError> {
        let context = CallContext::of(&request);
        let (company, bsn) = Self::company_and_bsn(&request, &request.get_ref().bsn)?;
        let pseudoniem = self.pseudoniemen.get(&context, &bsn).await?;
        // What the dossier starts as, for its log entry: the patient's
        // choices decide it whether or not it exists yet.
        let mut logged = entry(
            &request,
            Action::CreateDossier,
            &pseudoniem,
            company.as_str(),
        )?;
        let choices = self.store.choices_for(&company, &pseudoniem).await?;
        let verified = self.verified_if_asked(&context, &company, &choices).await?;
        let decision = choices.decide(verified.unwrap_or(false), logged.time);
        logged.consent = Some(decision.consent);
        logged.reason = Some(decision.reason);
        let change = Change::CreateDossier {
            id: DossierId::random(),
            company: company.clone(),
            pseudoniem: pseudoniem.clone(),
        };
        // Its starting decision goes to the company's watchers with it.
        let mut republish = Republish::dossier(&pseudoniem, &company);
        republish
            .verified
            .extend(verified.map(|v| (company.clone(), v)));
        let created = self
            .write(&context, change, Some(logged), Some(republish))
            .await?
            == Outcome::Created(true);
        let view = self
            .store
            .find(&company, &pseudoniem)
            .await?
            .ok_or_else(StorageError::missing_row)?;
        if created {
            tracing::info!(company = %company, dossier = %view.record.id, "dossier created");
        }
        Ok(CreateDossierResponse {
            dossier: Some(self.shown(&context, &view).await?),
            created,
        })
    }

    /// One read of the dossier with its deciding choices, then the rules;
    /// answered once the answer is in the access log.
    pub(super) async fn check(
        &self,
        request: Request<CheckPermissionRequest>,
    ) -> Result<CheckPermissionResponse, DossierError> {
        let (company, pseudoniem) = self
            .company_and_known_patient(&request, &request.get_ref().bsn)
            .await?;
        let mut logged = entry(
            &request,
            Action::CheckPermission,
            &pseudoniem,
            company.as_str(),
        )?;
        let Some(view) = self.store.find(&company, &pseudoniem).await? else {
            // A refused attempt about a known patient is logged too.
            logged.refused = true;
            self.log.append(logged).await?;
            return Err(DossierError::NoDossierForPatient);
        };
        let decision = self
            .answer(&CallContext::of(&request), &view)
            .await?
            .decision;
        logged.gave_permission = decision.gave_permission;
        logged.consent = Some(decision.consent);
        logged.reason = Some(decision.reason);
        self.log.append(logged).await?;
        Ok(CheckPermissionResponse {
            gave_permission: decision.gave_permission,
            consent: wire::consent(decision.consent) as i32,
            reason: wire::reason(decision.reason) as i32,
            expire_time: decision.expire_time.map(wire::timestamp),
        })
    }

    pub(super) async fn delete(
        &self,
        request: Request<DeleteDossierRequest>,
    ) -> Result<DeleteDossierResponse, DossierError> {
        let (company, pseudoniem) = self
            .company_and_known_patient(&request, &request.get_ref().bsn)
            .await?;
        let logged = entry(
            &request,
            Action::DeleteDossier,
            &pseudoniem,
            company.as_str(),
        )?;
        let change = Change::DeleteDossier {
            company: company.clone(),
            pseudoniem,
        };
        // The log marks a delete of no dossier as a refused attempt. A
        // deletion is not a decision: watchers are not told.
        let context = CallContext::of(&request);
        if self.write(&context, change, Some(logged), None).await? != Outcome::Deleted(true) {
            return Err(DossierError::NoDossierForPatient);
        }
        tracing::info!(company = %company, "dossier deleted");
        Ok(DeleteDossierResponse {})
    }
}
