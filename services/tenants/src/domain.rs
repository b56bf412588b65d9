//! Organisations, offices, experts and integration clients: their types and the rules of who
//! may do what. No I/O here.

use chrono::{DateTime, Utc};
use ohjaus_platform::i18n::Language;
use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, Failure, FieldViolation},
    id_type,
    types::{BusinessId, Email, HttpsUrl, IdentityCodeHash, Phone, Text},
};

id_type!(
    /// An organisation (tenant).
    OrganizationId
);
id_type!(
    /// An office (toimipiste) of an organisation, used in reporting.
    OfficeId
);
id_type!(
    /// A person who works as an expert in one or more organisations.
    PersonId
);
id_type!(
    /// An integration client (a state information system).
    ClientId
);

pub const NAME_MAX: usize = 200;
pub const OFFICE_NAME_MAX: usize = 200;
/// Longest public description of a listed expert, in characters.
pub const LISTING_DESCRIPTION_MAX: usize = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrganizationStatus {
    Active,
    Suspended,
}

impl OrganizationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationStatus::Active => "active",
            OrganizationStatus::Suspended => "suspended",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// A text in Finnish, and optionally in Swedish and English (Finnish is shown when missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Localized<T> {
    pub fi: T,
    pub sv: Option<T>,
    pub en: Option<T>,
}

impl<T> Localized<T> {
    pub fn get(&self, language: Language) -> &T {
        match language {
            Language::Fi => &self.fi,
            Language::Sv => self.sv.as_ref().unwrap_or(&self.fi),
            Language::En => self.en.as_ref().unwrap_or(&self.fi),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactPerson {
    pub name: Text,
    pub email: Email,
    pub phone: Option<Phone>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataProtectionOfficer {
    pub name: Text,
    pub email: Email,
}

/// The registry data of an organisation, as the operator keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    pub official_name: Text,
    pub display_name: Localized<Text>,
    pub business_id: BusinessId,
    pub website: HttpsUrl,
    pub contact: ContactPerson,
    pub data_protection_officer: DataProtectionOfficer,
    pub privacy_notice_url: Localized<HttpsUrl>,
    pub data_request_url: HttpsUrl,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub registry: Registry,
    pub status: OrganizationStatus,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Office {
    pub id: OfficeId,
    pub organization_id: OrganizationId,
    pub name: Text,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

/// A Virtu identity: the home organisation and the local id there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtuIdentity {
    pub home_organization: Text,
    pub local_id: Text,
}

/// A non-empty set of roles, sorted and without repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn parse(roles: impl IntoIterator<Item = Option<Role>>) -> Result<Self, FieldViolation> {
        let mut parsed = Vec::new();
        for role in roles {
            parsed.push(role.ok_or_else(|| FieldViolation::new("roles", "invalid-role"))?);
        }
        parsed.sort();
        parsed.dedup();
        if parsed.is_empty() {
            return Err(FieldViolation::new("roles", "invalid-roles-empty"));
        }
        Ok(Self(parsed))
    }
    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }
    pub fn only_admin(&self) -> bool {
        self.0 == [Role::Admin]
    }
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_owned()).collect()
    }
    /// The roles of customer work: all but main user.
    pub fn without_admin(&self) -> Vec<Role> {
        self.0.iter().copied().filter(|r| *r != Role::Admin).collect()
    }
}

/// What a listed expert helps with, shown in the consent directory: trimmed plain text of at
/// most [`LISTING_DESCRIPTION_MAX`] characters, no control characters but line breaks and tabs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListingDescription(Text);

impl ListingDescription {
    /// An empty or blank value is no description.
    pub fn parse(field: &str, value: &str) -> Result<Option<Self>, FieldViolation> {
        if value.trim().is_empty() {
            return Ok(None);
        }
        Text::parse(field, value, LISTING_DESCRIPTION_MAX).map(|t| Some(Self(t)))
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Whether an expert is listed in the consent directory, where other organisations' guides
/// find experts to propose to their customers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub listed: bool,
    pub description: Option<ListingDescription>,
}

impl Listing {
    /// The listing a main user asks for, for an expert holding `roles`: a main user alone does
    /// no customer work, so cannot be listed.
    pub fn new(listed: bool, description: Option<ListingDescription>, roles: &Roles) -> Result<Self, FieldViolation> {
        if listed && roles.only_admin() {
            return Err(FieldViolation::new("listed", "invalid-listing-admin-only"));
        }
        Ok(Self { listed, description })
    }

