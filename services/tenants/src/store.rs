//! SQL of the tenants service. One text per statement runs on PostgreSQL and SQLite.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Role,
    db::{Db, Query, Row, Source, Tx},
    i18n::Language,
    ids::PageRequest,
    service::{ServiceError, ServiceResult},
    types::{BusinessId, Email, HttpsUrl, IdentityCodeHash, Phone, Text},
};
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{
    ClientId, ContactPerson, DataProtectionOfficer, DirectoryEntry, Expert, IntegrationClient, Listing,
    ListingDescription, Localized, Office, OfficeId, Organization, OrganizationId, OrganizationStatus, PersonId,
    Registry, Roles, Scope, VirtuIdentity,
};

type Result<T> = ServiceResult<T>;

/// Stored values were valid when written; failing to read one back is corruption.
fn stored<T>(field: &str, result: std::result::Result<T, ohjaus_platform::error::FieldViolation>) -> Result<T> {
    result.map_err(|_| ServiceError::corrupt(format!("stored {field} does not parse")))
}

/// A stored text is read back as it was written: a rule about texts added later (visible
/// characters, say) applies to new input, and must not make existing rows unreadable.
fn opt_text(row: &Row, column: &str) -> Result<Option<Text>> {
    Ok(row.get::<Option<String>>(column)?.map(Text::from_stored))
}

fn opt_url(row: &Row, column: &str) -> Result<Option<HttpsUrl>> {
    row.get::<Option<String>>(column)?.map(|v| stored(column, HttpsUrl::parse(column, &v))).transpose()
}

// ---------------------------------------------------------------------------- organisations

const ORGANIZATION_COLUMNS: &str = "id, official_name, display_name_fi, display_name_sv, display_name_en, business_id, website, \
    contact_name, contact_email, contact_phone, dpo_name, dpo_email, privacy_notice_fi, privacy_notice_sv, \
    privacy_notice_en, data_request_url, status, version, created_at, updated_at";

