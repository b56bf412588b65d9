-- The advisors' queue: internal notes and email replies (sealed with the submission's key),
-- every read of a submission (who, when), and the organisation's canned answers.
CREATE TABLE submission_notes (
    id UUID PRIMARY KEY,
    submission_id UUID NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    author_id UUID NOT NULL,
    sealed BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX submission_notes_submission ON submission_notes (submission_id, id);

CREATE TABLE submission_replies (
    id UUID PRIMARY KEY,
    submission_id UUID NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    sender_id UUID NOT NULL,
    sealed BYTEA NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX submission_replies_submission ON submission_replies (submission_id, id);

CREATE TABLE submission_reads (
    id UUID PRIMARY KEY,
    submission_id UUID NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    reader_id UUID NOT NULL,
    read_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX submission_reads_submission ON submission_reads (submission_id, id);

-- Answer templates: no personal data (written by the organisation's staff).
CREATE TABLE canned_answers (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    title TEXT NOT NULL,
    texts TEXT NOT NULL,
    topics TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX canned_answers_organization ON canned_answers (organization_id, id);
