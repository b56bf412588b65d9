-- The consent directory: experts an organisation's main users list as available to be
-- proposed (with the customer's consent) to other organisations' workspaces.
ALTER TABLE memberships ADD COLUMN listed INTEGER NOT NULL DEFAULT 0;
-- Public plain text of what the expert helps with; shown only while listed.
ALTER TABLE memberships ADD COLUMN listing_description TEXT;
-- The directory's sort and page key: a new time-ordered id each time the expert is listed.
ALTER TABLE memberships ADD COLUMN listing_key BLOB;
CREATE UNIQUE INDEX memberships_listing_key ON memberships (listing_key);
