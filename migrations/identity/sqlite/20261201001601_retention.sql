-- What each retention deletion of a customer account removed, by the retention decision's id
-- (never the account's): a repeated request answers the same without deleting anything twice.
CREATE TABLE retention_receipts (
    deletion_id BLOB PRIMARY KEY,
    -- JSON object of counts by kind.
    counts TEXT NOT NULL,
    completed_at TEXT NOT NULL
);
-- The login audit is kept for a configured period, then removed oldest first.
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_session ON audit_log (session_id);
