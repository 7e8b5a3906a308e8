-- Screen broadcast: per-site privacy settings, remembered consent, audit trail.
ALTER TABLE sites ADD COLUMN mask_all_inputs   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN block_selectors   TEXT    NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN mask_selectors    TEXT    NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN consent_ttl_hours INTEGER NOT NULL DEFAULT 24;

-- A visitor's remembered "yes", until it expires or the visitor presses Stop.
CREATE TABLE consents (
    visitor_id TEXT    PRIMARY KEY REFERENCES visitors (id) ON DELETE CASCADE,
    granted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Every request, answer, start, stop and failure, for the admins.
CREATE TABLE screencast_audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id      TEXT    NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    consultant_name TEXT,
    event           TEXT    NOT NULL,
    detail          TEXT    NOT NULL DEFAULT '',
    at              INTEGER NOT NULL
);
CREATE INDEX screencast_audit_by_time ON screencast_audit (at);
