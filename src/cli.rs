//! The `toestemming` command: which service(s) this process runs.
//! Every subcommand starts its services through `crate::launch`.

use clap::{Parser, Subcommand};

use crate::auth::keys::{PublicKeySet, SigningKeyRing};
use crate::launch::{MeshListeners, start_mesh};
use crate::settings::{
    JwtSettings, ServiceCredential, ServiceKind, Settings, SigningKeySource, SigningSecret,
    TokenKeys,
};

/// Online Toestemming: healthcare consent over gRPC, with JWTs between
/// services.
///
/// Configuration comes from the environment (JWT_SECRET_KEY,
/// INTERNAL_CLIENT_SECRET, DATABASE_URL, DATA_DIR, LISTEN_ADDR, IDENTITY_URL,
/// PSEUDONIEM_URL, DOSSIER_URL, ...); see the README.
#[derive(Debug, Parser)]
#[command(name = "toestemming", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Every service in one process on the default addresses (the default).
    /// Generates a development key and service credential when none is set.
    All,
    /// The Identity service (needs JWT_SECRET_KEY and INTERNAL_CLIENT_SECRET).
    Identity,
    /// The Pseudoniem service (needs JWT_SECRET_KEY and PSEUDONIEM_BSN_KEY).
    Pseudoniem,
    /// The Dossier service (needs JWT_SECRET_KEY and INTERNAL_CLIENT_SECRET).
    Dossier,
    /// The patient website (needs JWT_SECRET_KEY and INTERNAL_CLIENT_SECRET;
    /// finds Identity and Dossier at IDENTITY_URL and DOSSIER_URL).
    Website,
    /// Exits 0 when the service at URL is serving, 1 otherwise: the
    /// containers' health check. A URL without a path is a gRPC service
    /// (grpc.health.v1); the website's is its /healthz page. Without a URL:
    /// this machine's LISTEN_ADDR port over gRPC.
    Healthcheck {
        /// e.g. http://127.0.0.1:50051 or http://127.0.0.1:8080/healthz
        url: Option<String>,
    },
    /// Offline tools for the mesh's tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Operator commands on Identity's database (the DATABASE_URL,
    /// IDENTITY_DATABASE_URL or DATA_DIR the Identity service uses): a
    /// patient's default choice for every company covers only companies
    /// verified here.
    Companies {
        #[command(subcommand)]
        action: CompaniesAction,
    },
    /// Applies a service's migrations to its database (DATABASE_URL: the
    /// owner's) and, with --grant-to, grants the service's own role what it
    /// needs and nothing more (PostgreSQL). Run before the service by a role
    /// it never runs as, so the service cannot alter its append-only tables
    /// (compose's dossier-migrate, Kubernetes' init container).
    Migrate {
        /// identity, pseudoniem or dossier.
        service: String,
        /// The role the service runs as, e.g. dossier.
        #[arg(long)]
        grant_to: Option<String>,
    },
    /// Dossier's access log, on its database.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Identity's Ed25519 keys for JWT_ALGORITHM=EdDSA, in a directory:
    /// current.pem (signs), next.pem (published, signs after the next
    /// rotation), previous.pub.pem (the key before, public half only).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Walks the access log's hash chain: exits 0 saying how many entries
    /// it checked, or 1 naming the first entry that breaks the chain (an
    /// entry edited, removed or inserted). Reads only.
    Verify {
        /// The Dossier database; default the one the Dossier service reads
        /// (DATABASE_URL, DOSSIER_DATABASE_URL or DATA_DIR).
        database_url: Option<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum CompaniesAction {
    /// Marks the company registered under NAME (any case) verified, after
    /// you checked who it is.
    Verify { name: String },
    /// Withdraws a company's verification: patients' defaults no longer
    /// cover it (within seconds; their choices for it by name still stand).
    Unverify { name: String },
    /// Prints every registered company with `verified` or `unverified`.
    List,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Makes DIR (mode 0700) with a current and a next key (mode 0600).
    Generate { dir: std::path::PathBuf },
    /// Shifts the keys one place: next signs, a new next is made, the
    /// current key's public half is kept as previous and its private half
    /// deleted. Then send Identity SIGHUP (or restart it). Refuses within
    /// one token lifetime of the last rotation unless --force.
    Rotate {
        dir: std::path::PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Prints the public key set of DIR as RFC 7517 JSON: a JWT_JWKS_FILE
    /// for services that should not ask Identity.
    Jwks { dir: std::path::PathBuf },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Prints a token's header and claims and the verdict of the verifier
    /// the services use, with the configured JWT_SECRET_KEY: jwt.io,
    /// offline. Never prints the token, its signature or a key. Exits 0
    /// when the token is accepted, 1 otherwise.
    Inspect {
        /// The token, or `Bearer <token>`. Without it (or with `-`) it is
        /// read from standard input, which keeps it out of shell history
        /// and process listings.
        token: Option<String>,
    },
}

/// Runs the chosen command until Ctrl-C or SIGTERM.
pub async fn run(cli: Cli) -> crate::Result<()> {
    let settings = Settings::from_env()?;
    let kind = match cli.command.unwrap_or(Command::All) {
        Command::Healthcheck { url } => {
            let url = url.unwrap_or_else(|| {
                let port = settings
                    .listen_addr
                    .unwrap_or_else(|| ServiceKind::Identity.default_addr())
                    .port();
                format!("http://127.0.0.1:{port}")
            });
            return crate::healthcheck::check(&url).await;
        }
        Command::Token {
            action: TokenAction::Inspect { token },
        } => return inspect_token(&settings, token),
        Command::Keys { action } => return keys(&settings, action),
        Command::Migrate { service, grant_to } => {
            let (kind, schema) = match service.as_str() {
                "identity" => (ServiceKind::Identity, &crate::identity::SCHEMA),
                "pseudoniem" => (ServiceKind::Pseudoniem, &crate::pseudoniem::SCHEMA),
                "dossier" => (ServiceKind::Dossier, &crate::dossier::SCHEMA),
                other => {
                    return Err(format!(
                        "{other:?} has no database: migrate identity, pseudoniem or dossier"
                    )
                    .into());
                }
            };
            crate::storage::migrate(&settings.storage(kind), schema, grant_to.as_deref()).await?;
            println!("the {kind} database is up to date");
            return Ok(());
        }
        Command::Audit {
            action: AuditAction::Verify { database_url },
        } => return crate::dossier::operator::audit_verify(&settings, database_url).await,
        Command::Companies { action } => {
            use crate::identity::operator::{CompanyCommand, companies};
            let command = match action {
                CompaniesAction::Verify { name } => CompanyCommand::Verify(name),
                CompaniesAction::Unverify { name } => CompanyCommand::Unverify(name),
                CompaniesAction::List => CompanyCommand::List,
            };
            return companies(&settings, command).await;
        }
        Command::All => None,
        Command::Identity => Some(ServiceKind::Identity),
        Command::Pseudoniem => Some(ServiceKind::Pseudoniem),
        Command::Dossier => Some(ServiceKind::Dossier),
        Command::Website => Some(ServiceKind::Website),
    };
    let shutdown = crate::mesh::shutdown::on_signal();
    if let Some(address) = settings.metrics_addr {
        // Bound and installed before any service starts, so a taken port
        // fails the start and the first request is already counted.
        let listener = crate::launch::bind(address).await?;
        crate::telemetry::metrics::install()?;
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(error) = crate::telemetry::metrics::serve(listener, stop).await {
                tracing::error!(%error, "the metrics endpoint stopped");
            }
        });
    }
    let Some(kind) = kind else {
        return run_all(settings, shutdown).await;
    };
    if kind != ServiceKind::Identity
        && matches!(&settings.jwt, Some(jwt) if matches!(&jwt.keys,
            TokenKeys::Public(public) if public.signing.is_some()))
    {
        return Err(format!(
            "JWT_PRIVATE_KEY_FILE is set, but only Identity signs: the {kind} service verifies \
             with public keys (Identity's GetJwks, or JWT_JWKS_FILE). Do not give it the \
             private key."
        )
        .into());
    }
    let listener = crate::launch::bind(settings.listen_addr(kind)).await?;
    crate::launch::start(kind, &settings, listener, shutdown)
        .await?
        .wait()
        .await
}

