//! An OpenID provider under the test's control, for the ID tokens a real
//! provider never issues: another issuer or audience, expired, signed with
//! another key, with HS256 under the client secret, with `none`, without a
//! BSN. It speaks the real protocol over HTTP (discovery, a key set, a
//! token endpoint that checks the client's credentials, the PKCE verifier,
//! the redirect URI, and takes each code once), so Identity is tested
//! through the same path as against a real provider; the round trip through
//! a real one (`oidc-provider`, the browser test) is tested apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use toestemming::settings::ProviderSettings;

pub const CLIENT_ID: &str = "toestemming-test";
pub const CLIENT_SECRET: &str = "the-test-client-secret-of-32-bytes-or-more";
pub const REDIRECT_URI: &str = "http://127.0.0.1:8080/signin/callback";
const KID: &str = "rogue-1";

/// How the ID token for a code is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// With the key the provider's key set publishes.
    ProviderKey,
    /// With another Ed25519 key, under the published key's id.
    OtherKey,
    /// HS256 with the client secret as the key (which the client holds
    /// too, so it proves nothing).
    ClientSecret,
    /// `alg: none`, no signature.
    Unsigned,
}

/// What the token endpoint answers for one code.
pub struct Grant {
    pub claims: Value,
    pub signing: Signing,
    /// The PKCE verifier whose S256 challenge the authorization request
    /// carried.
    pub verifier: String,
}

struct Provider {
    issuer: String,
    key: ed25519_dalek::SigningKey,
    other_key: ed25519_dalek::SigningKey,
    codes: Mutex<HashMap<String, Grant>>,
}

/// A running provider.
pub struct RogueProvider {
    pub issuer: String,
    provider: Arc<Provider>,
}

impl RogueProvider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let provider = Arc::new(Provider {
            issuer: issuer.clone(),
            key: ed25519_dalek::SigningKey::from_bytes(&[41; 32]),
            other_key: ed25519_dalek::SigningKey::from_bytes(&[42; 32]),
            codes: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { issuer, provider }
    }

    /// Identity's settings for this provider.
    pub fn settings(&self) -> ProviderSettings {
        super::oidc_provider::settings(&self.issuer, CLIENT_ID, CLIENT_SECRET)
    }

    /// The claims of a good ID token for `bsn`, issued now for `nonce`.
    pub fn claims(&self, bsn: &str, nonce: &str) -> Value {
        let now = super::now();
        json!({
            "iss": self.issuer, "aud": CLIENT_ID, "sub": format!("subject-{bsn}"),
            "iat": now, "exp": now + 300, "nonce": nonce, "bsn": bsn,
            "given_name": "Anna", "family_name": "de Vries",
        })
    }

    /// A code whose exchange answers `grant`.
    pub fn grant(&self, grant: Grant) -> String {
        let code = uuid::Uuid::new_v4().to_string();
        self.provider
            .codes
            .lock()
            .unwrap()
            .insert(code.clone(), grant);
        code
    }
}

/// `value` as a JSON response.
fn json_response(status: StatusCode, value: Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn discovery(State(provider): State<Arc<Provider>>) -> Response {
    let issuer = &provider.issuer;
    json_response(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            // HS256 is announced as well: Identity must refuse it anyway.
            "id_token_signing_alg_values_supported": ["EdDSA", "HS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
        }),
    )
}

async fn jwks(State(provider): State<Arc<Provider>>) -> Response {
    let x = b64(provider.key.verifying_key().as_bytes());
    json_response(
        StatusCode::OK,
        json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": KID, "use": "sig", "alg": "EdDSA",
        }]}),
    )
}

async fn token(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let refuse = |error: &str| json_response(StatusCode::BAD_REQUEST, json!({"error": error}));
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}));
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code")
        || form.get("redirect_uri").map(String::as_str) != Some(REDIRECT_URI)
    {
        return refuse("invalid_request");
    }
    // Each code is taken once: a replay finds nothing.
    let Some(grant) = form
        .get("code")
        .and_then(|code| provider.codes.lock().unwrap().remove(code))
    else {
        return refuse("invalid_grant");
    };
    let challenge = |verifier: &str| b64(&Sha256::digest(verifier.as_bytes()));
    if form.get("code_verifier").map(|v| challenge(v)) != Some(challenge(&grant.verifier)) {
        return refuse("invalid_grant");
    }
    let id_token = sign(&provider, &grant);
    json_response(
        StatusCode::OK,
        json!({
            "access_token": "an-access-token", "token_type": "Bearer", "expires_in": 300,
            "id_token": id_token,
        }),
    )
}

fn sign(provider: &Provider, grant: &Grant) -> String {
    let ed25519 = |key: &ed25519_dalek::SigningKey| {
        let der = key.to_pkcs8_der().unwrap();
        EncodingKey::from_ed_der(der.as_bytes())
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(KID.into());
    match grant.signing {
        Signing::ProviderKey => {
            jsonwebtoken::encode(&header, &grant.claims, &ed25519(&provider.key)).unwrap()
        }
        Signing::OtherKey => {
            jsonwebtoken::encode(&header, &grant.claims, &ed25519(&provider.other_key)).unwrap()
        }
        Signing::ClientSecret => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &grant.claims,
            &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()).unwrap(),
        )
        .unwrap(),
        Signing::Unsigned => format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(grant.claims.to_string().as_bytes())
        ),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
