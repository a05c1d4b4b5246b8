//! The dossiers table. Every query is scoped by the caller: a company by its
//! name, a patient by pseudoniem, so no call can reach another's rows.
//!
//! On SQLite the two reads on a hot path (the consent look-up behind
//! CheckPermission, and a patient's list) run inline through
//! [`SqliteReads`]; the same SQL runs through sqlx on PostgreSQL. Both read
//! committed data as it is now, with no cache, so a Decline is seen by the
//! very next CheckPermission in every replica.

use std::sync::Arc;

use sqlx::AnyPool;

use crate::storage::SqliteReads;

use super::model::{Consent, DossierRecord, PageCursor};
use crate::ids::{CompanyName, DossierId, Pseudoniem};
use crate::storage::{Inserted, StorageError, now_millis, timed};

const COLUMNS: &str = "id, company_name, consent, create_time, update_time";

#[derive(Clone)]
pub struct DossierStore {
    pool: AnyPool,
    sqlite_reads: Option<Arc<SqliteReads>>,
}

impl DossierStore {
    pub fn new(pool: AnyPool, sqlite_reads: Option<Arc<SqliteReads>>) -> Self {
        Self { pool, sqlite_reads }
    }

    /// Creates the company's dossier for the patient unless it exists, and
    /// says which. The unique (company, patient) pair settles concurrent
    /// creates: one insert wins, the rest read its row.
    pub async fn create(
        &self,
        company: &CompanyName,
        pseudoniem: &Pseudoniem,
    ) -> Result<(DossierRecord, Inserted), StorageError> {
        let rows = timed("dossier", "create", sqlx::query(
            "INSERT INTO dossiers (id, company_name, pseudoniem, consent, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (company_name, pseudoniem) DO NOTHING",
        )
        .bind(DossierId::random().to_string())
        .bind(company.as_str())
        .bind(pseudoniem.as_str())
        .bind(Consent::Pending.as_str())
        .bind(now_millis())
        .execute(&self.pool))
        .await?
        .rows_affected();
        let record = self
            .find(company, pseudoniem)
            .await?
            .ok_or_else(StorageError::missing_row)?;
        Ok((record, Inserted::from_rows_affected(rows)))
    }

    /// The company's dossier for the patient.
    pub async fn find(
        &self,
        company: &CompanyName,
        pseudoniem: &Pseudoniem,
    ) -> Result<Option<DossierRecord>, StorageError> {
        const FIND: &str = "SELECT id, company_name, consent, create_time, update_time \
                            FROM dossiers WHERE company_name = $1 AND pseudoniem = $2";
        if let Some(reads) = &self.sqlite_reads {
            return timed("dossier", "find", async {
                reads.read(|db| {
                    use rusqlite::OptionalExtension as _;
                    db.prepare_cached(FIND)?
                        .query_row((company.as_str(), pseudoniem.as_str()), record_from_row)
                        .optional()
                })
            })
            .await;
        }
        Ok(timed(
            "dossier",
            "find",
            sqlx::query_as(FIND)
                .bind(company.as_str())
                .bind(pseudoniem.as_str())
                .fetch_optional(&self.pool),
        )
        .await?)
    }

    /// Deletes the company's dossier for the patient; `false` when there was
    /// none.
    pub async fn delete(
        &self,
        company: &CompanyName,
        pseudoniem: &Pseudoniem,
    ) -> Result<bool, StorageError> {
        let deleted = timed(
            "dossier",
            "delete",
            sqlx::query("DELETE FROM dossiers WHERE company_name = $1 AND pseudoniem = $2")
                .bind(company.as_str())
                .bind(pseudoniem.as_str())
                .execute(&self.pool),
        )
        .await?
        .rows_affected();
        Ok(deleted > 0)
    }

    /// Up to `limit` of the patient's dossiers after `after`, oldest first.
    pub async fn list_for_patient(
        &self,
        pseudoniem: &Pseudoniem,
        after: Option<&PageCursor>,
        limit: i64,
    ) -> Result<Vec<DossierRecord>, StorageError> {
        // The first page starts after the smallest possible cursor, so one
        // statement serves every page.
        const LIST: &str = "SELECT id, company_name, consent, create_time, update_time \
                            FROM dossiers WHERE pseudoniem = $1 \
                            AND (create_time > $2 OR (create_time = $2 AND id > $3)) \
                            ORDER BY create_time, id LIMIT $4";
        let (after_time, after_id) = match after {
            Some(cursor) => (cursor.create_time, cursor.id.to_string()),
            None => (i64::MIN, String::new()),
        };
        if let Some(reads) = &self.sqlite_reads {
            return timed("dossier", "list_for_patient", async {
                reads.read(|db| {
                    db.prepare_cached(LIST)?
                        .query_map(
                            (pseudoniem.as_str(), after_time, after_id.as_str(), limit),
                            record_from_row,
                        )?
                        .collect()
                })
            })
            .await;
        }
        Ok(timed(
            "dossier",
            "list_for_patient",
            sqlx::query_as(LIST)
                .bind(pseudoniem.as_str())
                .bind(after_time)
                .bind(after_id.as_str())
                .bind(limit)
                .fetch_all(&self.pool),
        )
        .await?)
    }

    /// Records the patient's decision on one of their own dossiers; `None`
    /// when the id is not a dossier about this patient. One statement, so
    /// the row answered is the row written, whatever runs beside it.
    pub async fn set_consent(
        &self,
        id: DossierId,
        pseudoniem: &Pseudoniem,
        consent: Consent,
    ) -> Result<Option<DossierRecord>, StorageError> {
        Ok(timed(
            "dossier",
            "set_consent",
            sqlx::query_as(&format!(
                "UPDATE dossiers SET consent = $1, update_time = $2 \
             WHERE id = $3 AND pseudoniem = $4 RETURNING {COLUMNS}"
            ))
            .bind(consent.as_str())
            .bind(now_millis())
            .bind(id.to_string())
            .bind(pseudoniem.as_str())
            .fetch_optional(&self.pool),
        )
        .await?)
    }
}

/// A row of the `SELECT {COLUMNS}` above, read by rusqlite: the same checks
/// as the `sqlx::FromRow` derive on [`DossierRecord`].
fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DossierRecord> {
    fn parsed<T: TryFrom<String, Error = &'static str>>(
        row: &rusqlite::Row<'_>,
        index: usize,
    ) -> rusqlite::Result<T> {
        T::try_from(row.get::<_, String>(index)?).map_err(|problem| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                problem.into(),
            )
        })
    }
    Ok(DossierRecord {
        id: parsed(row, 0)?,
        company_name: parsed(row, 1)?,
        consent: parsed(row, 2)?,
        create_time: row.get(3)?,
        update_time: row.get(4)?,
    })
}
