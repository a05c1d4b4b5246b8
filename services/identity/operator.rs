//! What an operator does on Identity's database directly, outside the API:
//! verifying companies (`toestemming companies verify|unverify|list`), and
//! hearing of names that look alike.
//!
//! Verification is deliberately not an RPC. RegisterCompany is public, so a
//! company's name proves nothing about who registered it; a person who
//! checked the company (its registration with the Chamber of Commerce, its
//! healthcare licence) vouches for it with access to Identity's database,
//! which no token of the mesh gives. A patient's default choice for every
//! company covers verified companies only (see `docs/consent.md`).

use super::store::{CompanyStanding, IdentityStore};
use crate::ids::CompanyName;
use crate::settings::{ServiceKind, Settings};

/// One operator command on the companies.
#[derive(Debug, Clone)]
pub enum CompanyCommand {
    Verify(String),
    Unverify(String),
    List,
}

/// Runs `command` against the Identity database the settings name (the
/// same `DATABASE_URL`, `IDENTITY_DATABASE_URL` or `DATA_DIR` the Identity
/// service reads), printing what it did.
pub async fn companies(settings: &Settings, command: CompanyCommand) -> crate::Result<()> {
    let storage = settings.storage(ServiceKind::Identity);
    if let Some(path) = crate::storage::sqlite_file(&storage) {
        // Opening would create an empty database: say where none is.
        if !path.exists() {
            return Err(format!(
                "there is no Identity database at {}: set DATA_DIR (or DATABASE_URL) as the \
                 Identity service has it",
                path.display()
            )
            .into());
        }
    }
    let pool = crate::storage::open(&storage, &super::SCHEMA).await?;
    let store = IdentityStore::new(pool);
    let (name, verified) = match command {
        CompanyCommand::List => {
            for company in store.all_companies().await? {
                println!("{}\t{}", standing(&company), company.name);
            }
            // Names registered before new names were compared by their
            // look, that look like an older one: kept as they are, for
            // the operator to check (`docs/security.md`).
            for (name, older) in store.index_name_skeletons().await? {
                println!("look-alike\t{name}\tlooks like\t{older}");
            }
            return Ok(());
        }
        CompanyCommand::Verify(name) => (name, true),
        CompanyCommand::Unverify(name) => (name, false),
    };
    let name = CompanyName::parse(&name).map_err(|rule| format!("the company name {rule}"))?;
    match store.set_verified(&name, verified).await? {
        Some(company) => {
            println!("{}: {}", standing(&company), company.name);
            Ok(())
        }
        None => Err(format!("no company is registered under the name {name:?}").into()),
    }
}

fn standing(company: &CompanyStanding) -> &'static str {
    if company.verified {
        "verified"
    } else {
        "unverified"
    }
}
