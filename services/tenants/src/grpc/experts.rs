//! Experts of an organisation: who they are, their roles and their listing in the consent
//! directory; and, for other services, who a logged-in person is as an expert.

use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, Failure, FieldViolation, Violations},
    grpc::timestamp,
    i18n::Language,
    ids::PageRequest,
    proto::tenants::v1 as pb,
    service::{NextAction, RequestKey, ServiceError, ServiceResult},
    types::{Email, IdentityCodeHasher, PersonalIdentityCode, Text},
};

use super::{Tenants, optional};
use crate::{
    domain::{
        self, Action, Expert, Listing, ListingDescription, NewExpert, OrganizationId, OrganizationStatus, PersonId,
        Roles, VirtuIdentity,
    },
    events as ev, store,
};

/// AddExpert as a command, apart from the organisation it names.
struct AddExpert {
    new: NewExpert,
    key: RequestKey,
}

impl AddExpert {
    fn parse(msg: &pb::AddExpertRequest, hasher: &IdentityCodeHasher) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let name = v.check(Text::parse("name", &msg.name, domain::NAME_MAX));
        let email = v.check(Email::parse("email", &msg.email));
        let language =
            v.check(Language::parse_field("language", if msg.language.is_empty() { "fi" } else { &msg.language }));
        let virtu = v.check(parse_virtu(msg.virtu.clone())).flatten();
        let code = v
            .check(optional(&msg.personal_identity_code, |s| PersonalIdentityCode::parse("personal_identity_code", s)))
            .flatten();
        let roles = v.check(Roles::parse(msg.roles.iter().map(|r| role_from_pb(*r))));
        if virtu.is_none() && code.is_none() && v.is_empty() {
            v.push(FieldViolation::new("virtu", "field-required"));
        }
        let suomifi = code.as_ref().map(|c| hasher.hash(c));
        // The identity code must not reach the idempotency table, even inside a hash input
        // that could be brute-forced; its keyed hash stands in for it.
        let mut hashed = msg.clone();
        hashed.personal_identity_code = suomifi.as_ref().map(|h| h.as_str().to_owned()).unwrap_or_default();
        let key = v.check(RequestKey::parse("add_expert", &hashed, |m| &mut m.request_id));
        v.finish_with(|| {
            Some(Self {
                new: NewExpert { name: name?, email: email?, language: language?, virtu, suomifi, roles: roles? },
                key: key?,
            })
        })
    }
}

/// SetExpertRoles as a command.
struct SetExpertRoles {
    org: OrganizationId,
    person: PersonId,
    roles: Roles,
    expected_version: i64,
}

impl SetExpertRoles {
    fn parse(msg: &pb::SetExpertRolesRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let org = v.check(OrganizationId::parse("organization_id", &msg.organization_id));
        let person = v.check(PersonId::parse("expert_id", &msg.expert_id));
        let roles = v.check(Roles::parse(msg.roles.iter().map(|r| role_from_pb(*r))));
        v.finish_with(|| {
            Some(Self { org: org?, person: person?, roles: roles?, expected_version: msg.expected_version })
        })
    }
}

/// SetExpertListing as a command.
struct SetExpertListing {
    org: OrganizationId,
    person: PersonId,
    listed: bool,
    description: Option<ListingDescription>,
    expected_version: i64,
}

impl SetExpertListing {
    fn parse(msg: &pb::SetExpertListingRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let org = v.check(OrganizationId::parse("organization_id", &msg.organization_id));
        let person = v.check(PersonId::parse("expert_id", &msg.expert_id));
        let description = v.check(ListingDescription::parse("description", &msg.description));
        v.finish_with(|| {
            Some(Self {
                org: org?,
                person: person?,
                listed: msg.listed,
                description: description?,
                expected_version: msg.expected_version,
            })
        })
    }
}

/// RemoveExpert as a command.
struct RemoveExpert {
    org: OrganizationId,
    person: PersonId,
}

impl RemoveExpert {
    fn parse(msg: &pb::RemoveExpertRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let org = v.check(OrganizationId::parse("organization_id", &msg.organization_id));
        let person = v.check(PersonId::parse("expert_id", &msg.expert_id));
        v.finish_with(|| Some(Self { org: org?, person: person? }))
    }
}

