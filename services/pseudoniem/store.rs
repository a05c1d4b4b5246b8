//! The BSN → pseudoniem table.

use sqlx::AnyPool;

use crate::bsn::Bsn;
use crate::storage::{DbError, now_millis};

#[derive(Clone)]
pub struct PseudoniemStore {
    pool: AnyPool,
}

impl PseudoniemStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// The BSN's pseudoniem, created on first use; `true` when this call
    /// created it.
    ///
    /// Concurrent first calls race on the primary key, not on a read-then-
    /// write: exactly one insert wins, the others insert nothing and read the
    /// winner's value. So one BSN always has one pseudoniem, and exactly one
    /// caller is told `created`.
    pub async fn get_or_create(&self, bsn: &Bsn) -> Result<(String, bool), DbError> {
        let candidate = uuid::Uuid::new_v4().to_string();
        let inserted = sqlx::query(
            "INSERT INTO pseudoniemen (bsn, pseudoniem, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bsn) DO NOTHING",
        )
        .bind(bsn.expose())
        .bind(&candidate)
        .bind(now_millis())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            return Ok((candidate, true));
        }
        let existing = self.lookup(bsn).await?.ok_or(sqlx::Error::RowNotFound)?;
        Ok((existing, false))
    }

    /// The BSN's pseudoniem, if it was ever created. Never creates.
    pub async fn lookup(&self, bsn: &Bsn) -> Result<Option<String>, DbError> {
        sqlx::query_scalar("SELECT pseudoniem FROM pseudoniemen WHERE bsn = $1")
            .bind(bsn.expose())
            .fetch_optional(&self.pool)
            .await
    }
}
