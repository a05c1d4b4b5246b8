//! What an operator runs against Dossier's database directly:
//! `toestemming audit verify [DATABASE_URL]`, which walks the access log's
//! hash chain and says where it breaks.

use sqlx::AnyPool;

use super::access_log::verify::verify;
use crate::settings::{ServiceKind, Settings};

/// Verifies the chain of the database at `url`, or the one the Dossier
/// service reads (`DATABASE_URL`, `DOSSIER_DATABASE_URL` or `DATA_DIR`).
/// Prints how many entries it checked; fails naming the first entry that
/// breaks the chain. Reads only: it runs no migration.
pub async fn audit_verify(settings: &Settings, url: Option<String>) -> crate::Result<()> {
    let storage = settings.storage(ServiceKind::Dossier);
    let url = url.unwrap_or_else(|| storage.url.expose().to_owned());
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .map(|rest| rest.split('?').next().unwrap_or_default())
        && !std::path::Path::new(path).exists()
    {
        return Err(format!("there is no Dossier database at {path}").into());
    }
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&url).await?;
    let verdict = verify(&pool).await?;
    pool.close().await;
    match verdict {
        Ok(holds) => {
            match holds.ids {
                Some((first, last)) => println!(
                    "the access log's chain holds: {} entries checked (ids {first} to {last})",
                    holds.entries
                ),
                None => println!("the access log's chain holds: 0 entries checked"),
            }
            Ok(())
        }
        Err(broken) => Err(format!(
            "the access log's chain breaks at entry {}: {}",
            broken.id, broken.why
        )
        .into()),
    }
}
