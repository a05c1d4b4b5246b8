//! The rules of consent: how a patient's choices answer a company.
//!
//! A choice is the patient's own record, for one company or for every
//! company (the patient's default), and a dossier only reads it. The rules,
//! from the Dutch national consent work (the Ministry of Health's generic
//! consent function, the Mitz rulebook):
//!
//! - No choice means no: access is denied unless the deciding choice is a
//!   grant that has not expired.
//! - The more specific choice decides: the patient's choice for this
//!   company, else the patient's default, else nothing (PENDING).
//! - An expired grant for this company denies; it does not fall through to
//!   a default grant, since the patient limited this company on purpose.
//! - A default covers only companies an operator has verified: anyone may
//!   register a company name, and "every company" must not include them.
//! - Only the patient decides: a grant made before the patient's first
//!   sign-in through the identity provider, by a password account anyone
//!   who knew the BSN could have made, is suspended (it denies) until the
//!   patient grants again.
//!
//! Nothing here reads a clock, a database or the network: the caller
//! passes the choices, whether the company is verified, and the time, so
//! every rule is tested as a table below.

/// Milliseconds since the epoch: how times are stored and compared.
pub type Millis = i64;

/// What a patient chose about a company (or every company).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stance {
    /// Access allowed, until `until` (exclusive) when set.
    Grant {
        until: Option<Millis>,
    },
    Decline,
}

impl Stance {
    /// How it is stored, with its expiry.
    pub fn stored(self) -> (&'static str, Option<Millis>) {
        match self {
            Stance::Grant { until } => (GRANTED, until),
            Stance::Decline => (DECLINED, None),
        }
    }
}

/// The stored consent of a choice version.
pub const GRANTED: &str = "GRANTED";
pub const DECLINED: &str = "DECLINED";
/// A version that withdraws the choice (ClearChoice). The store's SQL
/// spells it too, to skip such versions.
pub const CLEARED: &str = "CLEARED";

/// The latest version of one choice: its stance, or `None` when the
/// patient withdrew it, and when it was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    pub stance: Option<Stance>,
    pub recorded: Millis,
}

impl Latest {
    /// A stored version; `None` for a consent value this code never writes.
    pub fn from_stored(
        consent: &str,
        expire_time: Option<Millis>,
        recorded: Millis,
    ) -> Option<Self> {
        let stance = match consent {
            GRANTED => Some(Stance::Grant { until: expire_time }),
            DECLINED => Some(Stance::Decline),
            CLEARED => None,
            _ => return None,
        };
        Some(Self { stance, recorded })
    }
}

/// A dossier's consent, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Pending,
    Granted,
    Declined,
}

/// Which choice decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    CompanyChoice,
    DefaultChoice,
    NoChoice,
    ChoiceExpired,
    /// The deciding grant was made before the patient's account was taken
    /// over by a sign-in through the identity provider: suspended.
    AwaitingConfirmation,
}

/// The answer about one company's access to one patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub consent: Consent,
    pub gave_permission: bool,
    pub reason: Reason,
    /// When the deciding grant stops (or stopped), if it has an end.
    pub expire_time: Option<Millis>,
}

impl Decision {
    const NO_CHOICE: Decision = Decision {
        consent: Consent::Pending,
        gave_permission: false,
        reason: Reason::NoChoice,
        expire_time: None,
    };

    /// A grant that awaits the patient's confirmation: nothing stands, as
    /// far as the company is concerned, until the patient grants again.
    const AWAITING_CONFIRMATION: Decision = Decision {
        consent: Consent::Pending,
        gave_permission: false,
        reason: Reason::AwaitingConfirmation,
        expire_time: None,
    };
}

/// The two choices that bear on one company's dossier about one patient:
/// the latest version of the patient's choice for that company, and of the
/// patient's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Choices {
    pub company: Option<Latest>,
    pub default: Option<Latest>,
    /// When the patient first signed in through the identity provider,
    /// taking over a password account: grants recorded before it await
    /// the patient's confirmation. `None`: no such takeover.
    pub confirmed_since: Option<Millis>,
}

