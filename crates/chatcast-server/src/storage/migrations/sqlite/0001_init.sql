-- Accounts, sites, visitors and their dialogs. Times are Unix milliseconds.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('consultant', 'admin')),
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Console logins: only a hash of the cookie's token is kept.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE sites (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    key        TEXT    NOT NULL UNIQUE,
    is_demo    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE site_origins (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    origin  TEXT    NOT NULL,
    PRIMARY KEY (site_id, origin)
);

-- A visitor is a browser on one site; it proves who it is with a token whose hash is kept.
CREATE TABLE visitors (
    id         TEXT    PRIMARY KEY,
    site_id    INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    page_url   TEXT    NOT NULL DEFAULT '',
    page_title TEXT    NOT NULL DEFAULT ''
);

-- One dialog per visitor: its messages.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id  TEXT    NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    author      TEXT    NOT NULL CHECK (author IN ('visitor', 'consultant', 'system')),
    user_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    author_name TEXT,
    client_id   TEXT,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX messages_by_visitor ON messages (visitor_id, id);
-- A resent message (same client id) is stored once.
CREATE UNIQUE INDEX messages_dedupe ON messages (visitor_id, author, client_id) WHERE client_id IS NOT NULL;

-- How far each consultant has read each dialog.
CREATE TABLE dialog_reads (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    visitor_id   TEXT    NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    last_read_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, visitor_id)
);
