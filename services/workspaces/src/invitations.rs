//! Invitations: a guide invites a customer by email. The mail carries a link with a secret and
//! nothing else; the secret is stored only as a hash. Following the link leads to a Suomi.fi
//! login, after which the customer accepts and becomes a member. An invitation given with a
//! personal identity code can be accepted only by that person's account.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    crypto::{random_token, token_hash},
    db::Tx,
    error::{ErrorCode, Violations},
    grpc::timestamp,
    i18n::Language,
    ids::PageRequest,
    proto::{identity::v1 as identity_pb, tenants::v1 as tenants_pb, workspaces::v1 as pb},
    service::{RequestKey, ServiceError, ServiceResult, peer_refusal},
    types::{Email, PersonalIdentityCode},
};
use serde::{Deserialize, Serialize};
use tonic::Request;
use uuid::Uuid;

use crate::{
    domain::{self, Actor, InvitationId, InvitationState, InvitationStatus, MemberRole, State, WorkspaceId},
    events as ev,
    members::{MemberContact, display_name, member_aad},
    notify::{MailContent, render_mail},
    service::{Opened, Reader, Workspaces},
    store::{self, InvitationRow},
};

/// What an invitation seals: where the mail went and in which language.
#[derive(Serialize, Deserialize)]
struct InvitationContact {
    email: String,
    language: String,
}

fn contact_aad(invitation: InvitationId) -> Vec<u8> {
    format!("invitation:{invitation}:contact").into_bytes()
}

/// A guide's invitation of a customer, as they asked for it.
struct CreateInvitation {
    workspace: WorkspaceId,
    email: Email,
    /// Of the mail; Finnish unless told.
    language: Language,
    /// Only this person's account may accept it.
    code: Option<PersonalIdentityCode>,
    key: RequestKey,
}

impl CreateInvitation {
    fn parse(msg: &pb::CreateInvitationRequest) -> ServiceResult<Self> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let mut v = Violations::new();
        let email = v.check(Email::parse("email", &msg.email));
        let language = if msg.language.trim().is_empty() {
            Some(Language::Fi)
        } else {
            v.check(Language::parse_field("language", msg.language.trim()))
        };
        // `Some(None)`: no code given, which is fine; `None`: a code that is not valid.
        let code = if msg.personal_identity_code.trim().is_empty() {
            Some(None)
        } else {
            v.check(PersonalIdentityCode::parse("personal_identity_code", &msg.personal_identity_code)).map(Some)
        };
        // The identity code never enters the idempotency hash in plain text either.
        let hashed = pb::CreateInvitationRequest {
            personal_identity_code: token_hash(&msg.personal_identity_code),
            ..msg.clone()
        };
        let key = v.check(RequestKey::parse("create_invitation", &hashed, |m| &mut m.request_id));
        Ok(v.finish_with(|| Some(Self { workspace, email: email?, language: language?, code: code?, key: key? }))?)
    }
}

/// An invitation the caller names, at the version they saw (0: whatever it is).
struct InvitationTarget {
    workspace: WorkspaceId,
    invitation: InvitationId,
    version: i64,
}

impl InvitationTarget {
    fn parse(msg: &pb::InvitationRef) -> ServiceResult<Self> {
        Ok(Self {
            workspace: WorkspaceId::parse_ref(&msg.workspace_id)?,
            invitation: InvitationId::parse_ref(&msg.invitation_id)?,
            version: msg.version,
        })
    }
}

impl Workspaces {
    fn invitation_to_pb(&self, opened: &Opened, row: &InvitationRow) -> ServiceResult<pb::Invitation> {
        let contact: InvitationContact =
            opened.open_json(&row.contact_sealed, &contact_aad(row.id), "invitation contact")?;
        let status = match domain::invitation_status(row.state, row.expires_at, self.core().now()) {
            InvitationStatus::Pending => pb::InvitationState::Pending,
            InvitationStatus::Accepted => pb::InvitationState::Accepted,
            InvitationStatus::Revoked => pb::InvitationState::Revoked,
            InvitationStatus::Expired => pb::InvitationState::Expired,
        };
        Ok(pb::Invitation {
            id: row.id.to_string(),
            workspace_id: row.workspace_id.to_string(),
            email: contact.email,
            language: contact.language,
            bound_to_person: row.bound_customer_id.is_some(),
            state: status as i32,
            expires_at: Some(timestamp(row.expires_at)),
            sent_count: row.sent_count,
            version: row.version,
            created_at: Some(timestamp(row.created_at)),
        })
    }

