-- Who a visitor is, for the console's visitor panel: what their browser
-- says of itself, their visits, and the pages of the latest visit (JSON,
-- masked URLs, the latest 20).
ALTER TABLE visitors ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN referrer TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN visits BIGINT NOT NULL DEFAULT 1;
ALTER TABLE visitors ADD COLUMN visit_pages TEXT NOT NULL DEFAULT '[]';
