//! The verified caller, as the verify layer hands it to handlers.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderValue;

use super::claims::{Claims, Role};
use super::error::AuthError;
use crate::ids::{CompanyName, Pseudoniem};

/// A token that passed verification, kept to be forwarded. Its `Debug`
/// never shows it, and the header value it makes is marked sensitive.
///
/// It is kept as the `Bearer <token>` header it is forwarded as, made once
/// when the token is first verified: every forward then shares the same
/// bytes instead of formatting a new header per call.
#[derive(Clone)]
pub struct VerifiedToken(HeaderValue);

impl VerifiedToken {
    pub(crate) fn new(token: &str) -> Self {
        Self(bearer_header(token))
    }

    /// `Bearer <token>`, marked sensitive so HTTP/2 never indexes it and
    /// debug output hides it.
    pub fn bearer_header(&self) -> HeaderValue {
        self.0.clone()
    }
}

/// `Bearer <token>` as a sensitive header value.
pub fn bearer_header(token: &str) -> HeaderValue {
    // A token is base64url and dots (checked on the way in, or signed by
    // us), so it is always a valid header value.
    let mut value =
        HeaderValue::try_from(format!("Bearer {token}")).expect("a compact JWS is visible ASCII");
    value.set_sensitive(true);
    value
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifiedToken(<redacted>)")
    }
}

/// Who a verified token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The `sub` claim: a pseudoniem, a company name, or `internal`.
    pub subject: String,
    pub role: Role,
    /// The `jti` claim, for audit lines.
    pub token_id: Option<String>,
    /// The `exp` claim, seconds since the epoch: when a long call made with
    /// this token (a stream) must end.
    pub expires_at: u64,
    pub token: VerifiedToken,
}

impl Principal {
    pub(crate) fn new(claims: Claims, token: &str) -> Self {
        Self {
            subject: claims.sub,
            role: claims.role,
            token_id: claims.jti,
            expires_at: claims.exp,
            token: VerifiedToken::new(token),
        }
    }
}

/// The typed result of the verify layer, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The immediate caller (`authorization`).
    pub principal: Arc<Principal>,
    /// The end user an Internal caller acts for (`x-forwarded-authorization`),
    /// verified like any token. Only ever set for Internal callers.
    pub on_behalf_of: Option<Arc<Principal>>,
    /// The end user's network address an Internal caller vouches for
    /// (`x-forwarded-for`): the browser behind the website. Only ever set
    /// for Internal callers.
    pub forwarded_for: Option<IpAddr>,
}

/// The end user's network address, attached to an outbound request so the
/// forward layer can vouch for it (`x-forwarded-for`) alongside this
/// service's own Internal token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl Caller {
    /// The person or company the call is ultimately for.
    pub fn end_user(&self) -> &Arc<Principal> {
        self.on_behalf_of.as_ref().unwrap_or(&self.principal)
    }

    /// The caller the verify layer stored, for handlers of protected RPCs.
    /// Missing only if a handler is wired without the layer: an internal
    /// fault, never a reason to let the call through.
    pub fn from_request<T>(request: &tonic::Request<T>) -> Result<&Caller, AuthError> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or(AuthError::NotVerified)
    }

    /// The calling patient's pseudoniem.
    pub fn patient(&self) -> Result<Pseudoniem, AuthError> {
        let subject = self.subject_as(Role::Patient)?;
        Pseudoniem::parse(subject).ok_or(AuthError::invalid(
            super::AUTHORIZATION,
            "the subject does not fit the role",
        ))
    }

    /// The calling company's name.
    pub fn company(&self) -> Result<CompanyName, AuthError> {
        let subject = self.subject_as(Role::HealthcareCompany)?;
        CompanyName::parse(subject).map_err(|_| {
            AuthError::invalid(super::AUTHORIZATION, "the subject does not fit the role")
        })
    }

    /// The immediate caller's subject when it has `role`; the verify layer
    /// already enforced the proto's rule, this keeps handlers honest.
    pub fn subject_as(&self, role: Role) -> Result<&str, AuthError> {
        if self.principal.role == role {
            Ok(&self.principal.subject)
        } else {
            Err(AuthError::RoleNotAllowed {
                role: self.principal.role,
                allowed: role.alone(),
            })
        }
    }
}
