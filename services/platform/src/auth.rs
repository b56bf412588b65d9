//! Who is calling, and how that travels between services.
//!
//! The gateway (or an integration client's verified credentials) yields a [`Principal`]. It
//! travels to services as a short-lived signed token in the `authorization` metadata; every
//! service verifies it and enforces its own rules. The same tower layers sign on the client
//! side and verify on the server side whether the callee runs in this process or elsewhere.

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::Status;
use uuid::Uuid;

use crate::{
    clock::SharedClock,
    config::{ConfigError, SigningKeys},
    grpc::{Pace, PacedBody, StreamIdle},
    telemetry,
};

/// A role an expert holds in one organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Main user (pääkäyttäjä).
    Admin,
    Guide,
    Advisor,
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Guide, Role::Advisor, Role::Supervisor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Guide => "guide",
            Role::Advisor => "advisor",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// The roles an expert holds in one organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub tenant_id: Uuid,
    pub roles: Vec<Role>,
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// The platform provider's staff.
    Operator { subject: String },
    /// A person working for one or more organisations.
    Expert { person_id: Uuid, memberships: Vec<Membership> },
    /// A citizen.
    Customer { customer_id: Uuid },
    /// A state information system acting for one organisation within its scopes.
    IntegrationClient { client_id: Uuid, tenant_id: Uuid, scopes: Vec<String> },
    /// Another Ohjaus service acting on its own behalf.
    Service { name: String },
}

impl Principal {
    /// Roles held in `tenant`; empty for anyone who is not an expert there.
    pub fn roles_in(&self, tenant: Uuid) -> &[Role] {
        match self {
            Principal::Expert { memberships, .. } => {
                memberships.iter().find(|m| m.tenant_id == tenant).map_or(&[][..], |m| m.roles.as_slice())
            }
            _ => &[],
        }
    }

    pub fn has_role(&self, tenant: Uuid, role: Role) -> bool {
        self.roles_in(tenant).contains(&role)
    }

    /// An expert of `tenant` (any role), or an integration client of it.
    pub fn belongs_to(&self, tenant: Uuid) -> bool {
        match self {
            Principal::Expert { .. } => !self.roles_in(tenant).is_empty(),
            Principal::IntegrationClient { tenant_id, .. } => *tenant_id == tenant,
            _ => false,
        }
    }

    /// An integration client of `tenant` holding `scope`.
    pub fn has_scope(&self, tenant: Uuid, scope: &str) -> bool {
        matches!(self, Principal::IntegrationClient { tenant_id, scopes, .. } if *tenant_id == tenant && scopes.iter().any(|s| s == scope))
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator { .. })
    }

    /// The kind, for logs (never the identity).
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Operator { .. } => "operator",
            Principal::Expert { .. } => "expert",
            Principal::Customer { .. } => "customer",
            Principal::IntegrationClient { .. } => "integration_client",
            Principal::Service { .. } => "service",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    principal: Principal,
}

const ISSUER: &str = "ohjaus";

/// Who a token is for. Tokens between services never work at the public API, and access
/// tokens given to users and clients never work between services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Calls between services (gRPC metadata).
    Services,
    /// The public HTTP API and integration clients' gRPC calls.
    Api,
}

impl Audience {
    fn as_str(self) -> &'static str {
        match self {
            Audience::Services => "ohjaus-services",
            Audience::Api => "ohjaus-api",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is malformed or its signature does not verify")]
    Invalid,
    #[error("token has expired")]
    Expired,
    #[error("token was signed with an unknown key")]
    UnknownKey,
}

/// Signs and verifies principal tokens (HS256, key id in the header so keys can rotate).
#[derive(Clone)]
pub struct TokenKeys {
    inner: Arc<TokenKeysInner>,
}

struct TokenKeysInner {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    clock: SharedClock,
    ttl: Duration,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys").field("current_kid", &self.inner.current_kid).finish()
    }
}

