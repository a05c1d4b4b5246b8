//! The signed-in patient's page: their name, every dossier kept about them,
//! and a decision on each.
//!
//! Every call here carries the patient's own token (the session) to
//! Identity and Dossier, which verify it themselves: the website shows only
//! what the patient may see and changes only what the patient may change.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use prost_types::Timestamp;
use serde::Deserialize;
use tonic::Code;

use super::account::{Notice, trouble};
use super::i18n::{Lang, Texts};
use super::pages::{DashboardPage, DossierRow, render};
use super::routes::{Shared, Visit, forbidden, see_other};
use super::session::Session;
use crate::auth::Principal;
use crate::clients::CallError;
use crate::proto::dossier::v1::{ConsentStatus, Dossier};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    csrf_token: String,
    dossier_id: String,
    decision: String,
}

/// `GET /`: the dashboard, or sign-in for anyone not signed in.
pub async fn show(
    State(state): State<Shared>,
    visit: Visit,
    Query(notice): Query<Notice>,
) -> Response {
    let principal = match signed_in(&state, &visit) {
        Ok(principal) => principal,
        Err(why) => return to_signin(&state, &visit, why),
    };
    let context = visit.context(Some(&principal));
    let (profile, dossiers) = tokio::join!(
        state.identity.profile(&context),
        state.dossiers.list_mine(&context)
    );
    if [profile.as_ref().err(), dossiers.as_ref().err()]
        .into_iter()
        .flatten()
        .any(|error| error.code() == Code::Unauthenticated)
    {
        // The services no longer accept the token: sign in again.
        return to_signin(&state, &visit, NotSignedIn::Expired);
    }
    let t = visit.lang.texts();
    let problem = [profile.as_ref().err(), dossiers.as_ref().err()]
        .into_iter()
        .flatten()
        .map(|error| trouble(t, error))
        .next();
    let name = profile
        .map(|profile| format!("{} {}", profile.first_name, profile.last_name))
        .unwrap_or_default();
    let dossiers = dossiers
        .unwrap_or_default()
        .into_iter()
        .map(|dossier| row(visit.lang, dossier))
        .collect();
    let visit = visit.with_csrf_nonce(&state.sessions);
    let mut page = visit.layout(&state.sessions);
    page.signed_in = true;
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

/// `POST /consent`: Approve or Decline one dossier, then back to `/`.
pub async fn decide(
    State(state): State<Shared>,
    visit: Visit,
    Form(form): Form<DecisionForm>,
) -> Response {
    if !state.sessions.csrf_ok(&visit.jar, &form.csrf_token) {
        return forbidden(&state, &visit);
    }
    let principal = match signed_in(&state, &visit) {
        Ok(principal) => principal,
        Err(why) => return to_signin(&state, &visit, why),
    };
    let consent = match form.decision.as_str() {
        "approve" => ConsentStatus::Granted,
        "decline" => ConsentStatus::Declined,
        _ => return see_other("/"),
    };
    let context = visit.context(Some(&principal));
    match state
        .dossiers
        .set_consent(&context, &form.dossier_id, consent, None)
        .await
    {
        Ok(_) => see_other("/?notice=saved"),
        Err(error) if error.code() == Code::Unauthenticated => {
            to_signin(&state, &visit, NotSignedIn::Expired)
        }
        Err(CallError::Unavailable(_)) => see_other("/?notice=unavailable"),
        Err(_) => see_other("/?notice=gone"),
    }
}

/// Why a visit is not signed in.
enum NotSignedIn {
    /// No session cookie.
    Missing,
    /// The token expired (or the services no longer accept it).
    Expired,
    /// The cookie is not a patient token: tampered, or from elsewhere.
    Invalid,
    /// It cannot be judged yet (no key set loaded): keep it, say so.
    Unavailable,
}

/// The signed-in patient, or why there is none.
fn signed_in(state: &Shared, visit: &Visit) -> Result<Principal, NotSignedIn> {
    match state.sessions.read(&visit.jar) {
        Session::SignedIn(principal) => Ok(principal),
        Session::None => Err(NotSignedIn::Missing),
        Session::Expired => Err(NotSignedIn::Expired),
        Session::Invalid => Err(NotSignedIn::Invalid),
        Session::Unavailable => Err(NotSignedIn::Unavailable),
    }
}

/// To sign-in with a short message, dropping a session cookie that is no
/// good.
fn to_signin(state: &Shared, visit: &Visit, why: NotSignedIn) -> Response {
    let notice = match why {
        NotSignedIn::Missing => return see_other("/signin?notice=signin"),
        NotSignedIn::Unavailable => return see_other("/signin?notice=unavailable"),
        NotSignedIn::Expired => "expired",
        NotSignedIn::Invalid => "signin",
    };
    let jar = visit.jar.clone().add(state.sessions.end(visit.secure));
    (jar, see_other(&format!("/signin?notice={notice}"))).into_response()
}

fn row(lang: Lang, dossier: Dossier) -> DossierRow {
    let t = lang.texts();
    let (status_label, status_class) = status(t, dossier.consent());
    let changed = dossier
        .update_time
        .or(dossier.create_time)
        .unwrap_or_default();
    DossierRow {
        id: dossier.id,
        company: dossier.company_name,
        status_label,
        status_class,
        changed_iso: iso(&changed),
        changed_text: human(lang, &changed),
    }
}

fn status(t: &'static Texts, consent: ConsentStatus) -> (&'static str, &'static str) {
    match consent {
        ConsentStatus::Granted => (t.status_granted, "granted"),
        ConsentStatus::Declined => (t.status_declined, "declined"),
        ConsentStatus::Pending | ConsentStatus::Unspecified => (t.status_pending, "pending"),
    }
}

fn moment(timestamp: &Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(timestamp.seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// For `<time datetime>`.
fn iso(timestamp: &Timestamp) -> String {
    moment(timestamp)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// For people: `30-11-2026 14:05 UTC` in Dutch, `30 Nov 2026, 14:05 UTC`
/// in English.
fn human(lang: Lang, timestamp: &Timestamp) -> String {
    let format = match lang {
        Lang::Nl => time::macros::format_description!("[day]-[month]-[year] [hour]:[minute] UTC"),
        Lang::En => time::macros::format_description!(
            "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        ),
    };
    moment(timestamp).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_well_in_both_languages() {
        let noon = Timestamp {
            seconds: 1_796_040_300,
            nanos: 0,
        };
        assert_eq!(iso(&noon), "2026-11-30T12:05:00Z");
        assert_eq!(human(Lang::Nl, &noon), "30-11-2026 12:05 UTC");
        assert_eq!(human(Lang::En, &noon), "30 Nov 2026, 12:05 UTC");
    }
}
