//! The token's claims, as a typed struct.
//!
//! Decoding into these types (rather than a JSON map) is itself a check: a
//! role outside the three, a string where a number belongs, or a duplicated
//! claim fails to deserialize, and the token is rejected.

use serde::{Deserialize, Serialize};

/// A role, spelled exactly as in the `role` claim. It deserializes from
/// one of the three strings only (serde's derived enum would also take
/// `{"Internal": null}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Role {
    Patient,
    HealthcareCompany,
    Internal,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Patient, Role::HealthcareCompany, Role::Internal];

    /// This role as a one-role rule.
    pub fn alone(self) -> &'static [Role] {
        match self {
            Role::Patient => &[Role::Patient],
            Role::HealthcareCompany => &[Role::HealthcareCompany],
            Role::Internal => &[Role::Internal],
        }
    }

    /// The claim string, e.g. `HealthcareCompany`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "Patient",
            Role::HealthcareCompany => "HealthcareCompany",
            Role::Internal => "Internal",
        }
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| serde::de::Error::custom("unknown role"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The subject of every Internal token.
pub const INTERNAL_SUBJECT: &str = "internal";

/// The claims of a mesh token. All but `jti` are required; claims the mesh
/// does not know are ignored (RFC 7519 §4), but a known claim of the wrong
/// type or given twice is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Patient: the pseudoniem; HealthcareCompany: the company name;
    /// Internal: `internal`.
    pub sub: String,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Not before, seconds since the epoch.
    pub nbf: u64,
    /// A unique id per token, for audit logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_exactly_three_strings() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
        for bad in [
            r#""patient""#,
            r#""Admin""#,
            r#"{"Internal":null}"#,
            "3",
            "null",
            r#"["Internal"]"#,
        ] {
            assert!(
                serde_json::from_str::<Role>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
