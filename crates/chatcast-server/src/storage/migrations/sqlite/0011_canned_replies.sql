-- Saved replies the whole team inserts with /shortcut.
CREATE TABLE canned_replies (
    id         INTEGER PRIMARY KEY,
    shortcut   TEXT    NOT NULL UNIQUE,
    body       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
