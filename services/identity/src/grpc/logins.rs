//! Logging in: the providers, the start of a login at one, and its completion (a session for
//! whoever may log in, a refusal with its reason for anyone else).

use ohjaus_platform::{
    auth::Principal,
    crypto::{random_token, token_hash as hash},
    i18n::Language,
    proto::{identity::v1 as pb, tenants::v1 as tenants_pb},
    service::{ServiceError, ServiceResult, services_only},
    types::IdentityCodeHash,
};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{Connector, Identity};
#[cfg(feature = "saml")]
use crate::saml::VerifiedAssertion;
use crate::{
    domain::{self, Attributes, CustomerId, Intent, Refusal, SessionId, SessionKind},
    oidc::ConnectorError,
    store::{self, AuditEntry, Federation, LoginTransaction, SessionRow},
};

/// BeginLogin as a command: what the login is for, in which language, and where it returns
/// to. Nothing in it is refused: an unknown intent is a customer's login, an unknown language
/// Finnish, an unsafe return address the front page.
struct BeginLogin {
    intent: Intent,
    language: Language,
    login_hint: String,
    return_to: String,
}

impl BeginLogin {
    fn parse(msg: pb::BeginLoginRequest) -> Self {
        let intent = match pb::LoginIntent::try_from(msg.intent) {
            Ok(pb::LoginIntent::Expert) => Intent::Expert,
            Ok(pb::LoginIntent::Invitation) => Intent::Invitation,
            _ => Intent::Customer,
        };
        Self {
            intent,
            language: msg.language.parse::<Language>().unwrap_or_default(),
            login_hint: msg.login_hint,
            return_to: domain::safe_return_to(&msg.return_to),
        }
    }
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
        Refusal::OtherBrowser => pb::LoginRefusal::OtherBrowser,
    };
    value as i32
}

/// Who logged in, once resolved.
struct Resolved {
    kind: SessionKind,
    subject: String,
    display_name: String,
    tenants: Vec<Uuid>,
    /// A customer without an account, who followed an invitation link: who they are.
    pending_identity: Option<IdentityCodeHash>,
}

impl Identity {
    pub(crate) fn list_providers(&self, _msg: pb::ListProvidersRequest) -> pb::ListProvidersResponse {
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
        pb::ListProvidersResponse { providers }
    }

    pub(crate) async fn begin_login(
        &self,
        principal: &Principal,
        msg: pb::BeginLoginRequest,
    ) -> ServiceResult<pb::BeginLoginResponse> {
        services_only(principal)?;
        let connector = self.connector(&msg.provider_id)?;
        let BeginLogin { intent, language, login_hint, return_to } = BeginLogin::parse(msg);
        // OpenID Connect: state, nonce and PKCE. SAML: the RelayState is our state and the
        // AuthnRequest's id stands in for the nonce (the assertion's InResponseTo).
        let (url, state, nonce, pkce_verifier) = match &*connector {
            Connector::Oidc(oidc) => {
                let start = oidc
                    .begin(Some(&login_hint), language.code())
                    .await
                    .map_err(|e| ServiceError::peer("identity provider", e))?;
                (start.url, start.state, start.nonce, start.pkce_verifier)
            }
            #[cfg(feature = "saml")]
            Connector::Saml(saml) => {
                let state = random_token();
                let (url, request_id) =
                    saml.begin(&state).await.map_err(|e| ServiceError::peer("identity provider", e))?;
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
            return_to,
            language: language.code().to_owned(),
            created_at: self.now(),
        };
        store::insert_login(&self.inner.db, &hash(&state), &login).await?;
        Ok(pb::BeginLoginResponse { redirect_url: url, browser_binding: binding })
    }

    pub(crate) async fn complete_login(
        &self,
        principal: &Principal,
        msg: pb::CompleteLoginRequest,
    ) -> ServiceResult<pb::CompleteLoginResponse> {
        services_only(principal)?;
        let provider = msg.provider_id.clone();
        let refuse = |refusal: Refusal, language: &str| pb::CompleteLoginResponse {
            refusal: refusal_to_pb(refusal),
            language: language.to_owned(),
            ..Default::default()
        };
        let now = self.now();
        let connector = self.connector(&provider)?;
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
        if login.provider_id != msg.provider_id {
            return refused(Refusal::InvalidResponse, None).await;
        }
        // Said as it is: a client that dropped the cookie (one that keeps no `Secure` cookies
        // on plain http, say) is told to start again, not that the provider failed.
        if !same_browser {
            return refused(Refusal::OtherBrowser, None).await;
        }
        if now - login.created_at > self.inner.config.login_timeout {
            return refused(Refusal::Expired, None).await;
        }
        let verified: Result<(Attributes, Option<Federation>), ConnectorError> = match (&*connector, assertion) {
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
            pending_identity: resolved.pending_identity,
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
    async fn resolve(&self, intent: Intent, attributes: &Attributes) -> ServiceResult<Result<Resolved, Refusal>> {
        match intent {
            Intent::Customer | Intent::Invitation => {
                let Some(code) = &attributes.identity_code else { return Ok(Err(Refusal::InsufficientAssurance)) };
                let hash = self.inner.hasher.hash(code);
                // No account, no login. An invitation's login lets a person without one in, but
                // only as a customer-to-be: their account is made when they accept an invitation
                // meant for them (ActivateCustomerAccount), so following someone else's link,
                // or giving up, leaves no account behind.
                let (customer, pending_identity) = match store::customer_by_identity(&self.inner.db, &hash).await? {
                    Some(customer) => {
                        store::touch_customer(&self.inner.db, customer, self.now()).await?;
                        (customer, None)
                    }
                    None if intent == Intent::Invitation => (CustomerId::of_identity(&hash), Some(hash)),
                    None => return Ok(Err(Refusal::NoWorkspace)),
                };
                Ok(Ok(Resolved {
                    kind: SessionKind::Customer,
                    subject: customer.to_string(),
                    display_name: attributes.display_name.clone().unwrap_or_default(),
                    tenants: vec![],
                    pending_identity,
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
                        pending_identity: None,
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
                    pending_identity: None,
                }))
            }
        }
    }

    /// The service provider metadata of a SAML provider (public: the provider fetches it).
    pub(crate) fn saml_metadata(&self, msg: pb::SamlMetadataRequest) -> ServiceResult<pb::SamlMetadataResponse> {
        match &*self.connector(&msg.provider_id)? {
            #[cfg(feature = "saml")]
            Connector::Saml(saml) => Ok(pb::SamlMetadataResponse { xml: saml.metadata_xml() }),
            Connector::Oidc(_) => Err(ServiceError::not_found()),
        }
    }
}

/// A verified assertion answers the login we started, or it is refused.
#[cfg(feature = "saml")]
fn saml_login(
    assertion: VerifiedAssertion,
    request_id: &str,
) -> Result<(Attributes, Option<Federation>), ConnectorError> {
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
