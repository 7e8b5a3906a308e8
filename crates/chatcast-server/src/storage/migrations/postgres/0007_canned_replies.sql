-- Saved replies the whole team inserts with /shortcut.
CREATE TABLE canned_replies (
    id         BIGSERIAL PRIMARY KEY,
    shortcut   TEXT      NOT NULL UNIQUE,
    body       TEXT      NOT NULL,
    updated_at BIGINT    NOT NULL
);
