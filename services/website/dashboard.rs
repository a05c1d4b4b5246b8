//! The signed-in patient's page: their name, every dossier kept about them,
//! why each is decided as it is, and the buttons that change something.
//!
//! Every call here carries the patient's own token (the session) to
//! Identity and Dossier, which verify it themselves: the website shows only
//! what the patient may see and changes only what the patient may change.
//! A decision on a dossier is the patient's choice for that dossier's
//! company (SetConsent), so it also holds for the company's next dossier.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;

use super::account::{Notice, trouble};
use super::i18n::{Lang, Texts};
use super::local_time;
use super::pages::{DashboardPage, DossierRow, When, render};
use super::routes::{Shared, Visit, see_other};
use super::signed_in;
use crate::clients::CallError;
use crate::proto::dossier::v1::{ConsentStatus, DecisionReason, Dossier};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    csrf_token: String,
    dossier_id: String,
    decision: String,
    /// With `approve`: the last day of the approval (YYYY-MM-DD), or empty.
    expire_date: String,
}

/// `GET /`: the dashboard, or sign-in for anyone not signed in.
pub async fn show(
    State(state): State<Shared>,
    visit: Visit,
    Query(notice): Query<Notice>,
) -> Response {
    let principal = match signed_in::require(&state, &visit) {
        Ok(principal) => principal,
        Err(to_signin) => return *to_signin,
    };
    let context = visit.context(Some(&principal));
    let (profile, dossiers) = tokio::join!(
        state.identity.profile(&context),
        state.dossiers.list_mine(&context)
    );
    let errors = [profile.as_ref().err(), dossiers.as_ref().err()];
    if let Some(error) = errors
        .into_iter()
        .flatten()
        .find(|error| signed_in::refused_token(error))
    {
        // The services no longer accept the token: sign in again.
        return signed_in::refused(&state, &visit, error);
    }
    let t = visit.lang.texts();
    let problem = errors
        .into_iter()
        .flatten()
        .map(|error| trouble(t, error))
        .next();
    // A provider may send no names (DigiD sends none): then no greeting by
    // name at all, rather than "Signed in as" and nothing.
    let name = profile
        .map(|profile| format!("{} {}", profile.first_name, profile.last_name))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let dossiers = dossiers
        .unwrap_or_default()
        .into_iter()
        .map(|dossier| row(visit.lang, dossier))
        .collect();
    let visit = visit.with_csrf_nonce(&state.sessions);
    let mut page = visit.layout(&state.sessions);
    page.signed_in = true;
    page.section = "dossiers";
    page.notice = notice.text(t);
    let status = if problem.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let html = render(
        status,
        &DashboardPage {
            page,
            name,
            dossiers,
            problem,
        },
    );
    (visit.jar, html).into_response()
}

/// `POST /consent`: Approve (optionally until a date) or Decline one
/// dossier, then back to `/`.
pub async fn decide(
    State(state): State<Shared>,
    visit: Visit,
    Form(form): Form<DecisionForm>,
) -> Response {
    let principal = match signed_in::require_for_form(&state, &visit, &form.csrf_token) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    let (consent, expire_time) = match form.decision.as_str() {
        "approve" => match local_time::end_of_day(&form.expire_date, jiff::Timestamp::now()) {
            Ok(until) => (ConsentStatus::Granted, until),
            Err(_) => return see_other("/?notice=bad_date"),
        },
        "decline" => (ConsentStatus::Declined, None),
        _ => return see_other("/"),
    };
    let context = visit.context(Some(&principal));
    match state
        .dossiers
        .set_consent(&context, &form.dossier_id, consent, expire_time)
        .await
    {
        Ok(_) => see_other("/?notice=saved"),
        Err(error) if signed_in::refused_token(&error) => {
            signed_in::refused(&state, &visit, &error)
        }
        Err(CallError::Unavailable(_)) => see_other("/?notice=unavailable"),
        Err(error) if error.bad_fields().iter().any(|f| f == "expire_time") => {
            see_other("/?notice=bad_date")
        }
        Err(_) => see_other("/?notice=gone"),
    }
}

fn row(lang: Lang, dossier: Dossier) -> DossierRow {
    let t = lang.texts();
    let expired = dossier.reason() == DecisionReason::ChoiceExpired;
    let (status_label, status_class) = match (dossier.consent(), expired) {
        (ConsentStatus::Granted, true) => (t.status_expired, "expired"),
        (consent, _) => status(t, consent),
    };
    let changed = dossier
        .update_time
        .or(dossier.create_time)
        .unwrap_or_default();
    // Only the buttons that change something: a live approval can only be
    // declined, a decline only approved; pending and ended approvals both.
    let (can_approve, can_decline) = match dossier.consent() {
        ConsentStatus::Granted => (expired, true),
        ConsentStatus::Declined => (true, false),
        ConsentStatus::Pending | ConsentStatus::Unspecified => (true, true),
    };
    DossierRow {
        reason: reason(t, dossier.reason()),
        until: dossier
            .expire_time
            .as_ref()
            .map(|end| local_time::until(lang, end)),
        changed: When {
            iso: local_time::iso(&changed),
            text: local_time::human(lang, &changed),
        },
        id: dossier.id,
        company: dossier.company_name,
        status_label,
        status_class,
        can_approve,
        can_decline,
    }
}

fn status(t: &'static Texts, consent: ConsentStatus) -> (&'static str, &'static str) {
    match consent {
        ConsentStatus::Granted => (t.status_granted, "granted"),
        ConsentStatus::Declined => (t.status_declined, "declined"),
        ConsentStatus::Pending | ConsentStatus::Unspecified => (t.status_pending, "pending"),
    }
}

/// Which of the patient's choices decided, in words.
pub fn reason(t: &'static Texts, reason: DecisionReason) -> &'static str {
    match reason {
        DecisionReason::CompanyChoice => t.reason_company_choice,
        DecisionReason::DefaultChoice => t.reason_default_choice,
        DecisionReason::ChoiceExpired => t.reason_choice_expired,
        DecisionReason::AwaitingConfirmation => t.reason_awaiting_confirmation,
        DecisionReason::NoChoice | DecisionReason::Unspecified => t.reason_no_choice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dossier(consent: ConsentStatus, reason: DecisionReason) -> Dossier {
        Dossier {
            id: "d".into(),
            company_name: "De Linde".into(),
            consent: consent as i32,
            reason: reason as i32,
            ..Dossier::default()
        }
    }

    #[test]
    fn only_the_buttons_that_change_something() {
        use ConsentStatus::*;
        use DecisionReason::*;
        let buttons = |consent, reason| {
            let row = row(Lang::En, dossier(consent, reason));
            (row.can_approve, row.can_decline, row.status_class)
        };
        assert_eq!(buttons(Pending, NoChoice), (true, true, "pending"));
        assert_eq!(buttons(Granted, CompanyChoice), (false, true, "granted"));
        assert_eq!(buttons(Granted, DefaultChoice), (false, true, "granted"));
        assert_eq!(buttons(Declined, CompanyChoice), (true, false, "declined"));
        assert_eq!(buttons(Granted, ChoiceExpired), (true, true, "expired"));
    }
}
