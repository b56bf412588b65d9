-- What each retention deletion of a workspace's converted submissions removed, by the retention decision's id
-- (never the workspace's): a repeated request answers the same without deleting anything twice.
CREATE TABLE retention_receipts (
    deletion_id UUID PRIMARY KEY,
    -- JSON object of counts by kind.
    counts TEXT NOT NULL,
    completed_at TIMESTAMPTZ NOT NULL
);
