//! One action to a workspace: a guide of the receiving organisation opens a personal workspace
//! from a submission with a reply address. Every step goes through the workspaces service as the
//! guide (its rules, its invitation flow) under a request id derived from the submission, so a
//! retry after a failure finishes the same workspace instead of making a second one.

use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    error::{ErrorCode, FieldViolation},
    ids::parse_uuid,
    proto::{forms::v1 as pb, tenants::v1 as tenants_pb, workspaces::v1 as workspaces_pb},
    service::{ServiceError, ServiceResult, peer_refusal},
    types::{Email, Text},
};
use tonic::Request;
use uuid::Uuid;

use crate::{
    Forms,
    domain::{FieldKind, Status, Submission, queue},
    events,
    queue::summary,
    store,
};

fn as_caller<T>(principal: &Principal, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(principal.clone());
    request
}

/// A role of the registry as a principal's role.
fn role_of(role: i32) -> Option<Role> {
    match tenants_pb::Role::try_from(role).ok()? {
        tenants_pb::Role::Admin => Some(Role::Admin),
        tenants_pb::Role::Guide => Some(Role::Guide),
        tenants_pb::Role::Advisor => Some(Role::Advisor),
        tenants_pb::Role::Supervisor => Some(Role::Supervisor),
        tenants_pb::Role::Unspecified => None,
    }
}

impl Forms {
    /// Who the workspace is made as: the caller when they name nobody (or themselves) and are a
    /// guide; else the named expert, who must be a guide of the organisation in the registry.
    /// Every step of the conversion then goes through the workspaces service as that guide, so
    /// its rules (a guide of the office's organisation creates, owns and invites) stay its own.
    async fn owner(&self, principal: &Principal, named: &str, organization: Uuid) -> ServiceResult<Principal> {
        let Principal::Expert { person_id, .. } = principal else { return Err(ServiceError::not_found()) };
        let named = match named.trim() {
            "" => None,
            given => Some(parse_uuid("owner_id", given).map_err(|v| ServiceError::invalid(vec![v]))?),
        };
        let owner = match named {
            None => {
                if !principal.has_role(organization, Role::Guide) {
                    return Err(ErrorCode::PermissionDenied.into());
                }
                return Ok(principal.clone());
            }
            Some(owner) if owner == *person_id && principal.has_role(organization, Role::Guide) => {
                return Ok(principal.clone());
            }
            Some(owner) => owner,
        };
        let not_a_guide = || ServiceError::from(FieldViolation::new("owner_id", "owner-not-a-guide"));
        let request =
            tenants_pb::GetExpertRequest { organization_id: organization.to_string(), expert_id: owner.to_string() };
        let expert = match self.inner().tenants.clone().get_expert(as_caller(principal, request)).await {
            Ok(expert) => expert.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Err(not_a_guide()),
            Err(status) => return Err(peer_refusal("tenants", &status)),
        };
        let roles: Vec<Role> = expert.roles.iter().filter_map(|r| role_of(*r)).collect();
        if !roles.contains(&Role::Guide) {
            return Err(not_a_guide());
        }
        Ok(Principal::Expert { person_id: owner, memberships: vec![Membership { tenant_id: organization, roles }] })
    }

