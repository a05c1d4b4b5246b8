//! The dossiers table. Every query is scoped by the caller: a company by its
//! name, a patient by pseudoniem, so no call can reach another's rows.

use sqlx::AnyPool;

use super::model::{Consent, DossierRecord, PageCursor};
use crate::ids::{CompanyName, DossierId, Pseudoniem};
use crate::storage::{Inserted, StorageError, now_millis};

const COLUMNS: &str = "id, company_name, consent, create_time, update_time";

#[derive(Clone)]
pub struct DossierStore {
    pool: AnyPool,
}

impl DossierStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Creates the company's dossier for the patient unless it exists, and
    /// says which. The unique (company, patient) pair settles concurrent
    /// creates: one insert wins, the rest read its row.
    pub async fn create(
        &self,
        company: &CompanyName,
        pseudoniem: &Pseudoniem,
    ) -> Result<(DossierRecord, Inserted), StorageError> {
        let rows = sqlx::query(
            "INSERT INTO dossiers (id, company_name, pseudoniem, consent, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (company_name, pseudoniem) DO NOTHING",
        )
        .bind(DossierId::random().to_string())
        .bind(company.as_str())
        .bind(pseudoniem.as_str())
        .bind(Consent::Pending.as_str())
        .bind(now_millis())
        .execute(&self.pool)
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
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM dossiers WHERE company_name = $1 AND pseudoniem = $2"
        ))
        .bind(company.as_str())
        .bind(pseudoniem.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Deletes the company's dossier for the patient; `false` when there was
    /// none.
    pub async fn delete(
        &self,
        company: &CompanyName,
        pseudoniem: &Pseudoniem,
    ) -> Result<bool, StorageError> {
        let deleted =
            sqlx::query("DELETE FROM dossiers WHERE company_name = $1 AND pseudoniem = $2")
                .bind(company.as_str())
                .bind(pseudoniem.as_str())
                .execute(&self.pool)
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
        let records = match after {
            None => {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM dossiers WHERE pseudoniem = $1 \
                     ORDER BY create_time, id LIMIT $2"
                ))
                .bind(pseudoniem.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some(cursor) => {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM dossiers WHERE pseudoniem = $1 \
                     AND (create_time > $2 OR (create_time = $2 AND id > $3)) \
                     ORDER BY create_time, id LIMIT $4"
                ))
                .bind(pseudoniem.as_str())
                .bind(cursor.create_time)
                .bind(cursor.id.to_string())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(records)
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
        Ok(sqlx::query_as(&format!(
            "UPDATE dossiers SET consent = $1, update_time = $2 \
             WHERE id = $3 AND pseudoniem = $4 RETURNING {COLUMNS}"
        ))
        .bind(consent.as_str())
        .bind(now_millis())
        .bind(id.to_string())
        .bind(pseudoniem.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }
}
