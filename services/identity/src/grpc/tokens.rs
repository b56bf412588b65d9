//! Access tokens of integration clients, by client credentials that tenants checks.

use ohjaus_platform::{
    auth::{Audience, Principal},
    error::ErrorCode,
    proto::{identity::v1 as pb, tenants::v1 as tenants_pb},
    service::{ServiceError, ServiceResult, services_only},
};
use uuid::Uuid;

use super::Identity;
use crate::store::AuditEntry;

impl Identity {
    pub(crate) async fn issue_client_token(
        &self,
        principal: &Principal,
        msg: pb::IssueClientTokenRequest,
    ) -> ServiceResult<pb::IssueClientTokenResponse> {
        services_only(principal)?;
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
                    tonic::Code::Unavailable | tonic::Code::Internal => ServiceError::peer("tenants", status.code()),
                    _ => ErrorCode::Unauthenticated.into(),
                });
            }
        };
        let (Ok(client_id), Ok(tenant_id)) =
            (Uuid::parse_str(&client.client_id), Uuid::parse_str(&client.organization_id))
        else {
            return Err(ServiceError::corrupt("client ids"));
        };
        let principal = Principal::IntegrationClient { client_id, tenant_id, scopes: client.scopes.clone() };
        let ttl = self.inner.config.access_token_ttl;
        let access_token = self
            .inner
            .keys
            .mint_with_ttl(&principal, Audience::Api, ttl)
            .map_err(|e| ServiceError::corrupt(e.to_string()))?;
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
}
