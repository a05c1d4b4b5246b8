//! The typed Pseudoniem client that Identity and Dossier use.
//!
//! It sits on a forwarding channel: every call carries the service's own
//! Internal token, the end user's token, the request id and the remaining
//! deadline, set by the client layers from the [`CallContext`] passed in.
//! Failures other than NOT_FOUND on a lookup become a [`DependencyError`]
//! (UNAVAILABLE or DEADLINE_EXCEEDED for the caller), never an auth error.

use std::time::Duration;

use tonic::Code;

use super::error::DependencyError;
use crate::auth::{Credentials, InternalTokenSource};
use crate::bsn::Bsn;
use crate::ids::Pseudoniem;
use crate::mesh::CallContext;
use crate::mesh::client::{MeshChannel, mesh_channel};
use crate::proto::pseudoniem::v1::pseudoniem_service_client::PseudoniemServiceClient;
use crate::proto::pseudoniem::v1::{GetPseudoniemRequest, LookupPseudoniemRequest};
use crate::settings::ConfigError;

const SERVICE: &str = "pseudoniem";

#[derive(Clone)]
pub struct PseudoniemClient {
    inner: PseudoniemServiceClient<MeshChannel>,
}

impl PseudoniemClient {
    /// A client for the service at `url`, authenticating with `tokens`.
    pub fn new(
        url: &str,
        tokens: InternalTokenSource,
        max_call_time: Duration,
    ) -> Result<Self, ConfigError> {
        let channel = mesh_channel(url, Credentials::Service(tokens), max_call_time)?;
        Ok(Self {
            inner: PseudoniemServiceClient::new(channel).max_decoding_message_size(64 * 1024),
        })
    }

    /// The BSN's pseudoniem, created when new.
    pub async fn get(
        &self,
        context: &CallContext,
        bsn: &Bsn,
    ) -> Result<Pseudoniem, DependencyError> {
        let request = context.request(GetPseudoniemRequest {
            bsn: bsn.expose().to_owned(),
        });
        let response = self
            .inner
            .clone()
            .get_pseudoniem(request)
            .await
            .map_err(|status| DependencyError::from_status(SERVICE, &status))?
            .into_inner();
        checked(&response.pseudoniem)
    }

    /// The BSN's pseudoniem if it exists; never creates one.
    pub async fn lookup(
        &self,
        context: &CallContext,
        bsn: &Bsn,
    ) -> Result<Option<Pseudoniem>, DependencyError> {
        let request = context.request(LookupPseudoniemRequest {
            bsn: bsn.expose().to_owned(),
        });
        match self.inner.clone().lookup_pseudoniem(request).await {
            Ok(response) => checked(&response.into_inner().pseudoniem).map(Some),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(DependencyError::from_status(SERVICE, &status)),
        }
    }
}

/// A pseudoniem from the wire, checked before anything stores it.
fn checked(value: &str) -> Result<Pseudoniem, DependencyError> {
    Pseudoniem::parse(value).ok_or(DependencyError::Unavailable {
        service: SERVICE,
        why: "answered with a malformed pseudoniem",
    })
}
