-- A removed site's open visitor sockets close within a second on every
-- server: its removal moves the epoch the servers poll (see auth/revoke.rs).
CREATE TRIGGER sites_removed AFTER DELETE ON sites
    FOR EACH STATEMENT EXECUTE FUNCTION chatcast_bump_auth_epoch();
