//! How patients sign in: through an OpenID Connect provider (a DigiD broker
//! in production), and by BSN and password only as a development mode.
//!
//! A password proves nothing about who is behind a BSN, and every company
//! knows BSNs; so the deployments turn password sign-in off and send
//! patients to the provider, whose ID token says which BSN signed in.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};

use super::{ConfigError, Reader};

pub mod vars {
    pub const PATIENT_OIDC_ISSUER: &str = "PATIENT_OIDC_ISSUER";
    pub const PATIENT_OIDC_CLIENT_ID: &str = "PATIENT_OIDC_CLIENT_ID";
    pub const PATIENT_OIDC_CLIENT_SECRET: &str = "PATIENT_OIDC_CLIENT_SECRET";
    pub const PATIENT_OIDC_BSN_CLAIM: &str = "PATIENT_OIDC_BSN_CLAIM";
    pub const PATIENT_OIDC_PROVIDER_NAME: &str = "PATIENT_OIDC_PROVIDER_NAME";
    pub const PATIENT_PASSWORD_SIGNIN: &str = "PATIENT_PASSWORD_SIGNIN";
    pub const WEBSITE_PUBLIC_URL: &str = "WEBSITE_PUBLIC_URL";
}

/// The claim of the ID token that holds the BSN, unless configured.
pub const DEFAULT_BSN_CLAIM: &str = "bsn";
/// The provider's name on the website's button, unless configured.
pub const DEFAULT_PROVIDER_NAME: &str = "DigiD";

/// How patients sign in.
#[derive(Debug, Clone)]
pub struct PatientSignIn {
    /// `PATIENT_PASSWORD_SIGNIN`: RegisterPatient and LoginPatient work
    /// (the development mode; on unless turned off).
    pub password: bool,
    /// The OpenID Connect provider, when one is configured.
    pub provider: Option<ProviderSettings>,
}

impl Default for PatientSignIn {
    fn default() -> Self {
        Self {
            password: true,
            provider: None,
        }
    }
}

/// The patients' OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// `PATIENT_OIDC_ISSUER`: discovery is at this plus
    /// `/.well-known/openid-configuration`, and ID tokens must name it.
    pub issuer: String,
    /// `PATIENT_OIDC_CLIENT_ID`: the mesh as the provider's client, the
    /// audience its ID tokens must name.
    pub client_id: String,
    /// `PATIENT_OIDC_CLIENT_SECRET` (or `_FILE`): only Identity needs it
    /// (it exchanges the codes); the website never reads it.
    pub client_secret: Option<ProviderSecret>,
    /// `PATIENT_OIDC_BSN_CLAIM`: the ID token claim that holds the BSN.
    pub bsn_claim: String,
    /// `PATIENT_OIDC_PROVIDER_NAME`: what the website's button says.
    pub name: String,
}

/// The client secret at the provider. `Debug` never shows it.
#[derive(Clone)]
pub struct ProviderSecret(Arc<SecretString>);

impl ProviderSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Arc::new(SecretString::from(secret.into())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderSecret(<redacted>)")
    }
}

