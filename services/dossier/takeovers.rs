//! RecordAccountTakeover: Identity's word that a patient's first sign-in
//! through the identity provider took over a password account. Anyone who
//! knew the BSN could have made that account and granted access with it, so
//! from this moment every grant recorded before it awaits the patient's
//! confirmation (`consent::Choices::confirmed_since`): it denies until the
//! patient grants again. The patient's watchers of every dossier see the
//! changed decisions at once.

use tonic::Request;

use super::access_log::{Change, Outcome, Republish};
use super::error::DossierError;
use super::grpc::DossierApi;
use crate::errors::FieldErrors;
use crate::ids::Pseudoniem;
use crate::mesh::CallContext;
use crate::proto::dossier::v1::{RecordAccountTakeoverRequest, RecordAccountTakeoverResponse};

impl DossierApi {
    pub(super) async fn record_takeover(
        &self,
        request: Request<RecordAccountTakeoverRequest>,
    ) -> Result<RecordAccountTakeoverResponse, DossierError> {
        let pseudoniem = Pseudoniem::parse(&request.get_ref().pseudoniem)
            .ok_or_else(|| FieldErrors::one("pseudoniem", "must be a pseudoniem (UUID)"))?;
        let change = Change::RecordTakeover {
            pseudoniem: pseudoniem.clone(),
        };
        let outcome = self
            .write(
                &CallContext::of(&request),
                change,
                None,
                Some(Republish::patient(&pseudoniem)),
            )
            .await?;
        if outcome == Outcome::TakenOver(true) {
            tracing::warn!(
                patient = %pseudoniem,
                "account taken over by the patient's sign-in through the identity provider: \
                 earlier grants await the patient's confirmation"
            );
        }
        Ok(RecordAccountTakeoverResponse {})
    }
}