fn organization(row: &Row) -> Result<Organization> {
    let text = |c: &str| -> Result<Text> { Ok(Text::from_stored(row.get::<String>(c)?)) };
    let url = |c: &str| -> Result<HttpsUrl> { stored(c, HttpsUrl::parse(c, &row.get::<String>(c)?)) };
    let status: String = row.get("status")?;
    Ok(Organization {
        id: OrganizationId(row.get("id")?),
        registry: Registry {
            official_name: text("official_name")?,
            display_name: Localized {
                fi: text("display_name_fi")?,
                sv: opt_text(row, "display_name_sv")?,
                en: opt_text(row, "display_name_en")?,
            },
            business_id: stored("business_id", BusinessId::parse("business_id", &row.get::<String>("business_id")?))?,
            website: url("website")?,
            contact: ContactPerson {
                name: text("contact_name")?,
                email: stored("contact_email", Email::parse("contact_email", &row.get::<String>("contact_email")?))?,
                phone: row
                    .get::<Option<String>>("contact_phone")?
                    .map(|p| stored("contact_phone", Phone::parse("contact_phone", &p)))
                    .transpose()?,
            },
            data_protection_officer: DataProtectionOfficer {
                name: text("dpo_name")?,
                email: stored("dpo_email", Email::parse("dpo_email", &row.get::<String>("dpo_email")?))?,
            },
            privacy_notice_url: Localized {
                fi: url("privacy_notice_fi")?,
                sv: opt_url(row, "privacy_notice_sv")?,
                en: opt_url(row, "privacy_notice_en")?,
            },
            data_request_url: url("data_request_url")?,
        },
        status: OrganizationStatus::parse(&status).ok_or_else(|| ServiceError::corrupt("status"))?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Binds `$1` id, `$2`–`$16` registry data, `$17` status and `$18` version.
fn bind_organization<'q>(query: Query<'q>, org: &Organization) -> Query<'q> {
    let r = &org.registry;
    let owned = |t: &Text| t.as_str().to_owned();
    let url = |u: &HttpsUrl| u.as_str().to_owned();
    query
        .bind(org.id.as_uuid())
        .bind(owned(&r.official_name))
        .bind(owned(&r.display_name.fi))
        .bind(r.display_name.sv.as_ref().map(owned))
        .bind(r.display_name.en.as_ref().map(owned))
        .bind(r.business_id.as_str().to_owned())
        .bind(url(&r.website))
        .bind(owned(&r.contact.name))
        .bind(r.contact.email.as_str().to_owned())
        .bind(r.contact.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(owned(&r.data_protection_officer.name))
        .bind(r.data_protection_officer.email.as_str().to_owned())
        .bind(url(&r.privacy_notice_url.fi))
        .bind(r.privacy_notice_url.sv.as_ref().map(url))
        .bind(r.privacy_notice_url.en.as_ref().map(url))
        .bind(url(&r.data_request_url))
        .bind(org.status.as_str())
        .bind(org.version)
}

pub async fn insert_organization(tx: &mut Tx, org: &Organization) -> Result<()> {
    let sql = format!(
        "INSERT INTO organizations ({ORGANIZATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    );
    bind_organization(tx.query(&sql), org)
        .bind(org.created_at)
        .bind(org.updated_at)
        .execute(tx)
        .await
        .map_err(|e| unique_to(e, "business_id", "business-id-taken"))?;
    Ok(())
}

/// A unique-constraint refusal becomes a field violation the user can act on.
#[track_caller]
fn unique_to(error: ohjaus_platform::db::DbError, field: &str, reason: &str) -> ServiceError {
    if error.is_unique_violation() {
        ServiceError::conflict(vec![ohjaus_platform::error::FieldViolation::new(field, reason)])
    } else {
        ServiceError::from(error)
    }
}

pub async fn update_organization(tx: &mut Tx, org: &Organization) -> Result<()> {
    let sql = "UPDATE organizations SET official_name = $2, display_name_fi = $3, display_name_sv = $4, display_name_en = $5, \
         business_id = $6, website = $7, contact_name = $8, contact_email = $9, contact_phone = $10, dpo_name = $11, \
         dpo_email = $12, privacy_notice_fi = $13, privacy_notice_sv = $14, privacy_notice_en = $15, data_request_url = $16, \
         status = $17, version = $18, updated_at = $19 WHERE id = $1";
    bind_organization(tx.query(sql), org)
        .bind(org.updated_at)
        .execute(tx)
        .await
        .map_err(|e| unique_to(e, "business_id", "business-id-taken"))?;
    Ok(())
}

pub async fn find_organization<'c>(conn: impl Source<'c>, id: OrganizationId) -> Result<Option<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1");
    conn.query(&sql).bind(id.as_uuid()).fetch_optional(conn).await?.as_ref().map(organization).transpose()
}

/// The organisation, as seen by an integration client: `None` also when the client is not one
/// of the organisation's, or has been revoked. A client's access token stays valid until it
/// expires, so every call it makes is checked here against the client's row (one indexed read
/// with the organisation's): a revoked client is refused on its next call, on every replica.
pub async fn find_organization_for_client<'c>(
    conn: impl Source<'c>,
    id: OrganizationId,
    client: ClientId,
) -> Result<Option<Organization>> {
    let sql = format!(
        "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1 AND EXISTS \
         (SELECT 1 FROM integration_clients WHERE id = $2 AND organization_id = $1 AND revoked_at IS NULL)"
    );
    conn.query(&sql)
        .bind(id.as_uuid())
        .bind(client.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(organization)
        .transpose()
}

pub async fn organizations_page(db: &Db, page: &PageRequest) -> Result<Vec<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id > $1 ORDER BY id LIMIT $2");
    db.query(&sql)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?
        .iter()
        .map(organization)
        .collect()
}

// ---------------------------------------------------------------------------- offices

fn office(row: &Row) -> Result<Office> {
    Ok(Office {
        id: OfficeId(row.get("id")?),
        organization_id: OrganizationId(row.get("organization_id")?),
        name: Text::from_stored(row.get::<String>("name")?),
        version: row.get("version")?,
        created_at: row.get("created_at")?,
    })
}

