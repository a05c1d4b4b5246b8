//! The patient's choices: for a company before it asks (found by name), or
//! for every company at once; each current choice and since when, every
//! earlier version, and the FHIR download of them all.
//!
//! As everywhere on the website, the calls carry the patient's own token;
//! Dossier decides what a choice is and records it, Identity lists the
//! verified companies a patient can find. A form's problems are shown next
//! to it, keeping what was typed.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;

use super::account::{Notice, status_of, trouble};
use super::i18n::{Lang, Texts};
use super::local_time::{self, DateProblem};
use super::pages::{ChoiceRow, ChoicesPage, FormErrors, When, render};
use super::routes::{Shared, Visit, see_other};
use super::signed_in;
use crate::auth::Principal;
use crate::clients::{CallError, ChoiceTarget};
use crate::errors::Reason;
use crate::proto::dossier::v1::{Choice, ConsentStatus};

/// How many verified companies a search shows.
const FOUND_AT_MOST: i32 = 20;

/// `?q=…`: the start of a company's name to find.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Search {
    q: String,
}

/// `POST /choices`: a choice for `company_name`, or for every company when
/// `every_company` is `true`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChoiceForm {
    csrf_token: String,
    company_name: String,
    every_company: String,
    /// `GRANTED` or `DECLINED`.
    consent: String,
    /// With `GRANTED`: the last day of the approval (YYYY-MM-DD), or empty.
    expire_date: String,
}

/// `POST /choices/clear`: withdraw the choice for `company_name`, or the
/// one for every company.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClearForm {
    csrf_token: String,
    company_name: String,
    every_company: String,
}

/// What a form sent, to show again with its problems.
#[derive(Default)]
struct Sent {
    errors: FormErrors,
    company_name: String,
    expire_date: String,
    status: Option<StatusCode>,
}

/// `GET /choices`.
pub async fn show(
    State(state): State<Shared>,
    visit: Visit,
    Query(notice): Query<Notice>,
    Query(search): Query<Search>,
) -> Response {
    let principal = match signed_in::require(&state, &visit) {
        Ok(principal) => principal,
        Err(to_signin) => return *to_signin,
    };
    let notice = notice.text(visit.lang.texts());
    page(
        &state,
        visit,
        &principal,
        &search.q,
        notice,
        Sent::default(),
    )
    .await
}

/// `POST /choices`: records the choice, then back to `/choices`.
pub async fn choose(
    State(state): State<Shared>,
    visit: Visit,
    Form(form): Form<ChoiceForm>,
) -> Response {
    let principal = match signed_in::require_for_form(&state, &visit, &form.csrf_token) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    let t = visit.lang.texts();
    let mut sent = Sent {
        company_name: form.company_name.trim().to_owned(),
        expire_date: form.expire_date.trim().to_owned(),
        ..Sent::default()
    };
    let target = if form.every_company == "true" {
        Some(ChoiceTarget::EveryCompany)
    } else if sent.company_name.is_empty() {
        sent.errors
            .fields
            .push(("company_name", t.error_company_name));
        None
    } else {
        Some(ChoiceTarget::Company(sent.company_name.clone()))
    };
    let consent = match form.consent.as_str() {
        "GRANTED" => Some(ConsentStatus::Granted),
        "DECLINED" => Some(ConsentStatus::Declined),
        _ => {
            sent.errors.fields.push(("consent", t.error_consent));
            None
        }
    };
    let expire_time = match (
        consent,
        local_time::end_of_day(&sent.expire_date, jiff::Timestamp::now()),
    ) {
        (Some(ConsentStatus::Granted), Ok(until)) => until,
        (_, Ok(None)) => None,
        (_, Ok(Some(_)) | Err(DateProblem::NotADate | DateProblem::Past)) => {
            sent.errors
                .fields
                .push(("expire_date", t.error_expire_date));
            None
        }
    };
    let (Some(target), Some(consent), true) = (target, consent, sent.errors.is_empty()) else {
        sent.status = Some(StatusCode::BAD_REQUEST);
        return page(&state, visit, &principal, "", None, sent).await;
    };
    let context = visit.context(Some(&principal));
    match state
        .dossiers
        .set_choice(&context, target, consent, expire_time)
        .await
    {
        Ok(_) => see_other("/choices?notice=choice_saved"),
        Err(error) if signed_in::refused_token(&error) => {
            signed_in::refused(&state, &visit, &error)
        }
        Err(error) => {
            sent.errors = refusal(t, &error);
            sent.status = Some(status_of(&error));
            page(&state, visit, &principal, "", None, sent).await
        }
    }
}

/// `POST /choices/clear`: withdraws the choice, then back to `/choices`.
pub async fn withdraw(
    State(state): State<Shared>,
    visit: Visit,
    Form(form): Form<ClearForm>,
) -> Response {
    let principal = match signed_in::require_for_form(&state, &visit, &form.csrf_token) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    let target = if form.every_company == "true" {
        ChoiceTarget::EveryCompany
    } else {
        ChoiceTarget::Company(form.company_name)
    };
    let context = visit.context(Some(&principal));
    match state.dossiers.clear_choice(&context, target).await {
        Ok(()) => see_other("/choices?notice=choice_withdrawn"),
        Err(error) if signed_in::refused_token(&error) => {
            signed_in::refused(&state, &visit, &error)
        }
        Err(CallError::Unavailable(_)) => see_other("/choices?notice=unavailable"),
        Err(_) => see_other("/choices?notice=no_such_choice"),
    }
}

