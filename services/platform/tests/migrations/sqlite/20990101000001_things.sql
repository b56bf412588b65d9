-- A tiny service of the platform's own tests.
CREATE TABLE things (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    flag INTEGER NOT NULL,
    payload TEXT NOT NULL,
    at TEXT NOT NULL,
    counter INTEGER NOT NULL,
    note TEXT
);

-- One row per effect of an event handler; no key, so a second effect would show.
CREATE TABLE applied (
    event_id BLOB NOT NULL,
    consumer TEXT NOT NULL,
    name TEXT NOT NULL
);