pub async fn insert_office(tx: &mut Tx, office: &Office) -> Result<()> {
    tx.query("INSERT INTO offices (id, organization_id, name, version, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(office.id.as_uuid())
        .bind(office.organization_id.as_uuid())
        .bind(office.name.as_str().to_owned())
        .bind(office.version)
        .bind(office.created_at)
        .execute(tx)
        .await
        .map_err(|e| unique_to(e, "name", "already-exists"))?;
    Ok(())
}

pub async fn find_office<'c>(conn: impl Source<'c>, org: OrganizationId, id: OfficeId) -> Result<Option<Office>> {
    conn.query(
        "SELECT id, organization_id, name, version, created_at FROM offices WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(office)
    .transpose()
}

pub async fn offices_page(db: &Db, org: OrganizationId, page: &PageRequest) -> Result<Vec<Office>> {
    db.query("SELECT id, organization_id, name, version, created_at FROM offices WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        .bind(org.as_uuid())
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?
        .iter()
        .map(office)
        .collect()
}

pub async fn rename_office(tx: &mut Tx, office: &Office) -> Result<()> {
    tx.query("UPDATE offices SET name = $2, version = $3 WHERE id = $1")
        .bind(office.id.as_uuid())
        .bind(office.name.as_str().to_owned())
        .bind(office.version)
        .execute(tx)
        .await
        .map_err(|e| unique_to(e, "name", "already-exists"))?;
    Ok(())
}

pub async fn delete_office(tx: &mut Tx, id: OfficeId) -> Result<()> {
    tx.query("DELETE FROM offices WHERE id = $1").bind(id.as_uuid()).execute(tx).await?;
    Ok(())
}

// ---------------------------------------------------------------------------- experts

const EXPERT_SELECT: &str = "SELECT p.id, m.organization_id, p.name, p.email, p.language, p.virtu_home_organization, \
    p.virtu_local_id, p.suomifi_hash, m.roles, m.listed, m.listing_description, m.version, m.added_at \
    FROM memberships m JOIN persons p ON p.id = m.person_id";

fn listing_description(row: &Row) -> Result<Option<ListingDescription>> {
    let value = row.get::<Option<String>>("listing_description")?.unwrap_or_default();
    stored("listing_description", ListingDescription::parse("listing_description", &value))
}

fn expert(row: &Row) -> Result<Expert> {
    let language: String = row.get("language")?;
    let roles: Json<Vec<String>> = row.get("roles")?;
    let virtu =
        match (row.get::<Option<String>>("virtu_home_organization")?, row.get::<Option<String>>("virtu_local_id")?) {
            (Some(home), Some(local)) => {
                Some(VirtuIdentity { home_organization: Text::from_stored(home), local_id: Text::from_stored(local) })
            }
            _ => None,
        };
    Ok(Expert {
        person_id: PersonId(row.get("id")?),
        organization_id: OrganizationId(row.get("organization_id")?),
        name: Text::from_stored(row.get::<String>("name")?),
        email: stored("email", Email::parse("email", &row.get::<String>("email")?))?,
        language: stored("language", Language::parse_field("language", &language))?,
        virtu,
        has_suomifi_link: row.get::<Option<String>>("suomifi_hash")?.is_some(),
        roles: stored("roles", Roles::parse(roles.0.iter().map(|r| Role::parse(r))))?,
        listing: Listing { listed: row.get("listed")?, description: listing_description(row)? },
        version: row.get("version")?,
        added_at: row.get("added_at")?,
    })
}

/// The person with this Virtu identity or, failing that, this identity-code hash.
pub async fn find_person<'c>(
    conn: impl Source<'c>,
    virtu: Option<&VirtuIdentity>,
    suomifi: Option<&IdentityCodeHash>,
) -> Result<Option<PersonId>> {
    let home = virtu.map(|v| v.home_organization.as_str().to_owned());
    let local = virtu.map(|v| v.local_id.as_str().to_owned());
    let row = conn
        .query(
            "SELECT id FROM persons WHERE (virtu_home_organization = $1 AND virtu_local_id = $2) OR suomifi_hash = $3 \
             ORDER BY CASE WHEN virtu_home_organization = $1 AND virtu_local_id = $2 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(home)
        .bind(local)
        .bind(suomifi.map(|h| h.as_str().to_owned()))
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok(PersonId(r.get("id")?))).transpose()
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_person(
    tx: &mut Tx,
    id: PersonId,
    name: &Text,
    email: &Email,
    language: Language,
    virtu: Option<&VirtuIdentity>,
    suomifi: Option<&IdentityCodeHash>,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.query(
        "INSERT INTO persons (id, name, email, language, virtu_home_organization, virtu_local_id, suomifi_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_uuid())
    .bind(name.as_str().to_owned())
    .bind(email.as_str().to_owned())
    .bind(language.code())
    .bind(virtu.map(|v| v.home_organization.as_str().to_owned()))
    .bind(virtu.map(|v| v.local_id.as_str().to_owned()))
    .bind(suomifi.map(|h| h.as_str().to_owned()))
    .bind(now)
    .execute(tx)
    .await
    .map_err(|e| unique_to(e, "personal_identity_code", "identity-taken"))?;
    Ok(())
}

pub async fn insert_membership(
    tx: &mut Tx,
    person: PersonId,
    org: OrganizationId,
    roles: &Roles,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.query(
        "INSERT INTO memberships (person_id, organization_id, roles, version, added_at) VALUES ($1, $2, $3, 1, $4)",
    )
    .bind(person.as_uuid())
    .bind(org.as_uuid())
    .bind(Json(roles.to_strings()))
    .bind(now)
    .execute(tx)
    .await
    .map_err(|e| unique_to(e, "expert", "expert-already-member"))?;
    Ok(())
}

pub async fn find_expert<'c>(conn: impl Source<'c>, org: OrganizationId, person: PersonId) -> Result<Option<Expert>> {
    let sql = format!("{EXPERT_SELECT} WHERE m.organization_id = $1 AND m.person_id = $2");
    conn.query(&sql)
        .bind(org.as_uuid())
        .bind(person.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(expert)
        .transpose()
}

pub async fn experts_page(db: &Db, org: OrganizationId, page: &PageRequest) -> Result<Vec<Expert>> {
    let sql =
        format!("{EXPERT_SELECT} WHERE m.organization_id = $1 AND m.person_id > $2 ORDER BY m.person_id LIMIT $3");
    db.query(&sql)
        .bind(org.as_uuid())
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?
        .iter()
        .map(expert)
        .collect()
}

/// Stores the expert's roles and listing (a change of roles may end the listing).
pub async fn set_roles(tx: &mut Tx, expert: &Expert) -> Result<()> {
    tx.query(
        "UPDATE memberships SET roles = $3, listed = $4, version = $5 WHERE organization_id = $1 AND person_id = $2",
    )
    .bind(expert.organization_id.as_uuid())
    .bind(expert.person_id.as_uuid())
    .bind(Json(expert.roles.to_strings()))
    .bind(expert.listing.listed)
    .bind(expert.version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores the expert's listing. Listing an expert who was not listed gives them a new
/// directory key, so they come after those listed before them.
pub async fn set_listing(tx: &mut Tx, expert: &Expert, newly_listed: bool) -> Result<()> {
    let key = newly_listed.then(ohjaus_platform::ids::new_id);
    tx.query(
        "UPDATE memberships SET listed = $3, listing_description = $4, listing_key = COALESCE($5, listing_key), \
         version = $6 WHERE organization_id = $1 AND person_id = $2",
    )
    .bind(expert.organization_id.as_uuid())
    .bind(expert.person_id.as_uuid())
    .bind(expert.listing.listed)
    .bind(expert.listing.description.as_ref().map(|d| d.as_str().to_owned()))
    .bind(key)
    .bind(expert.version)
    .execute(tx)
    .await?;
    Ok(())
}

/// One page of the consent directory: listed experts of active organisations (of `org` only,
/// if given), in the order they were listed.
pub async fn directory_page(db: &Db, org: Option<OrganizationId>, page: &PageRequest) -> Result<Vec<DirectoryEntry>> {
    let select = "SELECT m.listing_key, m.person_id, m.organization_id, m.roles, m.listing_description, p.name, \
        o.display_name_fi, o.display_name_sv, o.display_name_en \
        FROM memberships m JOIN persons p ON p.id = m.person_id JOIN organizations o ON o.id = m.organization_id \
        WHERE m.listed = $1 AND o.status = $2 AND m.listing_key > $3";
    let sql = match org {
        Some(_) => format!("{select} AND m.organization_id = $4 ORDER BY m.listing_key LIMIT $5"),
        None => format!("{select} ORDER BY m.listing_key LIMIT $4"),
    };
    let query = match org {
        Some(org) => db
            .query(&sql)
            .bind(true)
            .bind(OrganizationStatus::Active.as_str())
            .bind(page.after.unwrap_or(Uuid::nil()))
            .bind(org.as_uuid()),
        None => {
            db.query(&sql).bind(true).bind(OrganizationStatus::Active.as_str()).bind(page.after.unwrap_or(Uuid::nil()))
        }
    };
    let rows = query.bind(page.fetch_limit()).fetch_all(db).await?;
    rows.iter()
        .map(|row| {
            let roles: Json<Vec<String>> = row.get("roles")?;
            let text = |c: &str| -> Result<Text> { Ok(Text::from_stored(row.get::<String>(c)?)) };
            Ok(DirectoryEntry {
                key: row
                    .get::<Option<Uuid>>("listing_key")?
                    .ok_or_else(|| ServiceError::corrupt("listed without a key"))?,
                person_id: PersonId(row.get("person_id")?),
                organization_id: OrganizationId(row.get("organization_id")?),
                organization_name: Localized {
                    fi: text("display_name_fi")?,
                    sv: opt_text(row, "display_name_sv")?,
                    en: opt_text(row, "display_name_en")?,
                },
                name: text("name")?,
                roles: stored("roles", Roles::parse(roles.0.iter().map(|r| Role::parse(r))))?,
                description: listing_description(row)?,
            })
        })
        .collect()
}

/// Whether any of `orgs` is active.
pub async fn any_active(db: &Db, orgs: &[OrganizationId]) -> Result<bool> {
    for org in orgs {
        if find_organization(db, *org).await?.is_some_and(|o| o.status == OrganizationStatus::Active) {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn delete_membership(tx: &mut Tx, org: OrganizationId, person: PersonId) -> Result<()> {
    tx.query("DELETE FROM memberships WHERE organization_id = $1 AND person_id = $2")
        .bind(org.as_uuid())
        .bind(person.as_uuid())
        .execute(tx)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------- clients

fn client(row: &Row) -> Result<IntegrationClient> {
    let scopes: Json<Vec<String>> = row.get("scopes")?;
    Ok(IntegrationClient {
        id: ClientId(row.get("id")?),
        organization_id: OrganizationId(row.get("organization_id")?),
        name: Text::from_stored(row.get::<String>("name")?),
        scopes: scopes.0.iter().map(|s| stored("scopes", Scope::parse(s))).collect::<Result<_>>()?,
        created_at: row.get("created_at")?,
        revoked_at: row.get("revoked_at")?,
    })
}

pub async fn insert_client(tx: &mut Tx, client: &IntegrationClient, secret_hash: &str) -> Result<()> {
    tx.query("INSERT INTO integration_clients (id, organization_id, name, scopes, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(client.id.as_uuid())
        .bind(client.organization_id.as_uuid())
        .bind(client.name.as_str().to_owned())
        .bind(Json(client.scopes.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()))
        .bind(secret_hash.to_owned())
        .bind(client.created_at)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn find_client<'c>(
    conn: impl Source<'c>,
    org: OrganizationId,
    id: ClientId,
) -> Result<Option<IntegrationClient>> {
    conn.query("SELECT id, organization_id, name, scopes, created_at, revoked_at FROM integration_clients WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(client)
        .transpose()
}

pub async fn clients_page(db: &Db, org: OrganizationId, page: &PageRequest) -> Result<Vec<IntegrationClient>> {
    db.query("SELECT id, organization_id, name, scopes, created_at, revoked_at FROM integration_clients WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        .bind(org.as_uuid())
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(page.fetch_limit())
        .fetch_all(db)
        .await?
        .iter()
        .map(client)
        .collect()
}

pub async fn revoke_client(tx: &mut Tx, id: ClientId, at: DateTime<Utc>) -> Result<()> {
    tx.query("UPDATE integration_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id.as_uuid())
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

/// The client and its secret hash, for authentication.
pub async fn client_credentials(db: &Db, id: ClientId) -> Result<Option<(IntegrationClient, String)>> {
    let row = db
        .query("SELECT id, organization_id, name, scopes, created_at, revoked_at, secret_hash FROM integration_clients WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_optional(db)
        .await?;
    match row {
        Some(row) => Ok(Some((client(&row)?, row.get("secret_hash")?))),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------- resolution

/// A person and their roles per organisation, with each organisation's status.
pub struct PersonMemberships {
    pub person: PersonId,
    pub name: String,
    pub email: String,
    pub language: String,
    /// Organisation, roles there, whether listed in its directory, and its status.
    pub memberships: Vec<(OrganizationId, Roles, bool, OrganizationStatus)>,
}

pub async fn person_memberships(db: &Db, person: PersonId) -> Result<Option<PersonMemberships>> {
    let Some(row) = db
        .query("SELECT id, name, email, language FROM persons WHERE id = $1")
        .bind(person.as_uuid())
        .fetch_optional(db)
        .await?
    else {
        return Ok(None);
    };
    let rows = db
        .query(
            "SELECT m.organization_id, m.roles, m.listed, o.status FROM memberships m JOIN organizations o ON o.id = m.organization_id \
             WHERE m.person_id = $1 ORDER BY m.organization_id",
        )
        .bind(person.as_uuid())
        .fetch_all(db)
        .await?;
    let mut memberships = Vec::new();
    for r in rows {
        let roles: Json<Vec<String>> = r.get("roles")?;
        let status: String = r.get("status")?;
        memberships.push((
            OrganizationId(r.get("organization_id")?),
            stored("roles", Roles::parse(roles.0.iter().map(|x| Role::parse(x))))?,
            r.get("listed")?,
            OrganizationStatus::parse(&status).ok_or_else(|| ServiceError::corrupt("status"))?,
        ));
    }
    Ok(Some(PersonMemberships {
        person,
        name: row.get("name")?,
        email: row.get("email")?,
        language: row.get("language")?,
        memberships,
    }))
}
