//! Who may do what in the advisors' queue, and the canned answers, without I/O.

use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, FieldViolation, Violations},
    i18n::Language,
    ids::parse_uuid,
    proto::forms::v1 as pb,
    service::{RequestKey, ServiceError},
    types::{Text, Topic},
};
use uuid::Uuid;

use super::{Localized, Status};

/// Longest note, reply and canned answer text; longest canned answer title.
pub const TEXT_MAX: usize = 5000;
pub const TITLE_MAX: usize = 200;

/// What a caller may do with an organisation's submissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A supervisor: reads.
    Read,
    /// An advisor or a guide: reads and acts.
    Act,
}

/// The caller's access to `organization`'s submissions; to anyone else they do not exist (a
/// main user configures forms but does not read what visitors send).
pub fn access(principal: &Principal, organization: Uuid) -> Result<Access, ErrorCode> {
    let roles = principal.roles_in(organization);
    if roles.iter().any(|r| matches!(r, Role::Advisor | Role::Guide)) {
        Ok(Access::Act)
    } else if roles.contains(&Role::Supervisor) {
        Ok(Access::Read)
    } else {
        Err(ErrorCode::NotFound)
    }
}

/// Acting needs an advisor or a guide; a supervisor who can read is refused, not misled.
pub fn may_act(principal: &Principal, organization: Uuid) -> Result<Uuid, ErrorCode> {
    match (access(principal, organization)?, principal) {
        (Access::Act, Principal::Expert { person_id, .. }) => Ok(*person_id),
        _ => Err(ErrorCode::PermissionDenied),
    }
}

/// Main users and advisors keep the canned answers.
pub fn may_keep_canned(principal: &Principal, organization: Uuid) -> Result<(), ErrorCode> {
    let roles = principal.roles_in(organization);
    if roles.iter().any(|r| matches!(r, Role::Admin | Role::Advisor)) {
        Ok(())
    } else if roles.contains(&Role::Guide) {
        Err(ErrorCode::PermissionDenied)
    } else {
        Err(ErrorCode::NotFound)
    }
}

/// Main users, advisors and guides read the canned answers.
pub fn may_read_canned(principal: &Principal, organization: Uuid) -> Result<(), ErrorCode> {
    let roles = principal.roles_in(organization);
    if roles.iter().any(|r| matches!(r, Role::Admin | Role::Advisor | Role::Guide)) {
        Ok(())
    } else {
        Err(ErrorCode::NotFound)
    }
}

/// The queue's filters, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub status: Option<Status>,
    pub topic: Option<String>,
    pub office_id: Option<Uuid>,
    pub form_id: Option<Uuid>,
}

impl Filters {
    pub fn parse(v: &mut Violations, request: &pb::ListSubmissionsRequest) -> Filters {
        let status = match request.status.trim() {
            "" => None,
            given => Status::parse(given).or_else(|| {
                v.push(FieldViolation::new("status", "invalid-status"));
                None
            }),
        };
        let topic = match request.topic.trim() {
            "" => None,
            given => v.check(Topic::parse("topic", given)).map(|t| t.as_str().to_owned()),
        };
        let id = |v: &mut Violations, field: &str, value: &str| match value.trim() {
            "" => None,
            given => v.check(parse_uuid(field, given)),
        };
        let office_id = id(v, "office_id", &request.office_id);
        let form_id = id(v, "form_id", &request.form_id);
        Filters { status, topic, office_id, form_id }
    }
}

/// `CreateCannedAnswer`, parsed.
#[derive(Clone, Debug)]
pub struct CreateCanned {
    pub organization_id: Uuid,
    pub title: Text,
    pub text: Localized,
    pub topics: Vec<String>,
    pub key: RequestKey,
}

impl CreateCanned {
    pub fn parse(request: &pb::CreateCannedAnswerRequest) -> Result<Self, ServiceError> {
        let mut v = Violations::new();
        let organization_id = v.check(parse_uuid("organization_id", &request.organization_id));
        let title = v.check(Text::parse("title", &request.title, TITLE_MAX));
        let given = request.text.clone().unwrap_or_default();
        let mut text = Localized::default();
        for (language, value) in [(Language::Fi, &given.fi), (Language::Sv, &given.sv), (Language::En, &given.en)] {
            if value.trim().is_empty() && language != Language::Fi {
                continue;
            }
            if let Some(parsed) = v.check(Text::parse(&format!("text.{}", language.code()), value, TEXT_MAX)) {
                match language {
                    Language::Fi => text.fi = parsed.into_string(),
                    Language::Sv => text.sv = parsed.into_string(),
                    Language::En => text.en = parsed.into_string(),
                }
            }
        }
        let mut topics = Vec::new();
        for (i, topic) in request.topics.iter().enumerate() {
            if let Some(topic) = v.check(Topic::parse(&format!("topics[{i}]"), topic))
                && !topics.iter().any(|t| t == topic.as_str())
            {
                topics.push(topic.as_str().to_owned());
            }
        }
        let key = v.check(RequestKey::parse("create_canned_answer", request, |r| &mut r.request_id));
        Ok(v.finish_with(|| Some(Self { organization_id: organization_id?, title: title?, text, topics, key: key? }))?)
    }
}

#[cfg(test)]
mod tests {
    use ohjaus_platform::auth::Membership;

    use super::*;

    fn expert(org: Uuid, roles: Vec<Role>) -> Principal {
        Principal::Expert { person_id: Uuid::now_v7(), memberships: vec![Membership { tenant_id: org, roles }] }
    }

    #[test]
    fn advisors_and_guides_act_supervisors_read_main_users_do_not_see() {
        let org = Uuid::now_v7();
        assert_eq!(access(&expert(org, vec![Role::Advisor]), org), Ok(Access::Act));
        assert_eq!(access(&expert(org, vec![Role::Guide]), org), Ok(Access::Act));
        assert_eq!(access(&expert(org, vec![Role::Supervisor]), org), Ok(Access::Read));
        assert_eq!(access(&expert(org, vec![Role::Admin]), org), Err(ErrorCode::NotFound));
        assert_eq!(access(&expert(Uuid::now_v7(), vec![Role::Advisor]), org), Err(ErrorCode::NotFound));
        assert_eq!(may_act(&expert(org, vec![Role::Supervisor]), org), Err(ErrorCode::PermissionDenied));
        assert_eq!(may_keep_canned(&expert(org, vec![Role::Guide]), org), Err(ErrorCode::PermissionDenied));
        assert!(may_keep_canned(&expert(org, vec![Role::Admin]), org).is_ok());
    }
}
