//! The dossiers table. Every query is scoped by the caller: a company by its
//! name, a patient by pseudoniem, so no call can reach another's rows.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row as _};

use super::model::{Consent, DossierRecord, PageCursor};
use crate::storage::{DbError, now_millis};

const COLUMNS: &str = "id, company_name, consent, create_time, update_time";

#[derive(Clone)]
pub struct DossierStore {
    pool: AnyPool,
}

impl DossierStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Creates the company's dossier for the patient unless it exists; `true`
    /// when this call created it. The unique (company, patient) pair settles
    /// concurrent creates: one insert wins, the rest read its row.
    pub async fn create(
        &self,
        company: &str,
        pseudoniem: &str,
    ) -> Result<(DossierRecord, bool), DbError> {
        let now = now_millis();
        let created = sqlx::query(
            "INSERT INTO dossiers (id, company_name, pseudoniem, consent, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (company_name, pseudoniem) DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(company)
        .bind(pseudoniem)
        .bind(Consent::Pending.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let record = self
            .find(company, pseudoniem)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok((record, created))
    }

    /// The company's dossier for the patient.
    pub async fn find(
        &self,
        company: &str,
        pseudoniem: &str,
    ) -> Result<Option<DossierRecord>, DbError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM dossiers WHERE company_name = $1 AND pseudoniem = $2"
        ))
        .bind(company)
        .bind(pseudoniem)
        .fetch_optional(&self.pool)
        .await?
        .map(record)
        .transpose()
    }

    /// Deletes the company's dossier for the patient; `false` when there was
    /// none.
    pub async fn delete(&self, company: &str, pseudoniem: &str) -> Result<bool, DbError> {
        let deleted =
            sqlx::query("DELETE FROM dossiers WHERE company_name = $1 AND pseudoniem = $2")
                .bind(company)
                .bind(pseudoniem)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(deleted > 0)
    }

    /// Up to `limit` of the patient's dossiers after `after`, oldest first.
    pub async fn list_for_patient(
        &self,
        pseudoniem: &str,
        after: Option<&PageCursor>,
        limit: i64,
    ) -> Result<Vec<DossierRecord>, DbError> {
        let rows = match after {
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM dossiers WHERE pseudoniem = $1 \
                     ORDER BY create_time, id LIMIT $2"
                ))
                .bind(pseudoniem)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some(cursor) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM dossiers WHERE pseudoniem = $1 \
                     AND (create_time > $2 OR (create_time = $2 AND id > $3)) \
                     ORDER BY create_time, id LIMIT $4"
                ))
                .bind(pseudoniem)
                .bind(cursor.create_time)
                .bind(&cursor.id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.into_iter().map(record).collect()
    }

    /// Records the patient's decision on one of their own dossiers; `None`
    /// when the id is not a dossier about this patient.
    pub async fn set_consent(
        &self,
        id: &str,
        pseudoniem: &str,
        consent: Consent,
    ) -> Result<Option<DossierRecord>, DbError> {
        let updated = sqlx::query(
            "UPDATE dossiers SET consent = $1, update_time = $2 WHERE id = $3 AND pseudoniem = $4",
        )
        .bind(consent.as_str())
        .bind(now_millis())
        .bind(id)
        .bind(pseudoniem)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM dossiers WHERE id = $1 AND pseudoniem = $2"
        ))
        .bind(id)
        .bind(pseudoniem)
        .fetch_optional(&self.pool)
        .await?
        .map(record)
        .transpose()
    }
}

fn record(row: AnyRow) -> Result<DossierRecord, DbError> {
    let consent: String = row.try_get("consent")?;
    Ok(DossierRecord {
        id: row.try_get("id")?,
        company_name: row.try_get("company_name")?,
        consent: Consent::parse(&consent)
            .ok_or_else(|| sqlx::Error::Decode("unknown consent value".into()))?,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}