    /// The organisation's name in `language`, as the guide's organisation shows it.
    async fn organization_name(
        &self,
        principal: &Principal,
        organization: Uuid,
        language: Language,
    ) -> ServiceResult<String> {
        let mut request = Request::new(tenants_pb::GetOrganizationRequest { id: organization.to_string() });
        request.extensions_mut().insert(principal.clone());
        let org = self
            .inner()
            .tenants
            .clone()
            .get_organization(request)
            .await
            .map_err(|s| peer_refusal("tenants", &s))?
            .into_inner();
        let registry = org.registry.unwrap_or_default();
        let display = registry.display_name.unwrap_or_default();
        let localized = match language {
            Language::Fi => display.fi.clone(),
            Language::Sv => display.sv.clone(),
            Language::En => display.en.clone(),
        };
        Ok([localized, display.fi, registry.official_name].into_iter().find(|n| !n.is_empty()).unwrap_or_default())
    }

    /// Queues the invitation mail in `tx`, sealed with the workspace key.
    async fn queue_invitation_mail(
        &self,
        tx: &mut Tx,
        opened: &Opened,
        contact: &InvitationContact,
        organization: &str,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let language: Language = contact.language.parse().unwrap_or_default();
        let config = &self.inner().config;
        let link = format!("{}/invitations/{token}", config.public_base_url);
        let expires = expires_at.format("%d.%m.%Y").to_string();
        let body = language.text_with("mail-invitation-body", &[("organization", organization), ("expires", &expires)]);
        let (text, html) = render_mail(language, &[body, language.text("mail-invitation-ignore")], &link);
        let mail = MailContent {
            to: contact.email.clone(),
            subject: language.text_with("mail-invitation-subject", &[("organization", organization)]),
            text,
            html,
            language: language.code().to_owned(),
        };
        self.queue_mail(tx, opened, &mail).await
    }

    pub(crate) async fn create_invitation(
        &self,
        principal: &Principal,
        msg: pb::CreateInvitationRequest,
    ) -> ServiceResult<pb::Invitation> {
        let command = CreateInvitation::parse(&msg)?;
        // Who may invite is settled before anything reaches another service.
        let mut tx = self.db().begin().await?;
        let opened = self.inviting(&mut tx, principal, command.workspace).await?;
        tx.commit().await?;
        // A retry answers before identity is asked again for the customer's account.
        if let Some(made) = command.key.replayed(self.db(), principal).await? {
            return self.made_invitation(&opened, InvitationId(made)).await;
        }
        let organization =
            self.organization_name(principal, opened.workspace.organization_id, command.language).await?;
        let bound_customer_id = match &command.code {
            Some(code) => Some(self.customer_reference(code).await?),
            None => None,
        };
        let mut tx = self.db().begin().await?;
        // Settled again where it is written: the workspace may have closed or filled meanwhile.
        let opened = self.inviting(&mut tx, principal, command.workspace).await?;
        let now = self.core().now();
        let token = random_token();
        let invitation = InvitationId::new();
        let contact = InvitationContact {
            email: command.email.as_str().to_owned(),
            language: command.language.code().to_owned(),
        };
        let row = InvitationRow {
            id: invitation,
            workspace_id: command.workspace,
            token_hash: token_hash(&token),
            contact_sealed: opened.seal_json(&contact, &contact_aad(invitation))?,
            bound_customer_id,
            state: InvitationState::Pending,
            invited_by: Actor::of(principal).map_or(opened.workspace.owner_id, Actor::id),
            expires_at: now + self.inner().config.invitation_valid,
            sent_count: 1,
            accepted_by: None,
            version: 1,
            created_at: now,
        };
        store::insert_invitation(&mut tx, &row).await?;
        command.key.remember(&mut tx, principal, invitation.as_uuid(), now).await?;
        self.queue_invitation_mail(&mut tx, &opened, &contact, &organization, &token, row.expires_at).await?;
        self.core().commit(tx).await?;
        self.inner().mail_waker.notify_one();
        self.invitation_to_pb(&opened, &row)
    }

    /// The workspace, if the caller may invite a customer into it now.
    async fn inviting(&self, tx: &mut Tx, principal: &Principal, id: WorkspaceId) -> ServiceResult<Opened> {
        let Reader { opened, role, .. } = self.readable(tx, principal, id).await?;
        domain::may_invite(&opened.workspace, role, store::customer_count(&mut *tx, id).await?)?;
        Ok(opened)
    }

    /// The answer to a retry: the invitation the first request made.
    async fn made_invitation(&self, opened: &Opened, made: InvitationId) -> ServiceResult<pb::Invitation> {
        let row = store::find_invitation(self.db(), made)
            .await?
            .ok_or_else(|| ServiceError::corrupt("remembered invitation is gone"))?;
        self.invitation_to_pb(opened, &row)
    }

