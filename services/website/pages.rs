//! The pages, as askama templates (`templates/`): HTML-escaped, checked at
//! compile time, and free of any script or inline style, so the
//! Content-Security-Policy can forbid both.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::i18n::{Lang, Texts};
use crate::clients::CallError;

/// What every page's frame needs.
pub struct Layout {
    pub lang: &'static str,
    pub t: &'static Texts,
    pub signed_in: bool,
    /// For the sign-out form in the header and the page's own forms.
    pub csrf_token: String,
    /// A short message above the content (registered, signed out, …).
    pub notice: Option<&'static str>,
    /// Which part of the signed-in site this page is (`dossiers`,
    /// `choices`), marked in the navigation.
    pub section: &'static str,
}

impl Layout {
    pub fn new(lang: Lang, csrf_token: String) -> Self {
        Self {
            lang: lang.code(),
            t: lang.texts(),
            signed_in: false,
            csrf_token,
            notice: None,
            section: "",
        }
    }
}

/// A form's problems: one for the whole form, and one per bad field, in
/// the order of the fields.
#[derive(Default)]
pub struct FormErrors {
    pub general: Option<&'static str>,
    pub fields: Vec<(&'static str, &'static str)>,
}

impl FormErrors {
    pub fn general(message: &'static str) -> Self {
        Self {
            general: Some(message),
            fields: Vec::new(),
        }
    }

    pub fn field(&self, name: &str) -> Option<&'static str> {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, message)| *message)
    }

    pub fn is_empty(&self) -> bool {
        self.general.is_none() && self.fields.is_empty()
    }

    /// A service's refusal of bad fields, in words: each field it names
    /// that `words` knows becomes that form field's message (once); a
    /// refusal that names none of them is `unexpected`.
    pub fn from_violations(
        error: &CallError,
        words: impl Fn(&str) -> Option<(&'static str, &'static str)>,
        unexpected: &'static str,
    ) -> Self {
        let mut errors = Self::default();
        for (field, message) in error.bad_fields().iter().filter_map(|f| words(f)) {
            if errors.field(field).is_none() {
                errors.fields.push((field, message));
            }
        }
        if errors.is_empty() {
            errors.general = Some(unexpected);
        }
        errors
    }
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub page: Layout,
    pub errors: FormErrors,
    pub bsn: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SigninPage {
    pub page: Layout,
    pub errors: FormErrors,
    pub bsn: String,
    /// The identity provider's name, when patients sign in through one.
    pub provider: Option<String>,
    /// Whether the BSN-and-password form is offered (development mode).
    pub password: bool,
}

/// Right after a sign-in through the identity provider: a page that moves
/// on to the dashboard by itself (see `provider_signin` for why it is not a
/// redirect).
#[derive(Template)]
#[template(path = "signed_in.html")]
pub struct SignedInPage {
    pub page: Layout,
    pub title: &'static str,
    pub link: &'static str,
}

/// A moment, for `<time>`: machine-readable and for people.
#[derive(Clone)]
pub struct When {
    pub iso: String,
    pub text: String,
}

/// One row of the dashboard.
pub struct DossierRow {
    pub id: String,
    pub company: String,
    pub status_label: &'static str,
    /// `pending`, `granted`, `declined` or `expired`: the CSS class.
    pub status_class: &'static str,
    /// Why, in words: which of the patient's choices decided.
    pub reason: &'static str,
    /// When a grant stops, in words; `None` when it does not.
    pub until: Option<String>,
    pub changed: When,
    /// The buttons that change something: Approve (with an optional
    /// until date) and Decline.
    pub can_approve: bool,
    pub can_decline: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub page: Layout,
    pub name: String,
    pub dossiers: Vec<DossierRow>,
    /// Why the dossiers could not be shown, if they could not.
    pub problem: Option<&'static str>,
}

/// One of the patient's current choices, or one version in the history.
#[derive(Clone)]
pub struct ChoiceRow {
    /// The company's name, or "every company" in words.
    pub about: String,
    /// The company's name as the forms send it; empty for the default.
    pub company_name: String,
    pub every_company: bool,
    pub granted: bool,
    pub consent_label: &'static str,
    /// When a grant stops, in words; `None` when it does not.
    pub until: Option<String>,
    pub made: When,
    /// When a later version replaced it (history only).
    pub replaced: Option<When>,
}

#[derive(Template)]
#[template(path = "choices.html")]
pub struct ChoicesPage {
    pub page: Layout,
    /// The current choice for every company.
    pub default: Option<ChoiceRow>,
    /// The current choices for particular companies.
    pub companies: Vec<ChoiceRow>,
    /// Every version, newest first.
    pub history: Vec<ChoiceRow>,
    /// What the patient searched for, and the verified companies found
    /// (`None` without a search).
    pub query: String,
    pub found: Option<Vec<String>>,
    /// The problems of the last form sent, and what it held.
    pub errors: FormErrors,
    pub company_name: String,
    pub expire_date: String,
    /// Why the choices could not be shown, if they could not.
    pub problem: Option<&'static str>,
}

/// One entry of the patient's access log.
pub struct LogRow {
    pub when: When,
    /// Who acted: "You", or the company's name.
    pub who: String,
    /// What happened, in words.
    pub what: &'static str,
    /// The company concerned, or "for every company".
    pub about: String,
    /// What was answered or recorded, in words (may be empty).
    pub answer: &'static str,
    pub refused: bool,
    /// Why, for an answer the patient's choices decided.
    pub why: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "log.html")]
pub struct LogPage {
    pub page: Layout,
    pub rows: Vec<LogRow>,
    /// The filter as sent, to show again.
    pub from: String,
    pub to: String,
    pub company_name: String,
    /// The link to the older entries, if there are more.
    pub older: Option<String>,
    /// Why the log could not be shown, if it could not.
    pub problem: Option<&'static str>,
}

/// A page with a title, a sentence and a link home.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub page: Layout,
    pub title: &'static str,
    pub text: &'static str,
    pub link: &'static str,
}

/// A page with its HTTP status.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}
