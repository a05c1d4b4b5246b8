//! Identity's tables: patients (by pseudoniem) and companies.

use sqlx::{AnyPool, Row as _};

use crate::storage::{DbError, is_unique_violation, now_millis};

/// A patient row, as login and profile need it.
pub struct PatientRecord {
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
}

/// A company row, as token issuing needs it.
pub struct CompanyRecord {
    pub name: String,
    pub secret_hash: String,
}

/// Whether an insert created the row or hit an existing one.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    Created,
    AlreadyExists,
}

#[derive(Clone)]
pub struct IdentityStore {
    pool: AnyPool,
}

impl IdentityStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn patient_exists(&self, pseudoniem: &str) -> Result<bool, DbError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT pseudoniem FROM patients WHERE pseudoniem = $1")
                .bind(pseudoniem)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Inserts a patient; the primary key settles a race between two
    /// registrations of one BSN.
    pub async fn insert_patient(
        &self,
        pseudoniem: &str,
        first_name: &str,
        last_name: &str,
        password_hash: &str,
    ) -> Result<Inserted, DbError> {
        let result = sqlx::query(
            "INSERT INTO patients (pseudoniem, first_name, last_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(pseudoniem)
        .bind(first_name)
        .bind(last_name)
        .bind(password_hash)
        .bind(now_millis())
        .execute(&self.pool)
        .await;
        inserted(result)
    }

    pub async fn patient(&self, pseudoniem: &str) -> Result<Option<PatientRecord>, DbError> {
        let row = sqlx::query(
            "SELECT first_name, last_name, password_hash FROM patients WHERE pseudoniem = $1",
        )
        .bind(pseudoniem)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(PatientRecord {
                first_name: row.try_get(0)?,
                last_name: row.try_get(1)?,
                password_hash: row.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Inserts a company; `name_key` (the lowercased name) is unique.
    pub async fn insert_company(
        &self,
        id: &str,
        name: &str,
        name_key: &str,
        secret_hash: &str,
    ) -> Result<Inserted, DbError> {
        let result = sqlx::query(
            "INSERT INTO companies (id, name, name_key, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(name_key)
        .bind(secret_hash)
        .bind(now_millis())
        .execute(&self.pool)
        .await;
        inserted(result)
    }

    pub async fn company(&self, id: &str) -> Result<Option<CompanyRecord>, DbError> {
        let row = sqlx::query("SELECT name, secret_hash FROM companies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(CompanyRecord {
                name: row.try_get(0)?,
                secret_hash: row.try_get(1)?,
            })
        })
        .transpose()
    }
}

/// A unique-key conflict is an answer (the row exists), not a failure.
fn inserted<T>(result: Result<T, DbError>) -> Result<Inserted, DbError> {
    match result {
        Ok(_) => Ok(Inserted::Created),
        Err(error) if is_unique_violation(&error) => Ok(Inserted::AlreadyExists),
        Err(error) => Err(error),
    }
}
