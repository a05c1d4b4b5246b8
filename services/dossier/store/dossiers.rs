//! The dossiers table, and the read of a dossier with its deciding choices.

use super::{DossierStore, parsed};
use crate::dossier::consent::{Choices, Latest, Millis};
use crate::dossier::model::{DossierCursor, DossierRecord, DossierView};
use crate::ids::{CompanyName, DossierId, Pseudoniem};
use crate::storage::{StorageError, timed};

/// The dossiers `$where` picks, each with the latest version of the
/// patient's choice for its company (`c`) and of the patient's default
/// (`e`, stored with an empty company name). Each `MAX(version)` is one seek
/// in the primary key (pseudoniem, company_name, version), each join one
/// more: one statement, all of it index look-ups.
macro_rules! view_where {
    ($where:literal) => {
        concat!(
            "SELECT d.id, d.company_name, d.create_time, ",
            "c.consent, c.expire_time, c.create_time, e.consent, e.expire_time, e.create_time, ",
            "t.taken_over_at ",
            "FROM dossiers d ",
            "LEFT JOIN choice_versions c ON c.pseudoniem = d.pseudoniem ",
            "AND c.company_name = d.company_name ",
            "AND c.version = (SELECT MAX(version) FROM choice_versions ",
            "WHERE pseudoniem = d.pseudoniem AND company_name = d.company_name) ",
            "LEFT JOIN choice_versions e ON e.pseudoniem = d.pseudoniem AND e.company_name = '' ",
            "AND e.version = (SELECT MAX(version) FROM choice_versions ",
            "WHERE pseudoniem = d.pseudoniem AND company_name = '') ",
            "LEFT JOIN account_takeovers t ON t.pseudoniem = d.pseudoniem ",
            $where
        )
    };
}

