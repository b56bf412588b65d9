-- Guidance items of a workspace: phases, tasks, events and notes. What they say (title, body,
-- location, the author's name) is sealed with the workspace key; what the service sorts and
-- decides by (kind, status, dates, who may read) is in the clear. A deleted item keeps its row
-- with its sealed content emptied, so live streams and lists can tell it is gone.
CREATE TABLE guidance_items (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('phase', 'task', 'event', 'note')),
    thread_id UUID,
    author_kind TEXT NOT NULL,
    author_id UUID NOT NULL,
    private BOOLEAN NOT NULL,
    phase_status TEXT CHECK (phase_status IN ('planned', 'current', 'done')),
    due_on DATE,
    assignee TEXT CHECK (assignee IN ('customer', 'guides')),
    completed_at TIMESTAMPTZ,
    completed_by_kind TEXT,
    completed_by UUID,
    starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ,
    sealed BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    version BIGINT NOT NULL
);
CREATE INDEX guidance_items_workspace ON guidance_items (workspace_id, kind, id);

-- The guidance summary: one text per workspace, sealed.
CREATE TABLE summaries (
    workspace_id UUID PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    sealed BYTEA NOT NULL,
    updated_by_kind TEXT NOT NULL,
    updated_by UUID NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    version BIGINT NOT NULL
);
