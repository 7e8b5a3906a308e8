-- Privacy on real pages (issue 8).
-- Query parameters whose values stay visible in stored and forwarded URLs, one per line.
ALTER TABLE sites ADD COLUMN keep_url_params TEXT NOT NULL DEFAULT '';

-- A remembered "yes" belongs to the browser tab that gave it, not to every tab
-- of the visitor. Consents remembered before this change named no tab: they
-- are dropped, and those visitors are asked again.
DROP TABLE consents;
CREATE TABLE consents (
    visitor_id TEXT    NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    tab_id     TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (visitor_id, tab_id)
);

-- A system line of a particular kind ('receipt': the end of a screen broadcast); NULL for ordinary messages.
ALTER TABLE messages ADD COLUMN kind TEXT;
