//! Registering, signing in and signing out.
//!
//! Identity decides: the website passes what the patient typed and turns
//! Identity's answer into words next to the form (field violations into
//! the rule of each field, `INVALID_CREDENTIALS` into "not correct", an
//! outage into "try again"). What was typed is kept, never the password.

use std::time::Duration;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use secrecy::SecretString;
use serde::Deserialize;
use tonic::Code;

use super::i18n::Texts;
use super::pages::{FormErrors, RegisterPage, SigninPage, render};
use super::routes::{Shared, Visit, forbidden, see_other};
use super::session::Session;
use crate::clients::{CallError, NewPatient};
use crate::errors::Reason;

/// `?notice=…` on a GET: what just happened.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    notice: String,
}

impl Notice {
    pub fn text(&self, t: &'static Texts) -> Option<&'static str> {
        match self.notice.as_str() {
            "registered" => Some(t.notice_registered),
            "signed_out" => Some(t.notice_signed_out),
            "expired" => Some(t.notice_expired),
            "signin" => Some(t.notice_signin_needed),
            "saved" => Some(t.notice_saved),
            "gone" => Some(t.notice_gone),
            "bad_date" => Some(t.error_expire_date),
            "choice_saved" => Some(t.notice_choice_saved),
            "choice_withdrawn" => Some(t.notice_choice_withdrawn),
            "no_such_choice" => Some(t.notice_no_such_choice),
            "unavailable" => Some(t.error_unavailable),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    csrf_token: String,
    bsn: String,
    first_name: String,
    last_name: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SigninForm {
    csrf_token: String,
    bsn: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    csrf_token: String,
}

pub async fn register_form(
    State(state): State<Shared>,
    visit: Visit,
    Query(notice): Query<Notice>,
) -> Response {
    if !state.password_sign_in {
        // Accounts are made at the first sign-in through the provider.
        return see_other("/signin");
    }
    let visit = visit.with_csrf_nonce(&state.sessions);
    let mut page = visit.layout(&state.sessions);
    page.notice = notice.text(visit.lang.texts());
    let html = render(
        StatusCode::OK,
        &RegisterPage {
            page,
            errors: FormErrors::default(),
            bsn: String::new(),
            first_name: String::new(),
            last_name: String::new(),
        },
    );
    (visit.jar, html).into_response()
}

pub async fn register(
    State(state): State<Shared>,
    visit: Visit,
    Form(form): Form<RegisterForm>,
) -> Response {
    if !state.sessions.csrf_ok(&visit.jar, &form.csrf_token) {
        return forbidden(&state, &visit);
    }
    let password = SecretString::from(form.password);
    let patient = NewPatient {
        bsn: form.bsn.trim(),
        first_name: &form.first_name,
        last_name: &form.last_name,
        password: &password,
    };
    let error = match state.identity.register(&visit.context(None), patient).await {
        Ok(_) => return see_other("/signin?notice=registered"),
        Err(error) => error,
    };
    let t = visit.lang.texts();
    let errors = match error.reason() {
        Some(Reason::InvalidArgument) => field_errors(t, &error, t.error_password_new),
        Some(Reason::PatientAlreadyRegistered) => FormErrors {
            general: None,
            fields: vec![("bsn", t.error_already_registered)],
        },
        _ => FormErrors::general(trouble(t, &error)),
    };
    render(
        status_of(&error),
        &RegisterPage {
            page: visit.layout(&state.sessions),
            errors,
            bsn: form.bsn,
            first_name: form.first_name,
            last_name: form.last_name,
        },
    )
}

pub async fn signin_form(
    State(state): State<Shared>,
    visit: Visit,
    Query(notice): Query<Notice>,
) -> Response {
    if matches!(state.sessions.read(&visit.jar), Session::SignedIn(_)) {
        return see_other("/");
    }
    let visit = visit.with_csrf_nonce(&state.sessions);
    let mut page = visit.layout(&state.sessions);
    page.notice = notice.text(visit.lang.texts());
    let html = render(
        StatusCode::OK,
        &SigninPage {
            page,
            errors: FormErrors::default(),
            bsn: String::new(),
            provider: state.provider.as_ref().map(|p| p.name.clone()),
            password: state.password_sign_in,
        },
    );
    (visit.jar, html).into_response()
}

pub async fn signin(
    State(state): State<Shared>,
    visit: Visit,
    Form(form): Form<SigninForm>,
) -> Response {
    if !state.sessions.csrf_ok(&visit.jar, &form.csrf_token) {
        return forbidden(&state, &visit);
    }
    let t = visit.lang.texts();
    let bsn = form.bsn.trim().to_owned();
    let (status, errors) = if form.password.is_empty() {
        // Not worth a failed attempt on the patient's account.
        let errors = FormErrors {
            general: None,
            fields: vec![("password", t.error_password_missing)],
        };
        (StatusCode::BAD_REQUEST, errors)
    } else {
        let password = SecretString::from(form.password);
        match state
            .identity
            .login(&visit.context(None), &bsn, &password)
            .await
        {
            Ok(token) => {
                let lifetime = Duration::from_secs(u64::try_from(token.expires_in).unwrap_or(0));
                let session = state
                    .sessions
                    .start(token.access_token, lifetime, visit.secure);
                // A new nonce with the new session: no form from before
                // signing in is accepted after it.
                let jar = state
                    .sessions
                    .with_nonce(visit.jar.add(session), true, visit.secure);
                return (jar, see_other("/")).into_response();
            }
            Err(error) => {
                let errors = match error.reason() {
                    Some(Reason::InvalidArgument) => {
                        field_errors(t, &error, t.error_password_missing)
                    }
                    Some(Reason::InvalidCredentials) => {
                        FormErrors::general(t.error_wrong_credentials)
                    }
                    Some(Reason::TooManyAttempts) => FormErrors::general(t.error_too_many_attempts),
                    Some(Reason::PasswordSignInDisabled) => FormErrors::general(t.provider_only),
                    _ => FormErrors::general(trouble(t, &error)),
                };
                (status_of(&error), errors)
            }
        }
    };
    render(
        status,
        &SigninPage {
            page: visit.layout(&state.sessions),
            errors,
            bsn,
            provider: state.provider.as_ref().map(|p| p.name.clone()),
            password: state.password_sign_in,
        },
    )
}

pub async fn signout(
    State(state): State<Shared>,
    visit: Visit,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !state.sessions.csrf_ok(&visit.jar, &form.csrf_token) {
        return forbidden(&state, &visit);
    }
    // The token is revoked before the cookie goes, so a copy of the cookie
    // (or the token taken from it) is worth nothing after sign-out: Identity
    // refuses it at once, Dossier and this website within seconds. If
    // Identity cannot be reached the cookie is cleared all the same; this
    // website refuses the token from now on either way.
    if let Session::SignedIn(principal) = state.sessions.read(&visit.jar) {
        if let Err(error) = state
            .identity
            .revoke_token(&visit.context(Some(&principal)))
            .await
        {
            tracing::warn!(
                reason = ?error.reason(),
                code = ?error.code(),
                "sign-out: Identity did not revoke the token; the session cookie is cleared all the same"
            );
        }
        state.sessions.revoke(&principal);
    }
    let jar = visit.jar.add(state.sessions.end(visit.secure));
    let jar = state.sessions.with_nonce(jar, true, visit.secure);
    (jar, see_other("/signin?notice=signed_out")).into_response()
}

/// Identity's field violations, each as its field's rule in words.
fn field_errors(t: &'static Texts, error: &CallError, password_rule: &'static str) -> FormErrors {
    let words = |field: &str| match field {
        "bsn" => Some(("bsn", t.error_bsn)),
        "first_name" => Some(("first_name", t.error_first_name)),
        "last_name" => Some(("last_name", t.error_last_name)),
        "password" => Some(("password", password_rule)),
        _ => None,
    };
    FormErrors::from_violations(error, words, t.error_unexpected)
}

/// A failure that is not about what was typed.
pub fn trouble(t: &'static Texts, error: &CallError) -> &'static str {
    match error {
        CallError::Unavailable(_) => t.error_unavailable,
        CallError::Refused(_) => t.error_unexpected,
    }
}

/// The HTTP status of a page that shows `error`.
pub fn status_of(error: &CallError) -> StatusCode {
    match error {
        CallError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        CallError::Refused(status) => match status.code() {
            Code::InvalidArgument => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::AlreadyExists => StatusCode::CONFLICT,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}
