//! The gRPC face of the workspaces service. Each RPC hands the caller's principal and its
//! request to the handler of the same name in the module of its feature (`workspace`,
//! `messages`, `members`, `access_log`, `invitations`, `files`, `notify`, `export`,
//! `lifecycle`, `guidance`); the handler parses the request into a command, decides and writes.

use std::pin::Pin;

use futures::Stream;
use ohjaus_platform::{proto::workspaces::v1 as pb, unary};
use tonic::{Request, Response, Status, Streaming};

pub use crate::service::{Peers, Workspaces, WorkspacesConfig};

/// A streamed answer: its parts, or the status that ended it.
pub(crate) type PartStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::workspaces_service_server::WorkspacesService for Workspaces {
    type DownloadFileStream = PartStream<pb::DownloadFileResponse>;
    type ExportWorkspaceStream = PartStream<pb::ExportPart>;

    async fn create_workspace(&self, request: Request<pb::CreateWorkspaceRequest>) -> Answer<pb::Workspace> {
        unary!(self.create_workspace, request)
    }

    async fn get_workspace(&self, request: Request<pb::GetWorkspaceRequest>) -> Answer<pb::Workspace> {
        unary!(self.get_workspace, request)
    }

    async fn list_workspaces(&self, request: Request<pb::ListWorkspacesRequest>) -> Answer<pb::ListWorkspacesResponse> {
        unary!(self.list_workspaces, request)
    }

    async fn close_workspace(&self, request: Request<pb::ChangeStateRequest>) -> Answer<pb::Workspace> {
        unary!(self.close_workspace, request)
    }

    async fn reopen_workspace(&self, request: Request<pb::ChangeStateRequest>) -> Answer<pb::Workspace> {
        unary!(self.reopen_workspace, request)
    }

    async fn post_message(&self, request: Request<pb::PostMessageRequest>) -> Answer<pb::Message> {
        unary!(self.post_message, request)
    }

    async fn list_messages(&self, request: Request<pb::ListMessagesRequest>) -> Answer<pb::ListMessagesResponse> {
        unary!(self.list_messages, request)
    }

    async fn list_members(&self, request: Request<pb::ListMembersRequest>) -> Answer<pb::ListMembersResponse> {
        unary!(self.list_members, request)
    }

    async fn check_membership(
        &self,
        request: Request<pb::CheckMembershipRequest>,
    ) -> Answer<pb::CheckMembershipResponse> {
        unary!(self.check_membership, request)
    }

    async fn list_access_log(&self, request: Request<pb::ListAccessLogRequest>) -> Answer<pb::ListAccessLogResponse> {
        unary!(self.list_access_log, request)
    }

    async fn get_message(&self, request: Request<pb::GetMessageRequest>) -> Answer<pb::Message> {
        unary!(self.get_message, request)
    }

    async fn edit_message(&self, request: Request<pb::EditMessageRequest>) -> Answer<pb::Message> {
        unary!(self.edit_message, request)
    }

    async fn delete_message(&self, request: Request<pb::DeleteMessageRequest>) -> Answer<pb::Message> {
        unary!(self.delete_message, request)
    }

    async fn mark_read(&self, request: Request<pb::MarkReadRequest>) -> Answer<pb::ReadMarker> {
        unary!(self.mark_read, request)
    }

    async fn create_invitation(&self, request: Request<pb::CreateInvitationRequest>) -> Answer<pb::Invitation> {
        unary!(self.create_invitation, request)
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Answer<pb::ListInvitationsResponse> {
        unary!(self.list_invitations, request)
    }

    async fn resend_invitation(&self, request: Request<pb::InvitationRef>) -> Answer<pb::Invitation> {
        unary!(self.resend_invitation, request)
    }

    async fn revoke_invitation(&self, request: Request<pb::InvitationRef>) -> Answer<pb::Invitation> {
        unary!(self.revoke_invitation, request)
    }

    async fn check_invitation(
        &self,
        request: Request<pb::CheckInvitationRequest>,
    ) -> Answer<pb::CheckInvitationResponse> {
        unary!(self.check_invitation, request)
    }

    async fn accept_invitation(&self, request: Request<pb::AcceptInvitationRequest>) -> Answer<pb::Workspace> {
        unary!(self.accept_invitation, request)
    }

    async fn upload_file(&self, request: Request<Streaming<pb::UploadFileRequest>>) -> Answer<pb::File> {
        unary!(self.upload_file, request)
    }

    async fn list_files(&self, request: Request<pb::ListFilesRequest>) -> Answer<pb::ListFilesResponse> {
        unary!(self.list_files, request)
    }

    async fn download_file(&self, request: Request<pb::DownloadFileRequest>) -> Answer<Self::DownloadFileStream> {
        unary!(self.download_file, request)
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Answer<pb::ListNotificationsResponse> {
        unary!(self.list_notifications, request)
    }

    async fn mark_notifications_read(
        &self,
        request: Request<pb::MarkNotificationsReadRequest>,
    ) -> Answer<pb::MarkNotificationsReadResponse> {
        unary!(self.mark_notifications_read, request)
    }

    async fn export_workspace(
        &self,
        request: Request<pb::ExportWorkspaceRequest>,
    ) -> Answer<Self::ExportWorkspaceStream> {
        unary!(self.export_workspace, request)
    }

    async fn transfer_workspace(
        &self,
        request: Request<pb::TransferWorkspaceRequest>,
    ) -> Answer<pb::TransferWorkspaceResponse> {
        unary!(self.transfer_workspace, request)
    }

    async fn archive_workspace(&self, request: Request<pb::RetentionRequest>) -> Answer<pb::RetentionResponse> {
        unary!(self.archive_workspace, request)
    }

    async fn delete_workspace(&self, request: Request<pb::RetentionRequest>) -> Answer<pb::RetentionResponse> {
        unary!(self.delete_workspace, request)
    }

    async fn sweep_retention(&self, request: Request<pb::SweepRetentionRequest>) -> Answer<pb::SweepRetentionResponse> {
        unary!(self.sweep_retention, request)
    }

    async fn list_retention_customers(&self, request: Request<pb::RetentionRequest>) -> Answer<pb::RetentionCustomers> {
        unary!(self.list_retention_customers, request)
    }

    async fn count_customer_workspaces(
        &self,
        request: Request<pb::CustomerWorkspacesRequest>,
    ) -> Answer<pb::CustomerWorkspacesResponse> {
        unary!(self.count_customer_workspaces, request)
    }

    async fn create_item(&self, request: Request<pb::CreateItemRequest>) -> Answer<pb::Item> {
        unary!(self.create_item, request)
    }

    async fn get_item(&self, request: Request<pb::ItemRef>) -> Answer<pb::Item> {
        unary!(self.get_item, request)
    }

    async fn list_items(&self, request: Request<pb::ListItemsRequest>) -> Answer<pb::ListItemsResponse> {
        unary!(self.list_items, request)
    }

    async fn update_item(&self, request: Request<pb::UpdateItemRequest>) -> Answer<pb::Item> {
        unary!(self.update_item, request)
    }

    async fn set_task_done(&self, request: Request<pb::SetTaskDoneRequest>) -> Answer<pb::Item> {
        unary!(self.set_task_done, request)
    }

    async fn delete_item(&self, request: Request<pb::ItemRef>) -> Answer<pb::Item> {
        unary!(self.delete_item, request)
    }

    async fn get_summary(&self, request: Request<pb::GetSummaryRequest>) -> Answer<pb::Summary> {
        unary!(self.get_summary, request)
    }

    async fn put_summary(&self, request: Request<pb::PutSummaryRequest>) -> Answer<pb::Summary> {
        unary!(self.put_summary, request)
    }
}