impl Reader<'_> {
    /// `PATIENT_PASSWORD_SIGNIN` and the `PATIENT_OIDC_*` variables.
    pub(super) fn patient_sign_in(&mut self) -> PatientSignIn {
        let password = match self.plain(vars::PATIENT_PASSWORD_SIGNIN) {
            None => true,
            Some(_) => self.flag(vars::PATIENT_PASSWORD_SIGNIN),
        };
        let client_secret = self
            .secret(vars::PATIENT_OIDC_CLIENT_SECRET)
            .map(ProviderSecret::new);
        let issuer = self.plain(vars::PATIENT_OIDC_ISSUER);
        let client_id = self.plain(vars::PATIENT_OIDC_CLIENT_ID);
        let bsn_claim = self.plain(vars::PATIENT_OIDC_BSN_CLAIM);
        let name = self.plain(vars::PATIENT_OIDC_PROVIDER_NAME);
        let provider = match (issuer, client_id) {
            (Some(issuer), Some(client_id)) => {
                let issuer = self.check(issuer_url(&issuer));
                issuer.map(|issuer| ProviderSettings {
                    issuer,
                    client_id,
                    client_secret,
                    bsn_claim: bsn_claim.unwrap_or_else(|| DEFAULT_BSN_CLAIM.to_owned()),
                    name: name.unwrap_or_else(|| DEFAULT_PROVIDER_NAME.to_owned()),
                })
            }
            (None, None) => {
                if client_secret.is_some() || bsn_claim.is_some() {
                    self.problems.push(format!(
                        "{} is set but {} is not",
                        vars::PATIENT_OIDC_CLIENT_SECRET,
                        vars::PATIENT_OIDC_ISSUER
                    ));
                }
                None
            }
            (Some(_), None) => {
                self.problems.push(format!(
                    "{} is set but {} is not: set the mesh's client id at the provider",
                    vars::PATIENT_OIDC_ISSUER,
                    vars::PATIENT_OIDC_CLIENT_ID
                ));
                None
            }
            (None, Some(_)) => {
                self.problems.push(format!(
                    "{} is set but {} is not: set the provider's issuer URL",
                    vars::PATIENT_OIDC_CLIENT_ID,
                    vars::PATIENT_OIDC_ISSUER
                ));
                None
            }
        };
        PatientSignIn { password, provider }
    }

    /// `WEBSITE_PUBLIC_URL`, without a trailing slash.
    pub(super) fn public_url(&mut self) -> Option<String> {
        let value = self.plain(vars::WEBSITE_PUBLIC_URL)?;
        match url::Url::parse(&value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(value.trim_end_matches('/').to_owned())
            }
            _ => {
                self.problems.push(format!(
                    "{} must be the website's address as browsers see it, e.g. \
                     https://toestemming.example.nl",
                    vars::WEBSITE_PUBLIC_URL
                ));
                None
            }
        }
    }
}

/// An issuer URL: https, or http for a development provider; as given
/// (ID tokens must name it exactly), without a trailing slash's ambiguity
/// resolved for the provider (some issuers end in one).
fn issuer_url(value: &str) -> Result<String, ConfigError> {
    match url::Url::parse(value) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(value.to_owned())
        }
        _ => Err(ConfigError::new(format!(
            "{} must be the provider's issuer URL, e.g. https://digid-broker.example.nl/realms/patients",
            vars::PATIENT_OIDC_ISSUER
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::settings::Settings;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, crate::settings::ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn password_sign_in_is_on_unless_turned_off_and_no_provider_is_assumed() {
        let default = settings(&[]).unwrap();
        assert!(default.patient_sign_in.password);
        assert!(default.patient_sign_in.provider.is_none());
        let off = settings(&[("PATIENT_PASSWORD_SIGNIN", "false")]).unwrap();
        assert!(!off.patient_sign_in.password);
        assert!(settings(&[("PATIENT_PASSWORD_SIGNIN", "nee")]).is_err());
    }

    #[test]
    fn a_provider_needs_an_issuer_and_a_client_id_and_hides_its_secret() {
        let set = settings(&[
            ("PATIENT_OIDC_ISSUER", "https://digid.example.nl/realms/p"),
            ("PATIENT_OIDC_CLIENT_ID", "toestemming"),
            ("PATIENT_OIDC_CLIENT_SECRET", "s3cret-value-of-the-client"),
        ])
        .unwrap();
        let provider = set.patient_sign_in.provider.as_ref().unwrap();
        assert_eq!(provider.bsn_claim, "bsn");
        assert_eq!(provider.name, "DigiD");
        assert_eq!(
            provider.client_secret.as_ref().unwrap().expose(),
            "s3cret-value-of-the-client"
        );
        assert!(!format!("{set:?}").contains("s3cret"));

        let half = settings(&[("PATIENT_OIDC_ISSUER", "https://digid.example.nl")])
            .unwrap_err()
            .to_string();
        assert!(half.contains("PATIENT_OIDC_CLIENT_ID"), "{half}");
        let bad = settings(&[
            ("PATIENT_OIDC_ISSUER", "not a url"),
            ("PATIENT_OIDC_CLIENT_ID", "toestemming"),
        ])
        .unwrap_err()
        .to_string();
        assert!(bad.contains("PATIENT_OIDC_ISSUER"), "{bad}");
    }

    #[test]
    fn the_public_url_must_be_an_address() {
        let set = settings(&[("WEBSITE_PUBLIC_URL", "https://toestemming.example.nl/")]).unwrap();
        assert_eq!(
            set.website_public_url.as_deref(),
            Some("https://toestemming.example.nl")
        );
        assert!(settings(&[("WEBSITE_PUBLIC_URL", "toestemming")]).is_err());
    }
}
