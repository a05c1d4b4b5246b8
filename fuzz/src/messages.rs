//! Every gRPC request message the mesh's servers decode, each with the
//! validation its handler runs where that is public, and the check that the
//! table misses no RPC of `proto/`.
//!
//! The table's order is the selector byte of `request_messages` inputs:
//! add new messages at the end, and rewrite the seeds
//! (`scripts/fuzz.sh --write-seeds`).

use std::collections::BTreeSet;
use std::fmt::Debug;

use prost::Message;
use toestemming::bsn::Bsn;
use toestemming::errors::FieldErrors;
use toestemming::ids::{CompanyName, DossierId, display_name};
use toestemming::proto::{dossier, identity, pseudoniem};

use crate::reference::{self, BsnVerdict};

/// One request message type: its full proto name, and what the target does
/// with bytes sent as it.
pub struct RequestMessage {
    pub name: &'static str,
    pub fuzz: fn(&[u8]),
}

/// The table, from `package::Message => check`. The proto name is spelled
/// from the Rust path (`identity::X` is `toestemming.identity.v1.X`), so a
/// name and its type cannot disagree.
macro_rules! request_messages {
    ($($package:ident :: $message:ident => $check:path),* $(,)?) => {
        pub const REQUEST_MESSAGES: &[RequestMessage] = &[$(
            RequestMessage {
                name: concat!("toestemming.", stringify!($package), ".v1.", stringify!($message)),
                fuzz: |data| round_trip::<$package::v1::$message>(data, $check),
            },
        )*];
    };
}

request_messages! {
    identity::RegisterPatientRequest => register_patient,
    identity::LoginPatientRequest => login_patient,
    identity::GetMyProfileRequest => no_fields,
    // Its field rules are services/identity's private `validation`; what
    // the fields prove is the provider's and the ID token's to say.
    identity::ExchangeProviderCodeRequest => no_fields,
    identity::RegisterCompanyRequest => register_company,
    // The handler compares a hash of the secret and parses the id with the
    // uuid crate; nothing of the library's to call before the store.
    identity::IssueCompanyTokenRequest => no_public_validation,
    // `validation::service_name` is private to services/identity.
    identity::IssueInternalTokenRequest => no_public_validation,
    pseudoniem::GetPseudoniemRequest => pseudoniem_get,
    pseudoniem::LookupPseudoniemRequest => pseudoniem_lookup,
    dossier::CreateDossierRequest => create_dossier,
    dossier::CheckPermissionRequest => check_permission,
    dossier::DeleteDossierRequest => delete_dossier,
    // `model::page_size` and `PageCursor::decode` are private to
    // services/dossier.
    dossier::ListMyDossiersRequest => no_public_validation,
    dossier::SetConsentRequest => set_consent,
    identity::GetJwksRequest => no_fields,
    // `validation::name_prefix` is private to services/identity; the page
    // size rule is shared.
    identity::ListCompaniesRequest => list_companies,
    identity::GetCompanyRequest => get_company,
    // The target and the stance are checked in services/dossier's private
    // `wire`; a company name is the shared CompanyName.
    dossier::SetChoiceRequest => set_choice,
    dossier::ClearChoiceRequest => clear_choice,
    dossier::ListMyChoicesRequest => list_my_choices,
    // The period's timestamps are checked in services/dossier's private
    // `wire`; a company name is the shared CompanyName.
    dossier::ListMyAccessLogRequest => list_my_access_log,
    // The cursor is an opaque paging token of the kind "watch".
    dossier::WatchConsentRequest => watch_consent,
    dossier::RecordAccountTakeoverRequest => record_account_takeover,
    // The caller's own token is the whole input; the body is empty.
    identity::RevokeTokenRequest => no_fields,
    // The cursor is an opaque paging token of the kind "revoked_tokens";
    // the page size rule (0 to 1000) is services/identity's private one.
    identity::ListRevokedTokensRequest => list_revoked_tokens,
}

/// Decodes `data` as `M` the way tonic's prost codec does; a message that
/// decodes re-encodes to bytes that decode to the same message, encode the
/// same again, and are as long as `encoded_len` says. Then runs `check`.
fn round_trip<M: Message + Default + PartialEq + Debug>(data: &[u8], check: fn(&M)) {
    let Ok(message) = M::decode(data) else {
        return;
    };
    let encoded = message.encode_to_vec();
    assert_eq!(encoded.len(), message.encoded_len());
    let again = M::decode(encoded.as_slice()).expect("a re-encoded message decodes");
    assert_eq!(again, message, "the round trip changed the message");
    assert_eq!(again.encode_to_vec(), encoded, "the encoding is not stable");
    check(&message);
}

