//! What both backends do the same way around their rows: storage errors,
//! the stored forms of message kinds and selector lists, the user columns.

use chatcast_protocol::{Conversation, ConversationState, MessageKind};

use super::{ConversationChange, Result, StorageError};

/// A unique constraint broken is a conflict over `what`; anything else a backend error.
pub(super) fn conflict(e: sqlx::Error, what: &str) -> StorageError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(what.to_owned()),
        _ => StorageError::Db(e),
    }
}

/// A stored message kind.
pub(super) fn kind_from(kind: Option<String>) -> Result<Option<MessageKind>> {
    kind.map(|k| MessageKind::parse(&k).ok_or_else(|| StorageError::Invalid(format!("message kind `{k}`")))).transpose()
}

/// Selector lists are stored one per line.
pub(super) fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// SQL built from constants of the backends and placeholders only (never from input).
pub(super) fn sql(text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text)
}

/// The columns of a user row.
pub(super) const USER_COLUMNS: &str = "u.id, u.email, u.name, u.role, u.password_hash, u.disabled_at";

/// The columns of a conversation (a visitor row `v`, its assignee `u`), as
/// [`conversation_from`] reads them.
pub(super) const CONVERSATION_COLUMNS: &str =
    "v.id, v.assignee_id, u.name AS assignee_name, v.closed_at IS NOT NULL AS closed, v.state_at";

/// A conversation from its columns' values.
pub(super) fn conversation_from(
    visitor_id: String,
    assignee_id: Option<i64>,
    assignee_name: Option<String>,
    closed: bool,
    updated_at: i64,
) -> Conversation {
    let state = match (closed, assignee_id) {
        (true, _) => ConversationState::Closed,
        (false, Some(_)) => ConversationState::Assigned,
        (false, None) => ConversationState::Open,
    };
    Conversation { visitor_id, state, assignee_id: assignee_id.map(|id| id.to_string()), assignee_name, updated_at }
}

/// The update a change makes (both backends read `$N` placeholders): `$1` is
/// the time, `$2` the visitor, `$3` the user if the second value is true.
/// Each matches only a row it changes, so "changed" is "rows affected".
pub(super) fn conversation_update(change: ConversationChange) -> (&'static str, Option<i64>) {
    match change {
        ConversationChange::Assign(user) => (
            "UPDATE visitors SET assignee_id = $3, closed_at = NULL, state_at = $1
             WHERE id = $2 AND (assignee_id IS DISTINCT FROM $3 OR closed_at IS NOT NULL)",
            Some(user),
        ),
        ConversationChange::Unassign => {
            ("UPDATE visitors SET assignee_id = NULL, state_at = $1 WHERE id = $2 AND assignee_id IS NOT NULL", None)
        }
        ConversationChange::Close => {
            ("UPDATE visitors SET closed_at = $1, state_at = $1 WHERE id = $2 AND closed_at IS NULL", None)
        }
        ConversationChange::Reopen => {
            ("UPDATE visitors SET closed_at = NULL, state_at = $1 WHERE id = $2 AND closed_at IS NOT NULL", None)
        }
        ConversationChange::Answered(user) => (
            "UPDATE visitors SET assignee_id = COALESCE(assignee_id, $3), closed_at = NULL, state_at = $1
             WHERE id = $2 AND (assignee_id IS NULL OR closed_at IS NOT NULL)",
            Some(user),
        ),
    }
}

/// Saved replies, as both backends query them (`$N` placeholders).
pub(super) mod canned {
    /// All, by shortcut.
    pub const LIST: &str = "SELECT id, shortcut, body, updated_at FROM canned_replies ORDER BY shortcut";
    /// `$1` shortcut, `$2` body, `$3` time.
    pub const INSERT: &str =
        "INSERT INTO canned_replies (shortcut, body, updated_at) VALUES ($1, $2, $3) RETURNING id, shortcut, body, updated_at";
    /// The same and `$4` the id.
    pub const UPDATE: &str = "UPDATE canned_replies SET shortcut = $1, body = $2, updated_at = $3 WHERE id = $4
         RETURNING id, shortcut, body, updated_at";
    /// `$1` the id.
    pub const DELETE: &str = "DELETE FROM canned_replies WHERE id = $1";
    /// What a taken shortcut is called in the conflict error.
    pub fn taken(shortcut: &str) -> String {
        format!("a saved reply with the shortcut /{shortcut}")
    }
}

/// The visitor panel's queries (`$N` placeholders, both backends).
pub(super) mod visits {
    /// `$1` UA, `$2` language, `$3` time zone, `$4` a new visit starts, `$5` count it, `$6` referrer, `$7` id.
    pub const RECORD: &str = "UPDATE visitors SET user_agent = $1, language = $2, timezone = $3,
             visits = visits + CASE WHEN $5 THEN 1 ELSE 0 END,
             referrer = CASE WHEN $4 THEN $6 ELSE referrer END,
             visit_pages = CASE WHEN $4 THEN '[]' ELSE visit_pages END
         WHERE id = $7";
    /// `$1` site id, `$2` email, `$3` name, `$4` verified, `$5` visitor id.
    pub const IDENTIFY: &str =
        "UPDATE visitors SET ident_id = $1, ident_email = $2, ident_name = $3, ident_verified = $4 WHERE id = $5";
    /// `$1` a new secret, `$2` site id: kept only if the site has none.
    pub const SECRET_FILL: &str = "UPDATE sites SET identity_secret = $1 WHERE id = $2 AND identity_secret = ''";
    /// `$1` site id.
    pub const SECRET: &str = "SELECT identity_secret FROM sites WHERE id = $1";
    /// `$1` id.
    pub const PAGES: &str = "SELECT visit_pages FROM visitors WHERE id = $1";
    /// `$1` pages, `$2` id.
    pub const SET_PAGES: &str = "UPDATE visitors SET visit_pages = $1 WHERE id = $2";
    /// `$1` id.
    pub const RECORD_OF: &str = "SELECT v.site_id, s.name AS site_name, v.user_agent, v.language, v.timezone, v.referrer,
                v.visits, v.visit_pages, v.created_at, v.last_seen,
                v.ident_id, v.ident_name, v.ident_email, v.ident_verified,
                (SELECT COUNT(*) FROM messages m WHERE m.visitor_id = v.id) AS messages,
                (SELECT MIN(m.created_at) FROM messages m WHERE m.visitor_id = v.id) AS since
         FROM visitors v JOIN sites s ON s.id = v.site_id WHERE v.id = $1";
}

/// The pages of a visit with one more (not the same twice in a row; the latest `max`).
pub(super) fn with_page(stored: &str, page: &chatcast_protocol::PageInfo, now: i64, max: usize) -> Option<String> {
    let mut pages: Vec<chatcast_protocol::api::PageVisit> = serde_json::from_str(stored).unwrap_or_default();
    if pages.last().is_some_and(|p| p.url == page.url) {
        return None;
    }
    pages.push(chatcast_protocol::api::PageVisit { url: page.url.clone(), title: page.title.clone(), at: now });
    let cut = pages.len().saturating_sub(max);
    serde_json::to_string(&pages[cut..]).ok()
}
