//! Live updates. One watcher per gateway process follows the workspaces service's events on
//! the bus (so it works the same when the gateway runs apart from the service) and fans them
//! out to the open Server-Sent-Event streams. Events carry ids only; each stream reads the
//! content as its own member, so what a member receives is exactly what they may read.

use std::sync::Arc;

use futures::StreamExt;
use ohjaus_platform::{
    events::{self, Bus, Event},
    proto::events::v1::{
        EventEnvelope, FileUploaded, ItemChanged, MemberAdded, MemberRemoved, MessageChanged, MessagePosted,
        SummaryChanged, WorkspaceArchived, WorkspaceClosed, WorkspaceDeleted, WorkspaceReopened, WorkspaceTransferred,
    },
};
use prost::Message as _;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Something changed in a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub workspace_id: String,
    pub kind: ChangeKind,
    /// The message, item, file or member concerned, if any.
    pub object_id: String,
    /// For a member: `expert` or `customer`; empty otherwise.
    pub member_kind: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    MessagePosted,
    MessageChanged,
    /// A phase, task, event or note was made, changed, done or deleted.
    ItemChanged,
    SummaryChanged,
    FileUploaded,
    MemberAdded,
    /// A member's access ended (consent withdrawn, participation ended): their streams close.
    MemberRemoved,
    /// Closed, reopened, archived, handed over: the workspace itself is to be re-read.
    WorkspaceChanged,
    WorkspaceDeleted,
}

/// The gateway's fan-out of workspace changes.
#[derive(Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<Change>,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub").field("streams", &self.sender.receiver_count()).finish()
    }
}

/// The event if the envelope holds one of type `E`; anything undecodable is no change.
fn decode<E: Event>(envelope: &EventEnvelope) -> Option<E> {
    events::decode(envelope).ok().flatten()
}

/// What an envelope means to live streams, if anything.
fn change_of(envelope: &EventEnvelope) -> Option<Change> {
    let change = |workspace_id: String, kind, object_id: String| {
        Some(Change { workspace_id, kind, object_id, member_kind: String::new() })
    };
    if let Some(e) = decode::<MessagePosted>(envelope) {
        return change(e.workspace_id, ChangeKind::MessagePosted, e.message_id);
    }
    if let Some(e) = decode::<MessageChanged>(envelope) {
        return change(e.workspace_id, ChangeKind::MessageChanged, e.message_id);
    }
    if let Some(e) = decode::<ItemChanged>(envelope) {
        return change(e.workspace_id, ChangeKind::ItemChanged, e.item_id);
    }
    if let Some(e) = decode::<SummaryChanged>(envelope) {
        return change(e.workspace_id, ChangeKind::SummaryChanged, String::new());
    }
    if let Some(e) = decode::<FileUploaded>(envelope) {
        return change(e.workspace_id, ChangeKind::FileUploaded, e.file_id);
    }
    let member = |workspace_id: String, kind, member_id: String, member_kind: String| {
        Some(Change { workspace_id, kind, object_id: member_id, member_kind })
    };
    if let Some(e) = decode::<MemberAdded>(envelope) {
        return member(e.workspace_id, ChangeKind::MemberAdded, e.member_id, e.member_kind);
    }
    if let Some(e) = decode::<MemberRemoved>(envelope) {
        return member(e.workspace_id, ChangeKind::MemberRemoved, e.member_id, e.member_kind);
    }
    if let Some(e) = decode::<WorkspaceDeleted>(envelope) {
        return change(e.workspace_id, ChangeKind::WorkspaceDeleted, String::new());
    }
    let workspace = decode::<WorkspaceClosed>(envelope)
        .map(|e| e.workspace_id)
        .or_else(|| decode::<WorkspaceReopened>(envelope).map(|e| e.workspace_id))
        .or_else(|| decode::<WorkspaceArchived>(envelope).map(|e| e.workspace_id))
        .or_else(|| decode::<WorkspaceTransferred>(envelope).map(|e| e.workspace_id))?;
    change(workspace, ChangeKind::WorkspaceChanged, String::new())
}

impl Change {
    /// Whether this change ends the access of the member `kind`/`id` (`expert` or `customer`).
    pub fn removes(&self, kind: &str, id: &str) -> bool {
        self.kind == ChangeKind::MemberRemoved && self.member_kind == kind && self.object_id == id
    }
}

impl LiveHub {
    /// Starts watching the bus; the task ends at `shutdown`.
    pub async fn start(
        bus: Arc<dyn Bus>,
        shutdown: CancellationToken,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), ohjaus_platform::events::BusError> {
        let (sender, _) = broadcast::channel(4096);
        let mut events = bus.watch("workspaces.>").await?;
        let hub = Self { sender: sender.clone() };
        let task = tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => return,
                    next = events.next() => next,
                };
                let Some((_, payload)) = next else { return };
                if let Some(change) = EventEnvelope::decode(payload).ok().as_ref().and_then(change_of) {
                    // Nobody listening is fine.
                    let _ = sender.send(change);
                }
            }
        });
        Ok((hub, task))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use ohjaus_platform::events::Event;

    use super::*;

    fn envelope<E: Event>(event: &E) -> EventEnvelope {
        EventEnvelope { r#type: E::TYPE.to_owned(), payload: event.encode_to_vec(), ..Default::default() }
    }

    #[test]
    fn a_removed_member_is_a_change_that_names_the_member() {
        let removed = MemberRemoved {
            organization_id: "org".into(),
            workspace_id: "ws".into(),
            member_kind: "expert".into(),
            member_id: "person".into(),
            reason: "withdrawn".into(),
        };
        let change = change_of(&envelope(&removed)).unwrap();
        assert_eq!(
            change,
            Change {
                workspace_id: "ws".into(),
                kind: ChangeKind::MemberRemoved,
                object_id: "person".into(),
                member_kind: "expert".into(),
            }
        );
        // Only that member's streams end: not another member, nor a customer with the same id.
        assert!(change.removes("expert", "person"));
        assert!(!change.removes("expert", "someone else"));
        assert!(!change.removes("customer", "person"));
    }

    #[test]
    fn other_changes_remove_nobody() {
        let added = MemberAdded {
            workspace_id: "ws".into(),
            member_kind: "expert".into(),
            member_id: "person".into(),
            ..Default::default()
        };
        let change = change_of(&envelope(&added)).unwrap();
        assert_eq!((change.kind, change.member_kind.as_str()), (ChangeKind::MemberAdded, "expert"));
        assert!(!change.removes("expert", "person"));
        let posted = MessagePosted { workspace_id: "ws".into(), message_id: "m".into(), ..Default::default() };
        assert!(!change_of(&envelope(&posted)).unwrap().removes("expert", "m"));
        // A broken payload is no change at all.
        let broken = EventEnvelope {
            r#type: MemberRemoved::TYPE.to_owned(),
            payload: vec![0xff, 0xff, 0xff],
            ..Default::default()
        };
        assert_eq!(change_of(&broken), None);
    }
}
