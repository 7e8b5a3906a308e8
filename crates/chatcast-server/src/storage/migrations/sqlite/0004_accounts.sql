-- Accounts that can be revoked (issue 11).

-- A disabled account cannot log in; its sessions end.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- Sessions get a public id (to list and revoke them), and where they came from.
CREATE TABLE sessions_new (
    token_hash   TEXT    PRIMARY KEY,
    public_id    TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    client_ip    TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
);
INSERT INTO sessions_new (token_hash, public_id, user_id, created_at, expires_at, last_seen_at)
    SELECT token_hash, lower(hex(randomblob(8))), user_id, created_at, expires_at, created_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Browsers that logged in to an account before: they pass the per-account and
-- per-address login limits for that account, so that an attacker cannot lock
-- the real user out. Only a hash of the cookie's token is kept.
CREATE TABLE known_devices (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Grows whenever a session may have ended; every server polls it to close
-- the sockets of ended sessions within a second, also when the command line
-- (another process) made the change.
CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER sessions_ended AFTER DELETE ON sessions
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

-- Whoever changes an account's password, role or state — the admin API, the
-- command line, the environment at start — ends its sessions.
CREATE TRIGGER users_changed AFTER UPDATE OF password_hash, role, disabled_at ON users
WHEN OLD.password_hash IS NOT NEW.password_hash OR OLD.role IS NOT NEW.role OR OLD.disabled_at IS NOT NEW.disabled_at
BEGIN
    DELETE FROM sessions WHERE user_id = NEW.id;
    DELETE FROM known_devices WHERE user_id = NEW.id AND OLD.password_hash IS NOT NEW.password_hash;
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER users_removed AFTER DELETE ON users
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
