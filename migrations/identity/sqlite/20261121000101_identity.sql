-- A citizen's account, created only when they accept an invitation to a workspace.
CREATE TABLE customer_accounts (
    id BLOB PRIMARY KEY,
    -- HMAC of the personal identity code; the code itself is never stored.
    identity_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_login_at TEXT
);

-- A login under way: the browser is at the identity provider.
CREATE TABLE login_transactions (
    -- SHA-256 of the `state` parameter.
    state_hash TEXT PRIMARY KEY,
    -- SHA-256 of the secret kept in the starting browser's cookie (login CSRF protection).
    binding_hash TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    language TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    id BLOB PRIMARY KEY,
    -- SHA-256 of the 256-bit session token; the token itself lives only in the cookie.
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('operator', 'expert', 'customer')),
    subject TEXT NOT NULL,
    display_name TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT
);
CREATE INDEX sessions_subject ON sessions (kind, subject);

-- Every login, logout, failure and refusal: never an identity code or a token.
CREATE TABLE audit_log (
    id BLOB PRIMARY KEY,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    principal_kind TEXT,
    tenant_ids TEXT NOT NULL,
    session_id BLOB
);
