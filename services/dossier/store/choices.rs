//! The patients' choices: `choice_versions`, append-only.
//!
//! A choice is never updated or deleted: every change is a new version
//! (1, 2, 3, … per patient and target), and withdrawing a choice appends a
//! `CLEARED` version. The current choice is the latest version unless it is
//! `CLEARED`; a version's `replace_time` is when the next one was made.
//! Triggers in the schema refuse UPDATE and DELETE on both engines, so not
//! even a bug in this file can rewrite a patient's history.
//!
//! Concurrent changes to one choice: each insert takes the next version
//! number in the same statement. On SQLite the writer lock orders them; on
//! PostgreSQL two inserts may pick the same number, the primary key lets
//! one commit and the other fail, and the loser tries again with the next
//! number. So the versions are in commit order, the last committed is the
//! current choice, and no change is lost.

use super::DossierStore;
use crate::dossier::consent::{Latest, Millis, Stance};
use crate::dossier::model::{ChoiceCursor, ChoiceVersion, Target};
use crate::ids::Pseudoniem;
use crate::storage::{StorageError, timed};

/// How often an append is tried again after losing a race for its version
/// number; each loss means another change committed, so this many in a row
/// would take that many concurrent changes to one choice.
const MAX_ATTEMPTS: usize = 16;

/// A new version after the latest (or the first).
const APPEND: &str = "INSERT INTO choice_versions \
     (pseudoniem, company_name, version, consent, expire_time, create_time) \
     SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 FROM choice_versions \
     WHERE pseudoniem = $1 AND company_name = $2 RETURNING version";

/// A `CLEARED` version after the latest, only when the latest stands.
const WITHDRAW: &str = "INSERT INTO choice_versions \
     (pseudoniem, company_name, version, consent, expire_time, create_time) \
     SELECT pseudoniem, company_name, version + 1, 'CLEARED', CAST(NULL AS BIGINT), $3 \
     FROM choice_versions WHERE pseudoniem = $1 AND company_name = $2 AND consent <> 'CLEARED' \
     AND version = (SELECT MAX(version) FROM choice_versions \
         WHERE pseudoniem = $1 AND company_name = $2) RETURNING version";

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
    /// Records the patient's `stance` about `target` as a new version; its
    /// version number.
    pub async fn record_choice(
        &self,
        pseudoniem: &Pseudoniem,
        target: &Target,
        stance: Stance,
        recorded: Millis,
    ) -> Result<i64, StorageError> {
        let (consent, expire_time) = stance.stored();
        self.append(|| {
            sqlx::query_scalar(APPEND)
                .bind(pseudoniem.as_str())
                .bind(target.stored())
                .bind(consent)
                .bind(expire_time)
                .bind(recorded)
        })
        .await?
        .ok_or_else(StorageError::missing_row)
    }

    /// Withdraws the patient's current choice about `target`; `false` when
    /// there is none (never made, or already withdrawn).
    pub async fn withdraw_choice(
        &self,
        pseudoniem: &Pseudoniem,
        target: &Target,
        recorded: Millis,
    ) -> Result<bool, StorageError> {
        let withdrawn = self
            .append(|| {
                sqlx::query_scalar(WITHDRAW)
                    .bind(pseudoniem.as_str())
                    .bind(target.stored())
                    .bind(recorded)
            })
            .await?;
        Ok(withdrawn.is_some())
    }

    /// Runs an appending insert, again while it loses the race for its
    /// version number; the version it wrote, if it wrote one.
    async fn append<'q>(
        &self,
        insert: impl Fn() -> sqlx::query::QueryScalar<'q, sqlx::Any, i64, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Option<i64>, StorageError> {
        let mut attempt = 1;
        loop {
            match timed(
                "dossier",
                "append_choice",
                insert().fetch_optional(&self.pool),
            )
            .await
            {
                Ok(version) => return Ok(version),
                Err(error)
                    if attempt < MAX_ATTEMPTS
                        && error
                            .as_database_error()
                            .is_some_and(|e| e.is_unique_violation()) =>
                {
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

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