/// The columns of `view_where!`, as either driver reads them.
type ViewRow = (
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

impl DossierStore {
    /// The company's dossier for the patient, with the choices that decide
    /// it: CheckPermission's one read.
    pub async fn find(
        &self,
        company: &CompanyName,
        pseudoniem: &Pseudoniem,
    ) -> Result<Option<DossierView>, StorageError> {
        const SQL: &str = view_where!("WHERE d.company_name = $1 AND d.pseudoniem = $2");
        let row = if let Some(reads) = &self.sqlite_reads {
            timed("dossier", "find", async {
                reads.read(|db| {
                    use rusqlite::OptionalExtension as _;
                    db.prepare_cached(SQL)?
                        .query_row((company.as_str(), pseudoniem.as_str()), view_row)
                        .optional()
                })
            })
            .await?
        } else {
            timed(
                "dossier",
                "find",
                sqlx::query_as::<_, ViewRow>(SQL)
                    .bind(company.as_str())
                    .bind(pseudoniem.as_str())
                    .fetch_optional(&self.pool),
            )
            .await?
        };
        row.map(view).transpose()
    }

    /// The patient's dossier `id`, with the choices that decide it; `None`
    /// when it is not a dossier about this patient.
    pub async fn find_by_id(
        &self,
        id: DossierId,
        pseudoniem: &Pseudoniem,
    ) -> Result<Option<DossierView>, StorageError> {
        const SQL: &str = view_where!("WHERE d.id = $1 AND d.pseudoniem = $2");
        let row = timed(
            "dossier",
            "find_by_id",
            sqlx::query_as::<_, ViewRow>(SQL)
                .bind(id.to_string())
                .bind(pseudoniem.as_str())
                .fetch_optional(&self.pool),
        )
        .await?;
        row.map(view).transpose()
    }

    /// The latest versions of the patient's choice for `company` and of
    /// the patient's default, whether or not the company keeps a dossier:
    /// what a dossier about to be created will be decided by.
    pub async fn choices_for(
        &self,
        company: &CompanyName,
        pseudoniem: &Pseudoniem,
    ) -> Result<Choices, StorageError> {
        type Row = (
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let (c_consent, c_expire, c_time, e_consent, e_expire, e_time, taken_over_at): Row = timed(
            "dossier",
            "choices_for",
            sqlx::query_as(
                "SELECT c.consent, c.expire_time, c.create_time, \
                 e.consent, e.expire_time, e.create_time, t.taken_over_at \
                 FROM (SELECT 1 AS one) o \
                 LEFT JOIN choice_versions c ON c.pseudoniem = $1 AND c.company_name = $2 \
                 AND c.version = (SELECT MAX(version) FROM choice_versions \
                     WHERE pseudoniem = $1 AND company_name = $2) \
                 LEFT JOIN choice_versions e ON e.pseudoniem = $1 AND e.company_name = '' \
                 AND e.version = (SELECT MAX(version) FROM choice_versions \
                     WHERE pseudoniem = $1 AND company_name = '') \
                 LEFT JOIN account_takeovers t ON t.pseudoniem = $1",
            )
            .bind(pseudoniem.as_str())
            .bind(company.as_str())
            .fetch_one(&self.pool),
        )
        .await?;
        Ok(Choices {
            company: latest(c_consent, c_expire, c_time)?,
            default: latest(e_consent, e_expire, e_time)?,
            confirmed_since: taken_over_at,
        })
    }

    /// Up to `limit` of the patient's dossiers after `after`, oldest first,
    /// each with the choices that decide it.
    pub async fn list_for_patient(
        &self,
        pseudoniem: &Pseudoniem,
        after: Option<&DossierCursor>,
        limit: i64,
    ) -> Result<Vec<DossierView>, StorageError> {
        // The first page starts after the smallest possible cursor, so one
        // statement serves every page.
        const SQL: &str = view_where!(
            "WHERE d.pseudoniem = $1 \
             AND (d.create_time > $2 OR (d.create_time = $2 AND d.id > $3)) \
             ORDER BY d.create_time, d.id LIMIT $4"
        );
        let (after_time, after_id) = match after {
            Some(cursor) => (cursor.create_time, cursor.id.to_string()),
            None => (i64::MIN, String::new()),
        };
        let rows: Vec<ViewRow> = if let Some(reads) = &self.sqlite_reads {
            timed("dossier", "list_for_patient", async {
                reads.read(|db| {
                    db.prepare_cached(SQL)?
                        .query_map(
                            (pseudoniem.as_str(), after_time, after_id.as_str(), limit),
                            view_row,
                        )?
                        .collect()
                })
            })
            .await?
        } else {
            timed(
                "dossier",
                "list_for_patient",
                sqlx::query_as(SQL)
                    .bind(pseudoniem.as_str())
                    .bind(after_time)
                    .bind(after_id.as_str())
                    .bind(limit)
                    .fetch_all(&self.pool),
            )
            .await?
        };
        rows.into_iter().map(view).collect()
    }
}

/// The patient's dossiers, or only `company`'s, each with the choices that
/// decide it, read on `connection`: inside the access log's transaction,
/// to publish what a change did to their decisions.
pub async fn views_on(
    connection: &mut sqlx::AnyConnection,
    pseudoniem: &Pseudoniem,
    company: Option<&CompanyName>,
) -> Result<Vec<DossierView>, StorageError> {
    const SQL: &str = view_where!("WHERE d.pseudoniem = $1 AND ($2 = '' OR d.company_name = $2)");
    let rows: Vec<ViewRow> = sqlx::query_as(SQL)
        .bind(pseudoniem.as_str())
        .bind(company.map_or("", CompanyName::as_str))
        .fetch_all(&mut *connection)
        .await?;
    rows.into_iter().map(view).collect()
}

/// A row of `view_where!`, read by rusqlite.
fn view_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ViewRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

/// A row of `view_where!`, checked.
fn view(row: ViewRow) -> Result<DossierView, StorageError> {
    let (
        id,
        company_name,
        create_time,
        c_consent,
        c_expire,
        c_time,
        e_consent,
        e_expire,
        e_time,
        taken_over_at,
    ) = row;
    Ok(DossierView {
        record: DossierRecord {
            id: parsed(id)?,
            company_name: parsed(company_name)?,
            create_time,
        },
        choices: Choices {
            company: latest(c_consent, c_expire, c_time)?,
            default: latest(e_consent, e_expire, e_time)?,
            confirmed_since: taken_over_at,
        },
    })
}

/// The latest version of a choice from its joined columns; `None` when the
/// join found no version.
fn latest(
    consent: Option<String>,
    expire_time: Option<Millis>,
    recorded: Option<Millis>,
) -> Result<Option<Latest>, StorageError> {
    let (Some(consent), Some(recorded)) = (consent, recorded) else {
        return Ok(None);
    };
    Latest::from_stored(&consent, expire_time, recorded)
        .map(Some)
        .ok_or_else(StorageError::malformed_row)
}
