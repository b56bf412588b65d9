-- Guidance items of a workspace: phases, tasks, events and notes. What they say (title, body,
-- location, the author's name) is sealed with the workspace key; what the service sorts and
-- decides by (kind, status, dates, who may read) is in the clear. A deleted item keeps its row
-- with its sealed content emptied, so live streams and lists can tell it is gone.
CREATE TABLE guidance_items (
    id BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('phase', 'task', 'event', 'note')),
    thread_id BLOB,
    author_kind TEXT NOT NULL,
    author_id BLOB NOT NULL,
    private INTEGER NOT NULL,
    phase_status TEXT CHECK (phase_status IN ('planned', 'current', 'done')),
    due_on TEXT,
    assignee TEXT CHECK (assignee IN ('customer', 'guides')),
    completed_at TEXT,
    completed_by_kind TEXT,
    completed_by BLOB,
    starts_at TEXT,
    ends_at TEXT,
    sealed BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX guidance_items_workspace ON guidance_items (workspace_id, kind, id);

-- The guidance summary: one text per workspace, sealed.
CREATE TABLE summaries (
    workspace_id BLOB PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    updated_by_kind TEXT NOT NULL,
    updated_by BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