    /// The customer id of the person with `code`: their account's, or the one it will have
    /// when they accept (identity makes no account for an invitation).
    async fn customer_reference(&self, code: &PersonalIdentityCode) -> ServiceResult<Uuid> {
        let mut request =
            Request::new(identity_pb::ReferCustomerRequest { personal_identity_code: code.expose().to_owned() });
        request.extensions_mut().insert(Principal::Service { name: crate::SERVICE.into() });
        let reference = self
            .inner()
            .identity
            .clone()
            .refer_customer(request)
            .await
            .map_err(|s| peer_refusal("identity", &s))?
            .into_inner();
        Uuid::parse_str(&reference.id).map_err(|_| ServiceError::peer("identity", "a customer id that is no id"))
    }

    /// The accepting customer's account, made now if they followed the link without one.
    async fn activate_customer_account(&self, customer: Uuid) -> ServiceResult<()> {
        let mut request =
            Request::new(identity_pb::ActivateCustomerAccountRequest { customer_id: customer.to_string() });
        request.extensions_mut().insert(Principal::Service { name: crate::SERVICE.into() });
        self.inner()
            .identity
            .clone()
            .activate_customer_account(request)
            .await
            .map_err(|s| peer_refusal("identity", &s))?;
        Ok(())
    }

    /// The invitation of `token` and its workspace, if `customer` may accept it now.
    async fn acceptable(&self, tx: &mut Tx, token: &str, customer: Actor) -> ServiceResult<(InvitationRow, Opened)> {
        let now = self.core().now();
        let row = store::invitation_by_token(&mut *tx, token)
            .await?
            .ok_or(ServiceError::from(ErrorCode::InvitationUnusable))?;
        domain::may_accept(
            domain::invitation_status(row.state, row.expires_at, now),
            row.bound_customer_id,
            customer.id(),
        )?;
        let workspace = store::find_workspace(&mut *tx, row.workspace_id).await?.ok_or_else(ServiceError::not_found)?;
        let opened = self.open(&workspace).await?;
        if store::member_role(&mut *tx, workspace.id, customer).await?.is_none() {
            let others = store::customer_count(&mut *tx, workspace.id).await?;
            domain::may_invite(&opened.workspace, Some(MemberRole::Owner), others)?;
        }
        Ok((row, opened))
    }

