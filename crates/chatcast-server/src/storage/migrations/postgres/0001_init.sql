-- The PostgreSQL schema: the same tables and meaning as the SQLite
-- migrations 0001-0005 reach, written once for this backend. Times are
-- milliseconds since the epoch (BIGINT), as in SQLite.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT   NOT NULL,
    name          TEXT   NOT NULL,
    role          TEXT   NOT NULL CHECK (role IN ('consultant', 'admin')),
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);
-- Emails are unique whatever their case (SQLite: COLLATE NOCASE).
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE sessions (
    token_hash   TEXT   PRIMARY KEY,
    public_id    TEXT   NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    client_ip    TEXT   NOT NULL DEFAULT '',
    user_agent   TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE known_devices (
    token_hash TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE sites (
    id                BIGSERIAL PRIMARY KEY,
    name              TEXT    NOT NULL,
    key               TEXT    NOT NULL UNIQUE,
    is_demo           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        BIGINT  NOT NULL,
    mask_all_inputs   BOOLEAN NOT NULL DEFAULT FALSE,
    block_selectors   TEXT    NOT NULL DEFAULT '',
    mask_selectors    TEXT    NOT NULL DEFAULT '',
    keep_url_params   TEXT    NOT NULL DEFAULT '',
    consent_ttl_hours BIGINT  NOT NULL DEFAULT 24
);

CREATE TABLE site_origins (
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    origin  TEXT   NOT NULL,
    PRIMARY KEY (site_id, origin)
);

CREATE TABLE visitors (
    id         TEXT   PRIMARY KEY,
    site_id    BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    token_hash TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    page_url   TEXT   NOT NULL DEFAULT '',
    page_title TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX visitors_by_last_seen ON visitors (last_seen);

CREATE TABLE messages (
    id          BIGSERIAL PRIMARY KEY,
    visitor_id  TEXT   NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    author      TEXT   NOT NULL CHECK (author IN ('visitor', 'consultant', 'system')),
    user_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    author_name TEXT,
    client_id   TEXT,
    body        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    kind        TEXT
);
CREATE INDEX messages_by_visitor ON messages (visitor_id, id);
CREATE UNIQUE INDEX messages_dedupe ON messages (visitor_id, author, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE dialog_reads (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    visitor_id   TEXT   NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    last_read_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, visitor_id)
);

CREATE TABLE consents (
    visitor_id TEXT   NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    tab_id     TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (visitor_id, tab_id)
);

CREATE TABLE screencast_audit (
    id              BIGSERIAL PRIMARY KEY,
    visitor_id      TEXT   NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    user_id         BIGINT REFERENCES users (id) ON DELETE SET NULL,
    consultant_name TEXT,
    event           TEXT   NOT NULL,
    detail          TEXT   NOT NULL DEFAULT '',
    at              BIGINT NOT NULL
);
CREATE INDEX screencast_audit_by_time ON screencast_audit (at);

-- Grows whenever a session may have ended; every node polls it to close the
-- sockets of ended sessions within a second (see auth::revoke).
CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT  NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);

CREATE FUNCTION chatcast_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_ended AFTER DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION chatcast_bump_auth_epoch();
CREATE TRIGGER users_removed AFTER DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION chatcast_bump_auth_epoch();

-- Whoever changes an account's password, role or state ends its sessions.
CREATE FUNCTION chatcast_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.password_hash IS DISTINCT FROM NEW.password_hash
       OR OLD.role IS DISTINCT FROM NEW.role
       OR OLD.disabled_at IS DISTINCT FROM NEW.disabled_at THEN
        DELETE FROM sessions WHERE user_id = NEW.id;
        IF OLD.password_hash IS DISTINCT FROM NEW.password_hash THEN
            DELETE FROM known_devices WHERE user_id = NEW.id;
        END IF;
        UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_changed AFTER UPDATE OF password_hash, role, disabled_at ON users
    FOR EACH ROW EXECUTE FUNCTION chatcast_user_changed();

-- One demo site, however many nodes start at once on an empty database.
CREATE UNIQUE INDEX sites_one_demo ON sites (is_demo) WHERE is_demo;
