//! The PseudoniemService handlers. Authorization happened in the verify
//! layer (Internal only); here: validate, resolve, and log who asked.

use tonic::{Request, Response, Status};

use super::store::PseudoniemStore;
use crate::auth::Caller;
use crate::bsn::Bsn;
use crate::errors::storage_failed;
use crate::proto::pseudoniem::v1::pseudoniem_service_server::PseudoniemService;
use crate::proto::pseudoniem::v1::{
    GetPseudoniemRequest, GetPseudoniemResponse, LookupPseudoniemRequest, LookupPseudoniemResponse,
};

pub struct PseudoniemApi {
    store: PseudoniemStore,
}

impl PseudoniemApi {
    pub fn new(store: PseudoniemStore) -> Self {
        Self { store }
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
        let caller = Caller::from_request(&request)?;
        let bsn = Bsn::from_field("bsn", &request.get_ref().bsn)?;
        let (pseudoniem, created) = self
            .store
            .get_or_create(&bsn)
            .await
            .map_err(storage_failed)?;
        audit(
            caller,
            "GetPseudoniem",
            if created { "created" } else { "existing" },
        );
        Ok(Response::new(GetPseudoniemResponse {
            pseudoniem,
            created,
        }))
    }

    async fn lookup_pseudoniem(
        &self,
        request: Request<LookupPseudoniemRequest>,
    ) -> Result<Response<LookupPseudoniemResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let bsn = Bsn::from_field("bsn", &request.get_ref().bsn)?;
        match self.store.lookup(&bsn).await.map_err(storage_failed)? {
            Some(pseudoniem) => {
                audit(caller, "LookupPseudoniem", "found");
                Ok(Response::new(LookupPseudoniemResponse { pseudoniem }))
            }
            None => {
                audit(caller, "LookupPseudoniem", "not_found");
                Err(Status::not_found("this BSN has no pseudoniem"))
            }
        }
    }
}
