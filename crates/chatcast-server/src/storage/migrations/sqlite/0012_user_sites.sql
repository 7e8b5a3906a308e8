-- Which sites a consultant works on: every site (`all_sites`, what accounts
-- had before), or the sites listed in user_sites (none left: no site at all,
-- never every site). A change moves the epoch, so that servers re-check the
-- open consoles (auth/revoke.rs).
ALTER TABLE users ADD COLUMN all_sites INTEGER NOT NULL DEFAULT 1;
CREATE TABLE user_sites (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, site_id)
);
CREATE TRIGGER user_sites_added AFTER INSERT ON user_sites
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER user_sites_removed AFTER DELETE ON user_sites
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER users_sites_changed AFTER UPDATE OF all_sites ON users
    WHEN old.all_sites IS NOT new.all_sites
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