    /// The listing that survives a change of roles: a main user alone is no longer listed.
    pub fn after_roles(&self, roles: &Roles) -> Self {
        Self { listed: self.listed && !roles.only_admin(), description: self.description.clone() }
    }
}

/// A new expert as a main user or the operator enters them.
#[derive(Clone, Debug)]
pub struct NewExpert {
    pub name: Text,
    pub email: Email,
    pub language: Language,
    pub virtu: Option<VirtuIdentity>,
    pub suomifi: Option<IdentityCodeHash>,
    pub roles: Roles,
}

/// A person as an expert of one organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expert {
    pub person_id: PersonId,
    pub organization_id: OrganizationId,
    pub name: Text,
    pub email: Email,
    pub language: Language,
    pub virtu: Option<VirtuIdentity>,
    pub has_suomifi_link: bool,
    pub roles: Roles,
    pub listing: Listing,
    pub version: i64,
    pub added_at: DateTime<Utc>,
}

/// A listed expert as the consent directory shows them: no contact or identity data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The directory's sort and page key.
    pub key: uuid::Uuid,
    pub person_id: PersonId,
    pub organization_id: OrganizationId,
    pub organization_name: Localized<Text>,
    pub name: Text,
    pub roles: Roles,
    pub description: Option<ListingDescription>,
}

/// Who may read the consent directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryReader {
    /// Another Ohjaus service (the consent service checking a proposal).
    Service,
    /// An expert who is a guide in these organisations; at least one must be active.
    Guide(Vec<OrganizationId>),
}

/// Whether `principal` may read the consent directory: guides (who propose experts to their
/// workspaces) and services. Anyone else is not allowed.
pub fn directory_reader(principal: &Principal) -> Result<DirectoryReader, Failure> {
    match principal {
        Principal::Service { .. } => Ok(DirectoryReader::Service),
        Principal::Expert { memberships, .. } => {
            let guide_in: Vec<OrganizationId> = memberships
                .iter()
                .filter(|m| m.roles.contains(&Role::Guide))
                .map(|m| OrganizationId(m.tenant_id))
                .collect();
            if guide_in.is_empty() {
                Err(Failure::new(ErrorCode::PermissionDenied))
            } else {
                Ok(DirectoryReader::Guide(guide_in))
            }
        }
        _ => Err(Failure::new(ErrorCode::PermissionDenied)),
    }
}