    pub(crate) async fn list_invitations(
        &self,
        principal: &Principal,
        msg: pb::ListInvitationsRequest,
    ) -> ServiceResult<pb::ListInvitationsResponse> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, .. } = self.readable(&mut tx, principal, id).await?;
        tx.commit().await?;
        if !role.is_some_and(MemberRole::guides) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        let rows = store::invitations_page(self.db(), id, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let invitations = rows.iter().map(|r| self.invitation_to_pb(&opened, r)).collect::<ServiceResult<_>>()?;
        Ok(pb::ListInvitationsResponse { invitations, next_page_token })
    }

    /// An invitation of a workspace the caller guides, still at the version they saw.
    async fn guided_invitation(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        target: &InvitationTarget,
    ) -> ServiceResult<(Opened, InvitationRow)> {
        let Reader { opened, role, .. } = self.readable(tx, principal, target.workspace).await?;
        let row = store::find_invitation(&mut *tx, target.invitation)
            .await?
            .filter(|r| r.workspace_id == target.workspace)
            .ok_or_else(ServiceError::not_found)?;
        if !role.is_some_and(MemberRole::guides) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        if target.version != 0 && target.version != row.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        Ok((opened, row))
    }

    pub(crate) async fn resend_invitation(
        &self,
        principal: &Principal,
        msg: pb::InvitationRef,
    ) -> ServiceResult<pb::Invitation> {
        let target = InvitationTarget::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        let (opened, row) = self.guided_invitation(&mut tx, principal, &target).await?;
        tx.commit().await?;
        let now = self.core().now();
        if !matches!(
            domain::invitation_status(row.state, row.expires_at, now),
            InvitationStatus::Pending | InvitationStatus::Expired
        ) || opened.workspace.state != State::Active
        {
            return Err(ErrorCode::WrongState.into());
        }
        let contact: InvitationContact =
            opened.open_json(&row.contact_sealed, &contact_aad(row.id), "invitation contact")?;
        let language: Language = contact.language.parse().unwrap_or_default();
        let organization = self.organization_name(principal, opened.workspace.organization_id, language).await?;
        let token = random_token();
        let version = row.version;
        let changed = InvitationRow {
            token_hash: token_hash(&token),
            expires_at: now + self.inner().config.invitation_valid,
            sent_count: row.sent_count + 1,
            version: row.version + 1,
            ..row
        };
        let mut tx = self.db().begin().await?;
        if !store::update_invitation(&mut tx, &changed, version, now).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        self.queue_invitation_mail(&mut tx, &opened, &contact, &organization, &token, changed.expires_at).await?;
        self.core().commit(tx).await?;
        self.inner().mail_waker.notify_one();
        self.invitation_to_pb(&opened, &changed)
    }

    pub(crate) async fn revoke_invitation(
        &self,
        principal: &Principal,
        msg: pb::InvitationRef,
    ) -> ServiceResult<pb::Invitation> {
        let target = InvitationTarget::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        let (opened, row) = self.guided_invitation(&mut tx, principal, &target).await?;
        let now = self.core().now();
        if matches!(
            domain::invitation_status(row.state, row.expires_at, now),
            InvitationStatus::Accepted | InvitationStatus::Revoked
        ) {
            return Err(ErrorCode::WrongState.into());
        }
        let version = row.version;
        let changed = InvitationRow { state: InvitationState::Revoked, version: row.version + 1, ..row };
        if !store::update_invitation(&mut tx, &changed, version, now).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        self.core().commit(tx).await?;
        self.invitation_to_pb(&opened, &changed)
    }

    /// Whether the gateway may send the link's follower to a login. Only the gateway asks.
    pub(crate) async fn check_invitation(
        &self,
        principal: &Principal,
        msg: pb::CheckInvitationRequest,
    ) -> ServiceResult<pb::CheckInvitationResponse> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        let Some(row) = store::invitation_by_token(self.db(), &token_hash(msg.token.trim())).await? else {
            return Ok(pb::CheckInvitationResponse::default());
        };
        let usable =
            domain::invitation_status(row.state, row.expires_at, self.core().now()) == InvitationStatus::Pending;
        let workspace =
            store::find_workspace(self.db(), row.workspace_id).await?.ok_or_else(ServiceError::not_found)?;
        let opened = self.open(&workspace).await?;
        let contact: InvitationContact =
            opened.open_json(&row.contact_sealed, &contact_aad(row.id), "invitation contact")?;
        Ok(pb::CheckInvitationResponse { usable, language: contact.language })
    }

    /// The logged-in customer accepts: they become a member, the invitation is used up.
    pub(crate) async fn accept_invitation(
        &self,
        principal: &Principal,
        msg: pb::AcceptInvitationRequest,
    ) -> ServiceResult<pb::Workspace> {
        let Principal::Customer { customer_id } = principal else {
            return Err(ErrorCode::PermissionDenied.into());
        };
        let customer = Actor::Customer(*customer_id);
        let token = token_hash(msg.token.trim());
        // Settled before the customer's account is made: a refused acceptance leaves nothing
        // behind. A person who logged in through the link has no account until this point.
        let mut tx = self.db().begin().await?;
        self.acceptable(&mut tx, &token, customer).await?;
        tx.rollback().await?;
        self.activate_customer_account(*customer_id).await?;
        // Settled again where it is written: someone may have used or revoked it meanwhile.
        let now = self.core().now();
        let mut tx = self.db().begin().await?;
        let (row, opened) = self.acceptable(&mut tx, &token, customer).await?;
        let workspace = &opened.workspace;
        let contact: InvitationContact =
            opened.open_json(&row.contact_sealed, &contact_aad(row.id), "invitation contact")?;
        let member = MemberContact {
            name: display_name(&msg.display_name),
            email: Some(contact.email),
            language: contact.language,
        };
        let sealed = opened.seal_json(&member, &member_aad(workspace.id, customer))?;
        store::add_member(&mut tx, workspace.id, customer, MemberRole::Customer, Some(sealed), now).await?;
        let version = row.version;
        let invited_by = row.invited_by;
        let used = InvitationRow {
            state: InvitationState::Accepted,
            accepted_by: Some(*customer_id),
            version: row.version + 1,
            ..row
        };
        if !store::update_invitation(&mut tx, &used, version, now).await? {
            // Someone else used it in the same instant.
            return Err(ErrorCode::InvitationUnusable.into());
        }
        let notification = store::NotificationRow {
            id: domain::NotificationId::new(),
            recipient: Actor::Expert(invited_by),
            workspace_id: workspace.id,
            kind: "invitation-accepted".into(),
            subject_id: used.id.as_uuid(),
            created_at: now,
            read_at: None,
        };
        store::insert_notification(&mut tx, &notification).await?;
        self.log_read(&mut tx, &opened.workspace, customer, Some(MemberRole::Customer), "workspace").await?;
        let org = opened.workspace.organization_id;
        let event = ev::MemberAdded {
            organization_id: org.to_string(),
            workspace_id: workspace.id.to_string(),
            member_kind: customer.kind().to_owned(),
            member_id: customer.id().to_string(),
            reason: "invitation".into(),
        };
        self.core().emit(&mut tx, org, event).await?;
        self.core().commit(tx).await?;
        Ok(self.workspace_to_pb(&opened.workspace))
    }
}
