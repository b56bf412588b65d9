-- An organisation's contact forms. Today the skeleton: a name and whether visitors can use it.
CREATE TABLE forms (
    id BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    name TEXT NOT NULL,
    published INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX forms_organization ON forms (organization_id, id);

-- Idempotency keys of creating requests (see ohjaus_platform::idempotency).
CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    operation TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (caller, operation, request_id)
);
