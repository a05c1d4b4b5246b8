//! Between the wire and Dossier's domain: requests' fields checked into
//! domain values, and records and decisions turned into messages.

use prost_types::Timestamp;

use super::access_log::entry::{Action, Actor};
use super::consent::{Consent, Decision, Millis, Reason, Stance};
use super::model::{ChoiceVersion, DossierRecord, Target};
use super::store::LoggedEntry;
use crate::ids::CompanyName;
use crate::proto::dossier::v1::{
    self as proto, ConsentStatus, DecisionReason, clear_choice_request, set_choice_request,
};

/// The latest instant a timestamp may name: the end of year 9999, as
/// google.protobuf.Timestamp allows.
const MAX_SECONDS: i64 = 253_402_300_799;

/// The patient's stance a request asks for: GRANTED (optionally until a
/// future `expire_time`) or DECLINED. Each problem names its field.
pub fn stance(
    consent: i32,
    expire_time: Option<&Timestamp>,
    now: Millis,
) -> Result<Stance, Vec<(&'static str, &'static str)>> {
    let mut problems = Vec::new();
    let until = match expire_time.map(millis) {
        None => None,
        Some(None) => {
            problems.push(("expire_time", "is not a valid time"));
            None
        }
        Some(Some(until)) if until <= now => {
            problems.push(("expire_time", "must be in the future"));
            None
        }
        Some(Some(until)) => Some(until),
    };
    let stance = match ConsentStatus::try_from(consent) {
        Ok(ConsentStatus::Granted) => Some(Stance::Grant { until }),
        Ok(ConsentStatus::Declined) if expire_time.is_some() => {
            problems.push(("expire_time", "goes with CONSENT_STATUS_GRANTED only"));
            None
        }
        Ok(ConsentStatus::Declined) => Some(Stance::Decline),
        _ => {
            problems.push((
                "consent",
                "must be CONSENT_STATUS_GRANTED or CONSENT_STATUS_DECLINED",
            ));
            None
        }
    };
    match stance {
        Some(stance) if problems.is_empty() => Ok(stance),
        _ => Err(problems),
    }
}

/// Whom a SetChoice or ClearChoice names, as the patient typed it: a
/// company's name (to be spelled as Identity does), or every company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Company(CompanyName),
    EveryCompany,
}

/// The request's `target` oneof, checked: the field to blame, and why.
pub fn requested(
    company_name: Option<&str>,
    every_company: Option<bool>,
) -> Result<Requested, (&'static str, &'static str)> {
    match (company_name, every_company) {
        (Some(name), _) => CompanyName::parse(name)
            .map(Requested::Company)
            .map_err(|rule| ("company_name", rule)),
        (None, Some(true)) => Ok(Requested::EveryCompany),
        (None, Some(false)) => Err((
            "every_company",
            "must be true (or set company_name instead)",
        )),
        (None, None) => Err(("target", "set company_name or every_company")),
    }
}

/// SetChoice's `target` oneof, checked as [`requested`].
pub fn set_choice_target(
    target: Option<&set_choice_request::Target>,
) -> Result<Requested, (&'static str, &'static str)> {
    use set_choice_request::Target;
    match target {
        Some(Target::CompanyName(name)) => requested(Some(name), None),
        Some(Target::EveryCompany(every)) => requested(None, Some(*every)),
        None => requested(None, None),
    }
}

/// ClearChoice's `target` oneof, checked as [`requested`].
pub fn clear_choice_target(
    target: Option<&clear_choice_request::Target>,
) -> Result<Requested, (&'static str, &'static str)> {
    use clear_choice_request::Target;
    match target {
        Some(Target::CompanyName(name)) => requested(Some(name), None),
        Some(Target::EveryCompany(every)) => requested(None, Some(*every)),
        None => requested(None, None),
    }
}

/// A timestamp field, checked: in milliseconds.
pub fn instant(timestamp: &Timestamp) -> Result<Millis, &'static str> {
    millis(timestamp).ok_or("is not a valid time")
}

/// A timestamp in milliseconds; `None` outside google.protobuf.Timestamp's
/// range.
fn millis(timestamp: &Timestamp) -> Option<Millis> {
    let valid = (0..=MAX_SECONDS).contains(&timestamp.seconds)
        && (0..1_000_000_000).contains(&timestamp.nanos);
    valid.then(|| timestamp.seconds * 1000 + i64::from(timestamp.nanos) / 1_000_000)
}

pub fn timestamp(millis: Millis) -> Timestamp {
    Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: i32::try_from(millis.rem_euclid(1000) * 1_000_000).unwrap_or_default(),
    }
}

pub fn consent(consent: Consent) -> ConsentStatus {
    match consent {
        Consent::Pending => ConsentStatus::Pending,
        Consent::Granted => ConsentStatus::Granted,
        Consent::Declined => ConsentStatus::Declined,
    }
}

pub fn reason(reason: Reason) -> DecisionReason {
    match reason {
        Reason::CompanyChoice => DecisionReason::CompanyChoice,
        Reason::DefaultChoice => DecisionReason::DefaultChoice,
        Reason::NoChoice => DecisionReason::NoChoice,
        Reason::ChoiceExpired => DecisionReason::ChoiceExpired,
        Reason::AwaitingConfirmation => DecisionReason::AwaitingConfirmation,
    }
}

