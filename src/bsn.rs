//! The BSN (burgerservicenummer), validated once where it enters.
//!
//! A [`Bsn`] can only be made by [`Bsn::parse`], so holding one means the
//! 11-proof passed. Its `Debug` is redacted and it has no `Display`: a BSN
//! must never reach a log line or an error message by accident.

use std::fmt;

/// A validated BSN: 9 digits, not all zero, passing the 11-proof.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bsn(String);

/// Why a string is not a BSN. The messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BsnError {
    #[error("a BSN is exactly 9 digits")]
    Shape,
    #[error("a BSN of all zeros is not valid")]
    AllZeros,
    #[error("the BSN fails the 11-proof")]
    ElevenProof,
}

impl Bsn {
    /// Validates `input` as a BSN: exactly 9 ASCII digits (no spaces, no
    /// signs), not all zeros, and 9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11).
    pub fn parse(input: &str) -> Result<Self, BsnError> {
        let bytes = input.as_bytes();
        if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(BsnError::Shape);
        }
        if bytes.iter().all(|b| *b == b'0') {
            return Err(BsnError::AllZeros);
        }
        let sum: i64 = bytes
            .iter()
            .zip([9i64, 8, 7, 6, 5, 4, 3, 2, -1])
            .map(|(digit, weight)| i64::from(digit - b'0') * weight)
            .sum();
        if sum.rem_euclid(11) != 0 {
            return Err(BsnError::ElevenProof);
        }
        Ok(Bsn(input.to_owned()))
    }

    /// The digits, for the Pseudoniem store and for outbound requests only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bsn(<redacted>)")
    }
}

impl Bsn {
    /// Parses the request field `field`; the violation names the rule,
    /// never the value.
    pub fn from_field(field: &str, input: &str) -> Result<Self, crate::errors::FieldErrors> {
        Self::parse(input)
            .map_err(|error| crate::errors::FieldErrors::one(field, error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contract_examples() {
        assert!(Bsn::parse("111222333").is_ok());
        assert!(Bsn::parse("123456782").is_ok());
    }

    #[test]
    fn rejects_what_fails_the_eleven_proof() {
        assert_eq!(Bsn::parse("123456780"), Err(BsnError::ElevenProof));
        assert_eq!(Bsn::parse("111222334"), Err(BsnError::ElevenProof));
    }

    #[test]
    fn rejects_wrong_shapes() {
        for input in [
            "",
            "12345678",
            "1234567820",
            "12345678a",
            " 23456782",
            "+23456782",
            "１２３４５６７８２",
        ] {
            assert_eq!(Bsn::parse(input), Err(BsnError::Shape), "{input:?}");
        }
        assert_eq!(Bsn::parse("000000000"), Err(BsnError::AllZeros));
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let bsn = Bsn::parse("111222333").unwrap();
        assert!(!format!("{bsn:?}").contains("111222333"));
    }
}
