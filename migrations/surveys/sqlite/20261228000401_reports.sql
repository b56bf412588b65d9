-- Reports and feedback (issue 15). No table here holds a name, a text in the clear or an id a
-- person is known by: reports read de-identified facts, never the sealed answers.

-- Where a workspace belongs (organisation and office), as the workspaces service told when one
-- of its rounds or feedback was first taken into the reports. Deleted with the workspace.
CREATE TABLE report_placements (
    workspace_id BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    office_id BLOB NOT NULL
);

-- Which submitted rounds are already in report_answers (no values here).
CREATE TABLE report_intake (
    round_id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL
);
CREATE INDEX report_intake_workspace ON report_intake (workspace_id);

-- One answered item of one submitted round: the value, the month, the place and a pseudonym of
-- the customer (a one-way hash, the same in every workspace), never her id. Deleted with the
-- workspace (workspace_id).
CREATE TABLE report_answers (
    organization_id BLOB NOT NULL,
    office_id BLOB NOT NULL,
    workspace_id BLOB NOT NULL,
    month TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    instrument_id TEXT NOT NULL,
    item INTEGER NOT NULL,
    customer_key INTEGER NOT NULL,
    value INTEGER NOT NULL
);
CREATE INDEX report_answers_scope ON report_answers (instrument_id, month, organization_id);
CREATE INDEX report_answers_workspace ON report_answers (workspace_id);

-- Feedback on guidance: the rated statements as facts like answers (no link to a round).
CREATE TABLE feedback_ratings (
    organization_id BLOB NOT NULL,
    office_id BLOB NOT NULL,
    workspace_id BLOB NOT NULL,
    month TEXT NOT NULL,
    given_at TEXT NOT NULL,
    statement INTEGER NOT NULL,
    customer_key INTEGER NOT NULL,
    value INTEGER NOT NULL
);
CREATE INDEX feedback_ratings_scope ON feedback_ratings (month, organization_id);
CREATE INDEX feedback_ratings_workspace ON feedback_ratings (workspace_id);

-- Feedback's free text, sealed with the workspace's data key; shown only inside a published
-- cell of a report, in random order, with nothing finer than the period.
CREATE TABLE feedback_texts (
    id BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    office_id BLOB NOT NULL,
    workspace_id BLOB NOT NULL,
    month TEXT NOT NULL,
    customer_key INTEGER NOT NULL,
    text_sealed BLOB NOT NULL
);
CREATE INDEX feedback_texts_scope ON feedback_texts (month, organization_id);
CREATE INDEX feedback_texts_workspace ON feedback_texts (workspace_id);

-- A published monthly report, frozen: the already-suppressed aggregates (an encoded Report
-- without free texts), so that it outlives the deletion of the answers behind it.
CREATE TABLE frozen_reports (
    scope TEXT NOT NULL,
    instrument_id TEXT NOT NULL,
    period TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    content BLOB NOT NULL,
    frozen_at TEXT NOT NULL,
    PRIMARY KEY (scope, instrument_id, period, threshold)
);
