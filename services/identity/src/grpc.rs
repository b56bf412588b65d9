//! The gRPC face of the identity service.

use std::{collections::BTreeMap, sync::Arc, time::Duration as StdDuration};

use chrono::Duration;
use ohjaus_platform::crypto::{random_token, token_hash as hash};
use ohjaus_platform::{
    auth::{Audience, Principal, Role, TokenKeys, principal_of},
    clock::SharedClock,
    db::Db,
    error::ErrorCode,
    grpc::{Transport, timestamp},
    i18n::Language,
    proto::{
        identity::v1 as pb,
        tenants::v1::{self as tenants_pb, tenants_service_client::TenantsServiceClient},
    },
    types::{IdentityCodeHasher, PersonalIdentityCode},
};
use subtle::ConstantTimeEq;
use tonic::{Request, Response, Status};
use uuid::Uuid;

#[cfg(feature = "saml")]
use crate::saml::{LogoutMessage, SamlConnector, VerifiedAssertion};
use crate::{
    IdentityError,
    domain::{self, Attributes, CustomerId, Intent, Refusal, SessionId, SessionKind, SessionPolicy},
    oidc::{ConnectorError, OidcConnector},
    store::{self, AuditEntry, Federation, LoginTransaction, SessionRow},
};
#[cfg(feature = "saml")]
use ohjaus_platform::error::FieldViolation;

/// A login connector: how one identity provider is spoken to.
pub enum Connector {
    Oidc(OidcConnector),
    #[cfg(feature = "saml")]
    Saml(SamlConnector),
}

impl Connector {
    pub fn id(&self) -> &str {
        match self {
            Connector::Oidc(c) => &c.id,
            #[cfg(feature = "saml")]
            Connector::Saml(c) => &c.id,
        }
    }

    fn display_name(&self) -> &str {
        match self {
            Connector::Oidc(c) => &c.display_name,
            #[cfg(feature = "saml")]
            Connector::Saml(c) => &c.display_name,
        }
    }

    fn protocol(&self) -> &'static str {
        match self {
            Connector::Oidc(_) => "oidc",
            #[cfg(feature = "saml")]
            Connector::Saml(_) => "saml",
        }
    }

    /// Levels of assurance accepted from this provider; empty accepts any.
    fn accepted_assurance(&self) -> Vec<String> {
        match self {
            Connector::Oidc(c) => c.accepted_acr(),
            #[cfg(feature = "saml")]
            Connector::Saml(c) => c.accepted_authn_context(),
        }
    }
}

/// How long we wait for the provider's answer to our LogoutRequest.
#[cfg(feature = "saml")]
const SAML_LOGOUT_MINUTES: i64 = 10;

type Result<T> = std::result::Result<T, IdentityError>;

/// How the identity service is set up.
pub struct IdentityConfig {
    pub policy: SessionPolicy,
    pub login_timeout: Duration,
    pub access_token_ttl: StdDuration,
    /// Virtu identities (home organisation, local id) of operators.
    pub operators: Vec<(String, String)>,
    /// Where the browser returns after single logout at a provider.
    pub post_logout_redirect: String,
}

#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    keys: TokenKeys,
    hasher: IdentityCodeHasher,
    tenants: TenantsServiceClient<Transport>,
    connectors: BTreeMap<String, Arc<Connector>>,
    config: IdentityConfig,
}

fn refusal_to_pb(refusal: Refusal) -> i32 {
    let value = match refusal {
        Refusal::InvalidResponse => pb::LoginRefusal::InvalidResponse,
        Refusal::NoWorkspace => pb::LoginRefusal::NoWorkspace,
        Refusal::UnknownExpert => pb::LoginRefusal::UnknownExpert,
        Refusal::Suspended => pb::LoginRefusal::Suspended,
        Refusal::InsufficientAssurance => pb::LoginRefusal::InsufficientAssurance,
        Refusal::Expired => pb::LoginRefusal::Expired,
        Refusal::Cancelled => pb::LoginRefusal::Cancelled,
        Refusal::Replayed => pb::LoginRefusal::InvalidResponse,
    };
    value as i32
}

