-- An organisation's contact forms. Today the skeleton: a name and whether visitors can use it.
CREATE TABLE forms (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    name TEXT NOT NULL,
    published BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX forms_organization ON forms (organization_id, id);

-- Idempotency keys of creating requests (see ohjaus_platform::idempotency).
CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    operation TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (caller, operation, request_id)
);