impl TokenKeys {
    pub fn new(keys: &SigningKeys, clock: SharedClock, ttl: Duration) -> Self {
        let (kid, secret) = &keys.current;
        let decoding = keys
            .accepted
            .iter()
            .map(|(kid, secret)| (kid.clone(), DecodingKey::from_secret(secret.expose().as_bytes())))
            .collect();
        Self {
            inner: Arc::new(TokenKeysInner {
                current_kid: kid.clone(),
                encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
                decoding,
                clock,
                ttl,
            }),
        }
    }

    pub fn from_settings(auth: &crate::config::AuthSettings, clock: SharedClock) -> Result<Self, ConfigError> {
        let keys = SigningKeys::from_settings(auth)?;
        Ok(Self::new(&keys, clock, Duration::from_secs(auth.token_ttl_seconds)))
    }

    /// A token between services for `principal`, valid for the configured lifetime.
    pub fn mint(&self, principal: &Principal) -> Result<String, TokenError> {
        self.mint_for(principal, Audience::Services)
    }

    /// The principal of a token between services.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        self.verify_for(token, Audience::Services)
    }

    /// A token for `principal`, valid for the configured lifetime.
    pub fn mint_for(&self, principal: &Principal, audience: Audience) -> Result<String, TokenError> {
        self.mint_with_ttl(principal, audience, self.inner.ttl)
    }

    /// A token for `principal` valid for `ttl` (access tokens of integration clients).
    pub fn mint_with_ttl(
        &self,
        principal: &Principal,
        audience: Audience,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let now = self.inner.clock.now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(60);
        let claims = Claims {
            iss: ISSUER.into(),
            aud: audience.as_str().into(),
            iat: now,
            exp: now + ttl,
            principal: principal.clone(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.inner.current_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.inner.encoding).map_err(|_| TokenError::Invalid)
    }

    /// The principal of a valid token for `audience`. Expiry is checked against the injected clock.
    pub fn verify_for(&self, token: &str, audience: Audience) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.inner.decoding.get(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_audience(&[audience.as_str()]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= self.inner.clock.now().timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(data.claims.principal)
    }
}

/// The principal of a gRPC request, or `Unauthenticated`.
pub fn principal_of<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| crate::error::Failure::new(crate::error::ErrorCode::Unauthenticated).to_status())
}

/// What an `Authorization` value carries. The scheme is case-insensitive (RFC 9110 §11.1) and
/// one or more spaces separate it from its credentials; a value without a scheme this platform
/// knows, or with nothing after it, carries nothing (and is refused, never taken as a token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    Bearer(&'a str),
    Basic(&'a str),
}

impl<'a> Credentials<'a> {
    pub fn parse(value: &'a str) -> Option<Self> {
        let (scheme, rest) = value.trim().split_once(' ')?;
        let rest = rest.trim();
        if rest.is_empty() {
            None
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Some(Credentials::Bearer(rest))
        } else if scheme.eq_ignore_ascii_case("basic") {
            Some(Credentials::Basic(rest))
        } else {
            None
        }
    }
}

/// Client side: turns a [`Principal`] in the request's extensions into a signed token in the
/// `authorization` header, carries the trace context, and bounds the call with a deadline.
#[derive(Clone, Debug)]
pub struct OutboundLayer {
    keys: TokenKeys,
    timeout: Duration,
}

impl OutboundLayer {
    pub fn new(keys: TokenKeys, timeout: Duration) -> Self {
        Self { keys, timeout }
    }
}

impl<S> tower::Layer<S> for OutboundLayer {
    type Service = Outbound<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Outbound { inner, keys: self.keys.clone(), timeout: self.timeout }
    }
}

#[derive(Clone, Debug)]
pub struct Outbound<S> {
    inner: S,
    keys: TokenKeys,
    timeout: Duration,
}

