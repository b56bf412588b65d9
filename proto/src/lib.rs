//! Generated protobuf types and gRPC stubs of every Ohjaus service and event.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub use prost_types;

/// Encoded `FileDescriptorSet` of every package, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

pub mod tenants {
    pub mod v1 {
        tonic::include_proto!("ohjaus.tenants.v1");
    }
}

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("ohjaus.identity.v1");
    }
}

pub mod workspaces {
    pub mod v1 {
        tonic::include_proto!("ohjaus.workspaces.v1");
    }
}

pub mod consent {
    pub mod v1 {
        tonic::include_proto!("ohjaus.consent.v1");
    }
}

pub mod forms {
    pub mod v1 {
        tonic::include_proto!("ohjaus.forms.v1");
    }
}

pub mod surveys {
    pub mod v1 {
        tonic::include_proto!("ohjaus.surveys.v1");
    }
}

pub mod retention {
    pub mod v1 {
        tonic::include_proto!("ohjaus.retention.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("ohjaus.events.v1");
    }
}

/// A protobuf event message with its type name and bus subject (`<service>.<event>`).
pub trait Event: prost::Message + Default {
    const TYPE: &'static str;
    const SUBJECT: &'static str;
}

macro_rules! events {
    (service $service:literal; $($ty:ident => $name:literal),* $(,)?) => {
        $(impl Event for events::v1::$ty {
            const TYPE: &'static str = concat!("ohjaus.events.v1.", stringify!($ty));
            const SUBJECT: &'static str = concat!($service, ".", $name);
        })*
    };
}

events! {
    service "tenants";
    OrganizationCreated => "organization_created",
    OrganizationUpdated => "organization_updated",
    OrganizationSuspended => "organization_suspended",
    OrganizationReactivated => "organization_reactivated",
    OfficeCreated => "office_created",
    OfficeRenamed => "office_renamed",
    OfficeDeleted => "office_deleted",
    ExpertAdded => "expert_added",
    ExpertRolesChanged => "expert_roles_changed",
    ExpertRemoved => "expert_removed",
    ExpertListingChanged => "expert_listing_changed",
    IntegrationClientCreated => "integration_client_created",
    IntegrationClientRevoked => "integration_client_revoked",
}

events! {
    service "workspaces";
    WorkspaceCreated => "workspace_created",
    WorkspaceClosed => "workspace_closed",
    WorkspaceReopened => "workspace_reopened",
    MessagePosted => "message_posted",
    MessageChanged => "message_changed",
    MemberAdded => "member_added",
    MemberRemoved => "member_removed",
    FileUploaded => "file_uploaded",
    WorkspaceTransferred => "workspace_transferred",
    WorkspaceArchived => "workspace_archived",
    WorkspaceDeleted => "workspace_deleted",
    ItemChanged => "item_changed",
    SummaryChanged => "summary_changed",
}

events! {
    service "consent";
    ConsentRequested => "consent_requested",
    ConsentAccepted => "consent_accepted",
    ConsentRejected => "consent_rejected",
    ConsentWithdrawn => "consent_withdrawn",
    ConsentEnded => "consent_ended",
}

events! {
    service "forms";
    FormCreated => "form_created",
    FormUpdated => "form_updated",
    FormPublished => "form_published",
    SubmissionReceived => "submission_received",
    SubmissionConverted => "submission_converted",
}

events! {
    service "surveys";
    InstrumentLoaded => "instrument_loaded",
    RoundAsked => "round_asked",
    RoundSubmitted => "round_submitted",
}

events! {
    service "retention";
    DeletionRequested => "deletion_requested",
}