/// The message name in `table`'s order, for seeds and error messages.
pub fn index_of(name: &str) -> u8 {
    let index = REQUEST_MESSAGES
        .iter()
        .position(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the table"));
    u8::try_from(index).expect("fewer than 256 request messages")
}

/// The input type of every RPC the mesh's services declare, from the
/// descriptor set `build.rs` compiles from `proto/` (the one reflection
/// serves).
pub fn rpc_input_types() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(toestemming::proto::FILE_DESCRIPTOR_SET)
        .expect("the library's descriptor set decodes");
    let mut inputs = BTreeSet::new();
    for file in &set.file {
        if !file.package().starts_with("toestemming.") {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                inputs.insert(method.input_type().trim_start_matches('.').to_owned());
            }
        }
    }
    inputs
}

/// Fails, naming the difference, unless the table holds exactly the input
/// types of the RPCs in `proto/`, each once. `request_messages` runs this
/// at start-up, so a new RPC cannot be forgotten.
pub fn assert_every_request_message_is_fuzzed() {
    let expected = rpc_input_types();
    assert!(
        expected.len() >= 14,
        "the descriptor set lists too few RPCs: {expected:?}"
    );
    let fuzzed: BTreeSet<String> = REQUEST_MESSAGES.iter().map(|m| m.name.to_owned()).collect();
    assert_eq!(
        fuzzed.len(),
        REQUEST_MESSAGES.len(),
        "a message is in the table twice"
    );
    let missing: Vec<_> = expected.difference(&fuzzed).collect();
    let extra: Vec<_> = fuzzed.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "fuzz/src/messages.rs must list the input type of every RPC in proto/: \
         missing {missing:?}, not an RPC input {extra:?}"
    );
}

fn no_fields<M>(_: &M) {}

fn no_public_validation<M>(_: &M) {}

/// A `bsn` field as every handler takes it: `Bsn::from_field`, agreeing
/// with the reference rule; a refusal becomes INVALID_ARGUMENT and never
/// repeats the number.
fn bsn_field(value: &str) {
    let expected = reference::bsn(value);
    match Bsn::from_field("bsn", value) {
        Ok(bsn) => {
            assert_eq!(expected, BsnVerdict::Valid, "Bsn accepted {value:?}");
            assert_eq!(bsn.expose(), value);
        }
        Err(errors) => {
            assert_ne!(expected, BsnVerdict::Valid, "Bsn refused {value:?}");
            assert_field_errors_hide(errors, &[value]);
        }
    }
}

/// The status a handler answers with names the fields, never their values
/// (checked for the values no rule message could contain by chance: five
/// or more digits).
pub fn assert_field_errors_hide(errors: FieldErrors, values: &[&str]) {
    let status = tonic::Status::from(errors);
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    for value in values {
        if value.len() >= 5 && value.bytes().all(|b| b.is_ascii_digit()) {
            assert!(
                !status.message().contains(value),
                "the message repeats a value"
            );
            assert!(
                !status
                    .details()
                    .windows(value.len())
                    .any(|w| w == value.as_bytes()),
                "the details repeat a value"
            );
        }
    }
}

/// `ids::display_name` against the reference rule.
fn name_field(value: &str) -> Result<String, &'static str> {
    let result = display_name(value);
    match (&result, reference::display_name(value)) {
        (Ok(name), Some(expected)) => assert_eq!(name, expected),
        (Err(_), None) => {}
        (got, expected) => panic!("display_name({value:?}) = {got:?}, expected {expected:?}"),
    }
    result
}

fn register_patient(request: &identity::v1::RegisterPatientRequest) {
    // As the handler: every field checked, all errors reported at once.
    // (The password rule, `validation::new_password`, is private.)
    let mut errors = FieldErrors::new();
    let bsn = errors.check("bsn", Bsn::parse(&request.bsn));
    let first = errors.check("first_name", name_field(&request.first_name));
    let last = errors.check("last_name", name_field(&request.last_name));
    assert_eq!(
        bsn.is_some(),
        reference::bsn(&request.bsn) == BsnVerdict::Valid
    );
    if bsn.is_some() && first.is_some() && last.is_some() {
        assert!(errors.into_result().is_ok());
    } else {
        let errors = errors.into_result().expect_err("a bad field was recorded");
        assert_field_errors_hide(errors, &[&request.bsn]);
    }
}

fn login_patient(request: &identity::v1::LoginPatientRequest) {
    bsn_field(&request.bsn);
}

