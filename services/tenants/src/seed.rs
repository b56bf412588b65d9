//! The demo organisation of the embedded mode: seeded once, so a first run has someone to log
//! in as. Its Virtu identities are the development identity provider's test users.

use ohjaus_platform::{
    auth::Principal,
    proto::tenants::v1 as pb,
    service::{ServiceError, ServiceResult},
};

use crate::{Tenants, domain::OrganizationId};

/// Business ID of the demo organisation (a valid check digit, not a real company).
pub const DEMO_BUSINESS_ID: &str = "1234567-1";
/// Virtu home organisation of the demo experts.
pub const DEMO_VIRTU_HOME: &str = "demo.ohjaus.invalid";

/// Test experts of the demo organisation: (Virtu local id, name, role).
pub const DEMO_EXPERTS: [(&str, &str, pb::Role); 4] = [
    ("maija.paakayttaja", "Maija Pääkäyttäjä", pb::Role::Admin),
    ("olli.ohjaaja", "Olli Ohjaaja", pb::Role::Guide),
    ("noora.neuvoja", "Noora Neuvoja", pb::Role::Advisor),
    ("ville.valvoja", "Ville Valvoja", pb::Role::Supervisor),
];

/// Demo experts listed in the consent directory: (Virtu local id, what they help with).
pub const DEMO_LISTINGS: [(&str, &str); 2] = [
    ("olli.ohjaaja", "Opiskelu, työnhaku ja ammatinvalinta; nuorten ohjaus."),
    ("noora.neuvoja", "Arjen asiat: asuminen, talous ja palveluihin hakeutuminen."),
];

/// Creates the demo organisation, its office and experts unless an organisation already exists.
/// Returns whether it seeded.
pub async fn seed_demo(tenants: &Tenants) -> ServiceResult<bool> {
    let db = tenants.db();
    let existing: i64 = db.query("SELECT COUNT(*) AS n FROM organizations").fetch_one(db).await?.get("n")?;
    if existing > 0 {
        return Ok(false);
    }
    let operator = Principal::Operator { subject: "demo-seed".into() };
    let text = |fi: &str, sv: &str, en: &str| Some(pb::LocalizedText { fi: fi.into(), sv: sv.into(), en: en.into() });
    let org = tenants
        .create_organization(
            &operator,
            pb::CreateOrganizationRequest {
                registry: Some(pb::OrganizationRegistry {
                    official_name: "Demokaupunki".into(),
                    display_name: text(
                        "Demokaupungin ohjauspalvelut",
                        "Demostadens vägledningstjänster",
                        "Demo City Guidance Services",
                    ),
                    business_id: DEMO_BUSINESS_ID.into(),
                    website: "https://demo.ohjaus.invalid".into(),
                    contact: Some(pb::ContactPerson {
                        name: "Maija Pääkäyttäjä".into(),
                        email: "maija@demo.ohjaus.invalid".into(),
                        phone: "+358 40 000 0000".into(),
                    }),
                    data_protection_officer: Some(pb::DataProtectionOfficer {
                        name: "Tietosuojavastaava".into(),
                        email: "tietosuoja@demo.ohjaus.invalid".into(),
                    }),
                    privacy_notice_url: text(
                        "https://demo.ohjaus.invalid/tietosuoja",
                        "https://demo.ohjaus.invalid/dataskydd",
                        "https://demo.ohjaus.invalid/privacy",
                    ),
                    data_request_url: "https://demo.ohjaus.invalid/tietopyynto".into(),
                }),
                request_id: "demo-seed".into(),
            },
        )
        .await?;
    // The id the service itself gave.
    let org = OrganizationId::parse_ref(&org.id).map_err(|_| ServiceError::corrupt("organisation id"))?;
    let admin = Principal::Expert {
        person_id: uuid::Uuid::nil(),
        memberships: vec![ohjaus_platform::auth::Membership {
            tenant_id: org.as_uuid(),
            roles: vec![ohjaus_platform::auth::Role::Admin],
        }],
    };
    tenants
        .create_office(
            &admin,
            pb::CreateOfficeRequest {
                organization_id: org.to_string(),
                name: "Keskusta".into(),
                request_id: String::new(),
            },
        )
        .await?;
    for (local_id, name, role) in DEMO_EXPERTS {
        let expert = tenants
            .add_expert(
                &admin,
                pb::AddExpertRequest {
                    organization_id: org.to_string(),
                    name: name.into(),
                    email: format!("{local_id}@demo.ohjaus.invalid"),
                    language: "fi".into(),
                    virtu: Some(pb::VirtuIdentity {
                        home_organization: DEMO_VIRTU_HOME.into(),
                        local_id: local_id.into(),
                    }),
                    personal_identity_code: String::new(),
                    roles: vec![role as i32],
                    request_id: String::new(),
                },
            )
            .await?;
        if let Some((_, description)) = DEMO_LISTINGS.iter().find(|(listed, _)| *listed == local_id) {
            tenants
                .set_expert_listing(
                    &admin,
                    pb::SetExpertListingRequest {
                        organization_id: org.to_string(),
                        expert_id: expert.id.clone(),
                        listed: true,
                        description: (*description).into(),
                        expected_version: expert.version,
                    },
                )
                .await?;
        }
    }
    tracing::info!(organization = %org, "demo organisation seeded");
    Ok(true)
}
