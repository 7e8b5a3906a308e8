-- Who a site says a visitor is (Chatcast.identify), trusted when signed with
-- the site's identity secret (made by the server on first use).
ALTER TABLE sites ADD COLUMN identity_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN ident_id TEXT;
ALTER TABLE visitors ADD COLUMN ident_name TEXT;
ALTER TABLE visitors ADD COLUMN ident_email TEXT;
ALTER TABLE visitors ADD COLUMN ident_verified BOOLEAN NOT NULL DEFAULT FALSE;
