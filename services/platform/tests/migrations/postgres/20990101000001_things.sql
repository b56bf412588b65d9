-- A tiny service of the platform's own tests.
CREATE TABLE things (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    flag BOOLEAN NOT NULL,
    payload JSONB NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    counter BIGINT NOT NULL,
    note TEXT
);

-- One row per effect of an event handler; no key, so a second effect would show.
CREATE TABLE applied (
    event_id UUID NOT NULL,
    consumer TEXT NOT NULL,
    name TEXT NOT NULL
);
