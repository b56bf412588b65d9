-- The advisors' queue: internal notes and email replies (sealed with the submission's key),
-- every read of a submission (who, when), and the organisation's canned answers.
CREATE TABLE submission_notes (
    id BLOB PRIMARY KEY NOT NULL,
    submission_id BLOB NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    author_id BLOB NOT NULL,
    sealed BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX submission_notes_submission ON submission_notes (submission_id, id);

CREATE TABLE submission_replies (
    id BLOB PRIMARY KEY NOT NULL,
    submission_id BLOB NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    sender_id BLOB NOT NULL,
    sealed BLOB NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX submission_replies_submission ON submission_replies (submission_id, id);

CREATE TABLE submission_reads (
    id BLOB PRIMARY KEY NOT NULL,
    submission_id BLOB NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    reader_id BLOB NOT NULL,
    read_at TEXT NOT NULL
);
CREATE INDEX submission_reads_submission ON submission_reads (submission_id, id);

-- Answer templates: no personal data (written by the organisation's staff).
CREATE TABLE canned_answers (
    id BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    title TEXT NOT NULL,
    texts TEXT NOT NULL,
    topics TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX canned_answers_organization ON canned_answers (organization_id, id);
