-- A conversation (one per visitor) is open, assigned or closed. Removing a
-- user leaves their conversations unassigned.
ALTER TABLE visitors ADD COLUMN assignee_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE visitors ADD COLUMN closed_at INTEGER;
-- When the state last changed (0: never, "open, unassigned").
ALTER TABLE visitors ADD COLUMN state_at INTEGER NOT NULL DEFAULT 0;
