-- Workspaces' data keys live in the key store (schema workspaces_keyring / keyring/workspaces.db),
-- apart from the content, so a backup of this database holds ciphertext only. The binary moves
-- every key there (platform::keyring::migrate_with_keyring) and empties it here before this
-- runs; this refuses to run while any key is left here, so none is lost.
CREATE TEMPORARY TABLE keys_left_in_workspaces (n BIGINT NOT NULL CHECK (n = 0));
INSERT INTO keys_left_in_workspaces SELECT COUNT(*) FROM workspaces WHERE length(data_key) > 0;
DROP TABLE keys_left_in_workspaces;
ALTER TABLE workspaces DROP COLUMN data_key;
