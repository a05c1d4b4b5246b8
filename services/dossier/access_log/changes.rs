//! The changes to Dossier's data that are written together with their log
//! entry, in the log's transaction: a dossier created or deleted, a choice
//! recorded or withdrawn. Because each commits with its entry, there is no
//! change without an entry and no entry for a change that did not happen.
//!
//! They run one at a time under the log's lock (SQLite's writer lock,
//! PostgreSQL's advisory lock), so a choice's next version number is taken
//! without a race, in every replica.

use sqlx::AnyConnection;

use crate::dossier::consent::{Millis, Stance};
use crate::dossier::model::Target;
use crate::ids::{CompanyName, DossierId, Pseudoniem};

/// A change that goes with a log entry.
#[derive(Debug, Clone)]
pub enum Change {
    /// Nothing but the entry (CheckPermission).
    None,
    /// The company's dossier for the patient, unless it exists.
    CreateDossier {
        id: DossierId,
        company: CompanyName,
        pseudoniem: Pseudoniem,
    },
    /// The company's dossier for the patient, if it exists.
    DeleteDossier {
        company: CompanyName,
        pseudoniem: Pseudoniem,
    },
    /// A new version of the patient's choice about `target`.
    RecordChoice {
        pseudoniem: Pseudoniem,
        target: Target,
        stance: Stance,
    },
    /// A withdrawal of the patient's current choice about `target`.
    WithdrawChoice {
        pseudoniem: Pseudoniem,
        target: Target,
    },
    /// The patient's first sign-in through the identity provider took over
    /// a password account: grants from before it await confirmation.
    RecordTakeover { pseudoniem: Pseudoniem },
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The entry alone was written.
    Logged,
    /// `true` when the dossier was created, `false` when it existed.
    Created(bool),
    /// `true` when a dossier was deleted, `false` when there was none.
    Deleted(bool),
    /// The choice's new version number.
    Recorded(i64),
    /// `true` when a current choice was withdrawn, `false` when there was
    /// none (then nothing is logged: nothing changed).
    Withdrawn(bool),
    /// `true` when the takeover was recorded now, `false` when an earlier
    /// one stands.
    TakenOver(bool),
}

impl Change {
    /// Applies the change on `connection`, inside the log's transaction, at
    /// `now`.
    pub async fn apply(
        &self,
        connection: &mut AnyConnection,
        now: Millis,
    ) -> Result<Outcome, sqlx::Error> {
        Ok(match self {
            Change::None => Outcome::Logged,
            Change::CreateDossier {
                id,
                company,
                pseudoniem,
            } => {
                let rows = sqlx::query(
                    "INSERT INTO dossiers (id, company_name, pseudoniem, create_time) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (company_name, pseudoniem) DO NOTHING",
                )
                .bind(id.to_string())
                .bind(company.as_str())
                .bind(pseudoniem.as_str())
                .bind(now)
                .execute(&mut *connection)
                .await?
                .rows_affected();
                Outcome::Created(rows == 1)
            }
            Change::DeleteDossier {
                company,
                pseudoniem,
            } => {
                let rows =
                    sqlx::query("DELETE FROM dossiers WHERE company_name = $1 AND pseudoniem = $2")
                        .bind(company.as_str())
                        .bind(pseudoniem.as_str())
                        .execute(&mut *connection)
                        .await?
                        .rows_affected();
                Outcome::Deleted(rows > 0)
            }
            Change::RecordChoice {
                pseudoniem,
                target,
                stance,
            } => {
                let (consent, expire_time) = stance.stored();
                let version: i64 = sqlx::query_scalar(
                    "INSERT INTO choice_versions \
                     (pseudoniem, company_name, version, consent, expire_time, create_time) \
                     SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 \
                     FROM choice_versions WHERE pseudoniem = $1 AND company_name = $2 \
                     RETURNING version",
                )
                .bind(pseudoniem.as_str())
                .bind(target.stored())
                .bind(consent)
                .bind(expire_time)
                .bind(now)
                .fetch_one(&mut *connection)
                .await?;
                Outcome::Recorded(version)
            }
            Change::WithdrawChoice { pseudoniem, target } => {
                // Only when the latest version stands (is not a withdrawal).
                let version: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO choice_versions \
                     (pseudoniem, company_name, version, consent, expire_time, create_time) \
                     SELECT pseudoniem, company_name, version + 1, 'CLEARED', \
                         CAST(NULL AS BIGINT), $3 \
                     FROM choice_versions WHERE pseudoniem = $1 AND company_name = $2 \
                     AND consent <> 'CLEARED' \
                     AND version = (SELECT MAX(version) FROM choice_versions \
                         WHERE pseudoniem = $1 AND company_name = $2) \
                     RETURNING version",
                )
                .bind(pseudoniem.as_str())
                .bind(target.stored())
                .bind(now)
                .fetch_optional(&mut *connection)
                .await?;
                Outcome::Withdrawn(version.is_some())
            }
            Change::RecordTakeover { pseudoniem } => {
                let rows = sqlx::query(
                    "INSERT INTO account_takeovers (pseudoniem, taken_over_at) VALUES ($1, $2) \
                     ON CONFLICT (pseudoniem) DO NOTHING",
                )
                .bind(pseudoniem.as_str())
                .bind(now)
                .execute(&mut *connection)
                .await?
                .rows_affected();
                Outcome::TakenOver(rows == 1)
            }
        })
    }
}
