-- New submissions announced to the receiving organisation's advisors, batched: who the advisors
-- are (a copy fed by the tenants service's events: ids only), which organisations have new
-- submissions not yet announced, and when each organisation's advisors were last mailed.
CREATE TABLE queue_advisors (
    organization_id UUID NOT NULL,
    person_id UUID NOT NULL,
    PRIMARY KEY (organization_id, person_id)
);

CREATE TABLE pending_announcements (
    organization_id UUID PRIMARY KEY,
    first_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE announcement_batches (
    organization_id UUID PRIMARY KEY,
    sent_at TIMESTAMPTZ NOT NULL
);
