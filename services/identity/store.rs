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
    /// Empty for an account the OpenID provider signs in: it has no
    /// password.
    #[sqlx(try_from = "String")]
    pub password_hash: StoredHash,
    /// When the provider first vouched for this patient; `None` for a
    /// password account of the development mode.
    pub proofed_at: Option<i64>,
}

impl PatientRecord {
    /// The password hash, for an account that signs in by password.
    pub fn password(&self) -> Option<&StoredHash> {
        (self.proofed_at.is_none() && !self.password_hash.as_str().is_empty())
            .then_some(&self.password_hash)
    }
}

/// What a sign-in through the provider did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proofed {
    /// The first sign-in for this BSN: a new account.
    Created,
    /// A password account for this BSN existed: it is the provider's now,
    /// and its password is gone.
    TakenOver,
    /// The account had signed in through the provider before.
    Returning,
}

/// A company row, as token issuing needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct CompanyRecord {
    #[sqlx(try_from = "String")]
    pub name: CompanyName,
    #[sqlx(try_from = "String")]
    pub secret_hash: StoredHash,
}

/// A company as other services and operators see it: its name as
/// registered, and whether an operator verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyStanding {
    pub name: CompanyName,
    pub verified: bool,
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
    /// The sign-ins' own lane ([`Self::for_sign_ins`]).
    sign_ins: AnyPool,
}

impl IdentityStore {
    pub fn new(pool: AnyPool) -> Self {
        Self {
            sign_ins: pool.clone(),
            pool,
        }
    }

    /// Sign-ins and registrations read and write through `lane`, a pool of
    /// their own, so a flood of them (anyone may try) cannot take the
    /// connections that profile reads and everything else need.
    pub fn with_sign_in_lane(self, lane: AnyPool) -> Self {
        Self {
            sign_ins: lane,
            ..self
        }
    }

    /// This store on the sign-ins' lane.
    pub fn for_sign_ins(&self) -> Self {
        Self {
            pool: self.sign_ins.clone(),
            sign_ins: self.sign_ins.clone(),
        }
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
                "SELECT first_name, last_name, password_hash, proofed_at FROM patients \
                 WHERE pseudoniem = $1",
            )
            .bind(pseudoniem.as_str())
            .fetch_optional(&self.pool),
        )
        .await?)
    }

    /// Records a sign-in the provider vouched for: creates the account,
    /// or makes a password account the provider's (its password removed,
    /// in the same statement that marks it proofed, so a concurrent
    /// password sign-in sees one or the other). Names the provider sent
    /// replace the account's; none sent keep them.
    pub async fn proofed_sign_in(
        &self,
        pseudoniem: &Pseudoniem,
        first_name: &str,
        last_name: &str,
    ) -> Result<Proofed, StorageError> {
        let now = now_millis();
        let inserted = Inserted::from_result(
            timed(
                "identity",
                "insert_proofed_patient",
                sqlx::query(
                    "INSERT INTO patients \
                     (pseudoniem, first_name, last_name, password_hash, created_at, proofed_at) \
                     VALUES ($1, $2, $3, '', $4, $5)",
                )
                .bind(pseudoniem.as_str())
                .bind(first_name)
                .bind(last_name)
                .bind(now)
                .bind(now)
                .execute(&self.pool),
            )
            .await,
        )?;
        if inserted == Inserted::Created {
            return Ok(Proofed::Created);
        }
        let taken_over = timed(
            "identity",
            "take_over_patient",
            sqlx::query(
                "UPDATE patients SET password_hash = '', proofed_at = $2 \
                 WHERE pseudoniem = $1 AND proofed_at IS NULL",
            )
            .bind(pseudoniem.as_str())
            .bind(now)
            .execute(&self.pool),
        )
        .await?
        .rows_affected()
            > 0;
        if !first_name.is_empty() || !last_name.is_empty() {
            sqlx::query(
                "UPDATE patients SET first_name = $2, last_name = $3 WHERE pseudoniem = $1",
            )
            .bind(pseudoniem.as_str())
            .bind(first_name)
            .bind(last_name)
            .execute(&self.pool)
            .await?;
        }
        Ok(if taken_over {
            Proofed::TakenOver
        } else {
            Proofed::Returning
        })
    }

    /// Inserts a company. Its name is unique regardless of case, and by its
    /// look ([`CompanyName::skeleton`]): one statement, so two look-alikes
    /// registered at once cannot both succeed, and no transaction is left
    /// half done when a write fails (a full disk).
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
                "INSERT INTO companies (id, name, name_key, name_skeleton, secret_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.to_string())
            .bind(name.as_str())
            .bind(name.key())
            .bind(name.skeleton())
            .bind(secret_hash.as_str())
            .bind(now_millis())
            .execute(&self.pool),
        )
        .await;
        Inserted::from_result(result)
    }

    /// Gives every company registered before names were compared by look
    /// its skeleton, oldest first; a later one that looks like an older
    /// one keeps its name and no skeleton, and is returned with the name
    /// it looks like, for the operator to hear of.
    pub async fn index_name_skeletons(&self) -> Result<Vec<(String, String)>, StorageError> {
        let unindexed: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM companies WHERE name_skeleton IS NULL ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut collisions = Vec::new();
        for (id, name) in unindexed {
            let skeleton = crate::ids::look_alike::skeleton_key(&name);
            let indexed = sqlx::query(
                "UPDATE companies SET name_skeleton = $1 WHERE id = $2 AND name_skeleton IS NULL",
            )
            .bind(&skeleton)
            .bind(&id)
            .execute(&self.pool)
            .await;
            if Inserted::from_result(indexed)? == Inserted::AlreadyExists {
                let (older,): (String,) =
                    sqlx::query_as("SELECT name FROM companies WHERE name_skeleton = $1")
                        .bind(&skeleton)
                        .fetch_one(&self.pool)
                        .await?;
                collisions.push((name, older));
            }
        }
        Ok(collisions)
    }

    /// The company registered under `name` in any case.
    pub async fn company_by_name(
        &self,
        name: &CompanyName,
    ) -> Result<Option<CompanyStanding>, StorageError> {
        let row: Option<(String, Option<i64>)> = timed(
            "identity",
            "company_by_name",
            sqlx::query_as("SELECT name, verified_time FROM companies WHERE name_key = $1")
                .bind(name.key())
                .fetch_optional(&self.pool),
        )
        .await?;
        row.map(|(name, verified_time)| {
            Ok(CompanyStanding {
                name: CompanyName::try_from(name).map_err(|_| StorageError::malformed_row())?,
                verified: verified_time.is_some(),
            })
        })
        .transpose()
    }

    /// Up to `limit` verified companies whose lowercased name starts with
    /// `prefix_key` and sorts after `after_key`, in that order: `(name,
    /// name_key)` pairs.
    pub async fn verified_companies(
        &self,
        prefix_key: &str,
        after_key: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StorageError> {
        // substr/length count characters in both engines; no LIKE, so a `%`
        // or `_` in a name is just a character.
        Ok(timed(
            "identity",
            "verified_companies",
            sqlx::query_as(
                "SELECT name, name_key FROM companies                  WHERE verified_time IS NOT NULL AND substr(name_key, 1, length($1)) = $1                  AND name_key > $2 ORDER BY name_key LIMIT $3",
            )
            .bind(prefix_key)
            .bind(after_key)
            .bind(limit)
            .fetch_all(&self.pool),
        )
        .await?)
    }

    /// Every registered company, verified or not, in name order (for an
    /// operator's listing).
    pub async fn all_companies(&self) -> Result<Vec<CompanyStanding>, StorageError> {
        let rows: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT name, verified_time FROM companies ORDER BY name_key")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(name, verified_time)| {
                Ok(CompanyStanding {
                    name: CompanyName::try_from(name).map_err(|_| StorageError::malformed_row())?,
                    verified: verified_time.is_some(),
                })
            })
            .collect()
    }

    /// Marks the company registered under `name` (any case) verified or
    /// not; its standing after, or `None` when there is no such company.
    /// Verifying a verified company keeps the time it was first verified.
    pub async fn set_verified(
        &self,
        name: &CompanyName,
        verified: bool,
    ) -> Result<Option<CompanyStanding>, StorageError> {
        let update = if verified {
            sqlx::query(
                "UPDATE companies SET verified_time = COALESCE(verified_time, $2) \
                 WHERE name_key = $1",
            )
            .bind(name.key())
            .bind(now_millis())
        } else {
            sqlx::query("UPDATE companies SET verified_time = NULL WHERE name_key = $1")
                .bind(name.key())
        };
        update.execute(&self.pool).await?;
        self.company_by_name(name).await
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

/// A revoked token, as ListRevokedTokens lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevokedRow {
    /// The position in the listing.
    pub seq: i64,
    pub jti: String,
    /// Seconds since the epoch.
    pub exp: i64,
}

