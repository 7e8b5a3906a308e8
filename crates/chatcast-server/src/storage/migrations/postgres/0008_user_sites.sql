-- Which sites a consultant works on: every site (`all_sites`, what accounts
-- had before), or the sites listed in user_sites (none left: no site at all,
-- never every site). A change moves the epoch, so that servers re-check the
-- open consoles (auth/revoke.rs).
ALTER TABLE users ADD COLUMN all_sites BOOLEAN NOT NULL DEFAULT TRUE;
CREATE TABLE user_sites (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, site_id)
);
CREATE TRIGGER user_sites_changed AFTER INSERT OR DELETE ON user_sites
    FOR EACH STATEMENT EXECUTE FUNCTION chatcast_bump_auth_epoch();
CREATE TRIGGER users_sites_changed AFTER UPDATE OF all_sites ON users
    FOR EACH STATEMENT EXECUTE FUNCTION chatcast_bump_auth_epoch();
