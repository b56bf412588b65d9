-- Content sealed with a data key kept beside it, as services kept theirs before the key store.
CREATE TABLE legacy_sealed (
    id UUID PRIMARY KEY,
    data_key BYTEA NOT NULL,
    sealed BYTEA NOT NULL
);
