//! Forms and the rules about them, without I/O.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, Violations},
    id_type,
    ids::parse_uuid,
    proto::forms::v1 as pb,
    service::{RequestKey, ServiceError},
    types::Text,
};
use uuid::Uuid;

id_type!(
    /// A contact form.
    FormId
);

/// Longest form name, in characters.
pub const NAME_MAX: usize = 200;

/// A form as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub id: FormId,
    pub organization_id: Uuid,
    pub name: String,
    pub published: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

/// `CreateForm`, parsed: every field violation is reported at once.
#[derive(Clone, Debug)]
pub struct CreateForm {
    pub organization_id: Uuid,
    pub name: Text,
    pub key: RequestKey,
}

impl CreateForm {
    pub fn parse(request: &pb::CreateFormRequest) -> Result<Self, ServiceError> {
        let mut v = Violations::new();
        let organization_id = v.check(parse_uuid("organization_id", &request.organization_id));
        let name = v.check(Text::parse("name", &request.name, NAME_MAX));
        let key = v.check(RequestKey::parse("create_form", request, |r| &mut r.request_id));
        Ok(v.finish_with(|| Some(Self { organization_id: organization_id?, name: name?, key: key? }))?)
    }
}

/// Only the organisation's main users manage its forms; to anyone else they do not exist.
pub fn may_manage(principal: &Principal, organization: Uuid) -> Result<(), ErrorCode> {
    if principal.has_role(organization, Role::Admin) { Ok(()) } else { Err(ErrorCode::NotFound) }
}

#[cfg(test)]
mod tests {
    use ohjaus_platform::auth::Membership;

    use super::*;

    #[test]
    fn every_violation_is_reported_at_once() {
        let request =
            pb::CreateFormRequest { organization_id: "x".into(), name: " ".into(), request_id: String::new() };
        let Err(ServiceError::Refused(failure)) = CreateForm::parse(&request) else { panic!("expected a refusal") };
        let fields: Vec<_> = failure.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["organization_id", "name"]);
    }

    #[test]
    fn only_main_users_of_the_organisation_manage_forms() {
        let org = Uuid::now_v7();
        let expert = |roles: Vec<Role>| Principal::Expert {
            person_id: Uuid::now_v7(),
            memberships: vec![Membership { tenant_id: org, roles }],
        };
        assert!(may_manage(&expert(vec![Role::Admin]), org).is_ok());
        assert_eq!(may_manage(&expert(vec![Role::Guide, Role::Advisor]), org), Err(ErrorCode::NotFound));
        assert_eq!(may_manage(&expert(vec![Role::Admin]), Uuid::now_v7()), Err(ErrorCode::NotFound));
        assert_eq!(may_manage(&Principal::Operator { subject: "op".into() }, org), Err(ErrorCode::NotFound));
    }
}
