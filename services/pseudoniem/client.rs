//! The typed Pseudoniem client that Identity and Dossier use.
//!
//! It sits on a forwarding channel: every call carries the service's own
//! Internal token, the end user's token, the request id and the remaining
//! deadline, set by the forward layer from the [`CallContext`] passed in.
//! Failures other than NOT_FOUND on a lookup become UNAVAILABLE or
//! DEADLINE_EXCEEDED for the caller, never an auth error.

use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::auth::{Forwarding, InternalTokenSource};
use crate::bsn::Bsn;
use crate::config::ConfigError;
use crate::errors::dependency_failed;
use crate::mesh::CallContext;
use crate::mesh::client::forwarding_channel;
use crate::proto::pseudoniem::v1::pseudoniem_service_client::PseudoniemServiceClient;
use crate::proto::pseudoniem::v1::{GetPseudoniemRequest, LookupPseudoniemRequest};

const DEPENDENCY: &str = "the Pseudoniem service";

#[derive(Clone)]
pub struct PseudoniemClient {
    inner: PseudoniemServiceClient<Forwarding<Channel>>,
}

impl PseudoniemClient {
    /// A client for the service at `url`, authenticating with `tokens`.
    pub fn new(
        url: &str,
        tokens: InternalTokenSource,
        max_call_time: Duration,
    ) -> Result<Self, ConfigError> {
        let channel = forwarding_channel(url, Some(tokens), max_call_time)?;
        Ok(Self {
            inner: PseudoniemServiceClient::new(channel).max_decoding_message_size(64 * 1024),
        })
    }

    /// The BSN's pseudoniem, created when new; `true` when created.
    pub async fn get(&self, context: &CallContext, bsn: &Bsn) -> Result<(String, bool), Status> {
        let request = context.request(GetPseudoniemRequest {
            bsn: bsn.expose().to_owned(),
        });
        let response = self
            .inner
            .clone()
            .get_pseudoniem(request)
            .await
            .map_err(|status| dependency_failed(DEPENDENCY, status))?
            .into_inner();
        Ok((response.pseudoniem, response.created))
    }

    /// The BSN's pseudoniem if it exists; never creates one.
    pub async fn lookup(&self, context: &CallContext, bsn: &Bsn) -> Result<Option<String>, Status> {
        let request = context.request(LookupPseudoniemRequest {
            bsn: bsn.expose().to_owned(),
        });
        match self.inner.clone().lookup_pseudoniem(request).await {
            Ok(response) => Ok(Some(response.into_inner().pseudoniem)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(dependency_failed(DEPENDENCY, status)),
        }
    }
}