fn roles_to_strings(roles: &[i32]) -> Vec<String> {
    roles
        .iter()
        .filter_map(|r| match tenants_pb::Role::try_from(*r).ok()? {
            tenants_pb::Role::Admin => Some(Role::Admin),
            tenants_pb::Role::Guide => Some(Role::Guide),
            tenants_pb::Role::Advisor => Some(Role::Advisor),
            tenants_pb::Role::Supervisor => Some(Role::Supervisor),
            tenants_pb::Role::Unspecified => None,
        })
        .map(|r| r.as_str().to_owned())
        .collect()
}

/// Who logged in, once resolved.
struct Resolved {
    kind: SessionKind,
    subject: String,
    display_name: String,
    tenants: Vec<Uuid>,
}

impl Identity {
    pub fn new(
        db: Db,
        clock: SharedClock,
        keys: TokenKeys,
        hasher: IdentityCodeHasher,
        tenants: Transport,
        connectors: Vec<Connector>,
        config: IdentityConfig,
    ) -> Self {
        let connectors = connectors.into_iter().map(|c| (c.id().to_owned(), Arc::new(c))).collect();
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                keys,
                hasher,
                tenants: TenantsServiceClient::new(tenants),
                connectors,
                config,
            }),
        }
    }

    pub fn server(&self) -> pb::identity_service_server::IdentityServiceServer<Self> {
        pb::identity_service_server::IdentityServiceServer::new(self.clone())
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    fn as_service<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.extensions_mut().insert(Principal::Service { name: "identity".into() });
        request
    }

    fn connector(&self, id: &str) -> Result<&Arc<Connector>> {
        self.inner.connectors.get(id).ok_or(IdentityError::Refused(ErrorCode::NotFound))
    }

    async fn audit(&self, entry: AuditEntry<'_>) {
        if let Err(error) = store::audit(&self.inner.db, &entry, self.inner.clock.now()).await {
            // The audit must not be lost silently; the log still has the entry.
            tracing::error!(%error, event = entry.event, "could not store an audit entry");
        }
    }

    async fn begin_login(&self, msg: pb::BeginLoginRequest) -> Result<pb::BeginLoginResponse> {
        let connector = self.connector(&msg.provider_id)?.clone();
        let intent = match pb::LoginIntent::try_from(msg.intent) {
            Ok(pb::LoginIntent::Expert) => Intent::Expert,
            Ok(pb::LoginIntent::Invitation) => Intent::Invitation,
            _ => Intent::Customer,
        };
        let language = msg.language.parse::<Language>().unwrap_or_default();
        // OpenID Connect: state, nonce and PKCE. SAML: the RelayState is our state and the
        // AuthnRequest's id stands in for the nonce (the assertion's InResponseTo).
        let (url, state, nonce, pkce_verifier) = match &*connector {
            Connector::Oidc(oidc) => {
                let start = oidc
                    .begin(Some(&msg.login_hint), language.code())
                    .await
                    .map_err(|e| IdentityError::Peer(e.to_string()))?;
                (start.url, start.state, start.nonce, start.pkce_verifier)
            }
            #[cfg(feature = "saml")]
            Connector::Saml(saml) => {
                let state = random_token();
                let (url, request_id) = saml.begin(&state).await.map_err(|e| IdentityError::Peer(e.to_string()))?;
                (url, state, request_id, String::new())
            }
        };
        let binding = random_token();
        let login = LoginTransaction {
            binding_hash: hash(&binding),
            provider_id: connector.id().to_owned(),
            intent: intent.as_str().to_owned(),
            nonce,
            pkce_verifier,
            return_to: domain::safe_return_to(&msg.return_to),
            language: language.code().to_owned(),
            created_at: self.inner.clock.now(),
        };
        store::insert_login(&self.inner.db, &hash(&state), &login).await?;
        Ok(pb::BeginLoginResponse { redirect_url: url, browser_binding: binding })
    }

    async fn complete_login(&self, msg: pb::CompleteLoginRequest) -> Result<pb::CompleteLoginResponse> {
        let provider = msg.provider_id.clone();
        let refuse = |refusal: Refusal, language: &str| pb::CompleteLoginResponse {
            refusal: refusal_to_pb(refusal),
            language: language.to_owned(),
            ..Default::default()
        };
        let now = self.inner.clock.now();
        let connector = self.connector(&provider)?.clone();
        // A SAML assertion is checked first and used once: the same one again is a replay,
        // whichever login it names.
        #[cfg(feature = "saml")]
        let assertion = match &*connector {
            Connector::Saml(saml) => Some(saml.complete(&msg.saml_response).await),
            Connector::Oidc(_) => None,
        };
        #[cfg(not(feature = "saml"))]
        let assertion: Option<std::convert::Infallible> = None;
        #[cfg(feature = "saml")]
        if let Some(Ok(verified)) = &assertion
            && !store::remember_saml_message(
                &self.inner.db,
                &provider,
                "assertion",
                &verified.id,
                verified.valid_until,
                now,
            )
            .await?
        {
            self.audit(AuditEntry {
                event: "login",
                outcome: "refused:replayed",
                provider_id: &provider,
                principal_kind: None,
                tenant_ids: vec![],
                session_id: None,
            })
            .await;
            return Ok(refuse(Refusal::Replayed, "fi"));
        }
        // An unknown, used or wrong `state` finds no login: nothing to continue.
        let Some(login) = store::take_login(&self.inner.db, &hash(&msg.state)).await? else {
            self.audit(AuditEntry {
                event: "login",
                outcome: "refused:unknown-state",
                provider_id: &provider,
                principal_kind: None,
                tenant_ids: vec![],
                session_id: None,
            })
            .await;
            return Ok(refuse(Refusal::Expired, "fi"));
        };
        let language = login.language.clone();
        // `detail`: which check failed, from a fixed list (never text a provider sent).
        let refused = |refusal: Refusal, detail: Option<&'static str>| async move {
            let detail = detail.map(|d| format!(":{d}")).unwrap_or_default();
            self.audit(AuditEntry {
                event: "login",
                outcome: &format!("refused:{}{detail}", refusal.as_str()),
                provider_id: &provider,
                principal_kind: None,
                tenant_ids: vec![],
                session_id: None,
            })
            .await;
            Ok(refuse(refusal, &language))
        };
        // Finished in the browser that started it, or not at all (login CSRF).
        let same_browser: bool = hash(&msg.browser_binding).as_bytes().ct_eq(login.binding_hash.as_bytes()).into();
        if login.provider_id != msg.provider_id || !same_browser {
            return refused(Refusal::InvalidResponse, None).await;
        }
        if now - login.created_at > self.inner.config.login_timeout {
            return refused(Refusal::Expired, None).await;
        }
        let verified: std::result::Result<(Attributes, Option<Federation>), ConnectorError> =
            match (&*connector, assertion) {
                (Connector::Oidc(_), _) if !msg.error.is_empty() => Err(if msg.error == "access_denied" {
                    ConnectorError::Cancelled
                } else {
                    ConnectorError::Invalid(msg.error)
                }),
                (Connector::Oidc(oidc), _) => {
                    oidc.complete(&msg.code, &login.nonce, &login.pkce_verifier).await.map(|r| (r.attributes, None))
                }
                #[cfg(feature = "saml")]
                (Connector::Saml(_), Some(Ok(assertion))) => saml_login(assertion, &login.nonce),
                #[cfg(feature = "saml")]
                (Connector::Saml(_), Some(Err(error))) => Err(error),
                #[cfg(feature = "saml")]
                (Connector::Saml(_), None) => Err(ConnectorError::Check("no assertion")),
            };
        let (attributes, federation) = match verified {
            Ok(verified) => verified,
            Err(ConnectorError::Cancelled) => return refused(Refusal::Cancelled, None).await,
            Err(error) => {
                tracing::warn!(provider = %msg.provider_id, %error, "login response refused");
                let detail = match error {
                    ConnectorError::Check(check) => Some(check),
                    _ => None,
                };
                return refused(Refusal::InvalidResponse, detail).await;
            }
        };
        if !domain::assurance_accepted(&connector.accepted_assurance(), attributes.acr.as_deref()) {
            return refused(Refusal::InsufficientAssurance, None).await;
        }
        let intent = Intent::parse(&login.intent).unwrap_or(Intent::Customer);
        let resolved = match self.resolve(intent, &attributes).await? {
            Ok(resolved) => resolved,
            Err(refusal) => return refused(refusal, None).await,
        };
        // A new session, and so a new id, on every login (no fixation).
        let token = random_token();
        let session = SessionRow {
            id: SessionId::new(),
            csrf_token: random_token(),
            kind: resolved.kind,
            subject: resolved.subject,
            display_name: resolved.display_name,
            provider_id: msg.provider_id.clone(),
            created_at: now,
            last_seen_at: now,
            federation,
        };
        store::insert_session(&self.inner.db, &hash(&token), &session).await?;
        self.audit(AuditEntry {
            event: "login",
            outcome: "success",
            provider_id: &msg.provider_id,
            principal_kind: Some(session.kind.as_str()),
            tenant_ids: resolved.tenants,
            session_id: Some(session.id),
        })
        .await;
        Ok(pb::CompleteLoginResponse {
            session_token: token,
            csrf_token: session.csrf_token,
            return_to: login.return_to,
            refusal: pb::LoginRefusal::Unspecified as i32,
            language: login.language,
        })
    }

    /// The principal behind verified attributes, or why they may not log in.
    async fn resolve(&self, intent: Intent, attributes: &Attributes) -> Result<std::result::Result<Resolved, Refusal>> {
        match intent {
            Intent::Customer | Intent::Invitation => {
                let Some(code) = &attributes.identity_code else { return Ok(Err(Refusal::InsufficientAssurance)) };
                let hash = self.inner.hasher.hash(code);
                // No account, no login; only an invitation's login makes the account (binding
                // the invitation to this Suomi.fi identity).
                let customer = match store::customer_by_identity(&self.inner.db, &hash).await? {
                    Some(customer) => customer,
                    None if intent == Intent::Invitation => {
                        store::ensure_customer(&self.inner.db, &hash, self.inner.clock.now()).await?.0
                    }
                    None => return Ok(Err(Refusal::NoWorkspace)),
                };
                store::touch_customer(&self.inner.db, customer, self.inner.clock.now()).await?;
                Ok(Ok(Resolved {
                    kind: SessionKind::Customer,
                    subject: customer.to_string(),
                    display_name: attributes.display_name.clone().unwrap_or_default(),
                    tenants: vec![],
                }))
            }
            Intent::Expert => {
                if let Some((home, local)) = &attributes.virtu
                    && self.inner.config.operators.iter().any(|(h, l)| h == home && l == local)
                {
                    return Ok(Ok(Resolved {
                        kind: SessionKind::Operator,
                        subject: format!("virtu:{home}/{local}"),
                        display_name: attributes.display_name.clone().unwrap_or_default(),
                        tenants: vec![],
                    }));
                }
                let identity = match (&attributes.virtu, &attributes.identity_code) {
                    (Some((home, local)), _) => {
                        tenants_pb::resolve_expert_request::Identity::Virtu(tenants_pb::VirtuIdentity {
                            home_organization: home.clone(),
                            local_id: local.clone(),
                        })
                    }
                    (None, Some(code)) => {
                        tenants_pb::resolve_expert_request::Identity::PersonalIdentityCode(code.expose().to_owned())
                    }
                    (None, None) => return Ok(Err(Refusal::UnknownExpert)),
                };
                let Some(expert) = self.resolve_expert(identity).await? else { return Ok(Err(Refusal::UnknownExpert)) };
                if expert.memberships.is_empty() {
                    return Ok(Err(if expert.suspended_memberships > 0 {
                        Refusal::Suspended
                    } else {
                        Refusal::UnknownExpert
                    }));
                }
                Ok(Ok(Resolved {
                    kind: SessionKind::Expert,
                    subject: expert.person_id.clone(),
                    display_name: expert.name.clone(),
                    tenants: expert
                        .memberships
                        .iter()
                        .filter_map(|m| Uuid::parse_str(&m.organization_id).ok())
                        .collect(),
                }))
            }
        }
    }

    async fn resolve_expert(
        &self,
        identity: tenants_pb::resolve_expert_request::Identity,
    ) -> Result<Option<tenants_pb::ResolvedExpert>> {
        let mut tenants = self.inner.tenants.clone();
        match tenants
            .resolve_expert(self.as_service(tenants_pb::ResolveExpertRequest { identity: Some(identity) }))
            .await
        {
            Ok(response) => Ok(Some(response.into_inner())),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(IdentityError::Peer(format!("tenants: {}", status.code()))),
        }
    }

    /// The open, live session of a token; ends it if it timed out.
    async fn live_session(&self, token: &str) -> Result<SessionRow> {
        let unauthenticated = IdentityError::Refused(ErrorCode::Unauthenticated);
        if token.is_empty() {
            return Err(unauthenticated);
        }
        let Some(session) = store::open_session(&self.inner.db, &hash(token)).await? else {
            return Err(unauthenticated);
        };
        let now = self.inner.clock.now();
        if let Err(reason) = self.inner.config.policy.alive(session.created_at, session.last_seen_at, now) {
            if store::end_session(&self.inner.db, session.id, reason, now).await? {
                self.audit(AuditEntry {
                    event: "logout",
                    outcome: reason,
                    provider_id: &session.provider_id,
                    principal_kind: Some(session.kind.as_str()),
                    tenant_ids: vec![],
                    session_id: Some(session.id),
                })
                .await;
            }
            return Err(IdentityError::Refused(ErrorCode::Unauthenticated));
        }
        Ok(session)
    }

    async fn resolve_session(&self, msg: pb::ResolveSessionRequest) -> Result<pb::ResolvedSession> {
        let session = self.live_session(&msg.session_token).await?;
        let now = self.inner.clock.now();
        let mut memberships = Vec::new();
        if session.kind == SessionKind::Expert {
            // Roles and suspensions take effect on the next request, not the next login.
            let expert = self
                .resolve_expert(tenants_pb::resolve_expert_request::Identity::PersonId(session.subject.clone()))
                .await?;
            let active = expert.map(|e| e.memberships).unwrap_or_default();
            if active.is_empty() {
                store::end_session(&self.inner.db, session.id, "no-active-membership", now).await?;
                self.audit(AuditEntry {
                    event: "logout",
                    outcome: "no-active-membership",
                    provider_id: &session.provider_id,
                    principal_kind: Some("expert"),
                    tenant_ids: vec![],
                    session_id: Some(session.id),
                })
                .await;
                return Err(IdentityError::Refused(ErrorCode::Unauthenticated));
            }
            memberships = active
                .into_iter()
                .map(|m| pb::Membership { organization_id: m.organization_id, roles: roles_to_strings(&m.roles) })
                .collect();
        }
        store::touch_session(&self.inner.db, session.id, now).await?;
        Ok(pb::ResolvedSession {
            session_id: session.id.to_string(),
            csrf_token: session.csrf_token,
            kind: session.kind.as_str().to_owned(),
            subject: session.subject,
            display_name: session.display_name,
            memberships,
            provider_id: session.provider_id,
            created_at: Some(timestamp(session.created_at)),
            expires_at: Some(timestamp(self.inner.config.policy.expires_at(session.created_at, now))),
        })
    }

    async fn logout(&self, msg: pb::LogoutRequest) -> Result<pb::LogoutResponse> {
        let session = self.live_session(&msg.session_token).await?;
        store::end_session(&self.inner.db, session.id, "logout", self.inner.clock.now()).await?;
        self.audit(AuditEntry {
            event: "logout",
            outcome: "success",
            provider_id: &session.provider_id,
            principal_kind: Some(session.kind.as_str()),
            tenant_ids: vec![],
            session_id: Some(session.id),
        })
        .await;
        let provider_logout_url = match self.inner.connectors.get(&session.provider_id).map(|c| &**c) {
            Some(Connector::Oidc(oidc)) => {
                oidc.logout_url(&self.inner.config.post_logout_redirect).await.unwrap_or_default()
            }
            #[cfg(feature = "saml")]
            Some(Connector::Saml(saml)) => match &session.federation {
                Some(f) => self.saml_logout_url(saml, f).await?,
                None => String::new(),
            },
            None => String::new(),
        };
        Ok(pb::LogoutResponse { provider_logout_url })
    }

    /// A signed LogoutRequest for the provider, remembered until it answers.
    #[cfg(feature = "saml")]
    async fn saml_logout_url(&self, saml: &SamlConnector, federation: &Federation) -> Result<String> {
        let request =
            saml.logout_url(&federation.name_id, &federation.name_id_format, federation.session_index.as_deref()).await;
        let Ok(Some((url, request_id))) = request else {
            // Logged out here either way; the provider's own session just outlives ours.
            if let Err(error) = request {
                tracing::warn!(provider = %saml.id, %error, "no single logout at the provider");
            }
            return Ok(String::new());
        };
        let now = self.inner.clock.now();
        let until = now + Duration::minutes(SAML_LOGOUT_MINUTES);
        store::remember_saml_message(&self.inner.db, &saml.id, "logout", &request_id, until, now).await?;
        Ok(url)
    }

    #[cfg(feature = "saml")]
    async fn saml_logout(&self, msg: pb::SamlLogoutRequest) -> Result<pb::SamlLogoutResponse> {
        let connector = self.connector(&msg.provider_id)?.clone();
        let Connector::Saml(saml) = &*connector else { return Err(IdentityError::Refused(ErrorCode::NotFound)) };
        let now = self.inner.clock.now();
        let audit = |outcome: String, session_id: Option<SessionId>| {
            let provider = msg.provider_id.clone();
            async move {
                self.audit(AuditEntry {
                    event: "single-logout",
                    outcome: &outcome,
                    provider_id: &provider,
                    principal_kind: None,
                    tenant_ids: vec![],
                    session_id,
                })
                .await;
            }
        };
        let message = match saml.logout_message(&msg.raw_query).await {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(provider = %msg.provider_id, %error, "single logout message refused");
                audit("refused:invalid".into(), None).await;
                return Err(IdentityError::Invalid(vec![FieldViolation::new("SAMLRequest", "invalid-saml-message")]));
            }
        };
        match message {
            LogoutMessage::Request { id, name_id, relay_state } => {
                // The user logged out at the provider: every session it knows by this name ends.
                let mut ended = 0;
                for session in store::sessions_of_federated(&self.inner.db, &msg.provider_id, &name_id).await? {
                    if store::end_session(&self.inner.db, session.id, "idp-logout", now).await? {
                        ended += 1;
                        audit("success:idp-initiated".into(), Some(session.id)).await;
                    }
                }
                let redirect_url = saml
                    .logout_response_url(&id, relay_state.as_deref())
                    .await
                    .map_err(|e| IdentityError::Peer(e.to_string()))?
                    .unwrap_or_else(|| self.inner.config.post_logout_redirect.clone());
                Ok(pb::SamlLogoutResponse { redirect_url, ended_sessions: ended })
            }
            LogoutMessage::Response { in_response_to, success } => {
                let ours = store::forget_saml_message(&self.inner.db, &msg.provider_id, "logout", &in_response_to, now)
                    .await?;
                let outcome = match (ours, success) {
                    (true, true) => "success:sp-initiated",
                    (true, false) => "failed-at-provider",
                    (false, _) => "refused:unknown-request",
                };
                audit(outcome.into(), None).await;
                Ok(pb::SamlLogoutResponse {
                    redirect_url: self.inner.config.post_logout_redirect.clone(),
                    ended_sessions: 0,
                })
            }
        }
    }

    async fn list_sessions(&self, msg: pb::ListMySessionsRequest) -> Result<pb::ListMySessionsResponse> {
        let current = self.live_session(&msg.session_token).await?;
        let policy = self.inner.config.policy;
        let now = self.inner.clock.now();
        let sessions = store::sessions_of(&self.inner.db, current.kind, &current.subject)
            .await?
            .into_iter()
            .filter(|s| policy.alive(s.created_at, s.last_seen_at, now).is_ok())
            .map(|s| pb::Session {
                id: s.id.to_string(),
                provider_id: s.provider_id,
                created_at: Some(timestamp(s.created_at)),
                last_seen_at: Some(timestamp(s.last_seen_at)),
                expires_at: Some(timestamp(policy.expires_at(s.created_at, s.last_seen_at))),
                current: s.id == current.id,
            })
            .collect();
        Ok(pb::ListMySessionsResponse { sessions })
    }

    async fn end_session(&self, msg: pb::EndMySessionRequest) -> Result<()> {
        let current = self.live_session(&msg.session_token).await?;
        let target =
            SessionId::parse("session_id", &msg.session_id).map_err(|_| IdentityError::Refused(ErrorCode::NotFound))?;
        // Only one's own sessions; anyone else's is "not found".
        let own = store::sessions_of(&self.inner.db, current.kind, &current.subject).await?;
        let Some(session) = own.into_iter().find(|s| s.id == target) else {
            return Err(IdentityError::Refused(ErrorCode::NotFound));
        };
        if store::end_session(&self.inner.db, session.id, "ended-by-user", self.inner.clock.now()).await? {
            self.audit(AuditEntry {
                event: "logout",
                outcome: "ended-by-user",
                provider_id: &session.provider_id,
                principal_kind: Some(session.kind.as_str()),
                tenant_ids: vec![],
                session_id: Some(session.id),
            })
            .await;
        }
        Ok(())
    }

    async fn issue_client_token(&self, msg: pb::IssueClientTokenRequest) -> Result<pb::IssueClientTokenResponse> {
        let mut tenants = self.inner.tenants.clone();
        let request = self.as_service(tenants_pb::AuthenticateIntegrationClientRequest {
            client_id: msg.client_id,
            secret: msg.client_secret,
        });
        let client = match tenants.authenticate_integration_client(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                let outcome = if status.code() == tonic::Code::PermissionDenied {
                    "refused:suspended"
                } else {
                    "refused:invalid-client"
                };
                self.audit(AuditEntry {
                    event: "client-token",
                    outcome,
                    provider_id: "client-credentials",
                    principal_kind: Some("integration_client"),
                    tenant_ids: vec![],
                    session_id: None,
                })
                .await;
                return Err(match status.code() {
                    tonic::Code::Unavailable | tonic::Code::Internal => IdentityError::Peer("tenants".into()),
                    _ => IdentityError::Refused(ErrorCode::Unauthenticated),
                });
            }
        };
        let (Ok(client_id), Ok(tenant_id)) =
            (Uuid::parse_str(&client.client_id), Uuid::parse_str(&client.organization_id))
        else {
            return Err(IdentityError::Corrupt("client ids".into()));
        };
        let principal = Principal::IntegrationClient { client_id, tenant_id, scopes: client.scopes.clone() };
        let ttl = self.inner.config.access_token_ttl;
        let access_token = self
            .inner
            .keys
            .mint_with_ttl(&principal, Audience::Api, ttl)
            .map_err(|e| IdentityError::Corrupt(e.to_string()))?;
        self.audit(AuditEntry {
            event: "client-token",
            outcome: "success",
            provider_id: "client-credentials",
            principal_kind: Some("integration_client"),
            tenant_ids: vec![tenant_id],
            session_id: None,
        })
        .await;
        Ok(pb::IssueClientTokenResponse {
            access_token,
            expires_in: i64::try_from(ttl.as_secs()).unwrap_or(0),
            scopes: client.scopes,
        })
    }

    async fn ensure_customer(
        &self,
        principal: &Principal,
        msg: pb::EnsureCustomerAccountRequest,
    ) -> Result<pb::CustomerAccount> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(IdentityError::Refused(ErrorCode::PermissionDenied));
        }
        let code = PersonalIdentityCode::parse("personal_identity_code", &msg.personal_identity_code)
            .map_err(|v| IdentityError::Invalid(vec![v]))?;
        let (id, created): (CustomerId, bool) =
            store::ensure_customer(&self.inner.db, &self.inner.hasher.hash(&code), self.inner.clock.now()).await?;
        Ok(pb::CustomerAccount { id: id.to_string(), created })
    }
}

