//! The development identity provider: an OpenID provider built into the binary, so the real
//! OpenID Connect connector has someone to talk to on a laptop. It offers Suomi.fi's public
//! test identities and test Virtu users of the demo organisation, on a page or directly by
//! `login_hint`. It runs in the embedded mode only, unless deliberately enabled.
//!
//! It signs ID tokens with an ES256 key made at start (published as JWKS); authorization
//! codes are short-lived HMAC-signed tokens carrying the PKCE challenge and nonce.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ohjaus_platform::{clock::SharedClock, html::escape, i18n::Language};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The client id and secret the development provider knows.
pub const CLIENT_ID: &str = "ohjaus-dev";
pub const CLIENT_SECRET: &str = "ohjaus-dev-client-secret-not-for-production";
/// Suomi.fi's "substantial" level of assurance.
pub const LOA_SUBSTANTIAL: &str = "http://ftn.ficora.fi/2017/loa2";
/// Suomi.fi's "high" level of assurance.
pub const LOA_HIGH: &str = "http://ftn.ficora.fi/2017/loa3";
/// Virtu home organisation of the demo organisation's test users.
pub const DEMO_VIRTU_HOME: &str = "demo.ohjaus.invalid";
/// The test operator's Virtu local id.
pub const OPERATOR_LOCAL_ID: &str = "operaattori";

/// A person the development provider can log in.
#[derive(Clone, Copy, Debug)]
pub enum TestIdentity {
    /// A Suomi.fi test identity: (identity code, given name, family name).
    Suomifi(&'static str, &'static str, &'static str),
    /// A Virtu test user: (local id, full name).
    Virtu(&'static str, &'static str),
}

/// Suomi.fi's public test identities and the demo organisation's Virtu users.
pub const TEST_IDENTITIES: [TestIdentity; 9] = [
    TestIdentity::Suomifi("010280-952L", "Tessa", "Testilä"),
    TestIdentity::Suomifi("010675-9981", "Testi", "Henkilö-Kaksi"),
    TestIdentity::Suomifi("040265-9985", "Testi", "Henkilö-Kolme"),
    TestIdentity::Suomifi("260991-999R", "Testi", "Henkilö-Neljä"),
    TestIdentity::Virtu("maija.paakayttaja", "Maija Pääkäyttäjä"),
    TestIdentity::Virtu("olli.ohjaaja", "Olli Ohjaaja"),
    TestIdentity::Virtu("noora.neuvoja", "Noora Neuvoja"),
    TestIdentity::Virtu("ville.valvoja", "Ville Valvoja"),
    TestIdentity::Virtu(OPERATOR_LOCAL_ID, "Olga Operaattori"),
];

impl TestIdentity {
    fn hint(self) -> &'static str {
        match self {
            TestIdentity::Suomifi(code, ..) => code,
            TestIdentity::Virtu(local, _) => local,
        }
    }

    fn find(hint: &str) -> Option<Self> {
        let hint = hint.trim();
        TEST_IDENTITIES.into_iter().find(|i| i.hint().eq_ignore_ascii_case(hint))
    }

    fn label(self) -> String {
        match self {
            TestIdentity::Suomifi(code, given, family) => format!("{given} {family} ({code})"),
            TestIdentity::Virtu(local, name) => format!("{name} ({local}@{DEMO_VIRTU_HOME})"),
        }
    }

    /// The claims an ID token carries for this person.
    fn claims(self) -> Value {
        match self {
            TestIdentity::Suomifi(code, given, family) => json!({
                "sub": format!("suomifi-test-{}", hex::encode(Sha256::digest(code.as_bytes()))[..16].to_owned()),
                "given_name": given,
                "family_name": family,
                "name": format!("{given} {family}"),
                "urn:oid:1.2.246.21": code,
                "acr": LOA_SUBSTANTIAL,
            }),
            TestIdentity::Virtu(local, name) => json!({
                "sub": format!("virtu-{local}"),
                "name": name,
                "email": format!("{local}@{DEMO_VIRTU_HOME}"),
                "virtuLocalID": local,
                "virtuHomeOrganization": DEMO_VIRTU_HOME,
                "acr": LOA_SUBSTANTIAL,
            }),
        }
    }
}

