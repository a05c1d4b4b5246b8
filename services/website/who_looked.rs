//! "Who looked": the patient's access log, newest first, a page at a time,
//! filtered by a period of days (in Europe/Amsterdam) and a company. As
//! everywhere on the website, the call carries the patient's own token and
//! Dossier answers only the patient's own entries.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;

use super::account::{status_of, trouble};
use super::dashboard::reason;
use super::i18n::{Lang, Texts};
use super::local_time;
use super::pages::{LogPage, LogRow, When, render};
use super::routes::{Shared, Visit};
use super::signed_in;
use crate::errors::Reason;
use crate::proto::dossier::v1::{
    AccessAction, AccessLogEntry, Actor, ConsentStatus, ListMyAccessLogRequest,
};

/// Entries per page.
const PAGE_SIZE: i32 = 50;

/// `GET /log?from=…&to=…&company_name=…&page=…`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogQuery {
    from: String,
    to: String,
    company_name: String,
    /// The token of the page to show (from an "Older entries" link).
    page: String,
}

/// `GET /log`.
pub async fn show(
    State(state): State<Shared>,
    visit: Visit,
    Query(query): Query<LogQuery>,
) -> Response {
    let principal = match signed_in::require(&state, &visit) {
        Ok(principal) => principal,
        Err(to_signin) => return *to_signin,
    };
    let t = visit.lang.texts();
    let mut problem = None;
    let mut status = StatusCode::OK;
    let mut rows = Vec::new();
    let mut older = None;
    match local_time::days(&query.from, &query.to) {
        Err(_) => {
            problem = Some(t.error_log_dates);
            status = StatusCode::BAD_REQUEST;
        }
        Ok((start_time, end_time)) => {
            let request = ListMyAccessLogRequest {
                start_time,
                end_time,
                company_name: query.company_name.trim().to_owned(),
                page_size: PAGE_SIZE,
                page_token: query.page.clone(),
            };
            let context = visit.context(Some(&principal));
            match state.dossiers.access_log(&context, request).await {
                Ok(page) => {
                    rows = page.entries.iter().map(|e| row(visit.lang, e)).collect();
                    if !page.next_page_token.is_empty() {
                        older = Some(older_link(&query, &page.next_page_token));
                    }
                }
                Err(error) if signed_in::refused_token(&error) => {
                    return signed_in::refused(&state, &visit, &error);
                }
                Err(error) => {
                    status = status_of(&error);
                    problem = Some(if error.reason() == Some(Reason::InvalidArgument) {
                        t.error_log_dates
                    } else {
                        trouble(t, &error)
                    });
                }
            }
        }
    }
    let mut page = visit.layout(&state.sessions);
    page.signed_in = true;
    page.section = "log";
    let html = render(
        status,
        &LogPage {
            page,
            rows,
            from: query.from,
            to: query.to,
            company_name: query.company_name,
            older,
            problem,
        },
    );
    (visit.jar, html).into_response()
}

/// The link to the next, older page, keeping the filter.
fn older_link(query: &LogQuery, token: &str) -> String {
    let pairs = [
        ("from", query.from.as_str()),
        ("to", query.to.as_str()),
        ("company_name", query.company_name.as_str()),
        ("page", token),
    ];
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{name}={}",
                url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            )
        })
        .collect();
    format!("/log?{}", encoded.join("&"))
}

/// One entry, for people.
fn row(lang: Lang, entry: &AccessLogEntry) -> LogRow {
    let t = lang.texts();
    let when = entry.time.unwrap_or_default();
    let company = if entry.company_name.is_empty() {
        t.for_every_company.to_owned()
    } else {
        entry.company_name.clone()
    };
    LogRow {
        when: When {
            iso: local_time::iso(&when),
            text: local_time::human(lang, &when),
        },
        who: match entry.actor() {
            Actor::Patient => t.who_you.to_owned(),
            _ => entry.company_name.clone(),
        },
        what: what(t, entry.action()),
        about: company,
        answer: answer(t, entry),
        refused: entry.refused,
        why: match entry.action() {
            AccessAction::CheckPermission | AccessAction::CreateDossier if !entry.refused => {
                Some(reason(t, entry.reason()))
            }
            _ => None,
        },
    }
}

fn what(t: &'static Texts, action: AccessAction) -> &'static str {
    match action {
        AccessAction::CheckPermission => t.what_check,
        AccessAction::CreateDossier => t.what_create,
        AccessAction::DeleteDossier => t.what_delete,
        AccessAction::SetChoice => t.what_set_choice,
        AccessAction::ClearChoice | AccessAction::Unspecified => t.what_clear_choice,
    }
}

/// What was answered or recorded, in words.
fn answer(t: &'static Texts, entry: &AccessLogEntry) -> &'static str {
    if entry.refused {
        return t.answer_refused;
    }
    match entry.action() {
        AccessAction::CheckPermission if entry.gave_permission => t.answer_allowed,
        AccessAction::CheckPermission => t.answer_not_allowed,
        AccessAction::CreateDossier => match entry.consent() {
            ConsentStatus::Granted => t.status_granted,
            ConsentStatus::Declined => t.status_declined,
            _ => t.status_pending,
        },
        AccessAction::SetChoice => match entry.consent() {
            ConsentStatus::Granted => t.choice_granted,
            _ => t.choice_declined,
        },
        _ => "",
    }
}