/// A verified assertion answers the login we started, or it is refused.
#[cfg(feature = "saml")]
fn saml_login(
    assertion: VerifiedAssertion,
    request_id: &str,
) -> std::result::Result<(Attributes, Option<Federation>), ConnectorError> {
    let answers_ours: bool = assertion.in_response_to.as_bytes().ct_eq(request_id.as_bytes()).into();
    if !answers_ours {
        return Err(ConnectorError::Check("InResponseTo"));
    }
    let federation = Federation {
        name_id: assertion.name_id,
        name_id_format: assertion.name_id_format,
        session_index: assertion.session_index,
    };
    Ok((assertion.attributes, Some(federation)))
}

/// Calls that only the gateway (a service principal) may make.
fn require_service<T>(request: &Request<T>) -> std::result::Result<(), Status> {
    match principal_of(request)? {
        Principal::Service { .. } => Ok(()),
        _ => Err(IdentityError::Refused(ErrorCode::PermissionDenied).into()),
    }
}

#[tonic::async_trait]
impl pb::identity_service_server::IdentityService for Identity {
    async fn list_providers(
        &self,
        _request: Request<pb::ListProvidersRequest>,
    ) -> std::result::Result<Response<pb::ListProvidersResponse>, Status> {
        let providers = self
            .inner
            .connectors
            .values()
            .map(|c| pb::Provider {
                id: c.id().to_owned(),
                display_name: c.display_name().to_owned(),
                protocol: c.protocol().into(),
            })
            .collect();
        Ok(Response::new(pb::ListProvidersResponse { providers }))
    }

