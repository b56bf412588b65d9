//! The gRPC face of the tenants service: parses requests into domain values, applies the
//! rules, stores, and announces every change through the outbox.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ohjaus_platform::{
    auth::{Principal, Role, principal_of},
    clock::SharedClock,
    db::{Db, Source, Tx},
    error::{ErrorCode, FieldViolation, Violations},
    events::{Event, Outbox},
    grpc::timestamp,
    i18n::Language,
    idempotency::{self, Earlier, caller_key, parse_request_id, request_hash},
    ids::PageRequest,
    proto::tenants::v1 as pb,
    types::{BusinessId, Email, HttpsUrl, IdentityCodeHasher, PersonalIdentityCode, Phone, Text},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    TenantsError,
    domain::{
        self, Action, ClientId, ContactPerson, DataProtectionOfficer, DirectoryEntry, DirectoryReader, Expert,
        IntegrationClient, Listing, ListingDescription, Localized, NewExpert, Office, OfficeId, Organization,
        OrganizationId, OrganizationStatus, PersonId, Registry, Roles, Scope, VirtuIdentity,
    },
    events as ev, store,
};

type Result<T> = std::result::Result<T, TenantsError>;

/// The tenants service.
#[derive(Clone)]
pub struct Tenants {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    outbox: Outbox,
    hasher: IdentityCodeHasher,
}

