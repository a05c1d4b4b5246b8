//! One entry of the access log, and the hash that chains it to the one
//! before.
//!
//! Each entry's hash is SHA-256 over the previous entry's hash and every
//! field of its own, the id first, each field length-prefixed so no two
//! different entries read alike. Changing any field of any entry, removing
//! one, or inserting one breaks every hash from there on: `verify` names
//! the first entry whose hash does not hold.

use sha2::{Digest as _, Sha256};

use crate::dossier::consent::{Consent, Millis, Reason};
use crate::ids::Pseudoniem;

/// The hash "before" the first entry: 32 zero bytes, in hex.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CheckPermission,
    CreateDossier,
    DeleteDossier,
    SetChoice,
    ClearChoice,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CheckPermission => "CHECK_PERMISSION",
            Action::CreateDossier => "CREATE_DOSSIER",
            Action::DeleteDossier => "DELETE_DOSSIER",
            Action::SetChoice => "SET_CHOICE",
            Action::ClearChoice => "CLEAR_CHOICE",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [
            Action::CheckPermission,
            Action::CreateDossier,
            Action::DeleteDossier,
            Action::SetChoice,
            Action::ClearChoice,
        ]
        .into_iter()
        .find(|action| action.as_str() == stored)
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Patient,
    HealthcareCompany,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Patient => "PATIENT",
            Actor::HealthcareCompany => "HEALTHCARE_COMPANY",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "PATIENT" => Some(Actor::Patient),
            "HEALTHCARE_COMPANY" => Some(Actor::HealthcareCompany),
            _ => None,
        }
    }
}

/// An entry as a call makes it, before the log gives it an id and a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: Millis,
    pub action: Action,
    /// The patient concerned.
    pub pseudoniem: Pseudoniem,
    /// The company concerned, as Identity spells it; empty for the
    /// patient's choice for every company.
    pub company_name: String,
    pub actor: Actor,
    /// The end user's principal a service forwarded (`role:subject`), else
    /// the caller's.
    pub on_behalf_of: String,
    /// An attempt that was refused (no dossier for a known patient).
    pub refused: bool,
    pub gave_permission: bool,
    /// The consent answered (CheckPermission, CreateDossier) or recorded
    /// (a choice).
    pub consent: Option<Consent>,
    pub reason: Option<Reason>,
    /// The call's `x-request-id`.
    pub request_id: String,
}

/// How an entry's fields are stored: the text columns of `access_log`.
pub struct Stored<'a> {
    pub action: &'static str,
    pub pseudoniem: &'a str,
    pub company_name: &'a str,
    pub actor: &'static str,
    pub on_behalf_of: &'a str,
    pub refused: i64,
    pub gave_permission: i64,
    pub consent: &'static str,
    pub reason: &'static str,
    pub request_id: &'a str,
}

impl Entry {
    pub fn stored(&self) -> Stored<'_> {
        Stored {
            action: self.action.as_str(),
            pseudoniem: self.pseudoniem.as_str(),
            company_name: &self.company_name,
            actor: self.actor.as_str(),
            on_behalf_of: &self.on_behalf_of,
            refused: i64::from(self.refused),
            gave_permission: i64::from(self.gave_permission),
            consent: self.consent.map_or("", consent_str),
            reason: self.reason.map_or("", reason_str),
            request_id: &self.request_id,
        }
    }
}

impl Stored<'_> {
    /// The entry's hash at `id`, after the entry whose hash is `previous`.
    pub fn hash(&self, id: i64, time: Millis, previous: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(previous.as_bytes());
        for field in [
            id.to_string().as_str(),
            time.to_string().as_str(),
            self.action,
            self.pseudoniem,
            self.company_name,
            self.actor,
            self.on_behalf_of,
            &self.refused.to_string(),
            &self.gave_permission.to_string(),
            self.consent,
            self.reason,
            self.request_id,
        ] {
            hash.update((field.len() as u64).to_be_bytes());
            hash.update(field.as_bytes());
        }
        hex(&hash.finalize())
    }
}

