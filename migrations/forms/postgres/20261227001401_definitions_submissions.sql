-- A form's definitions, one row per version (JSON: fields, languages, texts, topic, office,
-- origins, privacy link; no personal data). `forms.version` counts every change of the form
-- (its ETag); the current definition is the row with the highest version.
CREATE TABLE form_versions (
    form_id UUID NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (form_id, version)
);

ALTER TABLE forms ADD COLUMN updated_at TIMESTAMPTZ;

-- What visitors sent. The answers (and the reply address) are sealed with the submission's own
-- data key, which lives in the service's key store: deleting the key destroys every copy.
CREATE TABLE submissions (
    id UUID PRIMARY KEY,
    form_id UUID NOT NULL,
    form_version BIGINT NOT NULL,
    organization_id UUID NOT NULL,
    office_id UUID NOT NULL,
    topic TEXT NOT NULL,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    has_email BOOLEAN NOT NULL,
    sealed BYTEA NOT NULL,
    assignee_id UUID,
    workspace_id UUID,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX submissions_queue ON submissions (organization_id, id);
CREATE INDEX submissions_stale ON submissions (updated_at, id);

-- Proof-of-work solutions already used (each accepted once), kept until their challenge expires.
CREATE TABLE used_challenges (
    challenge TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX used_challenges_expiry ON used_challenges (expires_at);
