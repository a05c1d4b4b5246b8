//! A real OpenID provider for the tests: the certified `oidc-provider`
//! package (npm, installed by scripts/install-test-deps.sh) run by
//! `scripts/oidc-provider.mjs` with test patients that carry a BSN claim.
//! Without Node or the package the test fails and says what to run.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use toestemming::settings::{ProviderSecret, ProviderSettings};

pub const CLIENT_ID: &str = "toestemming";
pub const CLIENT_SECRET: &str = "the-test-client-secret-of-the-oidc-provider";

/// A test patient at the provider: signs in with `login` (any password).
pub struct Account<'a> {
    pub login: &'a str,
    /// `None`: the ID token has no BSN claim.
    pub bsn: Option<&'a str>,
    pub given_name: Option<&'a str>,
    pub family_name: Option<&'a str>,
}

/// The provider's process, stopped when dropped.
pub struct OidcProvider {
    child: Child,
    pub issuer: String,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcProvider {
    /// Starts the provider for a client that redirects to `redirect_uri`.
    pub fn start(redirect_uri: &str, accounts: &[Account<'_>]) -> Self {
        let root = env!("CARGO_MANIFEST_DIR");
        let package = format!("{root}/.test-tools/npm/node_modules/oidc-provider/package.json");
        assert!(
            std::path::Path::new(&package).exists(),
            "oidc-provider is not installed: run scripts/install-test-deps.sh"
        );
        let accounts: Vec<serde_json::Value> = accounts
            .iter()
            .map(|account| {
                serde_json::json!({
                    "login": account.login, "bsn": account.bsn,
                    "given_name": account.given_name, "family_name": account.family_name,
                })
            })
            .collect();
        let mut child = Command::new("node")
            .arg(format!("{root}/scripts/oidc-provider.mjs"))
            .env("OIDC_PORT", "0")
            // Another site than the website's 127.0.0.1 (cookies and
            // SameSite ignore ports): the return from the provider is then
            // a cross-site navigation, as with a real provider.
            .env("OIDC_HOST", "127.0.0.2")
            .env("OIDC_HOST_NAME", "127.0.0.2")
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", redirect_uri)
            .env(
                "OIDC_ACCOUNTS",
                serde_json::Value::Array(accounts).to_string(),
            )
            .stdout(Stdio::piped())
            // Its warnings and errors, for a failing test's reader.
            .stderr(
                std::fs::File::create(format!("{root}/target/oidc-provider.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .expect("node runs scripts/oidc-provider.mjs (run scripts/install-test-deps.sh)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let issuer = loop {
            let line = lines
                .next()
                .expect("the provider prints `listening <issuer>`")
                .unwrap();
            if let Some(issuer) = line.strip_prefix("listening ") {
                break issuer.trim().to_owned();
            }
        };
        // Keep reading what it prints: a closed pipe would end it at its
        // next line.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, issuer }
    }

    /// The mesh's settings for this provider.
    pub fn settings(&self) -> ProviderSettings {
        settings(&self.issuer, CLIENT_ID, CLIENT_SECRET)
    }
}

/// The mesh's settings for the provider at `issuer`, where it is the client
/// `client_id` with `client_secret`; the BSN in the `bsn` claim.
pub fn settings(issuer: &str, client_id: &str, client_secret: &str) -> ProviderSettings {
    ProviderSettings {
        issuer: issuer.to_owned(),
        client_id: client_id.to_owned(),
        client_secret: Some(ProviderSecret::new(client_secret)),
        bsn_claim: "bsn".into(),
        name: "DigiD".into(),
    }
}