struct DevIdp {
    issuer: String,
    clock: SharedClock,
    kid: String,
    signing: EncodingKey,
    jwk: Value,
    /// Signs authorization codes; made at start, so codes die with the process.
    code_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum DevIdpError {
    #[error("development identity provider: {0}")]
    Start(String),
}

/// A running development provider: its issuer URL.
pub struct RunningDevIdp {
    pub issuer: String,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the provider on `listen` (port 0 picks one); its issuer is `http://<bound address>`.
pub async fn start(
    listen: SocketAddr,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<RunningDevIdp, DevIdpError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| DevIdpError::Start(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| DevIdpError::Start(e.to_string()))?;
    let issuer = format!("http://{addr}");
    let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret).map_err(|e| DevIdpError::Start(e.to_string()))?;
    let mut jwk: Value =
        serde_json::to_value(secret.public_key().to_jwk()).map_err(|e| DevIdpError::Start(e.to_string()))?;
    let mut kid_bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut kid_bytes);
    let kid = hex::encode(kid_bytes);
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!("ES256");
    jwk["use"] = json!("sig");
    let mut code_key = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut code_key);
    let state = Arc::new(DevIdp {
        issuer: issuer.clone(),
        clock,
        kid,
        signing: EncodingKey::from_ec_der(der.as_bytes()),
        jwk,
        code_key,
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/logout", get(logout))
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
            tracing::error!(%error, "development identity provider stopped");
        }
    });
    tracing::warn!(%issuer, "development identity provider running: test identities only, never for real users");
    Ok(RunningDevIdp { issuer, task })
}

async fn discovery(State(idp): State<Arc<DevIdp>>) -> Json<Value> {
    let i = &idp.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "end_session_endpoint": format!("{i}/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [LOA_SUBSTANTIAL, LOA_HIGH],
        "claims_supported": ["sub", "name", "given_name", "family_name", "email", "acr", "urn:oid:1.2.246.21", "virtuLocalID", "virtuHomeOrganization"],
    }))
}

async fn jwks(State(idp): State<Arc<DevIdp>>) -> Json<Value> {
    Json(json!({ "keys": [idp.jwk] }))
}

#[derive(Debug, Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    login_hint: Option<String>,
    ui_locales: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CodeClaims {
    aud: String,
    exp: i64,
    hint: String,
    client_id: String,
    redirect_uri: String,
    nonce: String,
    challenge: String,
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_request", "error_description": message}))).into_response()
}

/// Only the Ohjaus client, returning to a loopback address, is served.
fn redirect_allowed(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) && matches!(u.scheme(), "http" | "https")
    })
}

async fn authorize(State(idp): State<Arc<DevIdp>>, Query(p): Query<AuthorizeParams>) -> Response {
    let (Some(client_id), Some(redirect_uri), Some(state), Some(nonce), Some(challenge)) =
        (p.client_id.clone(), p.redirect_uri.clone(), p.state.clone(), p.nonce.clone(), p.code_challenge.clone())
    else {
        return bad_request("client_id, redirect_uri, state, nonce and code_challenge are required");
    };
    if client_id != CLIENT_ID || !redirect_allowed(&redirect_uri) {
        return bad_request("unknown client or redirect_uri");
    }
    if p.response_type.as_deref() != Some("code") || p.code_challenge_method.as_deref() != Some("S256") {
        return bad_request("only the authorization code flow with PKCE S256 is supported");
    }
    let Some(identity) = p.login_hint.as_deref().and_then(TestIdentity::find) else {
        return login_page(&p);
    };
    let claims = CodeClaims {
        aud: "dev-idp-code".into(),
        exp: idp.clock.now().timestamp() + 60,
        hint: identity.hint().into(),
        client_id,
        redirect_uri: redirect_uri.clone(),
        nonce,
        challenge,
    };
    let Ok(code) =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&idp.code_key))
    else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "could not sign a code").into_response();
    };
    let Ok(mut target) = url::Url::parse(&redirect_uri) else { return bad_request("redirect_uri") };
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", &state);
    Redirect::to(target.as_str()).into_response()
}

