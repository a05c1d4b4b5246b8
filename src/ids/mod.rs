//! The identifiers that travel between services, each its own type.
//!
//! A string that has passed through one of these constructors has the
//! shape its name promises, so a company name cannot be passed where a
//! pseudoniem belongs, and a store never sees an unchecked value. Unlike a
//! [`crate::bsn::Bsn`], none of them is secret: a pseudoniem is random and
//! means nothing outside the mesh, so logs may show it.

pub mod look_alike;

use std::fmt;

/// A patient's pseudoniem: a random UUID, written lowercase and hyphenated.
/// The only name for a patient outside the Pseudoniem service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudoniem(String);

impl Pseudoniem {
    /// A fresh random pseudoniem (UUID v4).
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Accepts exactly the canonical form, so one patient has one spelling.
    pub fn parse(value: &str) -> Option<Self> {
        let uuid = uuid::Uuid::try_parse(value).ok()?;
        let canonical = uuid.hyphenated().to_string();
        (canonical == value).then_some(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudoniem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Pseudoniem {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or("not a pseudoniem (a lowercase hyphenated UUID)")
    }
}

/// A company's display name: trimmed, 1 to 100 characters, no control
/// characters. Unique among companies regardless of case ([`Self::key`]).
/// It is also the `sub` of the company's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompanyName(String);

impl CompanyName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Trims `value` and checks it as a [`display_name`]: how a name that
    /// is already someone's is read (from a token, a row, a lookup).
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        display_name(value).map(Self)
    }

    /// A name a new company asks for: normalised, and refused when it
    /// could pass for another ([`look_alike`]).
    pub fn register(value: &str) -> Result<Self, &'static str> {
        let name = look_alike::new_company_name(value)?;
        display_name(&name).map(Self)
    }

    /// What a look-alike of this name shares with it
    /// ([`look_alike::skeleton_key`]): new names are unique by it.
    pub fn skeleton(&self) -> String {
        look_alike::skeleton_key(&self.0)
    }

    /// What makes two names the same company: the lowercased name.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CompanyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CompanyName {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

/// A name shown to people (a company's, a patient's first or last name):
/// trimmed, 1 to 100 characters, no control characters. The error names the
/// rule, never the value.
pub fn display_name(value: &str) -> Result<String, &'static str> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty");
    }
    if trimmed.chars().count() > CompanyName::MAX_CHARS {
        return Err("must be at most 100 characters");
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(trimmed.to_owned())
}

/// A dossier's id: a UUID, lowercase and hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DossierId(uuid::Uuid);

impl DossierId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Any UUID spelling a client sends; stored and answered canonically.
    pub fn parse(value: &str) -> Option<Self> {
        uuid::Uuid::try_parse(value).ok().map(Self)
    }
}

impl fmt::Display for DossierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl TryFrom<String> for DossierId {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or("not a dossier id (a UUID)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudoniem_has_one_spelling() {
        let p = Pseudoniem::random();
        assert_eq!(Pseudoniem::parse(p.as_str()), Some(p.clone()));
        assert_eq!(Pseudoniem::parse(&p.as_str().to_uppercase()), None);
        assert_eq!(Pseudoniem::parse(&p.as_str().replace('-', "")), None);
        assert_eq!(Pseudoniem::parse("internal"), None);
    }

    #[test]
    fn company_names_are_trimmed_bounded_and_compared_without_case() {
        assert_eq!(
            CompanyName::parse("  Zorg BV ").unwrap().as_str(),
            "Zorg BV"
        );
        assert!(CompanyName::parse("   ").is_err());
        assert!(CompanyName::parse(&"x".repeat(101)).is_err());
        assert!(CompanyName::parse(&"é".repeat(100)).is_ok());
        assert!(CompanyName::parse("a\u{0}b").is_err());
        assert_eq!(
            CompanyName::parse("Zorg BV").unwrap().key(),
            CompanyName::parse("ZORG bv").unwrap().key()
        );
    }

    #[test]
    fn dossier_ids_are_answered_canonically() {
        let id = DossierId::parse("3F2504E0-4F89-41D3-9A0C-0305E82C3301").unwrap();
        assert_eq!(id.to_string(), "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
        assert!(DossierId::parse("not-a-uuid").is_none());
    }
}
