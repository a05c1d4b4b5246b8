//! The PseudoniemService handlers. Authorization happened in the verify
//! layer (Internal only); here: validate, resolve, and log who asked.

use tonic::{Request, Response, Status};

use super::error::PseudoniemError;
use super::store::PseudoniemStore;
use crate::auth::Caller;
use crate::bsn::Bsn;
use crate::proto::pseudoniem::v1::pseudoniem_service_server::PseudoniemService;
use crate::proto::pseudoniem::v1::{
    GetPseudoniemRequest, GetPseudoniemResponse, LookupPseudoniemRequest, LookupPseudoniemResponse,
};
use crate::storage::Inserted;

pub struct PseudoniemApi {
    store: PseudoniemStore,
}

impl PseudoniemApi {
    pub fn new(store: PseudoniemStore) -> Self {
        Self { store }
    }

    async fn get(
        &self,
        request: Request<GetPseudoniemRequest>,
    ) -> Result<GetPseudoniemResponse, PseudoniemError> {
        let caller = Caller::from_request(&request)?;
        let bsn = Bsn::from_field("bsn", &request.get_ref().bsn)?;
        let (pseudoniem, inserted) = self.store.get_or_create(&bsn).await?;
        let created = inserted == Inserted::Created;
        audit(
            caller,
            "GetPseudoniem",
            if created { "created" } else { "existing" },
        );
        Ok(GetPseudoniemResponse {
            pseudoniem: pseudoniem.to_string(),
            created,
        })
    }

    async fn lookup(
        &self,
        request: Request<LookupPseudoniemRequest>,
    ) -> Result<LookupPseudoniemResponse, PseudoniemError> {
        let caller = Caller::from_request(&request)?;
        let bsn = Bsn::from_field("bsn", &request.get_ref().bsn)?;
        let found = self.store.lookup(&bsn).await?;
        audit(
            caller,
            "LookupPseudoniem",
            if found.is_some() {
                "found"
            } else {
                "not_found"
            },
        );
        let pseudoniem = found.ok_or(PseudoniemError::NotFound)?;
        Ok(LookupPseudoniemResponse {
            pseudoniem: pseudoniem.to_string(),
        })
    }
}

/// The audit line: which service asked, for which end user. No BSN.
fn audit(caller: &Caller, rpc: &'static str, outcome: &'static str) {
    let end_user = caller
        .on_behalf_of
        .as_ref()
        .map(|p| format!("{}:{}", p.role, p.subject));
    tracing::info!(
        rpc,
        outcome,
        caller = %caller.principal.subject,
        on_behalf_of = end_user.as_deref().unwrap_or("-"),
        "pseudoniem request"
    );
}

#[tonic::async_trait]
impl PseudoniemService for PseudoniemApi {
    async fn get_pseudoniem(
        &self,
        request: Request<GetPseudoniemRequest>,
    ) -> Result<Response<GetPseudoniemResponse>, Status> {
        Ok(Response::new(self.get(request).await?))
    }

    async fn lookup_pseudoniem(
        &self,
        request: Request<LookupPseudoniemRequest>,
    ) -> Result<Response<LookupPseudoniemResponse>, Status> {
        Ok(Response::new(self.lookup(request).await?))
    }
}
