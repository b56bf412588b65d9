//! Sessions: what a session token stands for (checked on every request), logging out here and
//! at the provider (single logout, either side first), and a person's own sessions.

use ohjaus_platform::{
    auth::{Principal, Role},
    crypto::token_hash as hash,
    error::ErrorCode,
    grpc::timestamp,
    proto::{identity::v1 as pb, tenants::v1 as tenants_pb},
    service::{ServiceError, ServiceResult, services_only},
};

use super::{Connector, Identity};
use crate::{
    domain::{SessionId, SessionKind},
    store::{self, AuditEntry, SessionRow},
};
#[cfg(feature = "saml")]
use {
    crate::{
        saml::{LogoutMessage, SamlConnector},
        store::Federation,
    },
    chrono::Duration,
    ohjaus_platform::error::FieldViolation,
};

/// How long we wait for the provider's answer to our LogoutRequest.
#[cfg(feature = "saml")]
const SAML_LOGOUT_MINUTES: i64 = 10;

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

impl Identity {
    /// The open, live session of a token; ends it if it timed out.
    async fn live_session(&self, token: &str) -> ServiceResult<SessionRow> {
        if token.is_empty() {
            return Err(ErrorCode::Unauthenticated.into());
        }
        let Some(session) = store::open_session(&self.inner.db, &hash(token)).await? else {
            return Err(ErrorCode::Unauthenticated.into());
        };
        let now = self.now();
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
            return Err(ErrorCode::Unauthenticated.into());
        }
        Ok(session)
    }

    /// Deletes the sessions of people who followed an invitation link and then neither accepted
    /// nor came back within the session lifetimes; returns how many.
    pub async fn purge_pending_sessions(&self) -> ServiceResult<u64> {
        let now = self.now();
        let policy = &self.inner.config.policy;
        store::purge_pending_sessions(&self.inner.db, now - policy.idle, now - policy.absolute).await
    }

    pub(crate) async fn resolve_session(
        &self,
        principal: &Principal,
        msg: pb::ResolveSessionRequest,
    ) -> ServiceResult<pb::ResolvedSession> {
        services_only(principal)?;
        let session = self.live_session(&msg.session_token).await?;
        let now = self.now();
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
                return Err(ErrorCode::Unauthenticated.into());
            }
            memberships = active
                .into_iter()
                .map(|m| pb::Membership { organization_id: m.organization_id, roles: roles_to_strings(&m.roles) })
                .collect();
        }
        // A live stream's periodic check is not the person using the service: an open page
        // alone must not keep an idle session alive.
        if !msg.check_only {
            store::touch_session(&self.inner.db, session.id, now).await?;
        }
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
            account_pending: session.pending_identity.is_some(),
        })
    }

    pub(crate) async fn logout(
        &self,
        principal: &Principal,
        msg: pb::LogoutRequest,
    ) -> ServiceResult<pb::LogoutResponse> {
        services_only(principal)?;
        let session = self.live_session(&msg.session_token).await?;
        store::end_session(&self.inner.db, session.id, "logout", self.now()).await?;
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
    async fn saml_logout_url(&self, saml: &SamlConnector, federation: &Federation) -> ServiceResult<String> {
        let request =
            saml.logout_url(&federation.name_id, &federation.name_id_format, federation.session_index.as_deref()).await;
        let Ok(Some((url, request_id))) = request else {
            // Logged out here either way; the provider's own session just outlives ours.
            if let Err(error) = request {
                tracing::warn!(provider = %saml.id, %error, "no single logout at the provider");
            }
            return Ok(String::new());
        };
        let now = self.now();
        let until = now + Duration::minutes(SAML_LOGOUT_MINUTES);
        store::remember_saml_message(&self.inner.db, &saml.id, "logout", &request_id, until, now).await?;
        Ok(url)
    }

    /// A SAML provider's single-logout message: its request (the person logged out there) or
    /// its answer to ours.
    #[cfg(feature = "saml")]
    pub(crate) async fn saml_logout(
        &self,
        principal: &Principal,
        msg: pb::SamlLogoutRequest,
    ) -> ServiceResult<pb::SamlLogoutResponse> {
        services_only(principal)?;
        let connector = self.connector(&msg.provider_id)?;
        let Connector::Saml(saml) = &*connector else { return Err(ServiceError::not_found()) };
        let now = self.now();
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
                return Err(FieldViolation::new("SAMLRequest", "invalid-saml-message").into());
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
                    .map_err(|e| ServiceError::peer("identity provider", e))?
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

    #[cfg(not(feature = "saml"))]
    pub(crate) async fn saml_logout(
        &self,
        principal: &Principal,
        _msg: pb::SamlLogoutRequest,
    ) -> ServiceResult<pb::SamlLogoutResponse> {
        services_only(principal)?;
        // Without SAML every provider is an OpenID one: none takes a SAML logout.
        Err(ServiceError::not_found())
    }

    pub(crate) async fn list_my_sessions(
        &self,
        principal: &Principal,
        msg: pb::ListMySessionsRequest,
    ) -> ServiceResult<pb::ListMySessionsResponse> {
        services_only(principal)?;
        let current = self.live_session(&msg.session_token).await?;
        let policy = self.inner.config.policy;
        let now = self.now();
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

    pub(crate) async fn end_my_session(
        &self,
        principal: &Principal,
        msg: pb::EndMySessionRequest,
    ) -> ServiceResult<pb::EndMySessionResponse> {
        services_only(principal)?;
        let current = self.live_session(&msg.session_token).await?;
        let target = SessionId::parse_ref(&msg.session_id)?;
        // Only one's own sessions; anyone else's is "not found".
        let own = store::sessions_of(&self.inner.db, current.kind, &current.subject).await?;
        let Some(session) = own.into_iter().find(|s| s.id == target) else {
            return Err(ServiceError::not_found());
        };
        if store::end_session(&self.inner.db, session.id, "ended-by-user", self.now()).await? {
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
        Ok(pb::EndMySessionResponse {})
    }
}