/// `GET /choices.fhir.json`: every version of the patient's choices as a
/// FHIR R4 Bundle of Consent resources.
pub async fn download(State(state): State<Shared>, visit: Visit) -> Response {
    let principal = match signed_in::require(&state, &visit) {
        Ok(principal) => principal,
        Err(to_signin) => return *to_signin,
    };
    let context = visit.context(Some(&principal));
    match state.dossiers.list_choices(&context, true).await {
        Ok(choices) => (
            [
                (header::CONTENT_TYPE, "application/fhir+json; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"my-choices.fhir.json\"",
                ),
            ],
            super::fhir::consent_bundle(&principal.subject, &choices, jiff::Timestamp::now())
                .to_string(),
        )
            .into_response(),
        Err(error) if signed_in::refused_token(&error) => {
            signed_in::refused(&state, &visit, &error)
        }
        Err(error) => (
            status_of(&error),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            trouble(visit.lang.texts(), &error),
        )
            .into_response(),
    }
}

/// The choices page: the current choices and the history, a search's
/// results when `query` is set, and what a form sent with its problems.
async fn page(
    state: &Shared,
    visit: Visit,
    principal: &Principal,
    query: &str,
    notice: Option<&'static str>,
    sent: Sent,
) -> Response {
    let context = visit.context(Some(principal));
    let query = query.trim();
    let (history, found) = tokio::join!(state.dossiers.list_choices(&context, true), async {
        if query.is_empty() {
            return None;
        }
        Some(
            state
                .identity
                .list_companies(&context, query, FOUND_AT_MOST)
                .await,
        )
    });
    if let Some(error) = history
        .as_ref()
        .err()
        .filter(|error| signed_in::refused_token(error))
    {
        return signed_in::refused(state, &visit, error);
    }
    let t = visit.lang.texts();
    let problem = history.as_ref().err().map(|error| trouble(t, error));
    let rows: Vec<ChoiceRow> = history
        .unwrap_or_default()
        .iter()
        .map(|choice| row(visit.lang, choice))
        .collect();
    let current = || rows.iter().filter(|row| row.replaced.is_none());
    let default = current().find(|row| row.every_company).cloned();
    let companies = current()
        .filter(|row| !row.every_company)
        .cloned()
        .collect();
    let found = found.map(|answer| answer.map(|page| page.company_names).unwrap_or_default());
    let visit = visit.with_csrf_nonce(&state.sessions);
    let mut layout = visit.layout(&state.sessions);
    layout.signed_in = true;
    layout.section = "choices";
    layout.notice = notice;
    let status = match (sent.status, problem) {
        (Some(status), _) => status,
        (None, Some(_)) => StatusCode::SERVICE_UNAVAILABLE,
        (None, None) => StatusCode::OK,
    };
    let html = render(
        status,
        &ChoicesPage {
            page: layout,
            default,
            companies,
            history: rows,
            query: query.to_owned(),
            found,
            errors: sent.errors,
            company_name: sent.company_name,
            expire_date: sent.expire_date,
            problem,
        },
    );
    (visit.jar, html).into_response()
}

/// A version of a choice, for people.
fn row(lang: Lang, choice: &Choice) -> ChoiceRow {
    let t = lang.texts();
    let granted = choice.consent() == ConsentStatus::Granted;
    let made = choice.update_time.unwrap_or_default();
    ChoiceRow {
        about: if choice.every_company {
            t.default_heading.to_owned()
        } else {
            choice.company_name.clone()
        },
        company_name: choice.company_name.clone(),
        every_company: choice.every_company,
        granted,
        consent_label: if granted {
            t.choice_granted
        } else {
            t.choice_declined
        },
        until: choice
            .expire_time
            .as_ref()
            .map(|end| local_time::until(lang, end)),
        made: when(lang, &made),
        replaced: choice.replace_time.as_ref().map(|at| when(lang, at)),
    }
}

fn when(lang: Lang, at: &prost_types::Timestamp) -> When {
    When {
        iso: local_time::iso(at),
        text: local_time::human(lang, at),
    }
}

/// Dossier's refusal of a choice, next to the fields it names.
fn refusal(t: &'static Texts, error: &CallError) -> FormErrors {
    match error.reason() {
        Some(Reason::CompanyNotFound) => FormErrors {
            general: None,
            fields: vec![("company_name", t.error_company_not_found)],
        },
        Some(Reason::InvalidArgument) => {
            let words = |field: &str| match field {
                "company_name" | "target" => Some(("company_name", t.error_company_name)),
                "expire_time" => Some(("expire_date", t.error_expire_date)),
                "consent" => Some(("consent", t.error_consent)),
                _ => None,
            };
            FormErrors::from_violations(error, words, t.error_unexpected)
        }
        _ => FormErrors::general(trouble(t, error)),
    }
}
