-- The keys are in the key store now (moved before this runs); refused while one is left here.
CREATE TEMPORARY TABLE keys_left_in_legacy_sealed (n BIGINT NOT NULL CHECK (n = 0));
INSERT INTO keys_left_in_legacy_sealed SELECT COUNT(*) FROM legacy_sealed WHERE length(data_key) > 0;
DROP TABLE keys_left_in_legacy_sealed;
ALTER TABLE legacy_sealed DROP COLUMN data_key;
