-- Reports and feedback (issue 15). No table here holds a name, a text in the clear or an id a
-- person is known by: reports read de-identified facts, never the sealed answers.

-- Where a workspace belongs (organisation and office), as the workspaces service told when one
-- of its rounds or feedback was first taken into the reports. Deleted with the workspace.
CREATE TABLE report_placements (
    workspace_id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    office_id UUID NOT NULL
);

-- Which submitted rounds are already in report_answers (no values here).
CREATE TABLE report_intake (
    round_id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL
);
CREATE INDEX report_intake_workspace ON report_intake (workspace_id);

-- One answered item of one submitted round: the value, the month, the place and a pseudonym of
-- the customer (a one-way hash, the same in every workspace), never her id. Deleted with the
-- workspace (workspace_id).
CREATE TABLE report_answers (
    organization_id UUID NOT NULL,
    office_id UUID NOT NULL,
    workspace_id UUID NOT NULL,
    month TEXT NOT NULL,
    answered_at TIMESTAMPTZ NOT NULL,
    instrument_id TEXT NOT NULL,
    item BIGINT NOT NULL,
    customer_key BIGINT NOT NULL,
    value BIGINT NOT NULL
);
CREATE INDEX report_answers_scope ON report_answers (instrument_id, month, organization_id);
CREATE INDEX report_answers_workspace ON report_answers (workspace_id);

-- Feedback on guidance: the rated statements as facts like answers (no link to a round).
CREATE TABLE feedback_ratings (
    organization_id UUID NOT NULL,
    office_id UUID NOT NULL,
    workspace_id UUID NOT NULL,
    month TEXT NOT NULL,
    given_at TIMESTAMPTZ NOT NULL,
    statement BIGINT NOT NULL,
    customer_key BIGINT NOT NULL,
    value BIGINT NOT NULL
);
CREATE INDEX feedback_ratings_scope ON feedback_ratings (month, organization_id);
CREATE INDEX feedback_ratings_workspace ON feedback_ratings (workspace_id);

-- Feedback's free text, sealed with the workspace's data key; shown only inside a published
-- cell of a report, in random order, with nothing finer than the period.
CREATE TABLE feedback_texts (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    office_id UUID NOT NULL,
    workspace_id UUID NOT NULL,
    month TEXT NOT NULL,
    customer_key BIGINT NOT NULL,
    text_sealed BYTEA NOT NULL
);
CREATE INDEX feedback_texts_scope ON feedback_texts (month, organization_id);
CREATE INDEX feedback_texts_workspace ON feedback_texts (workspace_id);

-- A published monthly report, frozen: the already-suppressed aggregates (an encoded Report
-- without free texts), so that it outlives the deletion of the answers behind it.
CREATE TABLE frozen_reports (
    scope TEXT NOT NULL,
    instrument_id TEXT NOT NULL,
    period TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    content BYTEA NOT NULL,
    frozen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, instrument_id, period, threshold)
);
