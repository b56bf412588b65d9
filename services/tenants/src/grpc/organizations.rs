//! Organisations: their registry data and status (the operator's), and the public profile any
//! customer view shows about the controller.

use ohjaus_platform::{
    auth::Principal,
    error::{Failure, FieldViolation, Violations},
    grpc::timestamp,
    ids::PageRequest,
    proto::tenants::v1 as pb,
    service::{NextAction, RequestKey, ServiceError, ServiceResult},
    types::{BusinessId, Email, HttpsUrl, Phone, Text},
};
use uuid::Uuid;

use super::{Tenants, optional};
use crate::{
    domain::{
        self, Action, ContactPerson, DataProtectionOfficer, Localized, Organization, OrganizationId,
        OrganizationStatus, Registry, Scope,
    },
    events as ev, store,
};

/// CreateOrganization as a command.
struct CreateOrganization {
    registry: Registry,
    key: RequestKey,
}

impl CreateOrganization {
    fn parse(msg: pb::CreateOrganizationRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let key = v.check(RequestKey::parse("create_organization", &msg, |m| &mut m.request_id));
        let registry = registry(&mut v, msg.registry);
        v.finish_with(|| Some(Self { registry: registry?, key: key? }))
    }
}

/// UpdateOrganization's body as a command (the organisation is authorized before it is read).
struct UpdateOrganization {
    registry: Registry,
    expected_version: i64,
}

impl UpdateOrganization {
    fn parse(msg: pb::UpdateOrganizationRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let registry = registry(&mut v, msg.registry);
        v.finish_with(|| Some(Self { registry: registry?, expected_version: msg.expected_version }))
    }
}

/// SetOrganizationStatus as a command.
struct SetOrganizationStatus {
    id: OrganizationId,
    status: OrganizationStatus,
    expected_version: i64,
}

impl SetOrganizationStatus {
    fn parse(msg: &pb::SetOrganizationStatusRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let id = v.check(OrganizationId::parse("organization_id", &msg.id));
        let status = v.check(match pb::OrganizationStatus::try_from(msg.status) {
            Ok(pb::OrganizationStatus::Active) => Ok(OrganizationStatus::Active),
            Ok(pb::OrganizationStatus::Suspended) => Ok(OrganizationStatus::Suspended),
            _ => Err(FieldViolation::new("status", "invalid-status")),
        });
        v.finish_with(|| Some(Self { id: id?, status: status?, expected_version: msg.expected_version }))
    }
}

/// The registry data of a request, each invalid field recorded in `v`.
fn registry(v: &mut Violations, input: Option<pb::OrganizationRegistry>) -> Option<Registry> {
    let r = input.unwrap_or_default();
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
    Some(Registry {
        official_name: official_name?,
        display_name: Localized { fi: fi?, sv: sv?, en: en? },
        business_id: business_id?,
        website: website?,
        contact: ContactPerson { name: contact_name?, email: contact_email?, phone: contact_phone? },
        data_protection_officer: DataProtectionOfficer { name: dpo_name?, email: dpo_email? },
        privacy_notice_url: Localized { fi: privacy_fi?, sv: privacy_sv?, en: privacy_en? },
        data_request_url: data_request_url?,
    })
}

