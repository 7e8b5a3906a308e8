-- The retention sweep finds visitors by when they were last seen.
CREATE INDEX visitors_by_last_seen ON visitors (last_seen);