fn register_company(request: &identity::v1::RegisterCompanyRequest) {
    let expected = name_field(&request.company_name);
    match CompanyName::parse(&request.company_name) {
        Ok(name) => {
            assert_eq!(Ok(name.as_str().to_owned()), expected);
            assert_eq!(name.key(), name.as_str().to_lowercase());
            // What Identity signs as `sub` for the company must pass the
            // verifier's rule for it.
            assert_eq!(name.as_str().trim(), name.as_str());
            assert!(name.as_str().len() <= crate::tokens::MAX_SUBJECT_BYTES);
        }
        Err(rule) => assert!(expected.is_err(), "CompanyName refused: {rule}"),
    }
}

fn pseudoniem_get(request: &pseudoniem::v1::GetPseudoniemRequest) {
    bsn_field(&request.bsn);
}

fn pseudoniem_lookup(request: &pseudoniem::v1::LookupPseudoniemRequest) {
    bsn_field(&request.bsn);
}

fn create_dossier(request: &dossier::v1::CreateDossierRequest) {
    bsn_field(&request.bsn);
}

fn check_permission(request: &dossier::v1::CheckPermissionRequest) {
    bsn_field(&request.bsn);
}

fn delete_dossier(request: &dossier::v1::DeleteDossierRequest) {
    bsn_field(&request.bsn);
}

fn set_consent(request: &dossier::v1::SetConsentRequest) {
    if let Some(id) = DossierId::parse(&request.dossier_id) {
        let canonical = id.to_string();
        assert!(
            reference::is_lowercase_uuid(&canonical),
            "a dossier id is stored as {canonical:?}"
        );
        assert_eq!(DossierId::parse(&canonical), Some(id));
    }
    if let Ok(consent) = dossier::v1::ConsentStatus::try_from(request.consent) {
        assert_eq!(consent as i32, request.consent);
        assert_eq!(
            dossier::v1::ConsentStatus::from_str_name(consent.as_str_name()),
            Some(consent)
        );
    }
}

/// AIP-158's page size: 0 is the default, a negative size is refused, and
/// no page is larger than the maximum.
fn page_size_field(asked: i32) {
    match toestemming::paging::page_size(asked) {
        Ok(size) => {
            assert!(asked >= 0, "a negative page size was taken");
            assert!((1..=toestemming::paging::MAX_PAGE_SIZE).contains(&size));
        }
        Err(_) => assert!(asked < 0, "page size {asked} refused"),
    }
}

/// A company name a patient typed: the same rule as registering one.
fn company_name_field(value: &str) {
    let expected = name_field(value);
    assert_eq!(
        CompanyName::parse(value).map(|name| name.as_str().to_owned()),
        expected
    );
}

fn list_companies(request: &identity::v1::ListCompaniesRequest) {
    page_size_field(request.page_size);
}

fn get_company(request: &identity::v1::GetCompanyRequest) {
    company_name_field(&request.company_name);
}

fn set_choice(request: &dossier::v1::SetChoiceRequest) {
    if let Some(dossier::v1::set_choice_request::Target::CompanyName(name)) = &request.target {
        company_name_field(name);
    }
}

fn clear_choice(request: &dossier::v1::ClearChoiceRequest) {
    if let Some(dossier::v1::clear_choice_request::Target::CompanyName(name)) = &request.target {
        company_name_field(name);
    }
}

fn list_my_choices(request: &dossier::v1::ListMyChoicesRequest) {
    page_size_field(request.page_size);
}

fn list_my_access_log(request: &dossier::v1::ListMyAccessLogRequest) {
    page_size_field(request.page_size);
    if !request.company_name.is_empty() {
        company_name_field(&request.company_name);
    }
}

fn record_account_takeover(request: &dossier::v1::RecordAccountTakeoverRequest) {
    if let Some(pseudoniem) = toestemming::ids::Pseudoniem::parse(&request.pseudoniem) {
        assert_eq!(pseudoniem.as_str(), request.pseudoniem);
    }
}

fn list_revoked_tokens(request: &identity::v1::ListRevokedTokensRequest) {
    if let Some([seq]) = toestemming::paging::decode_token::<1>("revoked_tokens", &request.after) {
        let _ = seq.parse::<i64>();
    }
}

fn watch_consent(request: &dossier::v1::WatchConsentRequest) {
    if let Some([seq]) = toestemming::paging::decode_token::<1>("watch", &request.after) {
        let _ = seq.parse::<i64>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_input_is_fuzzed() {
        assert_every_request_message_is_fuzzed();
    }
}
