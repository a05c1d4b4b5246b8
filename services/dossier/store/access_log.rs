//! Reading the access log: a patient's own entries, newest first.

use sqlx::Row as _;

use super::DossierStore;
use crate::dossier::access_log::entry::{Action, Actor, Entry, parse_consent, parse_reason};
use crate::dossier::consent::Millis;
use crate::ids::Pseudoniem;
use crate::storage::{StorageError, timed};

/// Which of a patient's entries to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// From this moment (inclusive).
    pub start: Millis,
    /// Until this moment (exclusive).
    pub end: Millis,
    /// One company's, by its lowercased name; empty for all.
    pub company_key: String,
}

/// An entry as the log holds it, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEntry {
    pub id: i64,
    pub entry: Entry,
}

impl DossierStore {
    /// Up to `limit` of the patient's entries with an id below `before`,
    /// newest first.
    pub async fn list_access_log(
        &self,
        pseudoniem: &Pseudoniem,
        filter: &LogFilter,
        before: i64,
        limit: i64,
    ) -> Result<Vec<LoggedEntry>, StorageError> {
        let rows = timed(
            "dossier",
            "list_access_log",
            sqlx::query(
                "SELECT id, entry_time, action, company_name, actor, on_behalf_of, refused, \
                 gave_permission, consent, reason, request_id FROM access_log \
                 WHERE pseudoniem = $1 AND id < $2 AND entry_time >= $3 AND entry_time < $4 \
                 AND ($5 = '' OR company_key = $5) ORDER BY id DESC LIMIT $6",
            )
            .bind(pseudoniem.as_str())
            .bind(before)
            .bind(filter.start)
            .bind(filter.end)
            .bind(filter.company_key.as_str())
            .bind(limit)
            .fetch_all(&self.pool),
        )
        .await?;
        rows.into_iter()
            .map(|row| -> Result<LoggedEntry, StorageError> {
                let text = |index: usize| row.try_get::<String, _>(index);
                let malformed = StorageError::malformed_row;
                Ok(LoggedEntry {
                    id: row.try_get(0)?,
                    entry: Entry {
                        time: row.try_get(1)?,
                        action: Action::parse(&text(2)?).ok_or_else(malformed)?,
                        pseudoniem: pseudoniem.clone(),
                        company_name: text(3)?,
                        actor: Actor::parse(&text(4)?).ok_or_else(malformed)?,
                        on_behalf_of: text(5)?,
                        refused: row.try_get::<i64, _>(6)? != 0,
                        gave_permission: row.try_get::<i64, _>(7)? != 0,
                        consent: parse_consent(&text(8)?).ok_or_else(malformed)?,
                        reason: parse_reason(&text(9)?).ok_or_else(malformed)?,
                        request_id: text(10)?,
                    },
                })
            })
            .collect()
    }
}
