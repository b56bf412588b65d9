-- Members' contact details (name, email, language), sealed with the workspace key: names for
-- the access log, addresses for notifications.
ALTER TABLE members ADD COLUMN contact_sealed BLOB;

-- In a group workspace each customer has a private thread with the guides: thread_id is that
-- customer's id. NULL is the whole workspace (every message of a personal workspace, the
-- guides' announcements in a group).
ALTER TABLE messages ADD COLUMN thread_id BLOB;
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN edited_at TEXT;
ALTER TABLE messages ADD COLUMN deleted_at TEXT;
ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- An invitation to a workspace. The link's secret is stored only as a hash; the address and
-- language are sealed. A bound invitation names the only customer account that may accept.
CREATE TABLE invitations (
    id BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    contact_sealed BLOB NOT NULL,
    bound_customer_id BLOB,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    invited_by BLOB NOT NULL,
    expires_at TEXT NOT NULL,
    sent_count INTEGER NOT NULL,
    accepted_by BLOB,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, id);

-- An attachment. Its bytes are sealed in the object store under object_key; its name here.
CREATE TABLE files (
    id BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    thread_id BLOB,
    name_sealed BLOB NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded_by_kind TEXT NOT NULL,
    uploaded_by BLOB NOT NULL,
    object_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX files_workspace ON files (workspace_id, id);

-- How far each member has read.
CREATE TABLE read_markers (
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_kind TEXT NOT NULL,
    member_id BLOB NOT NULL,
    last_read_message_id BLOB NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, member_kind, member_id)
);

-- In-app notifications; mailed_at marks those a batched email has announced.
CREATE TABLE notifications (
    id BLOB PRIMARY KEY,
    recipient_kind TEXT NOT NULL,
    recipient_id BLOB NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject_id BLOB NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT,
    mailed_at TEXT
);
CREATE INDEX notifications_recipient ON notifications (recipient_kind, recipient_id, id);
CREATE INDEX notifications_unmailed ON notifications (mailed_at, created_at);

-- When each person was last mailed, so a busy conversation sends one mail per window.
CREATE TABLE mail_state (
    recipient_kind TEXT NOT NULL,
    recipient_id BLOB NOT NULL,
    last_mailed_at TEXT NOT NULL,
    PRIMARY KEY (recipient_kind, recipient_id)
);

-- Mail waiting to be sent, sealed with its workspace's key (it may hold an invitation link).
CREATE TABLE outgoing_mail (
    id BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at);
