//! Identity's tables: patients (by pseudoniem, never by BSN) and companies.

use sqlx::AnyPool;

use super::credentials::StoredHash;
use crate::ids::{CompanyName, Pseudoniem};
use crate::storage::{Inserted, StorageError, now_millis, timed};

/// A patient row, as sign-in and the profile need it.
#[derive(Debug, sqlx::FromRow)]
pub struct PatientRecord {
    pub first_name: String,
    pub last_name: String,
    #[sqlx(try_from = "String")]
    pub password_hash: StoredHash,
}

/// A company row, as token issuing needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct CompanyRecord {
    #[sqlx(try_from = "String")]
    pub name: CompanyName,
    #[sqlx(try_from = "String")]
    pub secret_hash: StoredHash,
}

/// A new patient account.
pub struct NewPatient<'a> {
    pub pseudoniem: &'a Pseudoniem,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password_hash: &'a StoredHash,
}

#[derive(Clone)]
pub struct IdentityStore {
    pool: AnyPool,
}

impl IdentityStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn patient_exists(&self, pseudoniem: &Pseudoniem) -> Result<bool, StorageError> {
        let found: Option<String> = timed(
            "identity",
            "patient_exists",
            sqlx::query_scalar("SELECT pseudoniem FROM patients WHERE pseudoniem = $1")
                .bind(pseudoniem.as_str())
                .fetch_optional(&self.pool),
        )
        .await?;
        Ok(found.is_some())
    }

    /// Inserts a patient; the primary key settles a race between two
    /// registrations of one BSN.
    pub async fn insert_patient(&self, patient: NewPatient<'_>) -> Result<Inserted, StorageError> {
        let result = timed("identity", "insert_patient", sqlx::query(
            "INSERT INTO patients (pseudoniem, first_name, last_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(patient.pseudoniem.as_str())
        .bind(patient.first_name)
        .bind(patient.last_name)
        .bind(patient.password_hash.as_str())
        .bind(now_millis())
        .execute(&self.pool))
        .await;
        Inserted::from_result(result)
    }

    pub async fn patient(
        &self,
        pseudoniem: &Pseudoniem,
    ) -> Result<Option<PatientRecord>, StorageError> {
        Ok(timed(
            "identity",
            "patient",
            sqlx::query_as(
                "SELECT first_name, last_name, password_hash FROM patients WHERE pseudoniem = $1",
            )
            .bind(pseudoniem.as_str())
            .fetch_optional(&self.pool),
        )
        .await?)
    }

    /// Inserts a company; its name is unique regardless of case.
    pub async fn insert_company(
        &self,
        id: uuid::Uuid,
        name: &CompanyName,
        secret_hash: &StoredHash,
    ) -> Result<Inserted, StorageError> {
        let result = timed(
            "identity",
            "insert_company",
            sqlx::query(
                "INSERT INTO companies (id, name, name_key, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.to_string())
            .bind(name.as_str())
            .bind(name.key())
            .bind(secret_hash.as_str())
            .bind(now_millis())
            .execute(&self.pool),
        )
        .await;
        Inserted::from_result(result)
    }

    pub async fn company(&self, id: uuid::Uuid) -> Result<Option<CompanyRecord>, StorageError> {
        Ok(timed(
            "identity",
            "company",
            sqlx::query_as("SELECT name, secret_hash FROM companies WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool),
        )
        .await?)
    }
}