/// `toestemming all`: the whole mesh on the default addresses, with
/// generated development secrets where none are set.
async fn run_all(
    mut settings: Settings,
    shutdown: tokio_util::sync::CancellationToken,
) -> crate::Result<()> {
    match &mut settings.jwt {
        None => {
            tracing::warn!(
                "JWT_SECRET_KEY is not set: generated a development key for this run only; \
                 tokens will not survive a restart. Set JWT_SECRET_KEY for anything else."
            );
            settings.jwt = Some(JwtSettings::with_secret(SigningSecret::generate()));
        }
        Some(JwtSettings {
            keys: TokenKeys::Public(public),
            ..
        }) if public.signing.is_none() => {
            let ring = SigningKeyRing::generate();
            tracing::warn!(
                kid = %ring.current().current.kid,
                "JWT_ALGORITHM=EdDSA without JWT_PRIVATE_KEY_FILE: generated an Ed25519 signing \
                 key for this run only; tokens will not survive a restart. Create keys with \
                 `toestemming keys generate DIR` for anything else."
            );
            public.signing = Some(SigningKeySource::Loaded(std::sync::Arc::new(ring)));
        }
        Some(_) => {}
    }
    if settings.pseudoniem_bsn_key.is_none() {
        let (key, path, created) = crate::pseudoniem::development_key(&settings.data_dir)?;
        tracing::warn!(
            key_file = %path.display(),
            made_now = created,
            "PSEUDONIEM_BSN_KEY is not set: Pseudoniem stores BSNs under the development key in \
             this file, kept beside the data. Set PSEUDONIEM_BSN_KEY (kept elsewhere) for \
             anything else."
        );
        settings.pseudoniem_bsn_key = Some(key);
    }
    if settings.internal_secret.is_none() {
        tracing::warn!(
            "INTERNAL_CLIENT_SECRET is not set: generated a development service credential \
             for this run"
        );
        settings.internal_secret = Some(ServiceCredential::generate());
    }
    if settings.database_url.is_some() || settings.listen_addr.is_some() {
        tracing::warn!(
            "DATABASE_URL and LISTEN_ADDR configure a service run alone; `all` uses the \
             default addresses and <SERVICE>_DATABASE_URL or one SQLite file per service \
             in DATA_DIR"
        );
        settings.database_url = None;
    }
    let listeners = MeshListeners::bind(|kind| settings.mesh_listen_addr(kind)).await?;
    tracing::info!(data_dir = %settings.data_dir.display(), "starting the whole mesh in one process");
    start_mesh(listeners, &settings, shutdown)
        .await?
        .wait()
        .await
}

