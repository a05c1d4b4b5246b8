//! What Dossier asks Identity about companies, with its own Internal token
//! and the end user's token forwarded, as every hop does:
//!
//! - Identity's spelling of a name a patient typed (SetChoice,
//!   ClearChoice), so a choice names the company exactly as its dossiers
//!   and tokens do, whatever case the patient used;
//! - whether a company is verified, which a patient's default covers only.
//!   Asked only when a default would decide a dossier (no choice for the
//!   company stands in front of it), so CheckPermission with a company
//!   choice, or with none, never leaves Dossier's database.
//!
//! "Verified" answers are kept for [`VERIFIED_FOR`]: verification is an
//! operator's deliberate act that changes rarely, and a flood of
//! CheckPermission calls under a default must not become a flood on
//! Identity. "Not verified" is never kept, so a company an operator has
//! just verified is covered by the very next call. Withdrawing a
//! verification reaches every Dossier replica within [`VERIFIED_FOR`].

use std::time::{Duration, Instant};

use crate::clients::{Company, DependencyError, IdentityClient};
use crate::ids::CompanyName;
use crate::mesh::CallContext;

/// How long a "verified" answer is used before Identity is asked again.
pub const VERIFIED_FOR: Duration = Duration::from_secs(5);
/// Companies whose verification is kept at once; more are asked again.
const KEPT: usize = 10_000;

pub struct Companies {
    identity: IdentityClient,
    /// Company name → when Identity last said it is verified.
    verified: quick_cache::sync::Cache<CompanyName, Instant>,
}

impl Companies {
    pub fn new(identity: IdentityClient) -> Self {
        Self {
            identity,
            verified: quick_cache::sync::Cache::new(KEPT),
        }
    }

    /// The company registered under `name` in any case, if any.
    pub async fn find(
        &self,
        context: &CallContext,
        name: &CompanyName,
    ) -> Result<Option<Company>, DependencyError> {
        let company = self.identity.company(context, name).await?;
        if let Some(company) = company.as_ref().filter(|company| company.verified) {
            self.verified.insert(company.name.clone(), Instant::now());
        }
        Ok(company)
    }

    /// Whether the company named `name` (Identity's spelling, as dossiers
    /// hold it) is verified.
    pub async fn is_verified(
        &self,
        context: &CallContext,
        name: &CompanyName,
    ) -> Result<bool, DependencyError> {
        if self
            .verified
            .get(name)
            .is_some_and(|at| at.elapsed() < VERIFIED_FOR)
        {
            return Ok(true);
        }
        let verified = self
            .find(context, name)
            .await?
            .is_some_and(|company| company.verified);
        if !verified {
            self.verified.remove(name);
        }
        Ok(verified)
    }
}
