-- The consent service's data key of each workspace it has seen, stored only wrapped by the
-- key-encryption key, and the workspace's organisation (the controller). Deleting the row
-- makes every sealed purpose text of the workspace unreadable.
CREATE TABLE workspace_keys (
    workspace_id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    data_key BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- A proposal of an expert for one customer of a workspace, and its decision. The purpose and
-- what the customer is shown of the expert are sealed with the workspace's data key.
CREATE TABLE consent_requests (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspace_keys (workspace_id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    customer_id UUID NOT NULL,
    expert_id UUID NOT NULL,
    expert_organization_id UUID NOT NULL,
    details_sealed BYTEA NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('fi', 'sv', 'en')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected', 'withdrawn', 'ended')),
    requested_by UUID NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ,
    visible_from TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    version BIGINT NOT NULL
);
CREATE INDEX consent_requests_workspace ON consent_requests (workspace_id, id);
-- One live proposal or participation per expert and customer of a workspace.
CREATE UNIQUE INDEX consent_requests_live ON consent_requests (workspace_id, customer_id, expert_id)
    WHERE state IN ('pending', 'accepted');

-- The append-only ledger: one chain per workspace. Each entry's MAC is HMAC-SHA256 (ledger
-- key) over the canonical encoding of all its fields, the previous entry's MAC included.
CREATE TABLE ledger_entries (
    workspace_id UUID NOT NULL REFERENCES workspace_keys (workspace_id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    id UUID NOT NULL UNIQUE,
    at TIMESTAMPTZ NOT NULL,
    action TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    request_id UUID NOT NULL,
    organization_id UUID NOT NULL,
    customer_id UUID NOT NULL,
    expert_id UUID NOT NULL,
    expert_organization_id UUID NOT NULL,
    purpose_sealed BYTEA NOT NULL,
    visible_from TIMESTAMPTZ,
    prev_mac BYTEA NOT NULL,
    mac BYTEA NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);

-- The last entry of each workspace's chain, updated with every append.
CREATE TABLE ledger_heads (
    workspace_id UUID PRIMARY KEY REFERENCES workspace_keys (workspace_id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL,
    last_mac BYTEA NOT NULL
);

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
