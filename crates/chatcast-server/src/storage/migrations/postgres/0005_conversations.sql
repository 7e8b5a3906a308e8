-- A conversation (one per visitor) is open, assigned or closed. Removing a
-- user leaves their conversations unassigned.
ALTER TABLE visitors ADD COLUMN assignee_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE visitors ADD COLUMN closed_at BIGINT;
-- When the state last changed (0: never, "open, unassigned").
ALTER TABLE visitors ADD COLUMN state_at BIGINT NOT NULL DEFAULT 0;