/// `toestemming token inspect`: see [`crate::auth::inspect`].
fn inspect_token(settings: &Settings, token: Option<String>) -> crate::Result<()> {
    let token = match token.filter(|token| token != "-") {
        Some(token) => token,
        None => {
            use std::io::Read as _;
            // A token is at most MAX_TOKEN_BYTES; a little more for `Bearer `.
            let limit = crate::auth::bearer::MAX_TOKEN_BYTES as u64 + 64;
            let mut read = String::new();
            std::io::stdin().take(limit).read_to_string(&mut read)?;
            read
        }
    };
    let verifier = inspection_verifier(settings)?;
    let inspection = crate::auth::inspect::inspect(&token, verifier.as_ref());
    print!(
        "{}",
        inspection.render(jsonwebtoken::get_current_timestamp())
    );
    match inspection.verdict {
        crate::auth::inspect::Verdict::Accepted(_) => Ok(()),
        _ => Err("the token is not accepted".into()),
    }
}

/// The verifier `token inspect` asks, with the configured keys, offline:
/// the shared key; under EdDSA the key set in `JWT_JWKS_FILE`, or the
/// public halves of Identity's key files. `None` when no key is set.
fn inspection_verifier(settings: &Settings) -> crate::Result<Option<crate::auth::TokenVerifier>> {
    let Some(jwt) = &settings.jwt else {
        return Ok(None);
    };
    let TokenKeys::Public(public) = &jwt.keys else {
        return Ok(Some(crate::auth::TokenVerifier::new(jwt)));
    };
    if let Some(path) = &public.jwks_file {
        let json = std::fs::read(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let set = PublicKeySet::from_json(&json)?;
        let verifier = crate::auth::TokenVerifier::new(&jwt.verify_only());
        if let Some(store) = verifier.key_store() {
            store.replace(set);
        }
        return Ok(Some(verifier));
    }
    if public.signing.is_some() {
        let mut jwt = jwt.clone();
        jwt.load_signing_keys()?;
        return Ok(Some(crate::auth::TokenVerifier::new(&jwt)));
    }
    Ok(None)
}

/// `toestemming keys`: see [`crate::auth::keys::key_dir`].
fn keys(settings: &Settings, action: KeysAction) -> crate::Result<()> {
    use crate::auth::keys::key_dir;
    let lifetime = settings
        .jwt
        .as_ref()
        .map_or(crate::settings::TOKEN_LIFETIME, |jwt| jwt.lifetime);
    let (dir, outcome, verb) = match action {
        KeysAction::Jwks { dir } => {
            println!("{}", key_dir::jwks(&dir)?.to_json());
            return Ok(());
        }
        KeysAction::Generate { dir } => {
            let outcome = key_dir::generate(&dir)?;
            (dir, outcome, "made")
        }
        KeysAction::Rotate { dir, force } => {
            let outcome = key_dir::rotate(&dir, lifetime, force)?;
            (dir, outcome, "rotated")
        }
    };
    let dir = dir.display();
    println!("keys {verb} in {dir}");
    println!(
        "  signs once Identity loads them:  kid {}",
        outcome.signing_kid
    );
    println!(
        "  published, signs after the next: kid {}",
        outcome.next_kid
    );
    println!();
    println!("Identity reads them with:");
    println!("  JWT_ALGORITHM=EdDSA");
    println!("  JWT_PRIVATE_KEY_FILE={dir}/current.pem");
    println!("  JWT_NEXT_PRIVATE_KEY_FILE={dir}/next.pem");
    println!("  JWT_PREVIOUS_PUBLIC_KEY_FILE={dir}/previous.pub.pem");
    if verb == "rotated" {
        println!();
        println!("Now send Identity SIGHUP (kill -HUP <pid>) or restart it.");
    }
    Ok(())
}
