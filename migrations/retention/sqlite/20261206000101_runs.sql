-- Each finished retention run (not dry runs): what it did, as counts by rule and action. The
-- long-running retention target publishes the newest as metrics, so a run made by the CronJob's
-- short-lived process is seen by the scraper too. No ids, no personal data.
CREATE TABLE runs (
    id BLOB PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    -- JSON object: "rule/action" -> count.
    counts TEXT NOT NULL
);
CREATE INDEX runs_finished ON runs (finished_at);
