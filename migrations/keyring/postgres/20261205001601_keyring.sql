-- A service's key store (schema <service>_keyring): the data key of each owner (a workspace, a
-- submission) that seals its content, wrapped by the key-encryption key named by kek_id. It
-- lives apart from the content and is backed up apart, with a short retention: deleting a row
-- makes every copy of the owner's content, in any content backup, unreadable.
CREATE TABLE data_keys (
    owner_kind TEXT NOT NULL,
    owner_id UUID NOT NULL,
    kek_id TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);

-- Present while deletions wait to be compacted out of the store's files (VACUUM FULL); the
-- generation grows with each deletion, so one made during a compaction stays due.
CREATE TABLE compaction_due (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