impl Choices {
    /// The patient's current choice for the company, if any.
    fn company_stance(&self) -> Option<Stance> {
        self.company.and_then(|latest| latest.stance)
    }

    /// The patient's current default, if any.
    fn default_stance(&self) -> Option<Stance> {
        self.default.and_then(|latest| latest.stance)
    }

    /// Whether the answer turns on the company being verified: there is no
    /// choice for the company, and a default that would decide. Only then
    /// need a caller ask Identity.
    pub fn default_would_decide(&self) -> bool {
        self.company_stance().is_none() && self.default_stance().is_some()
    }

    /// The answer at `now`, for a company that is verified or not.
    pub fn decide(&self, company_verified: bool, now: Millis) -> Decision {
        if let Some(latest) = self.company
            && let Some(stance) = latest.stance
        {
            return self.decided_by(latest, stance, Reason::CompanyChoice, now);
        }
        match self.default {
            Some(
                latest @ Latest {
                    stance: Some(stance),
                    ..
                },
            ) if company_verified => self.decided_by(latest, stance, Reason::DefaultChoice, now),
            _ => Decision::NO_CHOICE,
        }
    }

    /// The answer of the deciding version: suspended when it is a grant
    /// from before a takeover.
    fn decided_by(&self, latest: Latest, stance: Stance, reason: Reason, now: Millis) -> Decision {
        let unconfirmed = self
            .confirmed_since
            .is_some_and(|since| latest.recorded < since);
        if unconfirmed && matches!(stance, Stance::Grant { .. }) {
            return Decision::AWAITING_CONFIRMATION;
        }
        decided_by(stance, reason, now)
    }

    /// When the answer last changed, for a dossier created at `created`:
    /// the latest of its creation, the company choice's last version (made
    /// or withdrawn), the default's last version while no company choice
    /// stands in front of it, and the moment a deciding grant expired.
    pub fn changed(&self, created: Millis, decision: &Decision, now: Millis) -> Millis {
        let mut changed = created;
        if let Some(company) = self.company {
            changed = changed.max(company.recorded);
        }
        if self.company_stance().is_none()
            && let Some(default) = self.default
        {
            changed = changed.max(default.recorded);
        }
        if decision.reason == Reason::ChoiceExpired
            && let Some(expired) = decision.expire_time
        {
            changed = changed.max(expired.min(now));
        }
        if decision.reason == Reason::AwaitingConfirmation
            && let Some(since) = self.confirmed_since
        {
            changed = changed.max(since);
        }
        changed
    }
}

