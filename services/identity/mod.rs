//! Identity: patient accounts, companies, and the only signer of tokens.
//!
//! - `grpc`: the handlers;
//! - `store`: patients (by pseudoniem, never by BSN) and companies;
//! - `credentials`: argon2id passwords, hashed company secrets;
//! - `throttle`: sign-ins per account and per address, registrations and
//!   the service credential per address;
//! - `hash_queue`: the bounded queue in front of argon2;
//! - `provider`: the patients' OpenID Connect provider (a DigiD broker in
//!   production): Identity exchanges the website's authorization codes and
//!   verifies the ID tokens, so a patient is who the provider says;
//! - `revocations`: signed-out tokens (RevokeToken, ListRevokedTokens),
//!   refused here at once;
//! - `validation`: field rules;
//! - `error`: what a call can fail with, answered in one place;
//! - `operator`: what an operator does on the database directly (verifying
//!   companies).
//!
//! Under `JWT_ALGORITHM=EdDSA` Identity alone holds a private key; it
//! publishes the public ones through GetJwks and loads its key files again
//! on SIGHUP, which is how keys rotate (`docs/security.md`).
//!
//! Identity resolves a BSN through Pseudoniem, with an Internal token it
//! signs for itself, and then forgets the BSN.

mod credentials;
mod error;
mod grpc;
mod hash_queue;
pub mod operator;
mod provider;
mod revocations;
mod store;
mod throttle;
mod validation;

use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;

use crate::auth::keys::KeyReloader;
use crate::auth::{InternalTokenSource, TokenIssuer, TokenVerifier};
use crate::clients::PseudoniemClient;
use crate::mesh::service::{Built, GrpcApp, Handles, MeshService};
use crate::proto::identity::v1::identity_service_server::IdentityServiceServer;
use crate::settings::{
    ConfigError, JwtSettings, PatientSignIn, ServiceCredential, ServiceKind, Settings,
    ThrottlePolicy,
};
use crate::storage::{Schema, StorageConfig};

/// The schema, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("services/identity/migrations");
pub static SCHEMA: Schema = Schema::shared(&MIGRATOR);

/// The Identity service.
pub struct Identity;

/// What the Identity server needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt: JwtSettings,
    pub storage: StorageConfig,
    /// The credential IssueInternalToken checks.
    pub internal_secret: ServiceCredential,
    pub pseudoniem_url: String,
    /// Where Dossier is: told when a sign-in through the identity provider
    /// takes a password account over.
    pub dossier_url: String,
    pub dependency_timeout: Duration,
    pub login_throttle: ThrottlePolicy,
    /// Password sign-in on or off, and the OpenID provider.
    pub patient_sign_in: PatientSignIn,
}

impl MeshService for Identity {
    const KIND: ServiceKind = ServiceKind::Identity;
    type Config = Config;

    fn config(settings: &Settings) -> Result<Config, ConfigError> {
        let mut jwt = settings.require_jwt(Self::KIND)?;
        jwt.load_signing_keys()?;
        Ok(Config {
            jwt,
            storage: settings.storage(Self::KIND),
            internal_secret: settings.require_internal_secret(Self::KIND)?,
            pseudoniem_url: settings.peers.pseudoniem.clone(),
            dossier_url: settings.peers.dossier.clone(),
            dependency_timeout: settings.dependency_timeout,
            login_throttle: settings.login_throttle.clone(),
            patient_sign_in: require_provider_secret(&settings.patient_sign_in)?,
        })
    }

    async fn build(config: Config) -> crate::Result<Built> {
        let pool = crate::storage::open(&config.storage, &SCHEMA).await?;
        let issuer = Arc::new(TokenIssuer::new(&config.jwt));
        // Under EdDSA, Identity verifies with its own keys' public halves:
        // it never fetches a key set, it is where key sets come from.
        let verifier = Arc::new(TokenVerifier::new(&config.jwt));
        let signing_keys = match (config.jwt.signing_keys(), verifier.key_store()) {
            (Some(ring), Some(store)) => {
                let reloader = KeyReloader::new(ring.clone(), store.clone());
                reloader.reload_on_hangup()?;
                Some(reloader)
            }
            _ => None,
        };
        let tokens = InternalTokenSource::self_signed(issuer.clone());
        let pseudoniemen = PseudoniemClient::new(
            &config.pseudoniem_url,
            tokens.clone(),
            config.dependency_timeout,
        )?;
        let provider = match &config.patient_sign_in.provider {
            Some(settings) => {
                let provider = provider::PatientProvider::new(settings).map_err(|problem| {
                    ConfigError::new(format!("the OpenID provider's settings: {problem}"))
                })?;
                Some(provider)
            }
            None => None,
        };
        // Two connections of their own for sign-ins and registrations, which
        // anyone may send in floods (`docs/security.md`).
        let store = store::IdentityStore::new(pool)
            .with_sign_in_lane(crate::storage::open_lane(&config.storage, 2)?);
        report_look_alike_names(&store).await?;
        // This replica's own revocations reach its list at once; those of
        // other replicas through the table, every REFRESH_EVERY.
        crate::auth::revocation::spawn(
            verifier.revocations(),
            revocations::OwnTable::new(store.clone()),
            "Identity's table",
        );
        let api = grpc::IdentityApi::new(
            store,
            grpc::Tokens {
                issuer,
                signing_keys: config.jwt.signing_keys().cloned(),
                revocations: verifier.revocations().clone(),
            },
            pseudoniemen,
            config.internal_secret,
            &config.login_throttle,
            grpc::PatientSignIn {
                password: config.patient_sign_in.password,
                provider,
                takeovers: crate::clients::TakeoverNotice::new(
                    &config.dossier_url,
                    tokens.clone(),
                    config.dependency_timeout,
                )?,
            },
        )
        .await?;
        let api = Arc::new(api);
        api.warm_up_provider();
        Ok(Built {
            app: GrpcApp::new(IdentityServiceServer::from_arc(api), verifier.clone()).into(),
            handles: Handles {
                internal_tokens: Some(tokens),
                verifier: Some(verifier.clone()),
                signing_keys,
                ..Handles::default()
            },
        })
    }
}

/// Indexes the look of names registered before new names were compared by
/// it, and tells the operator of the pairs that already look alike: they
/// keep their names (tokens and Dossier's rows carry them), but a patient
/// may confuse them, so an operator should look (`docs/security.md`).
async fn report_look_alike_names(store: &store::IdentityStore) -> crate::Result<()> {
    for (name, looks_like) in store.index_name_skeletons().await? {
        tracing::warn!(
            company = %name,
            looks_like = %looks_like,
            "two registered company names look alike (registered before names were compared \
             by their look); neither is renamed: check that both are who they say"
        );
    }
    Ok(())
}

/// Identity exchanges codes as a confidential client: with a provider, its
/// client secret is required.
fn require_provider_secret(sign_in: &PatientSignIn) -> Result<PatientSignIn, ConfigError> {
    if let Some(provider) = &sign_in.provider
        && provider.client_secret.is_none()
    {
        return Err(ConfigError::new(
            "PATIENT_OIDC_CLIENT_SECRET is not set. Identity exchanges the patients' \
             authorization codes at the OpenID provider with the mesh's client secret: set it \
             (or PATIENT_OIDC_CLIENT_SECRET_FILE) for Identity; the website never needs it.",
        ));
    }
    Ok(sign_in.clone())
}
