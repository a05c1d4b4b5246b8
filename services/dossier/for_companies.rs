//! The RPCs a healthcare company calls: CreateDossier, CheckPermission and
//! DeleteDossier. They read the patient's choices and never write one: a
//! company cannot set, change or clear a patient's choice, and deleting
//! its dossier leaves the patient's choice as it was.

use tonic::Request;

use super::error::DossierError;
use super::grpc::DossierApi;
use super::wire;
use crate::auth::Caller;
use crate::bsn::Bsn;
use crate::ids::{CompanyName, Pseudoniem};
use crate::mesh::CallContext;
use crate::proto::dossier::v1::*;
use crate::storage::Inserted;

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
        let (view, inserted) = self.store.create(&company, &pseudoniem).await?;
        if inserted == Inserted::Created {
            tracing::info!(company = %company, dossier = %view.record.id, "dossier created");
        }
        Ok(CreateDossierResponse {
            dossier: Some(self.shown(&context, &view).await?),
            created: inserted == Inserted::Created,
        })
    }

    /// One read of the dossier with its deciding choices, then the rules.
    pub(super) async fn check(
        &self,
        request: Request<CheckPermissionRequest>,
    ) -> Result<CheckPermissionResponse, DossierError> {
        let (company, pseudoniem) = self
            .company_and_known_patient(&request, &request.get_ref().bsn)
            .await?;
        let view = self
            .store
            .find(&company, &pseudoniem)
            .await?
            .ok_or(DossierError::NoDossierForPatient)?;
        let answer = self.answer(&CallContext::of(&request), &view).await?;
        let decision = answer.decision;
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
        if !self.store.delete(&company, &pseudoniem).await? {
            return Err(DossierError::NoDossierForPatient);
        }
        tracing::info!(company = %company, "dossier deleted");
        Ok(DeleteDossierResponse {})
    }
}
