//! Company names that cannot pass for one another (`docs/security.md`,
//! "Company names").
//!
//! A company's name is what a patient reads before granting it access, so
//! one company must not be able to register a name that reads as
//! another's. A new name is therefore:
//! - normalised to NFKC (a no-break space becomes a space, a Kelvin sign a
//!   K, a full-width letter its plain form), with runs of white space made
//!   one space;
//! - refused when it holds a character no one can see or that changes how
//!   the rest is shown: control and format characters (zero-width spaces,
//!   the byte-order mark, the soft hyphen, right-to-left overrides), the
//!   other default-ignorable code points, private-use and unassigned code
//!   points, line separators, and combining marks that NFKC could not join
//!   to a letter (a stack of accents, a strike-through);
//! - refused when its letters mix scripts that look alike (Latin with
//!   Cyrillic or Greek: UTS #39's "moderately restrictive" level);
//! - unique by [`skeleton_key`], its UTS #39 skeleton without case: a name
//!   that looks like a taken one is taken.
//!
//! Names registered before these rules keep their spelling (tokens and
//! Dossier's rows carry them); Identity reports their collisions at start-up.

use unicode_normalization::UnicodeNormalization as _;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
use unicode_security::RestrictionLevel;
use unicode_security::RestrictionLevelDetection as _;

/// A new company's name as it will be stored, or the rule it breaks.
pub fn new_company_name(value: &str) -> Result<String, &'static str> {
    let normalised: String = value.nfkc().collect();
    let name = normalised.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.chars().any(invisible) {
        return Err("must not contain invisible, control or formatting characters");
    }
    if name.chars().any(loose_mark) {
        return Err("must not contain accents or marks that are not part of a letter");
    }
    let letters: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || is_mark(*c))
        .collect();
    if letters.as_str().detect_restriction_level() > RestrictionLevel::ModeratelyRestrictive {
        return Err("must not mix scripts that look alike, such as Latin and Cyrillic letters");
    }
    Ok(name)
}

/// What makes two names look the same: the UTS #39 skeleton, taken again
/// after lowercasing (so "I" and "l", and "ZORG" and "Zorg", meet).
pub fn skeleton_key(name: &str) -> String {
    let skeleton: String = unicode_security::skeleton(name).collect();
    unicode_security::skeleton(&skeleton.to_lowercase()).collect()
}

fn invisible(c: char) -> bool {
    // A character whose skeleton is empty is default-ignorable: it shows
    // nothing.
    let ignorable = unicode_security::skeleton(c.encode_utf8(&mut [0; 4]))
        .next()
        .is_none();
    ignorable
        || matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::PrivateUse
                | GeneralCategory::Unassigned
                | GeneralCategory::Surrogate
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

fn is_mark(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
            | GeneralCategory::EnclosingMark
    )
}

/// A mark from the script-neutral combining blocks, left over after NFKC
/// joined what it could: it is drawn over or through the letters around
/// it. Marks of a script's own block (Devanagari vowel signs, Hebrew
/// points) are part of writing that script and stay allowed.
fn loose_mark(c: char) -> bool {
    c.general_category() == GeneralCategory::EnclosingMark
        || matches!(c as u32,
            0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_as_written() {
        for name in [
            "Zorg BV",
            "Zörg & Zoon B.V.",
            "Apotheek 't Hart",
            "Ziekenhuis Sint-Jansdal",
            "Клиника Здоровье",
            "東京クリニック",
            "डॉक्टर क्लिनिक",
        ] {
            assert_eq!(new_company_name(name).as_deref(), Ok(name), "{name}");
        }
    }

    #[test]
    fn look_alike_spellings_are_normalised_or_refused() {
        assert_eq!(new_company_name("Zorg\u{a0}BV").as_deref(), Ok("Zorg BV"));
        assert_eq!(new_company_name(" Zorg   BV ").as_deref(), Ok("Zorg BV"));
        assert_eq!(new_company_name("\u{212a}liniek").as_deref(), Ok("Kliniek"));
        assert_eq!(new_company_name("Ｚｏｒｇ").as_deref(), Ok("Zorg"));
        assert_eq!(new_company_name("Zorg\u{2028}BV").as_deref(), Ok("Zorg BV"));
        for refused in [
            "Zorg\u{200b} BV",
            "\u{feff}Zorg BV",
            "Zo\u{ad}rg BV",
            "Zorg BV\u{202e}",
            "Zorg B\u{336}V",
            "Zorg BV\u{301}\u{301}",
            "Zorg\u{34f} BV",
            "Z\u{43e}rg BV",
        ] {
            assert!(new_company_name(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn skeletons_meet_across_case_and_confusable_letters() {
        let key = skeleton_key("Zorg BV");
        assert_eq!(skeleton_key("ZORG bv"), key);
        assert_eq!(skeleton_key("Z\u{43e}rg BV"), key, "Cyrillic o");
        assert_eq!(skeleton_key("Zorg B\u{3bd}"), skeleton_key("Zorg Bv"));
        assert_eq!(skeleton_key("Zorg Inc"), skeleton_key("Zorg lnc"));
        assert_ne!(skeleton_key("Zorg BV"), skeleton_key("Zorg NV"));
    }
}
