-- Files and images sent in dialogs. The bytes live here (every backend has
-- them); a message that carries one keeps its description (JSON of
-- Attachment) in messages.attachment. `client_id` is the message's once sent:
-- a file goes with one message only. Removed with the visitor.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    uploaded_by TEXT NOT NULL,
    client_id TEXT,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    data BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_by_visitor ON attachments (visitor_id, created_at);
CREATE INDEX attachments_unsent ON attachments (created_at) WHERE client_id IS NULL;
ALTER TABLE messages ADD COLUMN attachment TEXT;
