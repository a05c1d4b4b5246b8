//! Dossier's domain: consent, the dossier record, and page tokens. No tonic
//! or SQL types here.

use base64::Engine as _;

use crate::ids::{CompanyName, DossierId};

/// The patient's decision. A new dossier is `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Pending,
    Granted,
    Declined,
}

impl Consent {
    /// How it is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::Pending => "PENDING",
            Consent::Granted => "GRANTED",
            Consent::Declined => "DECLINED",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "PENDING" => Some(Consent::Pending),
            "GRANTED" => Some(Consent::Granted),
            "DECLINED" => Some(Consent::Declined),
            _ => None,
        }
    }
}

impl TryFrom<String> for Consent {
    type Error = &'static str;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        Self::parse(&stored).ok_or("unknown consent value")
    }
}

/// A decision a patient can make: a new dossier is pending, but nobody can
/// set it back to pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Grant,
    Decline,
}

impl From<Decision> for Consent {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Grant => Consent::Granted,
            Decision::Decline => Consent::Declined,
        }
    }
}

/// One company's dossier about one patient, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DossierRecord {
    #[sqlx(try_from = "String")]
    pub id: DossierId,
    #[sqlx(try_from = "String")]
    pub company_name: CompanyName,
    #[sqlx(try_from = "String")]
    pub consent: Consent,
    /// Milliseconds since the epoch.
    pub create_time: i64,
    pub update_time: i64,
}

/// Where the next page of a patient's dossiers starts: after this
/// `(create_time, id)`. Opaque to clients; it only ever selects among the
/// caller's own dossiers, so tampering with it reveals nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub create_time: i64,
    pub id: DossierId,
}

impl PageCursor {
    const VERSION: &'static str = "v1";

    pub fn after(record: &DossierRecord) -> Self {
        Self {
            create_time: record.create_time,
            id: record.id,
        }
    }

    pub fn encode(&self) -> String {
        let raw = format!("{}:{}:{}", Self::VERSION, self.create_time, self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// `None` for anything this service did not produce.
    pub fn decode(token: &str) -> Option<Self> {
        if token.len() > 256 {
            return None;
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let mut parts = raw.splitn(3, ':');
        if parts.next()? != Self::VERSION {
            return None;
        }
        let create_time = parts.next()?.parse().ok()?;
        let id = DossierId::parse(parts.next()?)?;
        Some(Self { create_time, id })
    }
}

/// The page size a request asked for, per AIP-158: 0 means the default,
/// larger than the maximum is lowered to it, negative is an error.
pub fn page_size(asked: i32) -> Result<i64, &'static str> {
    const DEFAULT: i64 = 50;
    const MAX: i64 = 100;
    match asked {
        0 => Ok(DEFAULT),
        n if n < 0 => Err("must not be negative"),
        n => Ok(i64::from(n).min(MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let cursor = PageCursor {
            create_time: 1_700_000_000_123,
            id: DossierId::random(),
        };
        assert_eq!(PageCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "abc", "djE6MTox", "!!!", &"A".repeat(300)] {
            assert_eq!(PageCursor::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn page_sizes_follow_aip_158() {
        assert_eq!(page_size(0), Ok(50));
        assert_eq!(page_size(7), Ok(7));
        assert_eq!(page_size(1000), Ok(100));
        assert!(page_size(-1).is_err());
    }
}