/// The page that lists the test identities; each link carries its `login_hint`.
fn login_page(p: &AuthorizeParams) -> Response {
    let language = p
        .ui_locales
        .as_deref()
        .and_then(|l| l.split(' ').next())
        .and_then(|l| l.parse::<Language>().ok())
        .unwrap_or(Language::Fi);
    let mut items = String::new();
    for identity in TEST_IDENTITIES {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("response_type", p.response_type.as_deref()),
            ("client_id", p.client_id.as_deref()),
            ("redirect_uri", p.redirect_uri.as_deref()),
            ("state", p.state.as_deref()),
            ("nonce", p.nonce.as_deref()),
            ("code_challenge", p.code_challenge.as_deref()),
            ("code_challenge_method", p.code_challenge_method.as_deref()),
        ] {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        query.append_pair("login_hint", identity.hint());
        items.push_str(&format!(
            "<li><a href=\"/authorize?{}\">{}</a></li>\n",
            escape(&query.finish()),
            escape(&identity.label())
        ));
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main><h1>{title}</h1><p>{intro}</p><ul>\n{items}</ul></main></body></html>",
        lang = language.code(),
        title = escape(&language.text("dev-idp-title")),
        intro = escape(&language.text("dev-idp-intro")),
    );
    ([(header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'")], Html(html)).into_response()
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn token_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
}

/// Client authentication by HTTP Basic or form fields.
fn client_of(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    if let Some(basic) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let id = url::form_urlencoded::parse(id.as_bytes()).next().map_or(id.to_owned(), |(k, _)| k.into_owned());
        let secret =
            url::form_urlencoded::parse(secret.as_bytes()).next().map_or(secret.to_owned(), |(k, _)| k.into_owned());
        return Some((id, secret));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

async fn token(State(idp): State<Arc<DevIdp>>, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    if form.grant_type.as_deref() != Some("authorization_code") {
        return token_error("unsupported_grant_type");
    }
    match client_of(&headers, &form) {
        Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {}
        _ => return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response(),
    }
    let (Some(code), Some(redirect_uri), Some(verifier)) =
        (form.code.as_deref(), form.redirect_uri.as_deref(), form.code_verifier.as_deref())
    else {
        return token_error("invalid_request");
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_audience(&["dev-idp-code"]);
    let Ok(data) = jsonwebtoken::decode::<CodeClaims>(code, &DecodingKey::from_secret(&idp.code_key), &validation)
    else {
        return token_error("invalid_grant");
    };
    let claims = data.claims;
    let now = idp.clock.now().timestamp();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if claims.exp < now
        || claims.redirect_uri != redirect_uri
        || claims.client_id != CLIENT_ID
        || challenge != claims.challenge
    {
        return token_error("invalid_grant");
    }
    let Some(identity) = TestIdentity::find(&claims.hint) else { return token_error("invalid_grant") };
    let mut id_claims = identity.claims();
    id_claims["iss"] = json!(idp.issuer);
    id_claims["aud"] = json!(CLIENT_ID);
    id_claims["iat"] = json!(now);
    id_claims["exp"] = json!(now + 300);
    id_claims["nonce"] = json!(claims.nonce);
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(idp.kid.clone());
    let Ok(id_token) = jsonwebtoken::encode(&header, &id_claims, &idp.signing) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "could not sign").into_response();
    };
    let mut access = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut access);
    Json(json!({
        "access_token": URL_SAFE_NO_PAD.encode(access),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct LogoutParams {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// RP-initiated logout: the provider's side of single logout.
async fn logout(Query(p): Query<LogoutParams>) -> Response {
    match p.post_logout_redirect_uri.filter(|u| redirect_allowed(u)) {
        Some(uri) => match url::Url::parse(&uri) {
            Ok(mut target) => {
                if let Some(state) = p.state {
                    target.query_pairs_mut().append_pair("state", &state);
                }
                Redirect::to(target.as_str()).into_response()
            }
            Err(_) => bad_request("post_logout_redirect_uri"),
        },
        None => Html("<!doctype html><html lang=\"fi\"><head><meta charset=\"utf-8\"><title>Logged out</title></head><body><p>Logged out.</p></body></html>").into_response(),
    }
}