impl<S> tower::Service<Request<tonic::body::Body>> for Outbound<S>
where
    S: tower::Service<Request<tonic::body::Body>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<tower::BoxError>,
{
    type Response = Response<tonic::body::Body>;
    // Transport failures become `Unavailable` statuses here, so callers see one error type.
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is checked in `call` on a clone, so a broken connection surfaces as a
        // status for that call rather than as a transport error.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<tonic::body::Body>) -> Self::Future {
        let mut inner = self.inner.clone();
        if let Some(principal) = request.extensions().get::<Principal>().cloned() {
            match self.keys.mint(&principal) {
                Ok(token) => {
                    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                        request.headers_mut().insert(http::header::AUTHORIZATION, value);
                    }
                }
                Err(error) => tracing::error!(%error, "could not sign principal token"),
            }
        }
        telemetry::inject_trace_context(request.headers_mut());
        // A streaming request's deadline bounds its pauses (see `StreamIdle`); no whole-call
        // deadline goes to the callee, which would cut a slow transfer that keeps going.
        let pace = request.extensions().get::<StreamIdle>().map(|idle| Pace::new(idle.0));
        if let Some(pace) = &pace {
            let (parts, body) = request.into_parts();
            let body = tonic::body::Body::new(PacedBody { inner: body, pace: pace.clone() });
            request = Request::from_parts(parts, body);
        } else {
            let millis = self.timeout.as_millis();
            if let Ok(value) = HeaderValue::from_str(&format!("{millis}m")) {
                request.headers_mut().entry("grpc-timeout").or_insert(value);
            }
        }
        let timeout = self.timeout;
        Box::pin(async move {
            let call = async {
                futures::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
                inner.call(request).await
            };
            let answer = match pace {
                Some(pace) => pace.bound(call).await,
                None => tokio::time::timeout(timeout, call).await.ok(),
            };
            match answer {
                Some(Ok(response)) => Ok(response),
                Some(Err(error)) => {
                    let error: tower::BoxError = error.into();
                    tracing::warn!(%error, "gRPC transport failed");
                    Ok(crate::error::Failure::new(crate::error::ErrorCode::Unavailable).to_status().into_http())
                }
                None => Ok(Status::deadline_exceeded("deadline exceeded").into_http()),
            }
        })
    }
}

/// Server side: verifies the `authorization` token and puts the [`Principal`] into the request
/// extensions. A request without a token goes on unauthenticated (public methods exist); one
/// with a bad token is refused here.
#[derive(Clone, Debug)]
pub struct InboundLayer {
    keys: TokenKeys,
}

impl InboundLayer {
    pub fn new(keys: TokenKeys) -> Self {
        Self { keys }
    }
}

