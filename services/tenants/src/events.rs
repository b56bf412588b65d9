//! Events the tenants service publishes (declared with their subjects in `ohjaus-proto`).
//! They carry identifiers, not personal data.

pub use ohjaus_platform::proto::events::v1::{
    ExpertAdded, ExpertListingChanged, ExpertRemoved, ExpertRolesChanged, IntegrationClientCreated,
    IntegrationClientRevoked, OfficeCreated, OfficeDeleted, OfficeRenamed, OrganizationCreated,
    OrganizationReactivated, OrganizationSuspended, OrganizationUpdated,
};
