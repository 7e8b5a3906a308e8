-- How far the visitor's widget has shown the dialog (the consultant's "Seen").
ALTER TABLE visitors ADD COLUMN seen_message_id INTEGER;
