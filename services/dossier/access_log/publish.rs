//! Publishing what a change did to the decisions about dossiers, for
//! WatchConsent: in the access log's transaction, under its lock, the
//! decisions of the dossiers a change can reach are worked out again, and
//! each one that differs from the last published for its dossier becomes
//! the next row of `decision_changes`. So the feed is in commit order, a
//! change and its effect commit together, and a second replica (or a
//! second scan of the same expiry) finds nothing left to publish.
//!
//! Whether a company is verified matters only where the patient's default
//! decides, and Identity is never asked while the lock is held: such a
//! dossier is published only if the caller already knows the answer
//! (`Republish::verified`); otherwise it comes back unresolved, and the
//! caller asks Identity and publishes it in a second job
//! (`crate::dossier::feed`).

use sqlx::AnyConnection;

use crate::dossier::access_log::entry::{consent_str, reason_str};
use crate::dossier::consent::Millis;
use crate::dossier::store::views_on;
use crate::ids::{CompanyName, Pseudoniem};
use crate::storage::StorageError;

/// Which dossiers' decisions to work out again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republish {
    pub pseudoniem: Pseudoniem,
    /// Only these companies' dossiers; `None`: every dossier of the
    /// patient.
    pub companies: Option<Vec<CompanyName>>,
    /// What Identity said of some companies: verified or not.
    pub verified: Vec<(CompanyName, bool)>,
}

impl Republish {
    /// Every dossier of the patient's.
    pub fn patient(pseudoniem: &Pseudoniem) -> Self {
        Self {
            pseudoniem: pseudoniem.clone(),
            companies: None,
            verified: Vec::new(),
        }
    }

    /// The patient's dossier at `company`.
    pub fn dossier(pseudoniem: &Pseudoniem, company: &CompanyName) -> Self {
        Self {
            pseudoniem: pseudoniem.clone(),
            companies: Some(vec![company.clone()]),
            verified: Vec::new(),
        }
    }

    fn verified(&self, company: &CompanyName) -> Option<bool> {
        self.verified
            .iter()
            .find(|(name, _)| name == company)
            .map(|(_, verified)| *verified)
    }
}

/// What publishing found.
#[derive(Debug, Default)]
pub struct Published {
    /// Rows added to the feed.
    pub changes: usize,
    /// Companies whose dossier a default decides, verification unknown:
    /// not published yet.
    pub unresolved: Vec<CompanyName>,
}

/// Publishes the changed decisions at `now`, numbering them after
/// `*last_seq` (read from the table on first use).
pub async fn publish(
    connection: &mut AnyConnection,
    republish: &Republish,
    now: Millis,
    last_seq: &mut Option<i64>,
) -> Result<Published, StorageError> {
    let only = match republish.companies.as_deref() {
        Some([company]) => Some(company),
        _ => None,
    };
    let views = views_on(connection, &republish.pseudoniem, only).await?;
    let mut published = Published::default();
    for view in views {
        let company = &view.record.company_name;
        if let Some(companies) = &republish.companies
            && !companies.contains(company)
        {
            continue;
        }
        let verified = match republish.verified(company) {
            Some(verified) => verified,
            None if view.choices.default_would_decide() => {
                published.unresolved.push(company.clone());
                continue;
            }
            // Nothing a verification could change.
            None => false,
        };
        let decision = view.choices.decide(verified, now);
        let changed = view
            .choices
            .changed(view.record.create_time, &decision, now);
        let (consent, reason) = (consent_str(decision.consent), reason_str(decision.reason));
        let gave_permission = i64::from(decision.gave_permission);
        let dossier_id = view.record.id.to_string();
        let last: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT consent, gave_permission, reason FROM decision_changes \
             WHERE dossier_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(dossier_id.as_str())
        .fetch_optional(&mut *connection)
        .await?;
        if last.is_some_and(|(c, g, r)| c == consent && g == gave_permission && r == reason) {
            continue;
        }
        let seq = match *last_seq {
            Some(seq) => seq,
            None => {
                sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM decision_changes")
                    .fetch_one(&mut *connection)
                    .await?
            }
        } + 1;
        sqlx::query(
            "INSERT INTO decision_changes \
             (seq, company_name, dossier_id, consent, gave_permission, reason, change_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(seq)
        .bind(company.as_str())
        .bind(dossier_id.as_str())
        .bind(consent)
        .bind(gave_permission)
        .bind(reason)
        .bind(changed)
        .execute(&mut *connection)
        .await?;
        *last_seq = Some(seq);
        published.changes += 1;
    }
    Ok(published)
}