impl Tenants {
    pub(crate) async fn add_expert(
        &self,
        principal: &Principal,
        msg: pb::AddExpertRequest,
    ) -> ServiceResult<pb::Expert> {
        let org = OrganizationId::parse("organization_id", &msg.organization_id)?;
        let command = AddExpert::parse(&msg, &self.inner.hasher);
        self.authorized(self.db(), principal, org, Action::NameMainUser).await?;
        let AddExpert { new, key } = command?;
        // The operator names main users only; a main user (or a client) may grant any role.
        domain::check_grantable(principal, &new.roles)?;
        domain::check_main_user_change(principal, org, None, Some(&new.roles))?;
        let mut tx = match key.begin(self.db(), principal).await? {
            NextAction::Proceed(tx) => tx,
            NextAction::Replay(id) => {
                let expert = store::find_expert(self.db(), org, PersonId(id)).await?;
                return Ok(expert_to_pb(&expert.ok_or_else(ServiceError::not_found)?));
            }
        };
        self.authorized(&mut tx, principal, org, Action::NameMainUser).await?;
        let now = self.core().now();
        let person = match store::find_person(&mut tx, new.virtu.as_ref(), new.suomifi.as_ref()).await? {
            Some(person) => person,
            None => {
                let person = PersonId::new();
                store::insert_person(
                    &mut tx,
                    person,
                    &new.name,
                    &new.email,
                    new.language,
                    new.virtu.as_ref(),
                    new.suomifi.as_ref(),
                    now,
                )
                .await?;
                person
            }
        };
        store::insert_membership(&mut tx, person, org, &new.roles, now).await?;
        self.core()
            .emit(
                &mut tx,
                org,
                ev::ExpertAdded {
                    organization_id: org.to_string(),
                    expert_id: person.to_string(),
                    roles: new.roles.to_strings(),
                },
            )
            .await?;
        key.remember(&mut tx, principal, person.as_uuid(), now).await?;
        let expert = store::find_expert(&mut tx, org, person)
            .await?
            .ok_or_else(|| ServiceError::corrupt("membership vanished"))?;
        self.core().commit(tx).await?;
        Ok(expert_to_pb(&expert))
    }

    pub(crate) async fn get_expert(
        &self,
        principal: &Principal,
        msg: pb::GetExpertRequest,
    ) -> ServiceResult<pb::Expert> {
        let org = OrganizationId::parse("organization_id", &msg.organization_id)?;
        self.authorized(self.db(), principal, org, Action::Read).await?;
        let person = PersonId::parse_ref(&msg.expert_id)?;
        let expert = store::find_expert(self.db(), org, person).await?.ok_or_else(ServiceError::not_found)?;
        Ok(expert_to_pb(&expert))
    }

    pub(crate) async fn list_experts(
        &self,
        principal: &Principal,
        msg: pb::ListExpertsRequest,
    ) -> ServiceResult<pb::ListExpertsResponse> {
        let org = OrganizationId::parse("organization_id", &msg.organization_id)?;
        self.authorized(self.db(), principal, org, Action::Read).await?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let rows = store::experts_page(self.db(), org, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |e| e.person_id.as_uuid());
        Ok(pb::ListExpertsResponse { experts: rows.iter().map(expert_to_pb).collect(), next_page_token })
    }

    pub(crate) async fn set_expert_roles(
        &self,
        principal: &Principal,
        msg: pb::SetExpertRolesRequest,
    ) -> ServiceResult<pb::Expert> {
        let SetExpertRoles { org, person, roles, expected_version } = SetExpertRoles::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        self.authorized(&mut tx, principal, org, Action::Administer).await?;
        let mut expert = store::find_expert(&mut tx, org, person).await?.ok_or_else(ServiceError::not_found)?;
        domain::check_version(expected_version, expert.version)?;
        domain::check_main_user_change(principal, org, Some(&expert.roles), Some(&roles))?;
        let listing = expert.listing.after_roles(&roles);
        let unlisted = expert.listing.listed && !listing.listed;
        expert.roles = roles;
        expert.listing = listing;
        expert.version += 1;
        store::set_roles(&mut tx, &expert).await?;
        self.core()
            .emit(
                &mut tx,
                org,
                ev::ExpertRolesChanged {
                    organization_id: org.to_string(),
                    expert_id: person.to_string(),
                    roles: expert.roles.to_strings(),
                },
            )
            .await?;
        if unlisted {
            self.core()
                .emit(
                    &mut tx,
                    org,
                    ev::ExpertListingChanged {
                        organization_id: org.to_string(),
                        expert_id: person.to_string(),
                        listed: false,
                    },
                )
                .await?;
        }
        self.core().commit(tx).await?;
        Ok(expert_to_pb(&expert))
    }

    pub(crate) async fn set_expert_listing(
        &self,
        principal: &Principal,
        msg: pb::SetExpertListingRequest,
    ) -> ServiceResult<pb::Expert> {
        let SetExpertListing { org, person, listed, description, expected_version } = SetExpertListing::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        self.authorized(&mut tx, principal, org, Action::Administer).await?;
        // The organisation's main users decide whom it offers to other organisations.
        if !principal.has_role(org.as_uuid(), Role::Admin) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        let mut expert = store::find_expert(&mut tx, org, person).await?.ok_or_else(ServiceError::not_found)?;
        domain::check_version(expected_version, expert.version)?;
        let listing = Listing::new(listed, description, &expert.roles)?;
        let newly_listed = listing.listed && !expert.listing.listed;
        expert.listing = listing;
        expert.version += 1;
        store::set_listing(&mut tx, &expert, newly_listed).await?;
        self.core()
            .emit(
                &mut tx,
                org,
                ev::ExpertListingChanged {
                    organization_id: org.to_string(),
                    expert_id: person.to_string(),
                    listed: expert.listing.listed,
                },
            )
            .await?;
        self.core().commit(tx).await?;
        Ok(expert_to_pb(&expert))
    }