impl Tenants {
    pub fn new(db: Db, clock: SharedClock, outbox: Outbox, hasher: IdentityCodeHasher) -> Self {
        Self { inner: Arc::new(Inner { db, clock, outbox, hasher }) }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn server(&self) -> pb::tenants_service_server::TenantsServiceServer<Self> {
        pb::tenants_service_server::TenantsServiceServer::new(self.clone())
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    async fn emit<E: Event>(&self, tx: &mut Tx, org: OrganizationId, event: E) -> Result<()> {
        self.inner.outbox.write(tx, Some(org.as_uuid()), &event).await?;
        Ok(())
    }

    async fn commit(&self, tx: Tx) -> Result<()> {
        tx.commit().await?;
        self.inner.outbox.committed();
        Ok(())
    }

    /// The organisation, if the caller may do `action` on it; otherwise the refusal. Read from
    /// the pool or inside the caller's transaction.
    async fn authorized<'c>(
        &self,
        conn: impl Source<'c>,
        principal: &Principal,
        id: OrganizationId,
        action: Action,
    ) -> Result<Organization> {
        let org = store::find_organization(conn, id).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        domain::authorize(principal, id, org.status, action)?;
        Ok(org)
    }

    /// A resource made before under this idempotency key, or an error if the key was used for
    /// a different request.
    async fn replayed(
        &self,
        principal: &Principal,
        operation: &str,
        key: &Option<String>,
        hash: &str,
    ) -> Result<Option<Uuid>> {
        let Some(key) = key else { return Ok(None) };
        match idempotency::earlier(&self.inner.db, &caller_key(principal), operation, key, hash).await? {
            Earlier::Made(id) => Ok(Some(id)),
            Earlier::Different => Err(TenantsError::Refused(ErrorCode::IdempotencyKeyReused)),
            Earlier::None => Ok(None),
        }
    }

    async fn remember(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        operation: &str,
        key: &Option<String>,
        hash: &str,
        id: Uuid,
    ) -> Result<()> {
        if let Some(key) = key
            && !idempotency::remember(tx, &caller_key(principal), operation, key, hash, id, self.now()).await?
        {
            return Err(TenantsError::ConcurrentReplay);
        }
        Ok(())
    }
}

fn page(size: i32, token: &str) -> Result<PageRequest> {
    PageRequest::parse(size, token).map_err(|v| TenantsError::Invalid(vec![v]))
}

fn org_id(value: &str) -> Result<OrganizationId> {
    // A malformed id cannot name anything the caller may see.
    OrganizationId::parse("organization_id", value).map_err(|v| TenantsError::Invalid(vec![v]))
}

fn optional<T>(
    value: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, FieldViolation>,
) -> std::result::Result<Option<T>, FieldViolation> {
    if value.trim().is_empty() { Ok(None) } else { parse(value).map(Some) }
}

// ---------------------------------------------------------------------------- parsing

fn parse_registry(input: Option<pb::OrganizationRegistry>) -> Result<Registry> {
    let r = input.unwrap_or_default();
    let mut v = Violations::new();
    let names = r.display_name.unwrap_or_default();
    let contact = r.contact.unwrap_or_default();
    let dpo = r.data_protection_officer.unwrap_or_default();
    let privacy = r.privacy_notice_url.unwrap_or_default();
    let official_name = v.check(Text::parse("registry.official_name", &r.official_name, domain::NAME_MAX));
    let fi = v.check(Text::parse("registry.display_name.fi", &names.fi, domain::NAME_MAX));
    let sv = v.check(optional(&names.sv, |s| Text::parse("registry.display_name.sv", s, domain::NAME_MAX)));
    let en = v.check(optional(&names.en, |s| Text::parse("registry.display_name.en", s, domain::NAME_MAX)));
    let business_id = v.check(BusinessId::parse("registry.business_id", &r.business_id));
    let website = v.check(HttpsUrl::parse("registry.website", &r.website));
    let contact_name = v.check(Text::parse("registry.contact.name", &contact.name, domain::NAME_MAX));
    let contact_email = v.check(Email::parse("registry.contact.email", &contact.email));
    let contact_phone = v.check(optional(&contact.phone, |s| Phone::parse("registry.contact.phone", s)));
    let dpo_name = v.check(Text::parse("registry.data_protection_officer.name", &dpo.name, domain::NAME_MAX));
    let dpo_email = v.check(Email::parse("registry.data_protection_officer.email", &dpo.email));
    let privacy_fi = v.check(HttpsUrl::parse("registry.privacy_notice_url.fi", &privacy.fi));
    let privacy_sv = v.check(optional(&privacy.sv, |s| HttpsUrl::parse("registry.privacy_notice_url.sv", s)));
    let privacy_en = v.check(optional(&privacy.en, |s| HttpsUrl::parse("registry.privacy_notice_url.en", s)));
    let data_request_url = v.check(HttpsUrl::parse("registry.data_request_url", &r.data_request_url));
    match (
        official_name,
        fi,
        sv,
        en,
        business_id,
        website,
        contact_name,
        contact_email,
        contact_phone,
        dpo_name,
        dpo_email,
        privacy_fi,
        privacy_sv,
        privacy_en,
        data_request_url,
    ) {
        (
            Some(official_name),
            Some(fi),
            Some(sv),
            Some(en),
            Some(business_id),
            Some(website),
            Some(contact_name),
            Some(contact_email),
            Some(contact_phone),
            Some(dpo_name),
            Some(dpo_email),
            Some(privacy_fi),
            Some(privacy_sv),
            Some(privacy_en),
            Some(data_request_url),
        ) if v.is_empty() => Ok(Registry {
            official_name,
            display_name: Localized { fi, sv, en },
            business_id,
            website,
            contact: ContactPerson { name: contact_name, email: contact_email, phone: contact_phone },
            data_protection_officer: DataProtectionOfficer { name: dpo_name, email: dpo_email },
            privacy_notice_url: Localized { fi: privacy_fi, sv: privacy_sv, en: privacy_en },
            data_request_url,
        }),
        _ => Err(TenantsError::Invalid(v.into_failure().violations)),
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

fn role_to_pb(role: Role) -> i32 {
    let role = match role {
        Role::Admin => pb::Role::Admin,
        Role::Guide => pb::Role::Guide,
        Role::Advisor => pb::Role::Advisor,
        Role::Supervisor => pb::Role::Supervisor,
    };
    role as i32
}

fn parse_virtu(input: Option<pb::VirtuIdentity>) -> std::result::Result<Option<VirtuIdentity>, FieldViolation> {
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

// ---------------------------------------------------------------------------- to proto

fn localized_text(l: &Localized<Text>) -> pb::LocalizedText {
    pb::LocalizedText {
        fi: l.fi.as_str().to_owned(),
        sv: l.sv.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        en: l.en.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
    }
}

fn localized_url(l: &Localized<HttpsUrl>) -> pb::LocalizedText {
    pb::LocalizedText {
        fi: l.fi.as_str().to_owned(),
        sv: l.sv.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        en: l.en.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
    }
}

fn status_to_pb(status: OrganizationStatus) -> i32 {
    let status = match status {
        OrganizationStatus::Active => pb::OrganizationStatus::Active,
        OrganizationStatus::Suspended => pb::OrganizationStatus::Suspended,
    };
    status as i32
}

fn dpo_to_pb(dpo: &DataProtectionOfficer) -> pb::DataProtectionOfficer {
    pb::DataProtectionOfficer { name: dpo.name.as_str().to_owned(), email: dpo.email.as_str().to_owned() }
}

fn organization_to_pb(org: &Organization) -> pb::Organization {
    let r = &org.registry;
    pb::Organization {
        id: org.id.to_string(),
        registry: Some(pb::OrganizationRegistry {
            official_name: r.official_name.as_str().to_owned(),
            display_name: Some(localized_text(&r.display_name)),
            business_id: r.business_id.as_str().to_owned(),
            website: r.website.as_str().to_owned(),
            contact: Some(pb::ContactPerson {
                name: r.contact.name.as_str().to_owned(),
                email: r.contact.email.as_str().to_owned(),
                phone: r.contact.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            }),
            data_protection_officer: Some(dpo_to_pb(&r.data_protection_officer)),
            privacy_notice_url: Some(localized_url(&r.privacy_notice_url)),
            data_request_url: r.data_request_url.as_str().to_owned(),
        }),
        status: status_to_pb(org.status),
        version: org.version,
        created_at: Some(timestamp(org.created_at)),
        updated_at: Some(timestamp(org.updated_at)),
    }
}

fn public_profile(org: &Organization) -> pb::PublicProfile {
    let r = &org.registry;
    pb::PublicProfile {
        id: org.id.to_string(),
        display_name: Some(localized_text(&r.display_name)),
        official_name: r.official_name.as_str().to_owned(),
        business_id: r.business_id.as_str().to_owned(),
        website: r.website.as_str().to_owned(),
        privacy_notice_url: Some(localized_url(&r.privacy_notice_url)),
        data_request_url: r.data_request_url.as_str().to_owned(),
        data_protection_officer: Some(dpo_to_pb(&r.data_protection_officer)),
        status: status_to_pb(org.status),
    }
}

fn office_to_pb(office: &Office) -> pb::Office {
    pb::Office {
        id: office.id.to_string(),
        organization_id: office.organization_id.to_string(),
        name: office.name.as_str().to_owned(),
        version: office.version,
        created_at: Some(timestamp(office.created_at)),
    }
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

fn directory_entry_to_pb(entry: &DirectoryEntry) -> pb::DirectoryExpert {
    pb::DirectoryExpert {
        expert_id: entry.person_id.to_string(),
        organization_id: entry.organization_id.to_string(),
        organization_name: Some(localized_text(&entry.organization_name)),
        name: entry.name.as_str().to_owned(),
        roles: entry.roles.without_admin().into_iter().map(role_to_pb).collect(),
        description: entry.description.as_ref().map(|d| d.as_str().to_owned()).unwrap_or_default(),
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

// ---------------------------------------------------------------------------- operations

impl Tenants {
    async fn create_organization(
        &self,
        principal: &Principal,
        msg: pb::CreateOrganizationRequest,
    ) -> Result<Organization> {
        domain::authorize_create_organization(principal)?;
        let hash = request_hash(&msg, |m| m.request_id.clear());
        let mut v = Violations::new();
        let key = v.check(parse_request_id(&msg.request_id)).flatten();
        let registry = parse_registry(msg.registry);
        v.finish()?;
        let registry = registry?;
        if let Some(id) = self.replayed(principal, "create_organization", &key, &hash).await? {
            return store::find_organization(&self.inner.db, OrganizationId(id))
                .await?
                .ok_or(TenantsError::Refused(ErrorCode::NotFound));
        }
        let now = self.now();
        let org = Organization {
            id: OrganizationId::new(),
            registry,
            status: OrganizationStatus::Active,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.inner.db.begin().await?;
        store::insert_organization(&mut tx, &org).await?;
        self.emit(&mut tx, org.id, ev::OrganizationCreated { organization_id: org.id.to_string() }).await?;
        self.remember(&mut tx, principal, "create_organization", &key, &hash, org.id.as_uuid()).await?;
        self.commit(tx).await?;
        tracing::info!(organization = %org.id, "organisation created");
        Ok(org)
    }

    async fn update_organization(
        &self,
        principal: &Principal,
        msg: pb::UpdateOrganizationRequest,
    ) -> Result<Organization> {
        let id = org_id(&msg.id)?;
        let registry = parse_registry(msg.registry)?;
        let mut tx = self.inner.db.begin().await?;
        let mut org = self.authorized(&mut tx, principal, id, Action::EditRegistry).await?;
        domain::check_version(msg.expected_version, org.version)?;
        org.registry = registry;
        org.version += 1;
        org.updated_at = self.now();
        store::update_organization(&mut tx, &org).await?;
        self.emit(&mut tx, id, ev::OrganizationUpdated { organization_id: id.to_string(), version: org.version })
            .await?;
        self.commit(tx).await?;
        Ok(org)
    }

    async fn set_status(&self, principal: &Principal, msg: pb::SetOrganizationStatusRequest) -> Result<Organization> {
        let id = org_id(&msg.id)?;
        let status = match pb::OrganizationStatus::try_from(msg.status) {
            Ok(pb::OrganizationStatus::Active) => OrganizationStatus::Active,
            Ok(pb::OrganizationStatus::Suspended) => OrganizationStatus::Suspended,
            _ => return Err(TenantsError::Invalid(vec![FieldViolation::new("status", "invalid-status")])),
        };
        let mut tx = self.inner.db.begin().await?;
        let mut org = self.authorized(&mut tx, principal, id, Action::EditRegistry).await?;
        domain::check_version(msg.expected_version, org.version)?;
        if org.status == status {
            tx.rollback().await?;
            return Ok(org);
        }
        org.status = status;
        org.version += 1;
        org.updated_at = self.now();
        store::update_organization(&mut tx, &org).await?;
        match status {
            OrganizationStatus::Suspended => {
                self.emit(&mut tx, id, ev::OrganizationSuspended { organization_id: id.to_string() }).await?
            }
            OrganizationStatus::Active => {
                self.emit(&mut tx, id, ev::OrganizationReactivated { organization_id: id.to_string() }).await?
            }
        }
        self.commit(tx).await?;
        tracing::info!(organization = %id, status = status.as_str(), "organisation status changed");
        Ok(org)
    }

    async fn list_organizations(
        &self,
        principal: &Principal,
        msg: pb::ListOrganizationsRequest,
    ) -> Result<pb::ListOrganizationsResponse> {
        let page = page(msg.page_size, &msg.page_token)?;
        let rows = if principal.is_operator() {
            store::organizations_page(&self.inner.db, &page).await?
        } else {
            // Experts see the organisations they work for; clients their own.
            let mut ids: Vec<Uuid> = match principal {
                Principal::Expert { memberships, .. } => memberships.iter().map(|m| m.tenant_id).collect(),
                Principal::IntegrationClient { tenant_id, scopes, .. }
                    if scopes.iter().any(|s| s == Scope::TenantsRead.as_str()) =>
                {
                    vec![*tenant_id]
                }
                _ => Vec::new(),
            };
            ids.sort();
            ids.dedup();
            let mut rows = Vec::new();
            for id in ids.into_iter().filter(|id| page.after.is_none_or(|after| *id > after)) {
                if let Some(org) = store::find_organization(&self.inner.db, OrganizationId(id)).await?
                    && org.status == OrganizationStatus::Active
                {
                    rows.push(org);
                }
                if rows.len() >= usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX) {
                    break;
                }
            }
            rows
        };
        let (rows, next_page_token) = page.finish(rows, |o| o.id.as_uuid());
        Ok(pb::ListOrganizationsResponse {
            organizations: rows.iter().map(organization_to_pb).collect(),
            next_page_token,
        })
    }

    async fn create_office(&self, principal: &Principal, msg: pb::CreateOfficeRequest) -> Result<Office> {
        let hash = request_hash(&msg, |m| m.request_id.clear());
        let id = org_id(&msg.organization_id)?;
        let mut v = Violations::new();
        let key = v.check(parse_request_id(&msg.request_id)).flatten();
        let name = v.check(Text::parse("name", &msg.name, domain::OFFICE_NAME_MAX));
        self.authorized(&self.inner.db, principal, id, Action::Administer).await?;
        v.finish()?;
        let Some(name) = name else { return Err(TenantsError::Corrupt("violations were empty".into())) };
        if let Some(existing) = self.replayed(principal, "create_office", &key, &hash).await? {
            let office = store::find_office(&self.inner.db, id, OfficeId(existing)).await?;
            return office.ok_or(TenantsError::Refused(ErrorCode::NotFound));
        }
        let office = Office { id: OfficeId::new(), organization_id: id, name, version: 1, created_at: self.now() };
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::Administer).await?;
        store::insert_office(&mut tx, &office).await?;
        self.emit(&mut tx, id, ev::OfficeCreated { organization_id: id.to_string(), office_id: office.id.to_string() })
            .await?;
        self.remember(&mut tx, principal, "create_office", &key, &hash, office.id.as_uuid()).await?;
        self.commit(tx).await?;
        Ok(office)
    }

    async fn update_office(&self, principal: &Principal, msg: pb::UpdateOfficeRequest) -> Result<Office> {
        let id = org_id(&msg.organization_id)?;
        let office_id = OfficeId::parse("office_id", &msg.office_id).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let name =
            Text::parse("name", &msg.name, domain::OFFICE_NAME_MAX).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::Administer).await?;
        let mut office =
            store::find_office(&mut tx, id, office_id).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        domain::check_version(msg.expected_version, office.version)?;
        office.name = name;
        office.version += 1;
        store::rename_office(&mut tx, &office).await?;
        self.emit(&mut tx, id, ev::OfficeRenamed { organization_id: id.to_string(), office_id: office.id.to_string() })
            .await?;
        self.commit(tx).await?;
        Ok(office)
    }

    async fn delete_office(&self, principal: &Principal, msg: pb::DeleteOfficeRequest) -> Result<()> {
        let id = org_id(&msg.organization_id)?;
        let office_id = OfficeId::parse("office_id", &msg.office_id).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::Administer).await?;
        store::find_office(&mut tx, id, office_id).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        store::delete_office(&mut tx, office_id).await?;
        self.emit(&mut tx, id, ev::OfficeDeleted { organization_id: id.to_string(), office_id: office_id.to_string() })
            .await?;
        self.commit(tx).await
    }

    fn parse_new_expert(&self, msg: &pb::AddExpertRequest) -> Result<NewExpert> {
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
        match (name, email, language, roles) {
            (Some(name), Some(email), Some(language), Some(roles)) if v.is_empty() => Ok(NewExpert {
                name,
                email,
                language,
                virtu,
                suomifi: code.as_ref().map(|c| self.inner.hasher.hash(c)),
                roles,
            }),
            _ => Err(TenantsError::Invalid(v.into_failure().violations)),
        }
    }

    async fn add_expert(&self, principal: &Principal, msg: pb::AddExpertRequest) -> Result<Expert> {
        let id = org_id(&msg.organization_id)?;
        let mut hashed = msg.clone();
        // The identity code must not reach the idempotency table, even inside a hash input
        // that could be brute-forced; its keyed hash stands in for it.
        let new = self.parse_new_expert(&msg);
        let key = parse_request_id(&msg.request_id).map_err(|v| TenantsError::Invalid(vec![v]))?;
        self.authorized(&self.inner.db, principal, id, Action::NameMainUser).await?;
        let new = new?;
        hashed.personal_identity_code = new.suomifi.as_ref().map(|h| h.as_str().to_owned()).unwrap_or_default();
        let hash = request_hash(&hashed, |m| m.request_id.clear());
        // The operator names main users only; a main user (or a client) may grant any role.
        domain::check_grantable(principal, &new.roles)?;
        if let Some(existing) = self.replayed(principal, "add_expert", &key, &hash).await? {
            return store::find_expert(&self.inner.db, id, PersonId(existing))
                .await?
                .ok_or(TenantsError::Refused(ErrorCode::NotFound));
        }
        let now = self.now();
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::NameMainUser).await?;
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
        store::insert_membership(&mut tx, person, id, &new.roles, now).await?;
        self.emit(
            &mut tx,
            id,
            ev::ExpertAdded {
                organization_id: id.to_string(),
                expert_id: person.to_string(),
                roles: new.roles.to_strings(),
            },
        )
        .await?;
        self.remember(&mut tx, principal, "add_expert", &key, &hash, person.as_uuid()).await?;
        let expert = store::find_expert(&mut tx, id, person)
            .await?
            .ok_or_else(|| TenantsError::Corrupt("membership vanished".into()))?;
        self.commit(tx).await?;
        Ok(expert)
    }

    async fn set_roles(&self, principal: &Principal, msg: pb::SetExpertRolesRequest) -> Result<Expert> {
        let id = org_id(&msg.organization_id)?;
        let person = PersonId::parse("expert_id", &msg.expert_id).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let roles =
            Roles::parse(msg.roles.iter().map(|r| role_from_pb(*r))).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::Administer).await?;
        let mut expert =
            store::find_expert(&mut tx, id, person).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        domain::check_version(msg.expected_version, expert.version)?;
        let listing = expert.listing.after_roles(&roles);
        let unlisted = expert.listing.listed && !listing.listed;
        expert.roles = roles;
        expert.listing = listing;
        expert.version += 1;
        store::set_roles(&mut tx, &expert).await?;
        self.emit(
            &mut tx,
            id,
            ev::ExpertRolesChanged {
                organization_id: id.to_string(),
                expert_id: person.to_string(),
                roles: expert.roles.to_strings(),
            },
        )
        .await?;
        if unlisted {
            self.emit(
                &mut tx,
                id,
                ev::ExpertListingChanged {
                    organization_id: id.to_string(),
                    expert_id: person.to_string(),
                    listed: false,
                },
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(expert)
    }

    async fn set_listing(&self, principal: &Principal, msg: pb::SetExpertListingRequest) -> Result<Expert> {
        let id = org_id(&msg.organization_id)?;
        let person = PersonId::parse("expert_id", &msg.expert_id).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let description =
            ListingDescription::parse("description", &msg.description).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::Administer).await?;
        // The organisation's main users decide whom it offers to other organisations.
        if !principal.has_role(id.as_uuid(), Role::Admin) {
            return Err(TenantsError::Refused(ErrorCode::PermissionDenied));
        }
        let mut expert =
            store::find_expert(&mut tx, id, person).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        domain::check_version(msg.expected_version, expert.version)?;
        let listing =
            Listing::new(msg.listed, description, &expert.roles).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let newly_listed = listing.listed && !expert.listing.listed;
        expert.listing = listing;
        expert.version += 1;
        store::set_listing(&mut tx, &expert, newly_listed).await?;
        self.emit(
            &mut tx,
            id,
            ev::ExpertListingChanged {
                organization_id: id.to_string(),
                expert_id: person.to_string(),
                listed: expert.listing.listed,
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(expert)
    }

    async fn list_directory(
        &self,
        principal: &Principal,
        msg: pb::ListDirectoryExpertsRequest,
    ) -> Result<pb::ListDirectoryExpertsResponse> {
        if let DirectoryReader::Guide(organizations) = domain::directory_reader(principal)? {
            // A guide of suspended organisations only proposes nobody.
            if !store::any_active(&self.inner.db, &organizations).await? {
                return Err(TenantsError::Refused(ErrorCode::PermissionDenied));
            }
        }
        let mut v = Violations::new();
        let org = v.check(optional(&msg.organization_id, |s| OrganizationId::parse("organization_id", s)));
        let page = v.check(PageRequest::parse(msg.page_size, &msg.page_token));
        let (Some(org), Some(page)) = (org, page) else {
            return Err(TenantsError::Invalid(v.into_failure().violations));
        };
        let rows = store::directory_page(&self.inner.db, org, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |e| e.key);
        Ok(pb::ListDirectoryExpertsResponse {
            experts: rows.iter().map(directory_entry_to_pb).collect(),
            next_page_token,
        })
    }

    async fn remove_expert(&self, principal: &Principal, msg: pb::RemoveExpertRequest) -> Result<()> {
        let id = org_id(&msg.organization_id)?;
        let person = PersonId::parse("expert_id", &msg.expert_id).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::Administer).await?;
        store::find_expert(&mut tx, id, person).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        store::delete_membership(&mut tx, id, person).await?;
        self.emit(&mut tx, id, ev::ExpertRemoved { organization_id: id.to_string(), expert_id: person.to_string() })
            .await?;
        self.commit(tx).await
    }

    async fn create_client(
        &self,
        principal: &Principal,
        msg: pb::CreateIntegrationClientRequest,
    ) -> Result<pb::CreateIntegrationClientResponse> {
        let hash = request_hash(&msg, |m| m.request_id.clear());
        let id = org_id(&msg.organization_id)?;
        let mut v = Violations::new();
        let key = v.check(parse_request_id(&msg.request_id)).flatten();
        let name = v.check(Text::parse("name", &msg.name, domain::NAME_MAX));
        let mut scopes: Vec<Scope> = msg.scopes.iter().filter_map(|s| v.check(Scope::parse(s))).collect();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() && msg.scopes.is_empty() {
            v.push(FieldViolation::new("scopes", "field-required"));
        }
        // Only main users manage clients; a client cannot make more clients.
        let org = self.authorized(&self.inner.db, principal, id, Action::Administer).await?;
        if !principal.has_role(org.id.as_uuid(), Role::Admin) {
            return Err(TenantsError::Refused(ErrorCode::PermissionDenied));
        }
        v.finish()?;
        let Some(name) = name else { return Err(TenantsError::Corrupt("violations were empty".into())) };
        if let Some(existing) = self.replayed(principal, "create_integration_client", &key, &hash).await? {
            // The secret is shown only once; a replay returns the client without it.
            let client = store::find_client(&self.inner.db, id, ClientId(existing)).await?;
            let client = client.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
            return Ok(pb::CreateIntegrationClientResponse {
                client: Some(client_to_pb(&client)),
                secret: String::new(),
            });
        }
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let secret = URL_SAFE_NO_PAD.encode(raw);
        let client = IntegrationClient {
            id: ClientId::new(),
            organization_id: id,
            name,
            scopes,
            created_at: self.now(),
            revoked_at: None,
        };
        let mut tx = self.inner.db.begin().await?;
        store::insert_client(&mut tx, &client, &secret_hash(&secret)).await?;
        self.emit(
            &mut tx,
            id,
            ev::IntegrationClientCreated { organization_id: id.to_string(), client_id: client.id.to_string() },
        )
        .await?;
        self.remember(&mut tx, principal, "create_integration_client", &key, &hash, client.id.as_uuid()).await?;
        self.commit(tx).await?;
        Ok(pb::CreateIntegrationClientResponse { client: Some(client_to_pb(&client)), secret })
    }

    async fn revoke_client(
        &self,
        principal: &Principal,
        msg: pb::RevokeIntegrationClientRequest,
    ) -> Result<IntegrationClient> {
        let id = org_id(&msg.organization_id)?;
        let client_id = ClientId::parse("client_id", &msg.client_id).map_err(|v| TenantsError::Invalid(vec![v]))?;
        let mut tx = self.inner.db.begin().await?;
        self.authorized(&mut tx, principal, id, Action::Administer).await?;
        if !principal.has_role(id.as_uuid(), Role::Admin) {
            return Err(TenantsError::Refused(ErrorCode::PermissionDenied));
        }
        let mut client =
            store::find_client(&mut tx, id, client_id).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        if client.revoked_at.is_none() {
            let now = self.now();
            store::revoke_client(&mut tx, client_id, now).await?;
            client.revoked_at = Some(now);
            self.emit(
                &mut tx,
                id,
                ev::IntegrationClientRevoked { organization_id: id.to_string(), client_id: client_id.to_string() },
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(client)
    }

    async fn authenticate_client(
        &self,
        principal: &Principal,
        msg: pb::AuthenticateIntegrationClientRequest,
    ) -> Result<pb::AuthenticatedClient> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(TenantsError::Refused(ErrorCode::PermissionDenied));
        }
        let refused = TenantsError::Refused(ErrorCode::Unauthenticated);
        let Ok(client_id) = ClientId::parse("client_id", &msg.client_id) else { return Err(refused) };
        let Some((client, stored_hash)) = store::client_credentials(&self.inner.db, client_id).await? else {
            return Err(refused);
        };
        let matches: bool = secret_hash(&msg.secret).as_bytes().ct_eq(stored_hash.as_bytes()).into();
        if !matches || client.revoked_at.is_some() {
            return Err(refused);
        }
        let org = store::find_organization(&self.inner.db, client.organization_id)
            .await?
            .ok_or(TenantsError::Refused(ErrorCode::Unauthenticated))?;
        if org.status != OrganizationStatus::Active {
            return Err(TenantsError::Refused(ErrorCode::OrganizationSuspended));
        }
        Ok(pb::AuthenticatedClient {
            client_id: client.id.to_string(),
            organization_id: client.organization_id.to_string(),
            scopes: client.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        })
    }
}

impl Tenants {
    async fn resolve_expert(&self, principal: &Principal, msg: pb::ResolveExpertRequest) -> Result<pb::ResolvedExpert> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(TenantsError::Refused(ErrorCode::PermissionDenied));
        }
        let not_found = TenantsError::Refused(ErrorCode::NotFound);
        let person = match msg.identity {
            Some(pb::resolve_expert_request::Identity::PersonId(id)) => {
                PersonId::parse("person_id", &id).map_err(|v| TenantsError::Invalid(vec![v]))?
            }
            Some(pb::resolve_expert_request::Identity::Virtu(virtu)) => {
                let virtu = parse_virtu(Some(virtu)).map_err(|v| TenantsError::Invalid(vec![v]))?.ok_or(not_found)?;
                store::find_person(&self.inner.db, Some(&virtu), None)
                    .await?
                    .ok_or(TenantsError::Refused(ErrorCode::NotFound))?
            }
            Some(pb::resolve_expert_request::Identity::PersonalIdentityCode(code)) => {
                let code = PersonalIdentityCode::parse("personal_identity_code", &code)
                    .map_err(|v| TenantsError::Invalid(vec![v]))?;
                let hash = self.inner.hasher.hash(&code);
                store::find_person(&self.inner.db, None, Some(&hash))
                    .await?
                    .ok_or(TenantsError::Refused(ErrorCode::NotFound))?
            }
            None => return Err(TenantsError::Invalid(vec![FieldViolation::new("identity", "field-required")])),
        };
        let found = store::person_memberships(&self.inner.db, person)
            .await?
            .ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
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
        })
    }
}

