//! What both backends do the same way around their rows: storage errors,
//! the stored forms of message kinds and selector lists, the user columns.

use chatcast_protocol::MessageKind;

use super::{Result, StorageError};

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
