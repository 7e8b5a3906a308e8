-- How each site's widget looks and speaks (JSON of WidgetSettings; '{}' is every default).
ALTER TABLE sites ADD COLUMN widget_settings TEXT NOT NULL DEFAULT '{}';
-- The name and email address a visitor typed in the widget (pre-chat form, or
-- the address for answers while nobody is online), and the newest answer
-- already sent there by email.
ALTER TABLE visitors ADD COLUMN contact_name TEXT;
ALTER TABLE visitors ADD COLUMN contact_email TEXT;
ALTER TABLE visitors ADD COLUMN emailed_upto BIGINT NOT NULL DEFAULT 0;
