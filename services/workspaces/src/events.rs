//! Events the workspaces service publishes (declared with their subjects in `ohjaus-proto`).
//! Identifiers and states only, never content.

pub use ohjaus_platform::proto::events::v1::{
    FileUploaded, ItemChanged, MemberAdded, MemberRemoved, MessageChanged, MessagePosted, SummaryChanged,
    WorkspaceArchived, WorkspaceClosed, WorkspaceCreated, WorkspaceDeleted, WorkspaceReopened, WorkspaceTransferred,
};
