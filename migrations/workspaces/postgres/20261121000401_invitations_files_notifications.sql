-- Members' contact details (name, email, language), sealed with the workspace key: names for
-- the access log, addresses for notifications.
ALTER TABLE members ADD COLUMN contact_sealed BYTEA;

-- In a group workspace each customer has a private thread with the guides: thread_id is that
-- customer's id. NULL is the whole workspace (every message of a personal workspace, the
-- guides' announcements in a group).
ALTER TABLE messages ADD COLUMN thread_id UUID;
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN edited_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- An invitation to a workspace. The link's secret is stored only as a hash; the address and
-- language are sealed. A bound invitation names the only customer account that may accept.
CREATE TABLE invitations (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    contact_sealed BYTEA NOT NULL,
    bound_customer_id UUID,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    invited_by UUID NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    sent_count BIGINT NOT NULL,
    accepted_by UUID,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, id);

-- An attachment. Its bytes are sealed in the object store under object_key; its name here.
CREATE TABLE files (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    thread_id UUID,
    name_sealed BYTEA NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    uploaded_by_kind TEXT NOT NULL,
    uploaded_by UUID NOT NULL,
    object_key TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX files_workspace ON files (workspace_id, id);

-- How far each member has read.
CREATE TABLE read_markers (
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_kind TEXT NOT NULL,
    member_id UUID NOT NULL,
    last_read_message_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, member_kind, member_id)
);

-- In-app notifications; mailed_at marks those a batched email has announced.
CREATE TABLE notifications (
    id UUID PRIMARY KEY,
    recipient_kind TEXT NOT NULL,
    recipient_id UUID NOT NULL,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at TIMESTAMPTZ,
    mailed_at TIMESTAMPTZ
);
CREATE INDEX notifications_recipient ON notifications (recipient_kind, recipient_id, id);
CREATE INDEX notifications_unmailed ON notifications (mailed_at, created_at);

-- When each person was last mailed, so a busy conversation sends one mail per window.
CREATE TABLE mail_state (
    recipient_kind TEXT NOT NULL,
    recipient_id UUID NOT NULL,
    last_mailed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (recipient_kind, recipient_id)
);

-- Mail waiting to be sent, sealed with its workspace's key (it may hold an invitation link).
CREATE TABLE outgoing_mail (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    sealed BYTEA NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at);
