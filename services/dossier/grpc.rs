//! The DossierService handlers. The verify layer admitted only the roles in
//! the proto; each handler scopes its query to the caller it was given.

use tonic::{Request, Response, Status};

use super::model::{Consent, DossierRecord, PageCursor, page_size};
use super::store::DossierStore;
use crate::auth::{Caller, Role};
use crate::bsn::Bsn;
use crate::errors::{invalid_field, storage_failed};
use crate::mesh::CallContext;
use crate::proto::dossier::v1::dossier_service_server::DossierService;
use crate::proto::dossier::v1::*;
use crate::pseudoniem::PseudoniemClient;

const NO_DOSSIER: &str = "your company has no dossier for this patient";

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
    fn company_and_bsn<T>(request: &Request<T>, bsn: &str) -> Result<(String, Bsn), Status> {
        let company = Caller::from_request(request)?
            .subject_as(Role::HealthcareCompany)?
            .to_owned();
        Ok((company, Bsn::from_field("bsn", bsn)?))
    }

    /// The calling company and the pseudoniem of the patient it names, or
    /// `None` for a patient the mesh has never seen (so no dossier exists).
    async fn company_and_existing_patient<T>(
        &self,
        request: &Request<T>,
        bsn: &str,
    ) -> Result<(String, Option<String>), Status> {
        let (company, bsn) = Self::company_and_bsn(request, bsn)?;
        let pseudoniem = self
            .pseudoniemen
            .lookup(&CallContext::of(request), &bsn)
            .await?;
        Ok((company, pseudoniem))
    }
}

#[tonic::async_trait]
impl DossierService for DossierApi {
    async fn create_dossier(
        &self,
        request: Request<CreateDossierRequest>,
    ) -> Result<Response<CreateDossierResponse>, Status> {
        let (company, bsn) = Self::company_and_bsn(&request, &request.get_ref().bsn)?;
        let (pseudoniem, _) = self
            .pseudoniemen
            .get(&CallContext::of(&request), &bsn)
            .await?;
        let (record, created) = self
            .store
            .create(&company, &pseudoniem)
            .await
            .map_err(storage_failed)?;
        if created {
            tracing::info!(company = %company, dossier = %record.id, "dossier created");
        }
        Ok(Response::new(CreateDossierResponse {
            dossier: Some(to_proto(record)),
            created,
        }))
    }

    async fn check_permission(
        &self,
        request: Request<CheckPermissionRequest>,
    ) -> Result<Response<CheckPermissionResponse>, Status> {
        let (company, pseudoniem) = self
            .company_and_existing_patient(&request, &request.get_ref().bsn)
            .await?;
        let Some(pseudoniem) = pseudoniem else {
            return Err(Status::not_found(NO_DOSSIER));
        };
        let record = self
            .store
            .find(&company, &pseudoniem)
            .await
            .map_err(storage_failed)?
            .ok_or_else(|| Status::not_found(NO_DOSSIER))?;
        Ok(Response::new(CheckPermissionResponse {
            gave_permission: record.consent == Consent::Granted,
            consent: to_proto_consent(record.consent) as i32,
        }))
    }

    async fn delete_dossier(
        &self,
        request: Request<DeleteDossierRequest>,
    ) -> Result<Response<DeleteDossierResponse>, Status> {
        let (company, pseudoniem) = self
            .company_and_existing_patient(&request, &request.get_ref().bsn)
            .await?;
        let Some(pseudoniem) = pseudoniem else {
            return Err(Status::not_found(NO_DOSSIER));
        };
        if !self
            .store
            .delete(&company, &pseudoniem)
            .await
            .map_err(storage_failed)?
        {
            return Err(Status::not_found(NO_DOSSIER));
        }
        tracing::info!(company = %company, "dossier deleted");
        Ok(Response::new(DeleteDossierResponse {}))
    }

    async fn list_my_dossiers(
        &self,
        request: Request<ListMyDossiersRequest>,
    ) -> Result<Response<ListMyDossiersResponse>, Status> {
        let pseudoniem = Caller::from_request(&request)?
            .subject_as(Role::Patient)?
            .to_owned();
        let input = request.get_ref();
        let limit = page_size(input.page_size).map_err(|rule| invalid_field("page_size", rule))?;
        let cursor = match input.page_token.as_str() {
            "" => None,
            token => Some(PageCursor::decode(token).ok_or_else(|| {
                invalid_field("page_token", "is not a token from a previous page")
            })?),
        };
        // One extra row tells whether another page follows.
        let mut records = self
            .store
            .list_for_patient(&pseudoniem, cursor.as_ref(), limit + 1)
            .await
            .map_err(storage_failed)?;
        let more = records.len() as i64 > limit;
        records.truncate(limit as usize);
        let next_page_token = match records.last() {
            Some(last) if more => PageCursor::after(last).encode(),
            _ => String::new(),
        };
        Ok(Response::new(ListMyDossiersResponse {
            dossiers: records.into_iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn set_consent(
        &self,
        request: Request<SetConsentRequest>,
    ) -> Result<Response<SetConsentResponse>, Status> {
        let pseudoniem = Caller::from_request(&request)?
            .subject_as(Role::Patient)?
            .to_owned();
        let input = request.get_ref();
        let mut errors = crate::errors::FieldErrors::new();
        let id = errors.check(
            "dossier_id",
            uuid::Uuid::try_parse(&input.dossier_id).map_err(|_| "must be a dossier id (UUID)"),
        );
        let consent = errors.check(
            "consent",
            match ConsentStatus::try_from(input.consent) {
                Ok(ConsentStatus::Granted) => Ok(Consent::Granted),
                Ok(ConsentStatus::Declined) => Ok(Consent::Declined),
                _ => Err("must be CONSENT_STATUS_GRANTED or CONSENT_STATUS_DECLINED"),
            },
        );
        errors.into_result()?;
        let (Some(id), Some(consent)) = (id, consent) else {
            return Err(Status::internal("field validation lost a value"));
        };
        let record = self
            .store
            .set_consent(&id.to_string(), &pseudoniem, consent)
            .await
            .map_err(storage_failed)?
            .ok_or_else(|| Status::not_found("you have no dossier with this id"))?;
        tracing::info!(dossier = %record.id, consent = consent.as_str(), "consent recorded");
        Ok(Response::new(SetConsentResponse {
            dossier: Some(to_proto(record)),
        }))
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
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn to_proto(record: DossierRecord) -> Dossier {
    Dossier {
        id: record.id,
        company_name: record.company_name,
        consent: to_proto_consent(record.consent) as i32,
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}
