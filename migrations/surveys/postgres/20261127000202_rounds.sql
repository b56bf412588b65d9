-- Rounds: one customer's answers to one instrument version in one workspace. The answers are
-- sealed with the workspace's data key (the service's key store); NULL until first saved.
CREATE TABLE rounds (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL,
    customer_id UUID NOT NULL,
    kind TEXT NOT NULL,
    instrument_id TEXT NOT NULL,
    instrument_version BIGINT NOT NULL,
    asked_by UUID NOT NULL,
    asked_at TIMESTAMPTZ NOT NULL,
    submitted_at TIMESTAMPTZ,
    answers_sealed BYTEA,
    version BIGINT NOT NULL
);
CREATE INDEX rounds_workspace ON rounds (workspace_id, asked_at, id);
