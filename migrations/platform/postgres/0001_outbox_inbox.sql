-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id UUID PRIMARY KEY,
    subject TEXT NOT NULL,
    envelope BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Events a consumer has already applied, so a redelivery has no second effect.
CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    event_id UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Events that kept failing; kept for an operator, never silently dropped.
CREATE TABLE parked_events (
    consumer TEXT NOT NULL,
    event_id UUID NOT NULL,
    subject TEXT NOT NULL,
    envelope BYTEA NOT NULL,
    error TEXT NOT NULL,
    parked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