pub fn consent_str(consent: Consent) -> &'static str {
    match consent {
        Consent::Pending => "PENDING",
        Consent::Granted => "GRANTED",
        Consent::Declined => "DECLINED",
    }
}

pub fn parse_consent(stored: &str) -> Option<Option<Consent>> {
    Some(match stored {
        "" => None,
        "PENDING" => Some(Consent::Pending),
        "GRANTED" => Some(Consent::Granted),
        "DECLINED" => Some(Consent::Declined),
        _ => return None,
    })
}

pub fn reason_str(reason: Reason) -> &'static str {
    match reason {
        Reason::CompanyChoice => "COMPANY_CHOICE",
        Reason::DefaultChoice => "DEFAULT_CHOICE",
        Reason::NoChoice => "NO_CHOICE",
        Reason::ChoiceExpired => "CHOICE_EXPIRED",
        Reason::AwaitingConfirmation => "AWAITING_CONFIRMATION",
    }
}

pub fn parse_reason(stored: &str) -> Option<Option<Reason>> {
    Some(match stored {
        "" => None,
        "COMPANY_CHOICE" => Some(Reason::CompanyChoice),
        "DEFAULT_CHOICE" => Some(Reason::DefaultChoice),
        "NO_CHOICE" => Some(Reason::NoChoice),
        "CHOICE_EXPIRED" => Some(Reason::ChoiceExpired),
        "AWAITING_CONFIRMATION" => Some(Reason::AwaitingConfirmation),
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            time: 1_800_000_000_000,
            action: Action::CheckPermission,
            pseudoniem: Pseudoniem::random(),
            company_name: "De Linde".into(),
            actor: Actor::HealthcareCompany,
            on_behalf_of: "HealthcareCompany:De Linde".into(),
            refused: false,
            gave_permission: true,
            consent: Some(Consent::Granted),
            reason: Some(Reason::CompanyChoice),
            request_id: "req-1".into(),
        }
    }

    #[test]
    fn every_field_the_id_and_the_entry_before_are_in_the_hash() {
        let base = entry();
        let hash = |e: &Entry, id: i64, previous: &str| e.stored().hash(id, e.time, previous);
        let original = hash(&base, 7, GENESIS);
        assert_eq!(original, hash(&base, 7, GENESIS), "stable");
        assert_eq!(original.len(), 64);
        assert_ne!(original, hash(&base, 8, GENESIS), "the id");
        assert_ne!(original, hash(&base, 7, &original), "the entry before");
        let changes: [fn(&mut Entry); 11] = [
            |e| e.time += 1,
            |e| e.action = Action::CreateDossier,
            |e| e.pseudoniem = Pseudoniem::random(),
            |e| e.company_name.push('x'),
            |e| e.actor = Actor::Patient,
            |e| e.on_behalf_of.clear(),
            |e| e.refused = true,
            |e| e.gave_permission = false,
            |e| e.consent = Some(Consent::Declined),
            |e| e.reason = None,
            |e| e.request_id.push('x'),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = base.clone();
            change(&mut changed);
            assert_ne!(original, hash(&changed, 7, GENESIS), "change {i}");
        }
        // Length prefixes: moving a character between fields is a change.
        let mut shifted = base.clone();
        shifted.company_name = "De Lind".into();
        shifted.on_behalf_of = "eHealthcareCompany:De Linde".into();
        assert_ne!(original, hash(&shifted, 7, GENESIS));
    }

    #[test]
    fn stored_values_read_back() {
        for action in [
            Action::CheckPermission,
            Action::CreateDossier,
            Action::DeleteDossier,
            Action::SetChoice,
            Action::ClearChoice,
        ] {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        for actor in [Actor::Patient, Actor::HealthcareCompany] {
            assert_eq!(Actor::parse(actor.as_str()), Some(actor));
        }
        assert_eq!(parse_consent(""), Some(None));
        assert_eq!(
            parse_consent(consent_str(Consent::Declined)),
            Some(Some(Consent::Declined))
        );
        assert_eq!(
            parse_reason(reason_str(Reason::ChoiceExpired)),
            Some(Some(Reason::ChoiceExpired))
        );
        assert_eq!(parse_consent("MAYBE"), None);
    }
}
