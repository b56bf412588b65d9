-- The evidence of each deletion: what was deleted (ids only), by which rule, when it was
-- decided and when every service had answered. No personal data and no content.
CREATE TABLE deletions (
    id BLOB PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject_id BLOB NOT NULL,
    rule TEXT NOT NULL,
    -- When the rule made it due, and when retention decided.
    due_at TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    completed_at TEXT,
    -- A run's claim: until then no other run takes it (a killed run's claim lapses).
    claimed_until TEXT,
    UNIQUE (subject_kind, subject_id)
);
CREATE INDEX deletions_open ON deletions (completed_at, id);

-- One service's part of a deletion: asked until it answers, its answer kept once.
CREATE TABLE deletion_steps (
    deletion_id BLOB NOT NULL REFERENCES deletions (id),
    service TEXT NOT NULL,
    -- What the service deletes: the workspace, or a customer account.
    target_id BLOB NOT NULL,
    position INTEGER NOT NULL,
    -- pending, deleted, or kept (a customer account still in another workspace).
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'deleted', 'kept')),
    -- JSON object of counts by kind.
    counts TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (deletion_id, service, target_id)
);
