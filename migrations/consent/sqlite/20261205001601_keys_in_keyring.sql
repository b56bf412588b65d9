-- Consent's data keys live in the key store (schema consent_keyring / keyring/consent.db), apart
-- from the content, so a backup of this database holds ciphertext only; workspace_keys keeps each
-- workspace's organisation (the controller) and anchors its requests and ledger. The binary
-- moves every key there (platform::keyring::migrate_with_keyring) and empties it here before
-- this runs; this refuses to run while any key is left here, so none is lost.
CREATE TEMPORARY TABLE keys_left_in_consent (n BIGINT NOT NULL CHECK (n = 0));
INSERT INTO keys_left_in_consent SELECT COUNT(*) FROM workspace_keys WHERE length(data_key) > 0;
DROP TABLE keys_left_in_consent;
ALTER TABLE workspace_keys DROP COLUMN data_key;