impl Tenants {
    pub(crate) async fn create_organization(
        &self,
        principal: &Principal,
        msg: pb::CreateOrganizationRequest,
    ) -> ServiceResult<pb::Organization> {
        let command = CreateOrganization::parse(msg);
        domain::authorize_create_organization(principal)?;
        let CreateOrganization { registry, key } = command?;
        let mut tx = match key.begin(self.db(), principal).await? {
            NextAction::Proceed(tx) => tx,
            NextAction::Replay(id) => {
                let org = store::find_organization(self.db(), OrganizationId(id)).await?;
                return Ok(organization_to_pb(&org.ok_or_else(ServiceError::not_found)?));
            }
        };
        let now = self.core().now();
        let org = Organization {
            id: OrganizationId::new(),
            registry,
            status: OrganizationStatus::Active,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        store::insert_organization(&mut tx, &org).await?;
        self.core().emit(&mut tx, org.id, ev::OrganizationCreated { organization_id: org.id.to_string() }).await?;
        key.remember(&mut tx, principal, org.id.as_uuid(), now).await?;
        self.core().commit(tx).await?;
        tracing::info!(organization = %org.id, "organisation created");
        Ok(organization_to_pb(&org))
    }

    pub(crate) async fn get_organization(
        &self,
        principal: &Principal,
        msg: pb::GetOrganizationRequest,
    ) -> ServiceResult<pb::Organization> {
        let id = OrganizationId::parse("organization_id", &msg.id)?;
        let org = self.authorized(self.db(), principal, id, Action::Read).await?;
        Ok(organization_to_pb(&org))
    }

    pub(crate) async fn list_organizations(
        &self,
        principal: &Principal,
        msg: pb::ListOrganizationsRequest,
    ) -> ServiceResult<pb::ListOrganizationsResponse> {
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let rows = if principal.is_operator() {
            store::organizations_page(self.db(), &page).await?
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
                if let Some(org) = store::find_organization(self.db(), OrganizationId(id)).await?
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

    pub(crate) async fn update_organization(
        &self,
        principal: &Principal,
        msg: pb::UpdateOrganizationRequest,
    ) -> ServiceResult<pb::Organization> {
        // Who may edit is settled before the body is read: a caller who may not edit learns
        // that, not the faults of a body they could never send.
        let id = OrganizationId::parse_ref(&msg.id)?;
        let mut tx = self.db().begin().await?;
        let mut org = self.authorized(&mut tx, principal, id, Action::EditRegistry).await?;
        let UpdateOrganization { registry, expected_version } = UpdateOrganization::parse(msg)?;
        domain::check_version(expected_version, org.version)?;
        org.registry = registry;
        org.version += 1;
        org.updated_at = self.core().now();
        store::update_organization(&mut tx, &org).await?;
        self.core()
            .emit(&mut tx, id, ev::OrganizationUpdated { organization_id: id.to_string(), version: org.version })
            .await?;
        self.core().commit(tx).await?;
        Ok(organization_to_pb(&org))
    }

    pub(crate) async fn set_organization_status(
        &self,
        principal: &Principal,
        msg: pb::SetOrganizationStatusRequest,
    ) -> ServiceResult<pb::Organization> {
        let SetOrganizationStatus { id, status, expected_version } = SetOrganizationStatus::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        let mut org = self.authorized(&mut tx, principal, id, Action::EditRegistry).await?;
        domain::check_version(expected_version, org.version)?;
        if org.status == status {
            tx.rollback().await?;
            return Ok(organization_to_pb(&org));
        }
        org.status = status;
        org.version += 1;
        org.updated_at = self.core().now();
        store::update_organization(&mut tx, &org).await?;
        match status {
            OrganizationStatus::Suspended => {
                self.core().emit(&mut tx, id, ev::OrganizationSuspended { organization_id: id.to_string() }).await?
            }
            OrganizationStatus::Active => {
                self.core().emit(&mut tx, id, ev::OrganizationReactivated { organization_id: id.to_string() }).await?
            }
        }
        self.core().commit(tx).await?;
        tracing::info!(organization = %id, status = status.as_str(), "organisation status changed");
        Ok(organization_to_pb(&org))
    }

    /// Public: needs no principal.
    pub(crate) async fn get_public_profile(
        &self,
        msg: pb::GetPublicProfileRequest,
    ) -> ServiceResult<pb::PublicProfile> {
        let id = OrganizationId::parse_ref(&msg.id)?;
        let org = store::find_organization(self.db(), id).await?.ok_or_else(ServiceError::not_found)?;
        Ok(public_profile(&org))
    }
}

// ---------------------------------------------------------------------------- to proto

pub(super) fn localized_text(l: &Localized<Text>) -> pb::LocalizedText {
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
