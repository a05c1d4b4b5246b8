//! Reading the decision feed (`decision_changes`) and finding the grants
//! that expire.

use sqlx::Row as _;

use super::DossierStore;
use crate::dossier::access_log::entry::{parse_consent, parse_reason};
use crate::dossier::consent::{Consent, Millis, Reason};
use crate::ids::{CompanyName, DossierId, Pseudoniem};
use crate::storage::{StorageError, timed};

/// One change of the decision about a dossier, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    /// Its place in the feed: every replica numbers one sequence, in
    /// commit order (the rows are written under the access log's lock).
    pub seq: i64,
    pub dossier_id: DossierId,
    pub consent: Consent,
    pub gave_permission: bool,
    pub reason: Reason,
    pub change_time: Millis,
}

impl DossierStore {
    /// The newest change's place in the feed (0 when there is none).
    pub async fn feed_end(&self) -> Result<i64, StorageError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM decision_changes")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Up to `limit` of `company`'s changes after `after`, in order.
    pub async fn feed_after(
        &self,
        company: &CompanyName,
        after: i64,
        limit: i64,
    ) -> Result<Vec<FeedRow>, StorageError> {
        let rows = timed(
            "dossier",
            "feed_after",
            sqlx::query(
                "SELECT seq, dossier_id, consent, gave_permission, reason, change_time \
                 FROM decision_changes WHERE company_name = $1 AND seq > $2 \
                 ORDER BY seq LIMIT $3",
            )
            .bind(company.as_str())
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool),
        )
        .await?;
        rows.iter().map(feed_row).collect()
    }

    /// The current grants that expired in `(after, until]`: whose
    /// decisions changed then. `(patient, company)`, the company `None`
    /// for the patient's default.
    pub async fn expired_grants(
        &self,
        after: Millis,
        until: Millis,
    ) -> Result<Vec<(Pseudoniem, Option<CompanyName>)>, StorageError> {
        let rows: Vec<(String, String)> = timed(
            "dossier",
            "expired_grants",
            sqlx::query_as(
                "SELECT v.pseudoniem, v.company_name FROM choice_versions v \
                 WHERE v.consent = 'GRANTED' AND v.expire_time > $1 AND v.expire_time <= $2 \
                 AND v.version = (SELECT MAX(version) FROM choice_versions \
                     WHERE pseudoniem = v.pseudoniem AND company_name = v.company_name)",
            )
            .bind(after)
            .bind(until)
            .fetch_all(&self.pool),
        )
        .await?;
        rows.into_iter()
            .map(|(pseudoniem, company)| {
                let pseudoniem =
                    Pseudoniem::parse(&pseudoniem).ok_or_else(StorageError::malformed_row)?;
                let company = match company.as_str() {
                    "" => None,
                    name => {
                        Some(CompanyName::parse(name).map_err(|_| StorageError::malformed_row())?)
                    }
                };
                Ok((pseudoniem, company))
            })
            .collect()
    }
}

/// A row of `decision_changes`, its values checked.
fn feed_row(row: &sqlx::any::AnyRow) -> Result<FeedRow, StorageError> {
    let malformed = StorageError::malformed_row;
    Ok(FeedRow {
        seq: row.try_get(0)?,
        dossier_id: DossierId::parse(&row.try_get::<String, _>(1)?).ok_or_else(malformed)?,
        consent: parse_consent(&row.try_get::<String, _>(2)?)
            .flatten()
            .ok_or_else(malformed)?,
        gave_permission: row.try_get::<i64, _>(3)? != 0,
        reason: parse_reason(&row.try_get::<String, _>(4)?)
            .flatten()
            .ok_or_else(malformed)?,
        change_time: row.try_get(5)?,
    })
}