fn caller<T>(request: &Request<T>) -> std::result::Result<Principal, Status> {
    principal_of(request).cloned()
}

#[tonic::async_trait]
impl pb::tenants_service_server::TenantsService for Tenants {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> std::result::Result<Response<pb::Organization>, Status> {
        let principal = caller(&request)?;
        let org = self.create_organization(&principal, request.into_inner()).await?;
        Ok(Response::new(organization_to_pb(&org)))
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> std::result::Result<Response<pb::Organization>, Status> {
        let principal = caller(&request)?;
        let id = org_id(&request.get_ref().id)?;
        let org = self.authorized(&self.inner.db, &principal, id, Action::Read).await?;
        Ok(Response::new(organization_to_pb(&org)))
    }

    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> std::result::Result<Response<pb::ListOrganizationsResponse>, Status> {
        let principal = caller(&request)?;
        Ok(Response::new(self.list_organizations(&principal, request.into_inner()).await?))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> std::result::Result<Response<pb::Organization>, Status> {
        let principal = caller(&request)?;
        let org = self.update_organization(&principal, request.into_inner()).await?;
        Ok(Response::new(organization_to_pb(&org)))
    }

    async fn set_organization_status(
        &self,
        request: Request<pb::SetOrganizationStatusRequest>,
    ) -> std::result::Result<Response<pb::Organization>, Status> {
        let principal = caller(&request)?;
        let org = self.set_status(&principal, request.into_inner()).await?;
        Ok(Response::new(organization_to_pb(&org)))
    }

    async fn get_public_profile(
        &self,
        request: Request<pb::GetPublicProfileRequest>,
    ) -> std::result::Result<Response<pb::PublicProfile>, Status> {
        // Public: what any customer view shows about the controller. Needs no principal.
        let id = OrganizationId::parse("id", &request.get_ref().id)
            .map_err(|_| TenantsError::Refused(ErrorCode::NotFound))?;
        let org = store::find_organization(&self.inner.db, id)
            .await
            .map_err(Status::from)?
            .ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        Ok(Response::new(public_profile(&org)))
    }

    async fn create_office(
        &self,
        request: Request<pb::CreateOfficeRequest>,
    ) -> std::result::Result<Response<pb::Office>, Status> {
        let principal = caller(&request)?;
        let office = self.create_office(&principal, request.into_inner()).await?;
        Ok(Response::new(office_to_pb(&office)))
    }

    async fn list_offices(
        &self,
        request: Request<pb::ListOfficesRequest>,
    ) -> std::result::Result<Response<pb::ListOfficesResponse>, Status> {
        let principal = caller(&request)?;
        let msg = request.into_inner();
        let id = org_id(&msg.organization_id)?;
        self.authorized(&self.inner.db, &principal, id, Action::Read).await?;
        let page = page(msg.page_size, &msg.page_token)?;
        let rows = store::offices_page(&self.inner.db, id, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |o| o.id.as_uuid());
        Ok(Response::new(pb::ListOfficesResponse { offices: rows.iter().map(office_to_pb).collect(), next_page_token }))
    }

    async fn update_office(
        &self,
        request: Request<pb::UpdateOfficeRequest>,
    ) -> std::result::Result<Response<pb::Office>, Status> {
        let principal = caller(&request)?;
        let office = self.update_office(&principal, request.into_inner()).await?;
        Ok(Response::new(office_to_pb(&office)))
    }

    async fn delete_office(
        &self,
        request: Request<pb::DeleteOfficeRequest>,
    ) -> std::result::Result<Response<pb::DeleteOfficeResponse>, Status> {
        let principal = caller(&request)?;
        self.delete_office(&principal, request.into_inner()).await?;
        Ok(Response::new(pb::DeleteOfficeResponse {}))
    }

    async fn add_expert(
        &self,
        request: Request<pb::AddExpertRequest>,
    ) -> std::result::Result<Response<pb::Expert>, Status> {
        let principal = caller(&request)?;
        let expert = self.add_expert(&principal, request.into_inner()).await?;
        Ok(Response::new(expert_to_pb(&expert)))
    }

    async fn get_expert(
        &self,
        request: Request<pb::GetExpertRequest>,
    ) -> std::result::Result<Response<pb::Expert>, Status> {
        let principal = caller(&request)?;
        let msg = request.into_inner();
        let id = org_id(&msg.organization_id)?;
        self.authorized(&self.inner.db, &principal, id, Action::Read).await?;
        let person =
            PersonId::parse("expert_id", &msg.expert_id).map_err(|_| TenantsError::Refused(ErrorCode::NotFound))?;
        let expert =
            store::find_expert(&self.inner.db, id, person).await?.ok_or(TenantsError::Refused(ErrorCode::NotFound))?;
        Ok(Response::new(expert_to_pb(&expert)))
    }

    async fn list_experts(
        &self,
        request: Request<pb::ListExpertsRequest>,
    ) -> std::result::Result<Response<pb::ListExpertsResponse>, Status> {
        let principal = caller(&request)?;
        let msg = request.into_inner();
        let id = org_id(&msg.organization_id)?;
        self.authorized(&self.inner.db, &principal, id, Action::Read).await?;
        let page = page(msg.page_size, &msg.page_token)?;
        let rows = store::experts_page(&self.inner.db, id, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |e| e.person_id.as_uuid());
        Ok(Response::new(pb::ListExpertsResponse { experts: rows.iter().map(expert_to_pb).collect(), next_page_token }))
    }

    async fn set_expert_roles(
        &self,
        request: Request<pb::SetExpertRolesRequest>,
    ) -> std::result::Result<Response<pb::Expert>, Status> {
        let principal = caller(&request)?;
        let expert = self.set_roles(&principal, request.into_inner()).await?;
        Ok(Response::new(expert_to_pb(&expert)))
    }

    async fn set_expert_listing(
        &self,
        request: Request<pb::SetExpertListingRequest>,
    ) -> std::result::Result<Response<pb::Expert>, Status> {
        let principal = caller(&request)?;
        let expert = self.set_listing(&principal, request.into_inner()).await?;
        Ok(Response::new(expert_to_pb(&expert)))
    }

    async fn list_directory_experts(
        &self,
        request: Request<pb::ListDirectoryExpertsRequest>,
    ) -> std::result::Result<Response<pb::ListDirectoryExpertsResponse>, Status> {
        let principal = caller(&request)?;
        Ok(Response::new(self.list_directory(&principal, request.into_inner()).await?))
    }

    async fn remove_expert(
        &self,
        request: Request<pb::RemoveExpertRequest>,
    ) -> std::result::Result<Response<pb::RemoveExpertResponse>, Status> {
        let principal = caller(&request)?;
        self.remove_expert(&principal, request.into_inner()).await?;
        Ok(Response::new(pb::RemoveExpertResponse {}))
    }

    async fn create_integration_client(
        &self,
        request: Request<pb::CreateIntegrationClientRequest>,
    ) -> std::result::Result<Response<pb::CreateIntegrationClientResponse>, Status> {
        let principal = caller(&request)?;
        Ok(Response::new(self.create_client(&principal, request.into_inner()).await?))
    }

    async fn list_integration_clients(
        &self,
        request: Request<pb::ListIntegrationClientsRequest>,
    ) -> std::result::Result<Response<pb::ListIntegrationClientsResponse>, Status> {
        let principal = caller(&request)?;
        let msg = request.into_inner();
        let id = org_id(&msg.organization_id)?;
        self.authorized(&self.inner.db, &principal, id, Action::Administer).await?;
        if !principal.has_role(id.as_uuid(), Role::Admin) {
            return Err(TenantsError::Refused(ErrorCode::PermissionDenied).into());
        }
        let page = page(msg.page_size, &msg.page_token)?;
        let rows = store::clients_page(&self.inner.db, id, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |c| c.id.as_uuid());
        Ok(Response::new(pb::ListIntegrationClientsResponse {
            clients: rows.iter().map(client_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn revoke_integration_client(
        &self,
        request: Request<pb::RevokeIntegrationClientRequest>,
    ) -> std::result::Result<Response<pb::IntegrationClient>, Status> {
        let principal = caller(&request)?;
        let client = self.revoke_client(&principal, request.into_inner()).await?;
        Ok(Response::new(client_to_pb(&client)))
    }

    async fn authenticate_integration_client(
        &self,
        request: Request<pb::AuthenticateIntegrationClientRequest>,
    ) -> std::result::Result<Response<pb::AuthenticatedClient>, Status> {
        let principal = caller(&request)?;
        Ok(Response::new(self.authenticate_client(&principal, request.into_inner()).await?))
    }

    async fn resolve_expert(
        &self,
        request: Request<pb::ResolveExpertRequest>,
    ) -> std::result::Result<Response<pb::ResolvedExpert>, Status> {
        let principal = caller(&request)?;
        Ok(Response::new(self.resolve_expert(&principal, request.into_inner()).await?))
    }
}

/// Operations for trusted in-process callers (start-up seeding), with an explicit principal.
impl Tenants {
    pub async fn create_organization_as(
        &self,
        principal: &Principal,
        msg: pb::CreateOrganizationRequest,
    ) -> Result<Organization> {
        self.create_organization(principal, msg).await
    }
    pub async fn create_office_as(&self, principal: &Principal, msg: pb::CreateOfficeRequest) -> Result<Office> {
        self.create_office(principal, msg).await
    }
    pub async fn add_expert_as(&self, principal: &Principal, msg: pb::AddExpertRequest) -> Result<Expert> {
        self.add_expert(principal, msg).await
    }
    pub async fn set_expert_listing_as(
        &self,
        principal: &Principal,
        msg: pb::SetExpertListingRequest,
    ) -> Result<Expert> {
        self.set_listing(principal, msg).await
    }
}
