CREATE TABLE organizations (
    id BLOB PRIMARY KEY,
    official_name TEXT NOT NULL,
    display_name_fi TEXT NOT NULL,
    display_name_sv TEXT,
    display_name_en TEXT,
    business_id TEXT NOT NULL UNIQUE,
    website TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    contact_phone TEXT,
    dpo_name TEXT NOT NULL,
    dpo_email TEXT NOT NULL,
    privacy_notice_fi TEXT NOT NULL,
    privacy_notice_sv TEXT,
    privacy_notice_en TEXT,
    data_request_url TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE offices (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (organization_id, name)
);

-- A person who works as an expert; identity links are unique across the platform.
CREATE TABLE persons (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    language TEXT NOT NULL,
    virtu_home_organization TEXT,
    virtu_local_id TEXT,
    -- HMAC of the personal identity code; the code itself is never stored.
    suomifi_hash TEXT UNIQUE,
    created_at TEXT NOT NULL,
    UNIQUE (virtu_home_organization, virtu_local_id)
);

CREATE TABLE memberships (
    person_id BLOB NOT NULL REFERENCES persons (id),
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    roles TEXT NOT NULL,
    version INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (organization_id, person_id)
);
CREATE INDEX memberships_person ON memberships (person_id);

CREATE TABLE integration_clients (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    -- SHA-256 of a 256-bit random secret.
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX integration_clients_org ON integration_clients (organization_id);

-- Creating requests already answered, so a retry returns the first result.
CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    operation TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (caller, operation, request_id)
);
