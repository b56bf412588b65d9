-- Rounds: one customer's answers to one instrument version in one workspace. The answers are
-- sealed with the workspace's data key (the service's key store); NULL until first saved.
CREATE TABLE rounds (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL,
    customer_id BLOB NOT NULL,
    kind TEXT NOT NULL,
    instrument_id TEXT NOT NULL,
    instrument_version INTEGER NOT NULL,
    asked_by BLOB NOT NULL,
    asked_at TEXT NOT NULL,
    submitted_at TEXT,
    answers_sealed BLOB,
    version INTEGER NOT NULL
);
CREATE INDEX rounds_workspace ON rounds (workspace_id, asked_at, id);
