//! An OpenID provider that answers with flawed ID tokens on purpose, to show that the connector
//! refuses each flaw (the certified provider in `peers/oidc-provider` only ever answers
//! correctly). It also rotates its signing key on demand.

use std::sync::{Arc, Mutex, PoisonError};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};

/// What is wrong with the next ID token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    None,
    /// Signed with a key the provider does not publish.
    BadSignature,
    /// The payload was changed after signing.
    Tampered,
    Expired,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    /// `alg: none`.
    Unsigned,
    /// No personal identity code in a customer login.
    MissingIdentityCode,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

fn new_key(kid: &str) -> Key {
    let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret).unwrap();
    let mut jwk = serde_json::to_value(secret.public_key().to_jwk()).unwrap();
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!("ES256");
    jwk["use"] = json!("sig");
    Key { kid: kid.into(), encoding: EncodingKey::from_ec_der(der.as_bytes()), jwk }
}

struct Inner {
    issuer: String,
    flaw: Flaw,
    published: Key,
    /// Never published.
    rogue: Key,
    rotations: u32,
}

#[derive(Clone)]
pub struct HostileProvider {
    inner: Arc<Mutex<Inner>>,
    pub issuer: String,
}

pub const CLIENT_ID: &str = "ohjaus-hostile-client";
pub const CLIENT_SECRET: &str = "ohjaus-hostile-client-secret-0123456789";

impl HostileProvider {
    /// Starts on `port` (chosen before the system, as the issuer is configuration).
    pub async fn start(port: u16) -> Self {
        let issuer = format!("http://127.0.0.1:{port}");
        let inner = Arc::new(Mutex::new(Inner {
            issuer: issuer.clone(),
            flaw: Flaw::None,
            published: new_key("k0"),
            rogue: new_key("k0"),
            rotations: 0,
        }));
        let provider = Self { inner, issuer };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        provider
    }

    pub fn settings(port: u16) -> Vec<(&'static str, String)> {
        vec![
            ("OHJAUS__IDENTITY__PROVIDERS__HOSTILE__DISPLAY_NAME", "Hostile test provider".into()),
            ("OHJAUS__IDENTITY__PROVIDERS__HOSTILE__ISSUER", format!("http://127.0.0.1:{port}")),
            ("OHJAUS__IDENTITY__PROVIDERS__HOSTILE__CLIENT_ID", CLIENT_ID.into()),
            ("OHJAUS__IDENTITY__PROVIDERS__HOSTILE__CLIENT_SECRET", CLIENT_SECRET.into()),
        ]
    }

    pub fn set_flaw(&self, flaw: Flaw) {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).flaw = flaw;
    }

    /// Replaces the signing key (a new `kid`), as a provider rotating its keys does.
    pub fn rotate_key(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.rotations += 1;
        let kid = format!("k{}", inner.rotations);
        inner.published = new_key(&kid);
    }
}

async fn discovery(State(p): State<HostileProvider>) -> Json<Value> {
    let i = &p.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

async fn jwks(State(p): State<HostileProvider>) -> Json<Value> {
    let inner = p.inner.lock().unwrap_or_else(PoisonError::into_inner);
    Json(json!({ "keys": [inner.published.jwk] }))
}

#[derive(Deserialize)]
struct AuthorizeParams {
    redirect_uri: String,
    state: String,
    nonce: String,
}

/// Logs in at once; the code carries the nonce to the token endpoint.
async fn authorize(Query(p): Query<AuthorizeParams>) -> Response {
    let mut target = url::Url::parse(&p.redirect_uri).unwrap();
    target.query_pairs_mut().append_pair("code", &URL_SAFE_NO_PAD.encode(p.nonce)).append_pair("state", &p.state);
    Redirect::to(target.as_str()).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    code: String,
}

async fn token(State(p): State<HostileProvider>, Form(form): Form<TokenForm>) -> Json<Value> {
    let inner = p.inner.lock().unwrap_or_else(PoisonError::into_inner);
    let nonce = String::from_utf8(URL_SAFE_NO_PAD.decode(&form.code).unwrap_or_default()).unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let flaw = inner.flaw;
    let mut claims = json!({
        "iss": inner.issuer,
        "sub": "hostile-subject",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "name": "Tessa Testilä",
        "urn:oid:1.2.246.21": "010280-952L",
    });
    match flaw {
        Flaw::Expired => {
            claims["iat"] = json!(now - 3600);
            claims["exp"] = json!(now - 1800);
        }
        Flaw::WrongAudience => claims["aud"] = json!("someone-else"),
        Flaw::WrongIssuer => claims["iss"] = json!("http://127.0.0.1:1"),
        Flaw::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
        Flaw::MissingIdentityCode => {
            claims.as_object_mut().unwrap().remove("urn:oid:1.2.246.21");
        }
        _ => {}
    }
    let key = if flaw == Flaw::BadSignature { &inner.rogue } else { &inner.published };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    let mut id_token = jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap();
    match flaw {
        Flaw::Unsigned => {
            let head = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
            let body = URL_SAFE_NO_PAD.encode(claims.to_string());
            id_token = format!("{head}.{body}.");
        }
        Flaw::Tampered => {
            let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
            let mut changed = claims.clone();
            changed["urn:oid:1.2.246.21"] = json!("260991-999R");
            parts[1] = URL_SAFE_NO_PAD.encode(changed.to_string());
            id_token = parts.join(".");
        }
        _ => {}
    }
    Json(json!({ "access_token": "opaque", "token_type": "Bearer", "expires_in": 300, "id_token": id_token }))
}