/// How often a revocation is tried again when a concurrent one took its
/// position (PostgreSQL; SQLite writes one at a time).
const REVOKE_ATTEMPTS: usize = 8;

impl IdentityStore {
    /// Puts `jti` on the revocation list until `exp` (seconds since the
    /// epoch). Revoking it again changes nothing.
    pub async fn revoke(&self, jti: &str, exp: i64) -> Result<Inserted, StorageError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            // `WHERE true`: SQLite's parser needs it before an upsert on
            // INSERT … SELECT.
            let result = timed(
                "identity",
                "revoke",
                sqlx::query(
                    "INSERT INTO revoked_tokens (seq, jti, exp, revoked_at) \
                     SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3 FROM revoked_tokens WHERE true \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(exp)
                .bind(now_millis())
                .execute(&self.pool),
            )
            .await;
            match result {
                Ok(done) => return Ok(Inserted::from_rows_affected(done.rows_affected())),
                // Another revocation took this position first: the next one.
                Err(error)
                    if attempt < REVOKE_ATTEMPTS
                        && error
                            .as_database_error()
                            .is_some_and(|e| e.is_unique_violation()) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Up to `limit` revoked tokens after position `after` that have not
    /// expired at `now` (seconds since the epoch), in position order.
    pub async fn revoked_after(
        &self,
        after: i64,
        now: i64,
        limit: i64,
    ) -> Result<Vec<RevokedRow>, StorageError> {
        Ok(timed(
            "identity",
            "revoked_after",
            sqlx::query_as(
                "SELECT seq, jti, exp FROM revoked_tokens WHERE seq > $1 AND exp > $2 \
                 ORDER BY seq LIMIT $3",
            )
            .bind(after)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool),
        )
        .await?)
    }

    /// Deletes the revocations expired at `now` (seconds since the epoch),
    /// but never the newest row, whose position the next one counts from.
    /// Answers how many went.
    pub async fn purge_expired_revocations(&self, now: i64) -> Result<u64, StorageError> {
        let done = timed(
            "identity",
            "purge_expired_revocations",
            sqlx::query(
                "DELETE FROM revoked_tokens WHERE exp <= $1 \
                 AND seq < (SELECT MAX(seq) FROM revoked_tokens)",
            )
            .bind(now)
            .execute(&self.pool),
        )
        .await?;
        Ok(done.rows_affected())
    }
}
