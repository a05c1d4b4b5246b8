//! Input rules for Identity's fields. Messages name the rule, never the
//! value.

use super::credentials::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};

/// A new password: at least 10 characters, at most 1 KiB.
pub fn new_password(value: &str) -> Result<(), String> {
    if value.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if value.len() > MAX_PASSWORD_BYTES {
        return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
    }
    Ok(())
}

/// A service name for IssueInternalToken's audit line: optional (the
/// credential is what is checked), at most 64 visible ASCII characters so it
/// is safe in a log line.
pub fn service_name(value: &str) -> Result<(), &'static str> {
    if value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        Ok(())
    } else {
        Err("must be at most 64 visible ASCII characters")
    }
}

/// A ListCompanies prefix, as the lowercased key it is compared with:
/// empty (every company) or up to a company name's length, no control
/// characters. Not trimmed: "De " is a narrower prefix than "De".
pub fn name_prefix(value: &str) -> Result<String, &'static str> {
    if value.chars().count() > crate::ids::CompanyName::MAX_CHARS {
        return Err("must be at most 100 characters");
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(value.to_lowercase())
}

/// ExchangeProviderCode's fields: each present and bounded; the PKCE
/// verifier as RFC 7636 §4.1 has it (43 to 128 of `A-Z a-z 0-9 - . _ ~`);
/// the redirect URI an http(s) URL. Whether they prove anything is for the
/// provider and the ID token to say.
pub fn provider_code(
    input: &crate::proto::identity::v1::ExchangeProviderCodeRequest,
) -> Result<(), crate::errors::FieldErrors> {
    let mut errors = crate::errors::FieldErrors::new();
    for (field, value, max) in [
        ("code", &input.code, 2048),
        ("nonce", &input.nonce, 512),
        ("redirect_uri", &input.redirect_uri, 2048),
    ] {
        if value.is_empty() {
            errors.add(field, "must not be empty");
        } else if value.len() > max || value.chars().any(char::is_control) {
            errors.add(
                field,
                format!("must be at most {max} bytes without control characters"),
            );
        }
    }
    let verifier = &input.code_verifier;
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        errors.add(
            "code_verifier",
            "must be a PKCE code verifier: 43 to 128 of A-Z a-z 0-9 - . _ ~",
        );
    }
    if !input.redirect_uri.is_empty()
        && !url::Url::parse(&input.redirect_uri)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
    {
        errors.add("redirect_uri", "must be an http or https URL");
    }
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_code_needs_every_field_and_a_real_verifier() {
        use crate::proto::identity::v1::ExchangeProviderCodeRequest;
        let good = ExchangeProviderCodeRequest {
            code: "abc".into(),
            code_verifier: "a".repeat(43),
            redirect_uri: "https://toestemming.example.nl/signin/callback".into(),
            nonce: "n-0S6_WzA2Mj".into(),
        };
        assert!(provider_code(&good).is_ok());
        let fields = |request: &ExchangeProviderCodeRequest| {
            provider_code(request).unwrap_err().field_names()
        };
        assert_eq!(
            fields(&ExchangeProviderCodeRequest::default()),
            "code,nonce,redirect_uri,code_verifier"
        );
        let short = ExchangeProviderCodeRequest {
            code_verifier: "a".repeat(42),
            ..good.clone()
        };
        assert_eq!(fields(&short), "code_verifier");
        let odd = ExchangeProviderCodeRequest {
            code_verifier: format!("{}+", "a".repeat(43)),
            redirect_uri: "javascript:alert(1)".into(),
            ..good
        };
        assert_eq!(fields(&odd), "code_verifier,redirect_uri");
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert!(new_password("123456789").is_err());
        assert!(new_password("1234567890").is_ok());
        assert!(new_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn name_prefixes_are_bounded_and_compared_without_case() {
        assert_eq!(name_prefix("").as_deref(), Ok(""));
        assert_eq!(name_prefix("De LINDE").as_deref(), Ok("de linde"));
        assert!(name_prefix(&"x".repeat(101)).is_err());
        assert!(name_prefix("a\u{7}").is_err());
    }

    #[test]
    fn service_names_are_short_and_printable() {
        assert!(service_name("dossier").is_ok());
        assert!(service_name("").is_ok());
        assert!(service_name("line\nbreak").is_err());
        assert!(service_name(&"s".repeat(65)).is_err());
    }
}