/// What an integration client may do. Later services add their own scopes here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read the organisation's registry data, offices and experts.
    TenantsRead,
    /// Change offices and experts (but not make or unmake main users).
    TenantsWrite,
    /// Make, change and remove main users: a main user can make more clients, so this reach is
    /// a scope of its own, never implied by `tenants.write`.
    TenantsAdmin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::TenantsRead, Scope::TenantsWrite, Scope::TenantsAdmin];
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TenantsRead => "tenants.read",
            Scope::TenantsWrite => "tenants.write",
            Scope::TenantsAdmin => "tenants.admin",
        }
    }
    pub fn parse(value: &str) -> Result<Self, FieldViolation> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| FieldViolation::new("scopes", "invalid-scope"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrationClient {
    pub id: ClientId,
    pub organization_id: OrganizationId,
    pub name: Text,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

// ------------------------------------------------------------------------------------------
// Who may do what. Each rule answers for one organisation whose status is known. A caller who
// has nothing to do with the organisation learns nothing about it: `NotFound`, never
// `PermissionDenied`.

/// What a caller wants to do with an organisation's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read registry data, offices, experts.
    Read,
    /// Change registry data or status (operator only).
    EditRegistry,
    /// Add, change and remove offices and experts; manage integration clients.
    Administer,
    /// Name a main user (operator, or a main user of the organisation).
    NameMainUser,
}

/// Whether `principal` may do `action` on organisation `org` with `status`.
pub fn authorize(
    principal: &Principal,
    org: OrganizationId,
    status: OrganizationStatus,
    action: Action,
) -> Result<(), Failure> {
    let tenant = org.as_uuid();
    let related = principal.is_operator() || principal.belongs_to(tenant);
    if !related {
        return Err(Failure::new(ErrorCode::NotFound));
    }
    if principal.is_operator() {
        return match action {
            Action::Read | Action::EditRegistry | Action::NameMainUser => Ok(()),
            Action::Administer => Err(Failure::new(ErrorCode::PermissionDenied)),
        };
    }
    // Experts and clients of a suspended organisation are refused everywhere.
    if status == OrganizationStatus::Suspended {
        return Err(Failure::new(ErrorCode::OrganizationSuspended));
    }
    let allowed = match action {
        Action::Read => {
            principal.belongs_to(tenant) && !matches!(principal, Principal::IntegrationClient { .. })
                || principal.has_scope(tenant, Scope::TenantsRead.as_str())
        }
        Action::Administer | Action::NameMainUser => {
            principal.has_role(tenant, Role::Admin) || principal.has_scope(tenant, Scope::TenantsWrite.as_str())
        }
        Action::EditRegistry => false,
    };
    if allowed {
        return Ok(());
    }
    // A client is told which scope it lacks, where one would do.
    let scope = match action {
        Action::Read => Some(Scope::TenantsRead),
        Action::Administer | Action::NameMainUser => Some(Scope::TenantsWrite),
        Action::EditRegistry => None,
    };
    match (principal, scope) {
        (Principal::IntegrationClient { .. }, Some(scope)) => Err(Failure::missing_scope(scope.as_str())),
        _ => Err(Failure::new(ErrorCode::PermissionDenied)),
    }
}

/// Roles the caller may grant: the operator names main users only.
pub fn check_grantable(principal: &Principal, roles: &Roles) -> Result<(), Failure> {
    if principal.is_operator() && !roles.only_admin() {
        return Err(Failure::invalid(vec![FieldViolation::new("roles", "invalid-roles-operator-admin-only")]));
    }
    Ok(())
}

/// An integration client makes, changes or removes a main user (an expert with the admin role
/// `before` or `after` the change) only with `tenants.admin`; people are held by their roles.
pub fn check_main_user_change(
    principal: &Principal,
    org: OrganizationId,
    before: Option<&Roles>,
    after: Option<&Roles>,
) -> Result<(), Failure> {
    let touches_main_user = [before, after].into_iter().flatten().any(|roles| roles.as_slice().contains(&Role::Admin));
    let client = matches!(principal, Principal::IntegrationClient { .. });
    if client && touches_main_user && !principal.has_scope(org.as_uuid(), Scope::TenantsAdmin.as_str()) {
        return Err(Failure::missing_scope(Scope::TenantsAdmin.as_str()));
    }
    Ok(())
}

/// Whether a caller may create organisations at all.
pub fn authorize_create_organization(principal: &Principal) -> Result<(), Failure> {
    if principal.is_operator() { Ok(()) } else { Err(Failure::new(ErrorCode::PermissionDenied)) }
}

/// A version check for optimistic concurrency.
pub fn check_version(expected: i64, actual: i64) -> Result<(), Failure> {
    if expected <= 0 {
        return Err(Failure::invalid(vec![FieldViolation::new("expected_version", "invalid-version")]));
    }
    if expected == actual { Ok(()) } else { Err(Failure::new(ErrorCode::VersionMismatch)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ohjaus_platform::auth::Membership;
    use uuid::Uuid;

    fn expert(org: OrganizationId, roles: &[Role]) -> Principal {
        Principal::Expert {
            person_id: Uuid::now_v7(),
            memberships: vec![Membership { tenant_id: org.as_uuid(), roles: roles.to_vec() }],
        }
    }

    fn code(result: Result<(), Failure>) -> Option<ErrorCode> {
        result.err().map(|e| e.code)
    }

    #[test]
    fn strangers_get_not_found() {
        let org = OrganizationId::new();
        let other = expert(OrganizationId::new(), &[Role::Admin]);
        assert_eq!(code(authorize(&other, org, OrganizationStatus::Active, Action::Read)), Some(ErrorCode::NotFound));
        let client = Principal::IntegrationClient {
            client_id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            scopes: vec!["tenants.read".into()],
        };
        assert_eq!(code(authorize(&client, org, OrganizationStatus::Active, Action::Read)), Some(ErrorCode::NotFound));
    }

    #[test]
    fn main_users_administer_and_guides_read() {
        let org = OrganizationId::new();
        let admin = expert(org, &[Role::Admin]);
        let guide = expert(org, &[Role::Guide]);
        assert_eq!(code(authorize(&admin, org, OrganizationStatus::Active, Action::Administer)), None);
        assert_eq!(code(authorize(&guide, org, OrganizationStatus::Active, Action::Read)), None);
        assert_eq!(
            code(authorize(&guide, org, OrganizationStatus::Active, Action::Administer)),
            Some(ErrorCode::PermissionDenied)
        );
        assert_eq!(
            code(authorize(&admin, org, OrganizationStatus::Active, Action::EditRegistry)),
            Some(ErrorCode::PermissionDenied)
        );
    }

    #[test]
    fn suspension_refuses_experts_but_not_the_operator() {
        let org = OrganizationId::new();
        let admin = expert(org, &[Role::Admin]);
        let operator = Principal::Operator { subject: "op".into() };
        assert_eq!(
            code(authorize(&admin, org, OrganizationStatus::Suspended, Action::Read)),
            Some(ErrorCode::OrganizationSuspended)
        );
        assert_eq!(code(authorize(&operator, org, OrganizationStatus::Suspended, Action::EditRegistry)), None);
    }

    #[test]
    fn operator_names_main_users_only() {
        let operator = Principal::Operator { subject: "op".into() };
        let admin_only = Roles::parse([Some(Role::Admin)]).unwrap();
        let guide = Roles::parse([Some(Role::Guide), Some(Role::Admin)]).unwrap();
        assert!(check_grantable(&operator, &admin_only).is_ok());
        assert!(check_grantable(&operator, &guide).is_err());
        assert_eq!(
            code(authorize(&operator, OrganizationId::new(), OrganizationStatus::Active, Action::Administer)),
            Some(ErrorCode::PermissionDenied)
        );
    }

    #[test]
    fn clients_act_within_scopes() {
        let org = OrganizationId::new();
        let reader = Principal::IntegrationClient {
            client_id: Uuid::now_v7(),
            tenant_id: org.as_uuid(),
            scopes: vec!["tenants.read".into()],
        };
        assert_eq!(code(authorize(&reader, org, OrganizationStatus::Active, Action::Read)), None);
        assert_eq!(
            code(authorize(&reader, org, OrganizationStatus::Active, Action::Administer)),
            Some(ErrorCode::PermissionDenied)
        );
        let none = Principal::IntegrationClient { client_id: Uuid::now_v7(), tenant_id: org.as_uuid(), scopes: vec![] };
        assert_eq!(
            code(authorize(&none, org, OrganizationStatus::Active, Action::Read)),
            Some(ErrorCode::PermissionDenied)
        );
    }

    #[test]
    fn roles_are_deduplicated_and_non_empty() {
        let roles = Roles::parse([Some(Role::Guide), Some(Role::Admin), Some(Role::Guide)]).unwrap();
        assert_eq!(roles.as_slice(), &[Role::Admin, Role::Guide]);
        assert!(Roles::parse([]).is_err());
        assert!(Roles::parse([None]).is_err());
    }

    #[test]
    fn listing_descriptions_are_trimmed_short_plain_text() {
        assert_eq!(ListingDescription::parse("description", "").unwrap(), None);
        assert_eq!(ListingDescription::parse("description", "  \n ").unwrap(), None);
        let d = ListingDescription::parse("description", "  Velkaneuvonta ja talous  ").unwrap().unwrap();
        assert_eq!(d.as_str(), "Velkaneuvonta ja talous");
        let longest = "ä".repeat(LISTING_DESCRIPTION_MAX);
        assert!(ListingDescription::parse("description", &longest).is_ok());
        let too_long = ListingDescription::parse("description", &format!("{longest}a")).unwrap_err();
        assert_eq!((too_long.field.as_str(), too_long.reason.as_str()), ("description", "field-too-long"));
        let control = ListingDescription::parse("description", "Asumisneuvonta\u{7}").unwrap_err();
        assert_eq!(control.field, "description");
    }

    #[test]
    fn a_main_user_alone_cannot_be_listed() {
        let admin_only = Roles::parse([Some(Role::Admin)]).unwrap();
        let guide = Roles::parse([Some(Role::Admin), Some(Role::Guide)]).unwrap();
        let refused = Listing::new(true, None, &admin_only).unwrap_err();
        assert_eq!((refused.field.as_str(), refused.reason.as_str()), ("listed", "invalid-listing-admin-only"));
        assert!(!Listing::new(false, None, &admin_only).unwrap().listed);
        let listed = Listing::new(true, ListingDescription::parse("d", "Työ").unwrap(), &guide).unwrap();
        assert!(listed.listed);
        assert_eq!(guide.without_admin(), [Role::Guide]);
        // Losing every role but main user ends the listing; the description stays for later.
        let after = listed.after_roles(&admin_only);
        assert!(!after.listed);
        assert_eq!(after.description, listed.description);
        assert!(listed.after_roles(&guide).listed);
    }

    #[test]
    fn guides_and_services_read_the_directory() {
        let org = OrganizationId::new();
        assert_eq!(
            directory_reader(&expert(org, &[Role::Guide, Role::Admin])).unwrap(),
            DirectoryReader::Guide(vec![org])
        );
        assert_eq!(directory_reader(&Principal::Service { name: "consent".into() }).unwrap(), DirectoryReader::Service);
        for refused in [
            expert(org, &[Role::Admin]),
            expert(org, &[Role::Advisor, Role::Supervisor]),
            Principal::Customer { customer_id: Uuid::now_v7() },
            Principal::Operator { subject: "op".into() },
            Principal::IntegrationClient {
                client_id: Uuid::now_v7(),
                tenant_id: org.as_uuid(),
                scopes: vec!["tenants.read".into()],
            },
        ] {
            assert_eq!(code(directory_reader(&refused).map(|_| ())), Some(ErrorCode::PermissionDenied), "{refused:?}");
        }
    }

    #[test]
    fn versions() {
        assert!(check_version(3, 3).is_ok());
        assert_eq!(code(check_version(2, 3)), Some(ErrorCode::VersionMismatch));
        assert_eq!(code(check_version(0, 3)), Some(ErrorCode::InvalidArgument));
    }
}
