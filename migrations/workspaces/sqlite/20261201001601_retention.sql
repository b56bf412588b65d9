-- Retention: when a workspace was archived, and when its members were told that it will close
-- or be archived (each told once per period: a notice counts only if it is newer than the
-- customers' last visit, or than the closing).
ALTER TABLE workspaces ADD COLUMN archived_at TEXT;
ALTER TABLE workspaces ADD COLUMN close_notice_at TEXT;
ALTER TABLE workspaces ADD COLUMN archive_notice_at TEXT;
-- The retention sweeps walk one state in id order.
CREATE INDEX workspaces_state ON workspaces (state, id);

-- What each retention deletion removed, by the retention decision's id (never the workspace's):
-- a repeated request answers the same without deleting anything twice.
CREATE TABLE retention_receipts (
    deletion_id BLOB PRIMARY KEY,
    -- JSON object of counts by kind.
    counts TEXT NOT NULL,
    completed_at TEXT NOT NULL
);

-- A deletion removes a workspace's notifications and queued mail by workspace.
CREATE INDEX notifications_workspace ON notifications (workspace_id);
CREATE INDEX outgoing_mail_workspace ON outgoing_mail (workspace_id);