impl<S> tower::Layer<S> for InboundLayer {
    type Service = Inbound<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Inbound { inner, keys: self.keys.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct Inbound<S> {
    inner: S,
    keys: TokenKeys,
}

impl<S, B> tower::Service<Request<B>> for Inbound<S>
where
    S: tower::Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // Nothing from the network may pose as a verified principal.
        request.extensions_mut().remove::<Principal>();
        let presented = request.headers().get(http::header::AUTHORIZATION).map(|value| {
            match value.to_str().ok().and_then(Credentials::parse) {
                Some(Credentials::Bearer(token)) => Ok(token.to_owned()),
                _ => Err(TokenError::Invalid),
            }
        });
        if let Some(bearer) = presented {
            // A service's token, or an integration client's access token (they call the gRPC
            // APIs directly); an access token never speaks for a service.
            let verified = bearer.and_then(|token| {
                self.keys.verify(&token).or_else(|_| {
                    self.keys.verify_for(&token, Audience::Api).and_then(|principal| match principal {
                        Principal::Service { .. } => Err(TokenError::Invalid),
                        other => Ok(other),
                    })
                })
            });
            match verified {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                }
                Err(error) => {
                    tracing::info!(%error, "refused a call with a bad principal token");
                    let status = crate::error::Failure::new(crate::error::ErrorCode::Unauthenticated).to_status();
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            }
        }
        let parent = telemetry::extract_trace_context(request.headers());
        let span = tracing::info_span!("grpc", path = %request.uri().path());
        telemetry::set_parent(&span, parent);
        Box::pin(tracing::Instrument::instrument(async move { inner.call(request).await }, span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, SystemClock};
    use crate::config::Secret;

    fn keys(kid: &str, secret: &str, previous: &[(&str, &str)], clock: SharedClock) -> TokenKeys {
        let mut accepted = vec![(kid.to_owned(), Secret::new(secret))];
        accepted.extend(previous.iter().map(|(k, s)| ((*k).to_owned(), Secret::new(*s))));
        TokenKeys::new(
            &SigningKeys { current: (kid.to_owned(), Secret::new(secret)), accepted },
            clock,
            Duration::from_secs(60),
        )
    }

    fn expert() -> Principal {
        Principal::Expert {
            person_id: Uuid::now_v7(),
            memberships: vec![Membership { tenant_id: Uuid::now_v7(), roles: vec![Role::Admin] }],
        }
    }

    #[test]
    fn token_round_trip() {
        let k = keys("a", &"s".repeat(32), &[], Arc::new(SystemClock));
        let principal = expert();
        assert_eq!(k.verify(&k.mint(&principal).unwrap()).unwrap(), principal);
    }

    #[test]
    fn token_expires_by_the_injected_clock() {
        let clock = ManualClock::new(chrono::Utc::now());
        let k = keys("a", &"s".repeat(32), &[], Arc::new(clock.clone()));
        let token = k.mint(&expert()).unwrap();
        clock.advance(chrono::Duration::seconds(61));
        assert_eq!(k.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn rotated_keys_verify_old_tokens_and_others_do_not() {
        let old = keys("old", &"o".repeat(32), &[], Arc::new(SystemClock));
        let token = old.mint(&expert()).unwrap();
        let rotated = keys("new", &"n".repeat(32), &[("old", &"o".repeat(32))], Arc::new(SystemClock));
        assert!(rotated.verify(&token).is_ok());
        let stranger = keys("old", &"x".repeat(32), &[], Arc::new(SystemClock));
        assert_eq!(stranger.verify(&token), Err(TokenError::Invalid));
        let unknown = keys("other", &"o".repeat(32), &[], Arc::new(SystemClock));
        assert_eq!(unknown.verify(&token), Err(TokenError::UnknownKey));
    }

    #[test]
    fn audiences_do_not_mix() {
        let k = keys("a", &"s".repeat(32), &[], Arc::new(SystemClock));
        let internal = k.mint(&expert()).unwrap();
        assert_eq!(k.verify_for(&internal, Audience::Api), Err(TokenError::Invalid));
        let access = k.mint_for(&expert(), Audience::Api).unwrap();
        assert_eq!(k.verify(&access), Err(TokenError::Invalid));
        assert!(k.verify_for(&access, Audience::Api).is_ok());
    }

    #[test]
    fn tampered_token_is_refused() {
        let k = keys("a", &"s".repeat(32), &[], Arc::new(SystemClock));
        let token = k.mint(&expert()).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let operator = serde_json::json!({"iss":"ohjaus","aud":"ohjaus-services","iat":0,"exp":i64::MAX,"principal":{"kind":"operator","subject":"x"}});
        parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, operator.to_string());
        assert_eq!(k.verify(&parts.join(".")), Err(TokenError::Invalid));
    }

    #[test]
    fn roles_are_per_tenant() {
        let principal = expert();
        let Principal::Expert { memberships, .. } = &principal else { unreachable!() };
        let tenant = memberships[0].tenant_id;
        assert!(principal.has_role(tenant, Role::Admin));
        assert!(!principal.has_role(Uuid::now_v7(), Role::Admin));
        assert!(!principal.has_role(tenant, Role::Guide));
    }

    #[test]
    fn an_authorization_value_needs_a_known_scheme_in_any_case() {
        assert_eq!(Credentials::parse("Bearer abc"), Some(Credentials::Bearer("abc")));
        assert_eq!(Credentials::parse("bearer  abc "), Some(Credentials::Bearer("abc")));
        assert_eq!(Credentials::parse("BASIC eHk6eg=="), Some(Credentials::Basic("eHk6eg==")));
        for refused in ["abc", "Bearer", "Bearer ", "Token abc", "", "Bearerabc"] {
            assert_eq!(Credentials::parse(refused), None, "{refused:?}");
        }
    }
}
