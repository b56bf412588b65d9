-- Content sealed with a data key kept beside it, as services kept theirs before the key store.
CREATE TABLE legacy_sealed (
    id BLOB PRIMARY KEY,
    data_key BLOB NOT NULL,
    sealed BLOB NOT NULL
);
