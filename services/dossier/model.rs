//! Dossier's records and page positions. No tonic or SQL types here; the
//! rules that turn choices into an answer are in `consent`.

use super::consent::{Choices, Millis, Stance};
use crate::ids::{CompanyName, DossierId};
use crate::paging::{decode_token, encode_token};

/// One company's dossier about one patient, as stored. It holds no
/// consent: that is derived from the patient's choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierRecord {
    pub id: DossierId,
    pub company_name: CompanyName,
    pub create_time: Millis,
}

/// A dossier with the patient's choices that bear on it, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierView {
    pub record: DossierRecord,
    pub choices: Choices,
}

/// Whom a choice is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One company, by Identity's spelling of its name.
    Company(CompanyName),
    /// Every (verified) company: the patient's default.
    EveryCompany,
}

impl Target {
    /// How it is stored: the company's name, or empty for the default.
    pub fn stored(&self) -> &str {
        match self {
            Target::Company(name) => name.as_str(),
            Target::EveryCompany => "",
        }
    }

    /// The target a stored `company_name` stands for.
    pub fn from_stored(company_name: String) -> Option<Self> {
        if company_name.is_empty() {
            return Some(Target::EveryCompany);
        }
        CompanyName::try_from(company_name)
            .ok()
            .map(Target::Company)
    }
}

/// One version of one of a patient's choices, as ListMyChoices answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceVersion {
    pub target: Target,
    /// Its place among the versions of its choice: 1, 2, 3, …
    pub version: i64,
    pub stance: Stance,
    pub recorded: Millis,
    /// When the next version replaced or withdrew it; `None` while current.
    pub replaced: Option<Millis>,
}

/// Where the next page of a patient's dossiers starts: after this
/// `(create_time, id)`. It only ever selects among the caller's own
/// dossiers, so tampering with it reveals nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierCursor {
    pub create_time: Millis,
    pub id: DossierId,
}

impl DossierCursor {
    const LISTING: &'static str = "dossiers";

    pub fn after(record: &DossierRecord) -> Self {
        Self {
            create_time: record.create_time,
            id: record.id,
        }
    }

    pub fn encode(&self) -> String {
        encode_token(
            Self::LISTING,
            &[&self.create_time.to_string(), &self.id.to_string()],
        )
    }

    /// `None` for anything this service did not produce.
    pub fn decode(token: &str) -> Option<Self> {
        let [create_time, id] = decode_token(Self::LISTING, token)?;
        Some(Self {
            create_time: create_time.parse().ok()?,
            id: DossierId::parse(&id)?,
        })
    }
}

/// Where the next page of a patient's choices starts: after this version,
/// in the order newest first, then by company name, then newest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceCursor {
    pub recorded: Millis,
    pub company_name: String,
    pub version: i64,
}

impl ChoiceCursor {
    const LISTING: &'static str = "choices";

    pub fn after(choice: &ChoiceVersion) -> Self {
        Self {
            recorded: choice.recorded,
            company_name: choice.target.stored().to_owned(),
            version: choice.version,
        }
    }

    /// Before the first version of all.
    pub fn start() -> Self {
        Self {
            recorded: Millis::MAX,
            company_name: String::new(),
            version: i64::MAX,
        }
    }

    pub fn encode(&self) -> String {
        encode_token(
            Self::LISTING,
            &[
                &self.recorded.to_string(),
                &self.company_name,
                &self.version.to_string(),
            ],
        )
    }

    /// `None` for anything this service did not produce.
    pub fn decode(token: &str) -> Option<Self> {
        let [recorded, company_name, version] = decode_token(Self::LISTING, token)?;
        Some(Self {
            recorded: recorded.parse().ok()?,
            company_name,
            version: version.parse().ok()?,
        })
    }
}

/// Where the next page of a patient's access log starts: before this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    pub before: i64,
}

impl LogCursor {
    const LISTING: &'static str = "access-log";

    /// Before the newest entry of all.
    pub fn start() -> Self {
        Self { before: i64::MAX }
    }

    pub fn encode(&self) -> String {
        encode_token(Self::LISTING, &[&self.before.to_string()])
    }

    /// `None` for anything this service did not produce.
    pub fn decode(token: &str) -> Option<Self> {
        let [before] = decode_token(Self::LISTING, token)?;
        Some(Self {
            before: before.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let cursor = DossierCursor {
            create_time: 1_700_000_000_123,
            id: DossierId::random(),
        };
        assert_eq!(DossierCursor::decode(&cursor.encode()), Some(cursor));
        let choice = ChoiceCursor {
            recorded: 1_700_000_000_123,
            company_name: "Zorg: de Linde".into(),
            version: 4,
        };
        assert_eq!(ChoiceCursor::decode(&choice.encode()), Some(choice.clone()));
        assert_eq!(DossierCursor::decode(&choice.encode()), None);
        for bad in ["", "abc", "djE6MTox", "!!!", &"A".repeat(600)] {
            assert_eq!(DossierCursor::decode(bad), None, "{bad:?}");
            assert_eq!(ChoiceCursor::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_default_is_stored_as_an_empty_name() {
        assert_eq!(Target::EveryCompany.stored(), "");
        assert_eq!(
            Target::from_stored(String::new()),
            Some(Target::EveryCompany)
        );
        let company = Target::Company(CompanyName::parse("De Linde").unwrap());
        assert_eq!(
            Target::from_stored(company.stored().to_owned()),
            Some(company)
        );
    }
}