/// The answer of one deciding stance at `now`.
fn decided_by(stance: Stance, reason: Reason, now: Millis) -> Decision {
    match stance {
        Stance::Decline => Decision {
            consent: Consent::Declined,
            gave_permission: false,
            reason,
            expire_time: None,
        },
        Stance::Grant { until } => {
            let expired = until.is_some_and(|until| now >= until);
            Decision {
                consent: Consent::Granted,
                gave_permission: !expired,
                reason: if expired {
                    Reason::ChoiceExpired
                } else {
                    reason
                },
                expire_time: until,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000;
    const EARLIER: Millis = NOW - 60_000;

    fn latest(stance: Option<Stance>) -> Option<Latest> {
        Some(Latest {
            stance,
            recorded: EARLIER,
        })
    }

    const GRANT: Option<Stance> = Some(Stance::Grant { until: None });
    const DECLINE: Option<Stance> = Some(Stance::Decline);
    const WITHDRAWN: Option<Stance> = None;
    const fn grant_until(until: Millis) -> Option<Stance> {
        Some(Stance::Grant { until: Some(until) })
    }

    /// The contract's table, row by row, and the cases around it.
    #[test]
    fn the_contract_s_table() {
        use Consent::*;
        use Reason::*;
        // (company choice, default, company verified) -> (consent, permission, reason)
        type Row = (
            Option<Option<Stance>>,
            Option<Option<Stance>>,
            bool,
            (Consent, bool, Reason),
        );
        let rows: &[Row] = &[
            // no choice applies
            (None, None, true, (Pending, false, NoChoice)),
            (None, None, false, (Pending, false, NoChoice)),
            // the company choice decides, verified or not
            (Some(GRANT), None, true, (Granted, true, CompanyChoice)),
            (Some(GRANT), None, false, (Granted, true, CompanyChoice)),
            (Some(DECLINE), None, true, (Declined, false, CompanyChoice)),
            (
                Some(grant_until(NOW + 1)),
                None,
                true,
                (Granted, true, CompanyChoice),
            ),
            (
                Some(grant_until(NOW)),
                None,
                true,
                (Granted, false, ChoiceExpired),
            ),
            // the company choice beats the default, either way round
            (
                Some(DECLINE),
                Some(GRANT),
                true,
                (Declined, false, CompanyChoice),
            ),
            (
                Some(GRANT),
                Some(DECLINE),
                true,
                (Granted, true, CompanyChoice),
            ),
            // an expired company grant does not fall through to a default grant
            (
                Some(grant_until(NOW - 1)),
                Some(GRANT),
                true,
                (Granted, false, ChoiceExpired),
            ),
            // the default decides for a verified company without a choice
            (None, Some(GRANT), true, (Granted, true, DefaultChoice)),
            (None, Some(DECLINE), true, (Declined, false, DefaultChoice)),
            (
                None,
                Some(grant_until(NOW - 1)),
                true,
                (Granted, false, ChoiceExpired),
            ),
            (
                None,
                Some(grant_until(NOW + 1)),
                true,
                (Granted, true, DefaultChoice),
            ),
            // a default never covers an unverified company
            (None, Some(GRANT), false, (Pending, false, NoChoice)),
            (None, Some(DECLINE), false, (Pending, false, NoChoice)),
            // a withdrawn company choice lets the default decide
            (
                Some(WITHDRAWN),
                Some(GRANT),
                true,
                (Granted, true, DefaultChoice),
            ),
            (
                Some(WITHDRAWN),
                Some(DECLINE),
                true,
                (Declined, false, DefaultChoice),
            ),
            (Some(WITHDRAWN), None, true, (Pending, false, NoChoice)),
            // a withdrawn default is no default
            (
                Some(DECLINE),
                Some(WITHDRAWN),
                true,
                (Declined, false, CompanyChoice),
            ),
            (None, Some(WITHDRAWN), true, (Pending, false, NoChoice)),
        ];
        for (i, (company, default, verified, want)) in rows.iter().enumerate() {
            let choices = Choices {
                company: company.and_then(latest),
                default: default.and_then(latest),
                confirmed_since: None,
            };
            let got = choices.decide(*verified, NOW);
            assert_eq!(
                (got.consent, got.gave_permission, got.reason),
                *want,
                "row {i}: company {company:?}, default {default:?}, verified {verified}"
            );
            assert_eq!(
                got.gave_permission,
                got.consent == Granted && got.reason != ChoiceExpired,
                "row {i}: permission only for a live grant"
            );
        }
    }

    #[test]
    fn a_grant_stops_at_its_expire_time_to_the_millisecond() {
        let choices = Choices {
            company: latest(grant_until(NOW)),
            default: None,
            confirmed_since: None,
        };
        assert!(choices.decide(true, NOW - 1).gave_permission);
        let at = choices.decide(true, NOW);
        assert!(!at.gave_permission);
        assert_eq!(at.reason, Reason::ChoiceExpired);
        assert_eq!(at.expire_time, Some(NOW));
    }

    #[test]
    fn only_a_default_in_front_needs_the_company_s_standing() {
        let with = |company: Option<Option<Stance>>, default: Option<Option<Stance>>| Choices {
            company: company.and_then(latest),
            default: default.and_then(latest),
            confirmed_since: None,
        };
        assert!(with(None, Some(GRANT)).default_would_decide());
        assert!(with(Some(WITHDRAWN), Some(DECLINE)).default_would_decide());
        assert!(!with(Some(GRANT), Some(GRANT)).default_would_decide());
        assert!(!with(None, None).default_would_decide());
        assert!(!with(None, Some(WITHDRAWN)).default_would_decide());
    }

    #[test]
    fn the_answer_changed_when_its_deciding_choice_did() {
        let created = EARLIER - 10_000;
        let company = Latest {
            stance: Some(Stance::Decline),
            recorded: EARLIER,
        };
        let default = Latest {
            stance: Some(Stance::Grant { until: None }),
            recorded: EARLIER + 5,
        };
        // The company choice stands in front: the default's change is not one.
        let choices = Choices {
            company: Some(company),
            default: Some(default),
            confirmed_since: None,
        };
        let decision = choices.decide(true, NOW);
        assert_eq!(choices.changed(created, &decision, NOW), EARLIER);
        // Withdrawn: the default decides from now on.
        let withdrawn = Choices {
            company: Some(Latest {
                stance: None,
                recorded: EARLIER + 9,
            }),
            default: Some(default),
            confirmed_since: None,
        };
        let decision = withdrawn.decide(true, NOW);
        assert_eq!(withdrawn.changed(created, &decision, NOW), EARLIER + 9);
        // A choice made before the company asked: the dossier's creation.
        let before = Choices {
            company: Some(Latest {
                stance: Some(Stance::Decline),
                recorded: created - 1,
            }),
            default: None,
            confirmed_since: None,
        };
        let decision = before.decide(true, NOW);
        assert_eq!(before.changed(created, &decision, NOW), created);
        // A grant that expired changed the answer when it expired.
        let expired = Choices {
            company: Some(Latest {
                stance: grant_until(NOW - 7),
                recorded: EARLIER,
            }),
            default: None,
            confirmed_since: None,
        };
        let decision = expired.decide(true, NOW);
        assert_eq!(expired.changed(created, &decision, NOW), NOW - 7);
    }

    #[test]
    fn a_grant_from_before_a_takeover_awaits_the_patient_s_confirmation() {
        let since = EARLIER + 1;
        let choices =
            |company: Option<Stance>, default: Option<Stance>, recorded: Millis| Choices {
                company: company.map(|stance| Latest {
                    stance: Some(stance),
                    recorded,
                }),
                default: default.map(|stance| Latest {
                    stance: Some(stance),
                    recorded,
                }),
                confirmed_since: Some(since),
            };
        let grant = Stance::Grant { until: None };
        let awaiting = (Consent::Pending, false, Reason::AwaitingConfirmation);
        let answer = |choices: Choices| {
            let decision = choices.decide(true, NOW);
            (decision.consent, decision.gave_permission, decision.reason)
        };
        // Made before the takeover: suspended, the company's or the default.
        assert_eq!(answer(choices(Some(grant), None, EARLIER)), awaiting);
        assert_eq!(answer(choices(None, Some(grant), EARLIER)), awaiting);
        // A decline stands: it denies anyway.
        assert_eq!(
            answer(choices(Some(Stance::Decline), None, EARLIER)),
            (Consent::Declined, false, Reason::CompanyChoice)
        );
        // Granted again after the takeover: confirmed.
        assert_eq!(
            answer(choices(Some(grant), None, since)),
            (Consent::Granted, true, Reason::CompanyChoice)
        );
        // The answer changed at the takeover.
        let suspended = choices(Some(grant), None, EARLIER);
        let decision = suspended.decide(true, NOW);
        assert_eq!(suspended.changed(EARLIER - 5, &decision, NOW), since);
    }

    #[test]
    fn stored_values_round_trip_and_unknown_ones_are_refused() {
        for stance in [
            Stance::Decline,
            Stance::Grant { until: None },
            Stance::Grant { until: Some(NOW) },
        ] {
            let (consent, until) = stance.stored();
            assert_eq!(
                Latest::from_stored(consent, until, NOW).unwrap().stance,
                Some(stance)
            );
        }
        assert_eq!(
            Latest::from_stored(CLEARED, None, NOW).unwrap().stance,
            None
        );
        assert_eq!(Latest::from_stored("PENDING", None, NOW), None);
    }
}