/// A dossier as the API shows it: the record, the decision derived from
/// the patient's choices, and when that decision last `changed`.
pub fn dossier(record: &DossierRecord, decision: &Decision, changed: Millis) -> proto::Dossier {
    proto::Dossier {
        id: record.id.to_string(),
        company_name: record.company_name.to_string(),
        consent: consent(decision.consent) as i32,
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(changed)),
        reason: reason(decision.reason) as i32,
        expire_time: decision.expire_time.map(timestamp),
    }
}

/// One version of a choice as the API shows it.
pub fn choice(version: &ChoiceVersion) -> proto::Choice {
    let (consent_status, expire_time) = match version.stance {
        Stance::Grant { until } => (ConsentStatus::Granted, until),
        Stance::Decline => (ConsentStatus::Declined, None),
    };
    proto::Choice {
        company_name: match &version.target {
            Target::Company(name) => name.to_string(),
            Target::EveryCompany => String::new(),
        },
        every_company: version.target == Target::EveryCompany,
        consent: consent_status as i32,
        expire_time: expire_time.map(timestamp),
        update_time: Some(timestamp(version.recorded)),
        replace_time: version.replaced.map(timestamp),
    }
}

/// An access log entry as the patient reads it.
pub fn access_log_entry(logged: &LoggedEntry) -> proto::AccessLogEntry {
    let entry = &logged.entry;
    proto::AccessLogEntry {
        id: logged.id,
        time: Some(timestamp(entry.time)),
        action: match entry.action {
            Action::CheckPermission => proto::AccessAction::CheckPermission,
            Action::CreateDossier => proto::AccessAction::CreateDossier,
            Action::DeleteDossier => proto::AccessAction::DeleteDossier,
            Action::SetChoice => proto::AccessAction::SetChoice,
            Action::ClearChoice => proto::AccessAction::ClearChoice,
        } as i32,
        company_name: entry.company_name.clone(),
        actor: match entry.actor {
            Actor::Patient => proto::Actor::Patient,
            Actor::HealthcareCompany => proto::Actor::HealthcareCompany,
        } as i32,
        gave_permission: entry.gave_permission,
        consent: entry.consent.map_or(ConsentStatus::Unspecified, consent) as i32,
        reason: entry.reason.map_or(DecisionReason::Unspecified, reason) as i32,
        request_id: entry.request_id.clone(),
        on_behalf_of: entry.on_behalf_of.clone(),
        refused: entry.refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000;

    fn at(millis: Millis) -> Timestamp {
        timestamp(millis)
    }

    #[test]
    fn a_grant_may_end_in_the_future_and_a_decline_never_ends() {
        let granted = ConsentStatus::Granted as i32;
        let declined = ConsentStatus::Declined as i32;
        assert_eq!(
            stance(granted, None, NOW),
            Ok(Stance::Grant { until: None })
        );
        assert_eq!(
            stance(granted, Some(&at(NOW + 1)), NOW),
            Ok(Stance::Grant {
                until: Some(NOW + 1)
            })
        );
        assert_eq!(stance(declined, None, NOW), Ok(Stance::Decline));
        let fields = |result: Result<Stance, Vec<(&'static str, &'static str)>>| {
            result
                .unwrap_err()
                .into_iter()
                .map(|(field, _)| field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(stance(granted, Some(&at(NOW)), NOW)),
            ["expire_time"]
        );
        assert_eq!(
            fields(stance(declined, Some(&at(NOW + 9)), NOW)),
            ["expire_time"]
        );
        assert_eq!(fields(stance(0, None, NOW)), ["consent"]);
        assert_eq!(
            fields(stance(1, None, NOW)),
            ["consent"],
            "PENDING is no choice"
        );
        assert_eq!(
            fields(stance(99, Some(&at(NOW - 1)), NOW)),
            ["expire_time", "consent"]
        );
        let bad = Timestamp {
            seconds: NOW / 1000,
            nanos: -1,
        };
        assert_eq!(fields(stance(granted, Some(&bad), NOW)), ["expire_time"]);
        let far = Timestamp {
            seconds: MAX_SECONDS + 1,
            nanos: 0,
        };
        assert_eq!(fields(stance(granted, Some(&far), NOW)), ["expire_time"]);
    }

    #[test]
    fn a_target_is_a_company_or_every_company() {
        assert_eq!(
            requested(Some(" De Linde "), None),
            Ok(Requested::Company(CompanyName::parse("De Linde").unwrap()))
        );
        assert_eq!(requested(None, Some(true)), Ok(Requested::EveryCompany));
        assert_eq!(requested(Some(""), None).unwrap_err().0, "company_name");
        assert_eq!(requested(None, Some(false)).unwrap_err().0, "every_company");
        assert_eq!(requested(None, None).unwrap_err().0, "target");
    }

    #[test]
    fn timestamps_keep_milliseconds() {
        assert_eq!(millis(&timestamp(NOW + 123)), Some(NOW + 123));
        assert_eq!(timestamp(-1).seconds, -1);
    }
}
