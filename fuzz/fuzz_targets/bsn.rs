//! `Bsn::parse` and `Bsn::from_field` on any text, against the reference
//! 11-proof (`fuzz/src/reference.rs`): the same verdict, error kind
//! included, for every input; and for every input of four bytes or more,
//! also for the 9-digit string those bytes name, so the differential check
//! covers the whole 9-digit space and not only what the fuzzer spells.

#![no_main]

use libfuzzer_sys::fuzz_target;
use toestemming::bsn::{Bsn, BsnError};
use toestemming_fuzz::messages::assert_field_errors_hide;
use toestemming_fuzz::reference::{self, BsnVerdict};

fn check(input: &str) {
    let expected = reference::bsn(input);
    let verdict = match Bsn::parse(input) {
        Ok(bsn) => {
            assert_eq!(bsn.expose(), input);
            assert!(input.len() == 9 && input.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(format!("{bsn:?}"), "Bsn(<redacted>)", "Debug shows the BSN");
            BsnVerdict::Valid
        }
        Err(BsnError::Shape) => BsnVerdict::Shape,
        Err(BsnError::AllZeros) => BsnVerdict::AllZeros,
        Err(BsnError::ElevenProof) => BsnVerdict::ElevenProof,
    };
    assert_eq!(verdict, expected, "Bsn::parse({input:?})");
    match Bsn::from_field("bsn", input) {
        Ok(_) => assert_eq!(expected, BsnVerdict::Valid),
        Err(errors) => {
            assert_ne!(expected, BsnVerdict::Valid);
            assert_field_errors_hide(errors, &[input]);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
    if let Some(bytes) = data.first_chunk::<4>() {
        check(&format!(
            "{:09}",
            u32::from_le_bytes(*bytes) % 1_000_000_000
        ));
    }
});
