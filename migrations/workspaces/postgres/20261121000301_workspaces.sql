-- A guided workspace. Its title and all content are sealed with its own data key, which is
-- stored only wrapped by the key-encryption key; deleting the workspace destroys the key.
CREATE TABLE workspaces (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    office_id UUID NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('personal', 'group')),
    title_sealed BYTEA NOT NULL,
    -- Comma-separated topic codes.
    topics TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'closed', 'archived')),
    owner_id UUID NOT NULL,
    data_key BYTEA NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    -- The customer's last login to this workspace: the retention rule counts from it.
    customer_last_seen_at TIMESTAMPTZ
);
CREATE INDEX workspaces_organization ON workspaces (organization_id);

-- Who may read a workspace. Experts by person id, customers by customer account id.
CREATE TABLE members (
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_kind TEXT NOT NULL CHECK (member_kind IN ('expert', 'customer')),
    member_id UUID NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'guide', 'expert', 'customer')),
    added_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, member_kind, member_id)
);
CREATE INDEX members_member ON members (member_kind, member_id);

-- A message: body and author name sealed together with the workspace key.
CREATE TABLE messages (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    author_kind TEXT NOT NULL CHECK (author_kind IN ('expert', 'customer')),
    author_id UUID NOT NULL,
    sealed BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX messages_workspace ON messages (workspace_id, id);

-- Every read of workspace content: who (kind, id, role, organisation), what, when.
CREATE TABLE access_log (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at TIMESTAMPTZ NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    organization_id UUID,
    what TEXT NOT NULL
);
CREATE INDEX access_log_workspace ON access_log (workspace_id, id);

-- Creating requests already answered, per caller and key (Idempotency-Key).
CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    operation TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (caller, operation, request_id)
);