    pub(crate) async fn remove_expert(
        &self,
        principal: &Principal,
        msg: pb::RemoveExpertRequest,
    ) -> ServiceResult<pb::RemoveExpertResponse> {
        let RemoveExpert { org, person } = RemoveExpert::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        self.authorized(&mut tx, principal, org, Action::Administer).await?;
        let expert = store::find_expert(&mut tx, org, person).await?.ok_or_else(ServiceError::not_found)?;
        domain::check_main_user_change(principal, org, Some(&expert.roles), None)?;
        store::delete_membership(&mut tx, org, person).await?;
        self.core()
            .emit(&mut tx, org, ev::ExpertRemoved { organization_id: org.to_string(), expert_id: person.to_string() })
            .await?;
        self.core().commit(tx).await?;
        Ok(pb::RemoveExpertResponse {})
    }

    /// For other services: a logged-in person as an expert, with the organisations they work for.
    pub(crate) async fn resolve_expert(
        &self,
        principal: &Principal,
        msg: pb::ResolveExpertRequest,
    ) -> ServiceResult<pb::ResolvedExpert> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        let person = match msg.identity {
            Some(pb::resolve_expert_request::Identity::PersonId(id)) => PersonId::parse("person_id", &id)?,
            Some(pb::resolve_expert_request::Identity::Virtu(virtu)) => {
                let virtu = parse_virtu(Some(virtu))?.ok_or_else(ServiceError::not_found)?;
                store::find_person(self.db(), Some(&virtu), None).await?.ok_or_else(ServiceError::not_found)?
            }
            Some(pb::resolve_expert_request::Identity::PersonalIdentityCode(code)) => {
                let code = PersonalIdentityCode::parse("personal_identity_code", &code)?;
                let hash = self.inner.hasher.hash(&code);
                store::find_person(self.db(), None, Some(&hash)).await?.ok_or_else(ServiceError::not_found)?
            }
            None => return Err(FieldViolation::new("identity", "field-required").into()),
        };
        let found = store::person_memberships(self.db(), person).await?.ok_or_else(ServiceError::not_found)?;
        let mut suspended = 0;
        let mut memberships = Vec::new();
        for (org, roles, listed, status) in found.memberships {
            match status {
                OrganizationStatus::Active => memberships.push(pb::ExpertMembership {
                    organization_id: org.to_string(),
                    roles: roles.as_slice().iter().map(|r| role_to_pb(*r)).collect(),
                    listed,
                }),
                OrganizationStatus::Suspended => suspended += 1,
            }
        }
        Ok(pb::ResolvedExpert {
            person_id: found.person.to_string(),
            name: found.name,
            language: found.language,
            memberships,
            suspended_memberships: suspended,
            email: found.email,
        })
    }
}

fn parse_virtu(input: Option<pb::VirtuIdentity>) -> Result<Option<VirtuIdentity>, FieldViolation> {
    let Some(virtu) = input else { return Ok(None) };
    match (virtu.home_organization.trim().is_empty(), virtu.local_id.trim().is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some(VirtuIdentity {
            home_organization: Text::parse("virtu.home_organization", &virtu.home_organization, 200)?,
            local_id: Text::parse("virtu.local_id", &virtu.local_id, 200)?,
        })),
        _ => Err(FieldViolation::new("virtu", "invalid-virtu")),
    }
}

fn role_from_pb(value: i32) -> Option<Role> {
    match pb::Role::try_from(value).ok()? {
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::Guide => Some(Role::Guide),
        pb::Role::Advisor => Some(Role::Advisor),
        pb::Role::Supervisor => Some(Role::Supervisor),
        pb::Role::Unspecified => None,
    }
}

pub(super) fn role_to_pb(role: Role) -> i32 {
    let role = match role {
        Role::Admin => pb::Role::Admin,
        Role::Guide => pb::Role::Guide,
        Role::Advisor => pb::Role::Advisor,
        Role::Supervisor => pb::Role::Supervisor,
    };
    role as i32
}

fn expert_to_pb(expert: &Expert) -> pb::Expert {
    pb::Expert {
        id: expert.person_id.to_string(),
        organization_id: expert.organization_id.to_string(),
        name: expert.name.as_str().to_owned(),
        email: expert.email.as_str().to_owned(),
        language: expert.language.code().to_owned(),
        virtu: expert.virtu.as_ref().map(|v| pb::VirtuIdentity {
            home_organization: v.home_organization.as_str().to_owned(),
            local_id: v.local_id.as_str().to_owned(),
        }),
        has_suomifi_link: expert.has_suomifi_link,
        roles: expert.roles.as_slice().iter().map(|r| role_to_pb(*r)).collect(),
        version: expert.version,
        added_at: Some(timestamp(expert.added_at)),
        listed: expert.listing.listed,
        listing_description: expert.listing.description.as_ref().map(|d| d.as_str().to_owned()).unwrap_or_default(),
    }
}
