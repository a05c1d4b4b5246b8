//! What every page for a signed-in patient does first: read the session,
//! and send anyone not signed in to sign in, with a short message.

use axum::response::{IntoResponse as _, Response};

use super::routes::{Shared, Visit, forbidden, see_other};
use super::session::Session;
use crate::auth::Principal;
use crate::clients::CallError;
use crate::errors::Reason;

/// Why a visit is not signed in.
enum NotSignedIn {
    /// No session cookie.
    Missing,
    /// The token expired (or the services no longer accept it).
    Expired,
    /// The cookie is not a patient token: tampered, or from elsewhere.
    Invalid,
    /// The token was revoked: signed out (a cookie kept from before).
    SignedOut,
    /// It cannot be judged yet (no key set loaded): keep it, say so.
    Unavailable,
}

/// The signed-in patient, or why there is none.
fn patient(state: &Shared, visit: &Visit) -> Result<Principal, NotSignedIn> {
    match state.sessions.read(&visit.jar) {
        Session::SignedIn(principal) => Ok(principal),
        Session::None => Err(NotSignedIn::Missing),
        Session::Expired => Err(NotSignedIn::Expired),
        Session::Invalid => Err(NotSignedIn::Invalid),
        Session::SignedOut => Err(NotSignedIn::SignedOut),
        Session::Unavailable => Err(NotSignedIn::Unavailable),
    }
}

/// The signed-in patient, or the answer for a visit without one: to
/// sign-in, with a short message. (Boxed: the rare path need not make
/// every `Ok` as large as a response.)
pub fn require(state: &Shared, visit: &Visit) -> Result<Principal, Box<Response>> {
    patient(state, visit).map_err(|why| Box::new(to_signin(state, visit, why)))
}

/// For a form: its CSRF token first (403, nothing done, when it does not
/// fit), then the signed-in patient as [`require`].
pub fn require_for_form(
    state: &Shared,
    visit: &Visit,
    csrf_token: &str,
) -> Result<Principal, Box<Response>> {
    if !state.sessions.csrf_ok(&visit.jar, csrf_token) {
        return Err(Box::new(forbidden(state, visit)));
    }
    require(state, visit)
}

/// To sign-in, for a session a service no longer accepts (`error`, for
/// which [`refused_token`] holds): the patient must sign in again. A token
/// the service says was revoked (signed out elsewhere, and this website's
/// list has not caught up yet) goes on this website's list at once, and
/// the patient reads that they were signed out; anything else reads as an
/// expired session.
pub fn refused(state: &Shared, visit: &Visit, error: &CallError) -> Response {
    if error.reason() == Some(Reason::TokenRevoked) {
        if let Session::SignedIn(principal) = state.sessions.read(&visit.jar) {
            state.sessions.revoke(&principal);
        }
        return to_signin(state, visit, NotSignedIn::SignedOut);
    }
    to_signin(state, visit, NotSignedIn::Expired)
}

/// Whether a service refused the session's token: the patient must sign
/// in again.
pub fn refused_token(error: &CallError) -> bool {
    error.code() == tonic::Code::Unauthenticated
}

/// To sign-in with a short message, dropping a session cookie that is no
/// good.
fn to_signin(state: &Shared, visit: &Visit, why: NotSignedIn) -> Response {
    let notice = match why {
        NotSignedIn::Missing => return see_other("/signin?notice=signin"),
        NotSignedIn::Unavailable => return see_other("/signin?notice=unavailable"),
        NotSignedIn::Expired => "expired",
        NotSignedIn::Invalid => "signin",
        NotSignedIn::SignedOut => "signed_out",
    };
    let jar = visit.jar.clone().add(state.sessions.end(visit.secure));
    (jar, see_other(&format!("/signin?notice={notice}"))).into_response()
}
