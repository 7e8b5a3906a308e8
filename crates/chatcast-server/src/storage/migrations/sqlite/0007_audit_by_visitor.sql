-- A visitor's audit trail without a scan (its latest "No" decides when a consultant may ask again).
CREATE INDEX screencast_audit_by_visitor ON screencast_audit (visitor_id, event, at);
