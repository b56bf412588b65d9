-- A form's definitions, one row per version (JSON: fields, languages, texts, topic, office,
-- origins, privacy link; no personal data). `forms.version` counts every change of the form
-- (its ETag); the current definition is the row with the highest version.
CREATE TABLE form_versions (
    form_id BLOB NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (form_id, version)
);

ALTER TABLE forms ADD COLUMN updated_at TEXT;

-- What visitors sent. The answers (and the reply address) are sealed with the submission's own
-- data key, which lives in the service's key store: deleting the key destroys every copy.
CREATE TABLE submissions (
    id BLOB PRIMARY KEY NOT NULL,
    form_id BLOB NOT NULL,
    form_version INTEGER NOT NULL,
    organization_id BLOB NOT NULL,
    office_id BLOB NOT NULL,
    topic TEXT NOT NULL,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    has_email INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    assignee_id BLOB,
    workspace_id BLOB,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX submissions_queue ON submissions (organization_id, id);
CREATE INDEX submissions_stale ON submissions (updated_at, id);

-- Proof-of-work solutions already used (each accepted once), kept until their challenge expires.
CREATE TABLE used_challenges (
    challenge TEXT PRIMARY KEY NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX used_challenges_expiry ON used_challenges (expires_at);