    pub(crate) async fn convert_submission(
        &self,
        principal: &Principal,
        request: pb::ConvertSubmissionRequest,
    ) -> ServiceResult<pb::Submission> {
        let expected = crate::domain::parse_version(request.expected_version)
            .map_err(|violation| ServiceError::invalid(vec![violation]))?;
        let title = match request.title.trim() {
            "" => None,
            given => Some(Text::parse("title", given, 200).map_err(|v| ServiceError::invalid(vec![v]))?),
        };
        let current = self.visible(principal, &request.submission_id).await?;
        queue::may_act(principal, current.organization_id)?;
        // The workspace's owner: the acting guide, or the guide an advisor names.
        let owner = self.owner(principal, &request.owner_id, current.organization_id).await?;
        let principal = &owner;
        if current.version != expected {
            return Err(ErrorCode::VersionMismatch.into());
        }
        if current.status == Status::Converted {
            return Err(ErrorCode::WrongState.into());
        }
        let key = self.key_of(current.id).await?;
        let content = self.content(&current, &key)?;
        let Some(address) = content.email.as_deref().and_then(|a| Email::parse("email", a).ok()) else {
            return Err(FieldViolation::new("submission_id", "no-reply-address").into());
        };
        let definition = store::find_definition(self.db(), current.form_id, current.form_version)
            .await?
            .ok_or_else(|| ServiceError::corrupt("the version a submission answered"))?;
        let language = current.language;
        let title = match title {
            Some(title) => title.into_string(),
            None => {
                let own = definition.title.get(language);
                if own.is_empty() { definition.title.fi.clone() } else { own.to_owned() }
            }
        };
        // The question as the visitor wrote it: each text or choice answer under its label.
        let question = content
            .answers
            .iter()
            .filter_map(|answer| {
                let field = definition.fields.iter().find(|f| f.key == answer.key)?;
                if matches!(field.kind, FieldKind::Email | FieldKind::Consent) {
                    return None;
                }
                let label = field.label.get(language);
                let label = if label.is_empty() { field.label.fi.as_str() } else { label };
                let value = match field.kind {
                    FieldKind::Choice => field
                        .choices
                        .iter()
                        .find(|c| c.key == answer.value)
                        .map(|c| {
                            let shown = c.label.get(language);
                            if shown.is_empty() { c.label.fi.clone() } else { shown.to_owned() }
                        })
                        .unwrap_or_else(|| answer.value.clone()),
                    _ => answer.value.clone(),
                };
                Some(format!("{label}:\n{value}"))
            })
            .collect::<Vec<_>>()
            .join("\n\n");

        let step = |name: &str| format!("form-submission-{}-{name}", current.id.as_uuid().simple());
        let mut workspaces = self.inner().workspaces.clone();
        let created = workspaces
            .create_workspace(as_caller(
                principal,
                workspaces_pb::CreateWorkspaceRequest {
                    organization_id: current.organization_id.to_string(),
                    office_id: current.office_id.to_string(),
                    kind: workspaces_pb::WorkspaceKind::Personal.into(),
                    title,
                    topics: vec![current.topic.clone()],
                    request_id: step("workspace"),
                },
            ))
            .await
            .map_err(|s| peer_refusal("workspaces", &s))?
            .into_inner();
        workspaces
            .post_message(as_caller(
                principal,
                workspaces_pb::PostMessageRequest {
                    workspace_id: created.id.clone(),
                    body: question,
                    request_id: step("question"),
                    author_name: String::new(),
                    attachment_ids: Vec::new(),
                    thread_id: String::new(),
                },
            ))
            .await
            .map_err(|s| peer_refusal("workspaces", &s))?;
        workspaces
            .create_invitation(as_caller(
                principal,
                workspaces_pb::CreateInvitationRequest {
                    workspace_id: created.id.clone(),
                    email: address.as_str().to_owned(),
                    language: language.code().to_owned(),
                    personal_identity_code: String::new(),
                    request_id: step("invitation"),
                },
            ))
            .await
            .map_err(|s| peer_refusal("workspaces", &s))?;

        let workspace_id = ohjaus_platform::ids::parse_canonical(&created.id)
            .ok_or_else(|| ServiceError::corrupt("the workspace's id"))?;
        let changed = Submission {
            status: Status::Converted,
            workspace_id: Some(workspace_id),
            version: current.version + 1,
            updated_at: self.core().now(),
            ..current
        };
        let mut tx = self.db().begin().await?;
        if !store::update_submission(&mut tx, &changed, expected).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let event = events::SubmissionConverted {
            organization_id: changed.organization_id.to_string(),
            submission_id: changed.id.to_string(),
            workspace_id: workspace_id.to_string(),
        };
        self.core().emit(&mut tx, changed.organization_id, event).await?;
        self.core().commit(tx).await?;
        Ok(summary(&changed))
    }
}
