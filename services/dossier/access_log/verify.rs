//! Walking the access log's chain: every entry's hash recomputed from its
//! content and the entry before, in id order, from the first entry (or
//! from an archive checkpoint) to the last.

use sqlx::{AnyPool, Row as _};

use super::entry::{Action, Actor, GENESIS, Stored, parse_consent, parse_reason};

/// Entries read per query.
const PAGE: i64 = 1000;

/// A chain that holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holds {
    pub entries: u64,
    /// The first and last id checked, if any.
    pub ids: Option<(i64, i64)>,
}

/// Where a chain breaks: the first entry that does not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub why: &'static str,
}

/// Walks the whole chain.
pub async fn verify(pool: &AnyPool) -> Result<Result<Holds, Broken>, sqlx::Error> {
    let first: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM access_log")
        .fetch_one(pool)
        .await?;
    let Some(first) = first else {
        return Ok(Ok(Holds {
            entries: 0,
            ids: None,
        }));
    };
    // Entries before `first` were archived: a checkpoint says what the
    // chain's hash was there.
    let mut previous = if first == 1 {
        GENESIS.to_owned()
    } else {
        let checkpoint: Option<String> =
            sqlx::query_scalar("SELECT hash FROM access_log_checkpoints WHERE id = $1")
                .bind(first - 1)
                .fetch_optional(pool)
                .await?;
        match checkpoint {
            Some(hash) => hash,
            None => {
                return Ok(Err(Broken {
                    id: first,
                    why: "the entries before it are gone and no archive checkpoint says where \
                          the chain stood",
                }));
            }
        }
    };
    let mut expected = first;
    let mut entries = 0;
    loop {
        let rows = sqlx::query(
            "SELECT id, entry_time, action, pseudoniem, company_name, company_key, actor, \
             on_behalf_of, refused, gave_permission, consent, reason, request_id, hash \
             FROM access_log WHERE id >= $1 ORDER BY id LIMIT $2",
        )
        .bind(expected)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(Ok(Holds {
                entries,
                ids: Some((first, expected - 1)),
            }));
        }
        for row in rows {
            let id: i64 = row.try_get(0)?;
            if id != expected {
                return Ok(Err(Broken {
                    id: expected,
                    why: "it is missing: the ids jump past it",
                }));
            }
            let text = |index: usize| row.try_get::<String, _>(index);
            let (action, actor, consent, reason) = (text(2)?, text(6)?, text(10)?, text(11)?);
            let (company_name, company_key) = (text(4)?, text(5)?);
            let known = Action::parse(&action)
                .zip(Actor::parse(&actor))
                .zip(parse_consent(&consent).zip(parse_reason(&reason)));
            let Some(((action, actor), (consent, reason))) = known else {
                return Ok(Err(Broken {
                    id,
                    why: "it holds a value the service never writes",
                }));
            };
            if company_key != company_name.to_lowercase() {
                return Ok(Err(Broken {
                    id,
                    why: "its company key does not match its company name",
                }));
            }
            let (pseudoniem, on_behalf_of, request_id) = (text(3)?, text(7)?, text(12)?);
            let stored = Stored {
                action: action.as_str(),
                pseudoniem: &pseudoniem,
                company_name: &company_name,
                actor: actor.as_str(),
                on_behalf_of: &on_behalf_of,
                refused: row.try_get(8)?,
                gave_permission: row.try_get(9)?,
                consent: consent.map_or("", super::entry::consent_str),
                reason: reason.map_or("", super::entry::reason_str),
                request_id: &request_id,
            };
            let hash = text(13)?;
            if stored.hash(id, row.try_get(1)?, &previous) != hash {
                return Ok(Err(Broken {
                    id,
                    why: "its hash does not match its content and the entry before it",
                }));
            }
            previous = hash;
            expected += 1;
            entries += 1;
        }
    }
}
