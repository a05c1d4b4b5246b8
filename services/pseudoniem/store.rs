//! The BSN → pseudoniem table: the only place in the mesh a BSN is known,
//! and it stores none. Each entry is keyed by the BSN's HMAC under
//! `PSEUDONIEM_BSN_KEY` ([`BsnKey`]): the service hashes the BSN it is
//! given and looks the hash up.
//!
//! A BSN's pseudoniem never changes once made (nothing updates or deletes
//! the table), so repeat look-ups are answered from a bounded cache in this
//! process's memory: no other process, log or store ever sees it. Every
//! replica keeps its own; none can be stale, because there is nothing to be
//! stale about.

use std::sync::Arc;

use sqlx::AnyPool;

use super::bsn_key::BsnKey;
use crate::bsn::Bsn;
use crate::ids::Pseudoniem;
use crate::storage::{Inserted, StorageError, now_millis, timed};

/// How many BSNs' pseudoniemen the cache holds (about 150 bytes each).
const CACHED_PSEUDONIEMEN: usize = 65_536;

#[derive(Clone)]
pub struct PseudoniemStore {
    pool: AnyPool,
    key: BsnKey,
    known: Arc<quick_cache::sync::Cache<Bsn, Pseudoniem>>,
}

impl PseudoniemStore {
    pub fn new(pool: AnyPool, key: BsnKey) -> Self {
        Self {
            pool,
            key,
            known: Arc::new(quick_cache::sync::Cache::new(CACHED_PSEUDONIEMEN)),
        }
    }

    /// The BSN's pseudoniem, created on first use, and whether this call
    /// created it.
    ///
    /// Concurrent first calls race on the primary key, not on a read-then-
    /// write: exactly one insert wins, the others insert nothing and read the
    /// winner's value. So one BSN always has one pseudoniem, and exactly one
    /// caller is told `Created`.
    pub async fn get_or_create(&self, bsn: &Bsn) -> Result<(Pseudoniem, Inserted), StorageError> {
        if let Some(known) = self.known.get(bsn) {
            return Ok((known, Inserted::AlreadyExists));
        }
        let candidate = Pseudoniem::random();
        let rows = timed(
            "pseudoniem",
            "get_or_create",
            sqlx::query(
                "INSERT INTO bsn_pseudoniemen (bsn_hmac, pseudoniem, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (bsn_hmac) DO NOTHING",
            )
            .bind(self.key.index(bsn))
            .bind(candidate.as_str())
            .bind(now_millis())
            .execute(&self.pool),
        )
        .await?
        .rows_affected();
        match Inserted::from_rows_affected(rows) {
            Inserted::Created => Ok((candidate, Inserted::Created)),
            Inserted::AlreadyExists => {
                let existing = self
                    .lookup(bsn)
                    .await?
                    .ok_or_else(StorageError::missing_row)?;
                Ok((existing, Inserted::AlreadyExists))
            }
        }
    }

    /// The BSN's pseudoniem, if it was ever created. Never creates.
    pub async fn lookup(&self, bsn: &Bsn) -> Result<Option<Pseudoniem>, StorageError> {
        if let Some(known) = self.known.get(bsn) {
            return Ok(Some(known));
        }
        let stored: Option<String> = timed(
            "pseudoniem",
            "lookup",
            sqlx::query_scalar("SELECT pseudoniem FROM bsn_pseudoniemen WHERE bsn_hmac = $1")
                .bind(self.key.index(bsn))
                .fetch_optional(&self.pool),
        )
        .await?;
        let found = stored
            .map(|value| {
                Pseudoniem::try_from(value)
                    .map_err(|problem| StorageError::from(sqlx::Error::Decode(problem.into())))
            })
            .transpose()?;
        if let Some(pseudoniem) = &found {
            self.known.insert(bsn.clone(), pseudoniem.clone());
        }
        Ok(found)
    }
}
