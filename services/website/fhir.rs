//! The patient's choices as HL7 FHIR R4: a `Bundle` (type `collection`) of
//! `Consent` resources, one per version of every choice, so a patient can
//! take them to any system that speaks the exchange format of Dutch
//! healthcare.
//!
//! Each Consent follows the R4 privacy-consent pattern:
//! - `scope` `patient-privacy`, `category` LOINC 59284-0 (patient consent);
//! - `patient`: the pseudoniem, as a `urn:uuid:` identifier (never a BSN,
//!   never a name);
//! - `policyRule` OPTIN for a grant, OPTOUT for a decline;
//! - `provision.type` permit or deny; `provision.period` from when the
//!   version was made to its expiry, if any; a choice for one company names
//!   it as `provision.actor` with role IRCP (information recipient), a
//!   choice for every company has no actor, so it covers every recipient;
//! - `status` active for the current version, inactive for one replaced
//!   or withdrawn.
//!
//! A resource's id is derived from what it records, so downloading twice
//! gives the same ids.

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::proto::dossier::v1::{Choice, ConsentStatus};

const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const LOINC: &str = "http://loinc.org";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PARTICIPATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
/// RFC 3986: the identifier's value is a URI (here `urn:uuid:…`).
const URI: &str = "urn:ietf:rfc:3986";

/// The Bundle of `choices` (every version) of the patient `pseudoniem`,
/// made at `now`.
pub fn consent_bundle(pseudoniem: &str, choices: &[Choice], now: Timestamp) -> Value {
    let entries: Vec<Value> = choices
        .iter()
        .map(|choice| {
            let id = resource_id(pseudoniem, choice);
            json!({
                "fullUrl": format!("urn:uuid:{id}"),
                "resource": consent(&id, pseudoniem, choice),
            })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.to_string(),
        "entry": entries,
    })
}

fn consent(id: &str, pseudoniem: &str, choice: &Choice) -> Value {
    let permit = choice.consent() == ConsentStatus::Granted;
    let made = choice.update_time.as_ref().map(instant);
    let mut period = serde_json::Map::new();
    if let Some(made) = &made {
        period.insert("start".into(), json!(made));
    }
    if let Some(end) = choice.expire_time.as_ref().map(instant) {
        period.insert("end".into(), json!(end));
    }
    let mut provision = json!({
        "type": if permit { "permit" } else { "deny" },
        "period": period,
    });
    if !choice.every_company {
        provision["actor"] = json!([{
            "role": { "coding": [{
                "system": PARTICIPATION_TYPE,
                "code": "IRCP",
                "display": "information recipient",
            }]},
            "reference": { "display": choice.company_name },
        }]);
    }
    let mut resource = json!({
        "resourceType": "Consent",
        "id": id,
        "status": if choice.replace_time.is_none() { "active" } else { "inactive" },
        "scope": { "coding": [{
            "system": CONSENT_SCOPE,
            "code": "patient-privacy",
            "display": "Privacy Consent",
        }]},
        "category": [{ "coding": [{
            "system": LOINC,
            "code": "59284-0",
            "display": "Patient Consent",
        }]}],
        "patient": { "identifier": { "system": URI, "value": format!("urn:uuid:{pseudoniem}") } },
        "policyRule": { "coding": [{
            "system": ACT_CODE,
            "code": if permit { "OPTIN" } else { "OPTOUT" },
        }]},
        "provision": provision,
    });
    if let Some(made) = made {
        resource["dateTime"] = json!(made);
    }
    resource
}

/// RFC 3339 in UTC, as FHIR's `dateTime` and `instant` take it.
fn instant(timestamp: &prost_types::Timestamp) -> String {
    Timestamp::new(timestamp.seconds, timestamp.nanos.clamp(0, 999_999_999))
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

/// A UUID derived from the version's identity (version 8: custom bytes,
/// from SHA-256), valid as a FHIR id and in a `urn:uuid:` full URL.
fn resource_id(pseudoniem: &str, choice: &Choice) -> String {
    let mut hash = Sha256::new();
    for part in [
        pseudoniem,
        if choice.every_company { "*" } else { "" },
        &choice.company_name,
        &choice.update_time.as_ref().map(instant).unwrap_or_default(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds, nanos: 0 }
    }

    #[test]
    fn every_version_becomes_a_consent() {
        let pseudoniem = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        let choices = [
            Choice {
                company_name: "De Linde".into(),
                consent: ConsentStatus::Granted as i32,
                expire_time: Some(at(1_800_000_000)),
                update_time: Some(at(1_790_000_000)),
                ..Choice::default()
            },
            Choice {
                company_name: "De Linde".into(),
                consent: ConsentStatus::Declined as i32,
                update_time: Some(at(1_780_000_000)),
                replace_time: Some(at(1_790_000_000)),
                ..Choice::default()
            },
            Choice {
                every_company: true,
                consent: ConsentStatus::Declined as i32,
                update_time: Some(at(1_770_000_000)),
                ..Choice::default()
            },
        ];
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let bundle = consent_bundle(pseudoniem, &choices, now);
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "collection");
        let entries = bundle["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        let grant = &entries[0]["resource"];
        assert_eq!(grant["status"], "active");
        assert_eq!(grant["provision"]["type"], "permit");
        assert_eq!(grant["policyRule"]["coding"][0]["code"], "OPTIN");
        assert_eq!(grant["provision"]["period"]["end"], "2027-01-15T08:00:00Z");
        assert_eq!(
            grant["provision"]["actor"][0]["role"]["coding"][0]["code"],
            "IRCP"
        );
        assert_eq!(
            grant["provision"]["actor"][0]["reference"]["display"],
            "De Linde"
        );
        assert_eq!(
            grant["patient"]["identifier"]["value"],
            format!("urn:uuid:{pseudoniem}")
        );
        assert_eq!(
            entries[0]["fullUrl"],
            format!("urn:uuid:{}", grant["id"].as_str().unwrap())
        );
        let replaced = &entries[1]["resource"];
        assert_eq!(replaced["status"], "inactive");
        assert_eq!(replaced["provision"]["type"], "deny");
        assert_eq!(replaced["policyRule"]["coding"][0]["code"], "OPTOUT");
        let every = &entries[2]["resource"];
        assert!(every["provision"].get("actor").is_none(), "every recipient");
        // Stable ids, distinct per version.
        let again = consent_bundle(pseudoniem, &choices, now);
        assert_eq!(again, bundle);
        assert_ne!(grant["id"], replaced["id"]);
    }
}