    async fn begin_login(
        &self,
        request: Request<pb::BeginLoginRequest>,
    ) -> std::result::Result<Response<pb::BeginLoginResponse>, Status> {
        require_service(&request)?;
        Ok(Response::new(self.begin_login(request.into_inner()).await?))
    }

    async fn complete_login(
        &self,
        request: Request<pb::CompleteLoginRequest>,
    ) -> std::result::Result<Response<pb::CompleteLoginResponse>, Status> {
        require_service(&request)?;
        Ok(Response::new(self.complete_login(request.into_inner()).await?))
    }

    async fn resolve_session(
        &self,
        request: Request<pb::ResolveSessionRequest>,
    ) -> std::result::Result<Response<pb::ResolvedSession>, Status> {
        require_service(&request)?;
        Ok(Response::new(self.resolve_session(request.into_inner()).await?))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> std::result::Result<Response<pb::LogoutResponse>, Status> {
        require_service(&request)?;
        Ok(Response::new(self.logout(request.into_inner()).await?))
    }

    async fn list_my_sessions(
        &self,
        request: Request<pb::ListMySessionsRequest>,
    ) -> std::result::Result<Response<pb::ListMySessionsResponse>, Status> {
        require_service(&request)?;
        Ok(Response::new(self.list_sessions(request.into_inner()).await?))
    }

    async fn end_my_session(
        &self,
        request: Request<pb::EndMySessionRequest>,
    ) -> std::result::Result<Response<pb::EndMySessionResponse>, Status> {
        require_service(&request)?;
        self.end_session(request.into_inner()).await?;
        Ok(Response::new(pb::EndMySessionResponse {}))
    }

    async fn issue_client_token(
        &self,
        request: Request<pb::IssueClientTokenRequest>,
    ) -> std::result::Result<Response<pb::IssueClientTokenResponse>, Status> {
        require_service(&request)?;
        Ok(Response::new(self.issue_client_token(request.into_inner()).await?))
    }

    async fn saml_metadata(
        &self,
        request: Request<pb::SamlMetadataRequest>,
    ) -> std::result::Result<Response<pb::SamlMetadataResponse>, Status> {
        match self.connector(&request.get_ref().provider_id).map(|c| &**c)? {
            #[cfg(feature = "saml")]
            Connector::Saml(saml) => Ok(Response::new(pb::SamlMetadataResponse { xml: saml.metadata_xml() })),
            Connector::Oidc(_) => Err(IdentityError::Refused(ErrorCode::NotFound).into()),
        }
    }

    async fn saml_logout(
        &self,
        request: Request<pb::SamlLogoutRequest>,
    ) -> std::result::Result<Response<pb::SamlLogoutResponse>, Status> {
        require_service(&request)?;
        #[cfg(feature = "saml")]
        return Ok(Response::new(self.saml_logout(request.into_inner()).await?));
        // Without SAML every provider is an OpenID one: none takes a SAML logout.
        #[cfg(not(feature = "saml"))]
        Err(IdentityError::Refused(ErrorCode::NotFound).into())
    }

    async fn ensure_customer_account(
        &self,
        request: Request<pb::EnsureCustomerAccountRequest>,
    ) -> std::result::Result<Response<pb::CustomerAccount>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.ensure_customer(&principal, request.into_inner()).await?))
    }
}
