-- A removed site's open visitor sockets close within a second on every
-- server: its removal moves the epoch the servers poll (see auth/revoke.rs).
CREATE TRIGGER sites_removed AFTER DELETE ON sites
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
