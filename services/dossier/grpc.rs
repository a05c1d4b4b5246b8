//! The DossierService handlers. The verify layer admitted only the roles in
//! the proto; each handler scopes its query to the caller it was given.

use tonic::{Request, Response, Status};

use super::error::DossierError;
use super::model::{Consent, Decision, DossierRecord, PageCursor, page_size};
use super::store::DossierStore;
use crate::auth::Caller;
use crate::bsn::Bsn;
use crate::clients::PseudoniemClient;
use crate::errors::FieldErrors;
use crate::ids::{CompanyName, DossierId, Pseudoniem};
use crate::mesh::CallContext;
use crate::proto::dossier::v1::dossier_service_server::DossierService;
use crate::proto::dossier::v1::*;
use crate::storage::Inserted;

pub struct DossierApi {
    store: DossierStore,
    pseudoniemen: PseudoniemClient,
}

impl DossierApi {
    pub fn new(store: DossierStore, pseudoniemen: PseudoniemClient) -> Self {
        Self {
            store,
            pseudoniemen,
        }
    }

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

    async fn create(
        &self,
        request: Request<CreateDossierRequest>,
    ) -> Result<CreateDossierResponse, DossierError> {
        let (company, bsn) = Self::company_and_bsn(&request, &request.get_ref().bsn)?;
        let pseudoniem = self
            .pseudoniemen
            .get(&CallContext::of(&request), &bsn)
            .await?;
        let (record, inserted) = self.store.create(&company, &pseudoniem).await?;
        if inserted == Inserted::Created {
            tracing::info!(company = %company, dossier = %record.id, "dossier created");
        }
        Ok(CreateDossierResponse {
            dossier: Some(to_proto(record)),
            created: inserted == Inserted::Created,
        })
    }

    async fn check(
        &self,
        request: Request<CheckPermissionRequest>,
    ) -> Result<CheckPermissionResponse, DossierError> {
        let (company, pseudoniem) = self
            .company_and_known_patient(&request, &request.get_ref().bsn)
            .await?;
        let record = self
            .store
            .find(&company, &pseudoniem)
            .await?
            .ok_or(DossierError::NoDossierForPatient)?;
        Ok(CheckPermissionResponse {
            gave_permission: record.consent == Consent::Granted,
            consent: to_proto_consent(record.consent) as i32,
        })
    }

    async fn delete(
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

    async fn list(
        &self,
        request: Request<ListMyDossiersRequest>,
    ) -> Result<ListMyDossiersResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let limit = errors.check("page_size", page_size(input.page_size));
        let cursor = match input.page_token.as_str() {
            "" => Some(None),
            token => errors
                .check(
                    "page_token",
                    PageCursor::decode(token).ok_or("is not a token from a previous page"),
                )
                .map(Some),
        };
        let (Some(limit), Some(cursor)) = (limit, cursor) else {
            return Err(errors.into());
        };
        // One extra row tells whether another page follows.
        let mut records = self
            .store
            .list_for_patient(&pseudoniem, cursor.as_ref(), limit + 1)
            .await?;
        let more = records.len() as i64 > limit;
        records.truncate(usize::try_from(limit).unwrap_or_default());
        let next_page_token = match records.last() {
            Some(last) if more => PageCursor::after(last).encode(),
            _ => String::new(),
        };
        Ok(ListMyDossiersResponse {
            dossiers: records.into_iter().map(to_proto).collect(),
            next_page_token,
        })
    }

    async fn decide(
        &self,
        request: Request<SetConsentRequest>,
    ) -> Result<SetConsentResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let id = errors.check(
            "dossier_id",
            DossierId::parse(&input.dossier_id).ok_or("must be a dossier id (UUID)"),
        );
        let decision = errors.check("consent", decision(input.consent));
        // A missing value means its field was recorded as bad.
        let (Some(id), Some(decision)) = (id, decision) else {
            return Err(errors.into());
        };
        let consent = Consent::from(decision);
        let record = self
            .store
            .set_consent(id, &pseudoniem, consent)
            .await?
            .ok_or(DossierError::NotYourDossier)?;
        tracing::info!(dossier = %record.id, consent = consent.as_str(), "consent recorded");
        Ok(SetConsentResponse {
            dossier: Some(to_proto(record)),
        })
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
        Ok(Response::new(self.decide(request).await?))
    }
}

/// The decision a SetConsent request asks for: GRANTED or DECLINED only.
fn decision(value: i32) -> Result<Decision, &'static str> {
    match ConsentStatus::try_from(value) {
        Ok(ConsentStatus::Granted) => Ok(Decision::Grant),
        Ok(ConsentStatus::Declined) => Ok(Decision::Decline),
        _ => Err("must be CONSENT_STATUS_GRANTED or CONSENT_STATUS_DECLINED"),
    }
}

fn to_proto_consent(consent: Consent) -> ConsentStatus {
    match consent {
        Consent::Pending => ConsentStatus::Pending,
        Consent::Granted => ConsentStatus::Granted,
        Consent::Declined => ConsentStatus::Declined,
    }
}

fn timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: i32::try_from(millis.rem_euclid(1000) * 1_000_000).unwrap_or_default(),
    }
}

fn to_proto(record: DossierRecord) -> Dossier {
    Dossier {
        id: record.id.to_string(),
        company_name: record.company_name.to_string(),
        consent: to_proto_consent(record.consent) as i32,
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}
