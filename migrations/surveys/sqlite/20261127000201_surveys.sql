-- Instruments (the 3X10D meter and its later versions): versioned data, never edited in place.
-- `content` is the parsed instrument as JSON; a version once stored keeps it for good.
CREATE TABLE instruments (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

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
