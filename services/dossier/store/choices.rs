//! The patients' choices: `choice_versions`, append-only, read here.
//!
//! A choice is never updated or deleted: every change is a new version
//! (1, 2, 3, … per patient and target), and withdrawing a choice appends a
//! `CLEARED` version. The current choice is the latest version unless it is
//! `CLEARED`; a version's `replace_time` is when the next one was made.
//! Triggers in the schema refuse UPDATE and DELETE on both engines, so not
//! even a bug can rewrite a patient's history.
//!
//! Versions are written with their access log entry, in the log's
//! transaction (`access_log::changes`): one at a time under the log's lock,
//! so each takes the next number in commit order, the last committed is the
//! current choice, and no change is lost.

use super::DossierStore;
use crate::dossier::consent::Latest;
use crate::dossier::model::{ChoiceCursor, ChoiceVersion, Target};
use crate::ids::Pseudoniem;
use crate::storage::{StorageError, timed};

/// The patient's versions after a position, newest first: every version
/// (`$2` = 1) or only the current choices, never the `CLEARED` markers
/// (they show as the `replace_time` of the version they withdrew).
const LIST: &str = "SELECT v.company_name, v.version, v.consent, v.expire_time, v.create_time, \
     (SELECT n.create_time FROM choice_versions n WHERE n.pseudoniem = v.pseudoniem \
         AND n.company_name = v.company_name AND n.version = v.version + 1) \
     FROM choice_versions v \
     WHERE v.pseudoniem = $1 AND v.consent <> 'CLEARED' \
     AND ($2 = 1 OR NOT EXISTS (SELECT 1 FROM choice_versions n \
         WHERE n.pseudoniem = v.pseudoniem AND n.company_name = v.company_name \
         AND n.version > v.version)) \
     AND (v.create_time < $3 OR (v.create_time = $3 AND (v.company_name > $4 \
         OR (v.company_name = $4 AND v.version < $5)))) \
     ORDER BY v.create_time DESC, v.company_name, v.version DESC LIMIT $6";

impl DossierStore {
    /// Up to `limit` of the patient's choice versions after `after`,
    /// newest first: the current choices, or with `history` every version.
    pub async fn list_choices(
        &self,
        pseudoniem: &Pseudoniem,
        history: bool,
        after: &ChoiceCursor,
        limit: i64,
    ) -> Result<Vec<ChoiceVersion>, StorageError> {
        type Row = (String, i64, String, Option<i64>, i64, Option<i64>);
        let rows: Vec<Row> = timed(
            "dossier",
            "list_choices",
            sqlx::query_as(LIST)
                .bind(pseudoniem.as_str())
                .bind(i64::from(history))
                .bind(after.recorded)
                .bind(after.company_name.as_str())
                .bind(after.version)
                .bind(limit)
                .fetch_all(&self.pool),
        )
        .await?;
        rows.into_iter()
            .map(
                |(company_name, version, consent, expire_time, recorded, replaced)| {
                    let stance = Latest::from_stored(&consent, expire_time, recorded)
                        .and_then(|latest| latest.stance)
                        .ok_or_else(StorageError::malformed_row)?;
                    Ok(ChoiceVersion {
                        target: Target::from_stored(company_name)
                            .ok_or_else(StorageError::malformed_row)?,
                        version,
                        stance,
                        recorded,
                        replaced,
                    })
                },
            )
            .collect()
    }
}
