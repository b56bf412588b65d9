-- The provider's handle on a login, so single logout can name it in either direction
-- (SAML NameID and SessionIndex; transient identifiers, not identity codes).
ALTER TABLE sessions ADD COLUMN idp_name_id TEXT;
ALTER TABLE sessions ADD COLUMN idp_name_id_format TEXT;
ALTER TABLE sessions ADD COLUMN idp_session_index TEXT;
CREATE INDEX sessions_idp_name_id ON sessions (provider_id, idp_name_id);

-- SAML message ids we must remember for a while: assertions already used (kind 'assertion',
-- refused if presented again) and logout requests we sent (kind 'logout', until answered).
CREATE TABLE saml_messages (
    provider_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('assertion', 'logout')),
    message_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (provider_id, kind, message_id)
);
CREATE INDEX saml_messages_expiry ON saml_messages (expires_at);
