//! Integration clients: the state information systems a main user lets act for the
//! organisation, with the secret they authenticate with.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, Failure, FieldViolation, Violations},
    grpc::timestamp,
    ids::PageRequest,
    proto::tenants::v1 as pb,
    service::{NextAction, RequestKey, ServiceError, ServiceResult},
    types::Text,
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Tenants;
use crate::{
    domain::{self, Action, ClientId, IntegrationClient, OrganizationId, OrganizationStatus, Scope},
    events as ev, store,
};

/// CreateIntegrationClient as a command, apart from the organisation it names.
struct CreateIntegrationClient {
    name: Text,
    scopes: Vec<Scope>,
    key: RequestKey,
}

impl CreateIntegrationClient {
    fn parse(msg: &pb::CreateIntegrationClientRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let key = v.check(RequestKey::parse("create_integration_client", msg, |m| &mut m.request_id));
        let name = v.check(Text::parse("name", &msg.name, domain::NAME_MAX));
        let mut scopes: Vec<Scope> = msg.scopes.iter().filter_map(|s| v.check(Scope::parse(s))).collect();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() && msg.scopes.is_empty() {
            v.push(FieldViolation::new("scopes", "field-required"));
        }
        v.finish_with(|| Some(Self { name: name?, scopes, key: key? }))
    }
}

/// RevokeIntegrationClient as a command.
struct RevokeIntegrationClient {
    org: OrganizationId,
    client: ClientId,
}

impl RevokeIntegrationClient {
    fn parse(msg: &pb::RevokeIntegrationClientRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let org = v.check(OrganizationId::parse("organization_id", &msg.organization_id));
        let client = v.check(ClientId::parse("client_id", &msg.client_id));
        v.finish_with(|| Some(Self { org: org?, client: client? }))
    }
}

/// Only the organisation's main users manage its clients; a client cannot make more clients.
fn main_users_only(principal: &Principal, org: OrganizationId) -> ServiceResult<()> {
    if principal.has_role(org.as_uuid(), Role::Admin) { Ok(()) } else { Err(ErrorCode::PermissionDenied.into()) }
}

impl Tenants {
    pub(crate) async fn create_integration_client(
        &self,
        principal: &Principal,
        msg: pb::CreateIntegrationClientRequest,
    ) -> ServiceResult<pb::CreateIntegrationClientResponse> {
        let org = OrganizationId::parse("organization_id", &msg.organization_id)?;
        let command = CreateIntegrationClient::parse(&msg);
        self.authorized(self.db(), principal, org, Action::Administer).await?;
        main_users_only(principal, org)?;
        let CreateIntegrationClient { name, scopes, key } = command?;
        let mut tx = match key.begin(self.db(), principal).await? {
            NextAction::Proceed(tx) => tx,
            NextAction::Replay(id) => {
                // The secret is shown only once; a replay returns the client without it.
                let client = store::find_client(self.db(), org, ClientId(id)).await?;
                let client = client.ok_or_else(ServiceError::not_found)?;
                return Ok(pb::CreateIntegrationClientResponse {
                    client: Some(client_to_pb(&client)),
                    secret: String::new(),
                });
            }
        };
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let secret = URL_SAFE_NO_PAD.encode(raw);
        let now = self.core().now();
        let client = IntegrationClient {
            id: ClientId::new(),
            organization_id: org,
            name,
            scopes,
            created_at: now,
            revoked_at: None,
        };
        store::insert_client(&mut tx, &client, &secret_hash(&secret)).await?;
        self.core()
            .emit(
                &mut tx,
                org,
                ev::IntegrationClientCreated { organization_id: org.to_string(), client_id: client.id.to_string() },
            )
            .await?;
        key.remember(&mut tx, principal, client.id.as_uuid(), now).await?;
        self.core().commit(tx).await?;
        Ok(pb::CreateIntegrationClientResponse { client: Some(client_to_pb(&client)), secret })
    }

    pub(crate) async fn list_integration_clients(
        &self,
        principal: &Principal,
        msg: pb::ListIntegrationClientsRequest,
    ) -> ServiceResult<pb::ListIntegrationClientsResponse> {
        let org = OrganizationId::parse("organization_id", &msg.organization_id)?;
        self.authorized(self.db(), principal, org, Action::Administer).await?;
        main_users_only(principal, org)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let rows = store::clients_page(self.db(), org, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |c| c.id.as_uuid());
        Ok(pb::ListIntegrationClientsResponse { clients: rows.iter().map(client_to_pb).collect(), next_page_token })
    }

    pub(crate) async fn revoke_integration_client(
        &self,
        principal: &Principal,
        msg: pb::RevokeIntegrationClientRequest,
    ) -> ServiceResult<pb::IntegrationClient> {
        let RevokeIntegrationClient { org, client } = RevokeIntegrationClient::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        self.authorized(&mut tx, principal, org, Action::Administer).await?;
        main_users_only(principal, org)?;
        let mut client = store::find_client(&mut tx, org, client).await?.ok_or_else(ServiceError::not_found)?;
        if client.revoked_at.is_none() {
            let now = self.core().now();
            store::revoke_client(&mut tx, client.id, now).await?;
            client.revoked_at = Some(now);
            self.core()
                .emit(
                    &mut tx,
                    org,
                    ev::IntegrationClientRevoked { organization_id: org.to_string(), client_id: client.id.to_string() },
                )
                .await?;
        }
        self.core().commit(tx).await?;
        Ok(client_to_pb(&client))
    }

    /// For the identity service: the client whose id and secret these are, if it may act.
    pub(crate) async fn authenticate_integration_client(
        &self,
        principal: &Principal,
        msg: pb::AuthenticateIntegrationClientRequest,
    ) -> ServiceResult<pb::AuthenticatedClient> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        let refused = || ServiceError::from(ErrorCode::Unauthenticated);
        let Ok(client_id) = ClientId::parse("client_id", &msg.client_id) else { return Err(refused()) };
        let Some((client, stored_hash)) = store::client_credentials(self.db(), client_id).await? else {
            return Err(refused());
        };
        let matches: bool = secret_hash(&msg.secret).as_bytes().ct_eq(stored_hash.as_bytes()).into();
        if !matches || client.revoked_at.is_some() {
            return Err(refused());
        }
        let org = store::find_organization(self.db(), client.organization_id).await?.ok_or_else(refused)?;
        if org.status != OrganizationStatus::Active {
            return Err(ErrorCode::OrganizationSuspended.into());
        }
        Ok(pb::AuthenticatedClient {
            client_id: client.id.to_string(),
            organization_id: client.organization_id.to_string(),
            scopes: client.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        })
    }
}

fn client_to_pb(client: &IntegrationClient) -> pb::IntegrationClient {
    pb::IntegrationClient {
        id: client.id.to_string(),
        organization_id: client.organization_id.to_string(),
        name: client.name.as_str().to_owned(),
        scopes: client.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        created_at: Some(timestamp(client.created_at)),
        revoked_at: client.revoked_at.map(timestamp),
    }
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
