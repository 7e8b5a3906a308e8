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
    /// `$1` name (NULL keeps the stored one), `$2` email, `$3` id.
    pub const SET_CONTACT: &str =
        "UPDATE visitors SET contact_name = COALESCE($1, contact_name), contact_email = $2 WHERE id = $3";
    /// `$1` id.
    pub const CONTACT: &str = "SELECT contact_name, contact_email, emailed_upto FROM visitors WHERE id = $1";
    /// `$1` message id, `$2` visitor id: only forward.
    pub const MARK_EMAILED: &str = "UPDATE visitors SET emailed_upto = $1 WHERE id = $2 AND emailed_upto < $1";
    /// `$1` settings JSON, `$2` site id.
    pub const SET_WIDGET: &str = "UPDATE sites SET widget_settings = $1 WHERE id = $2";
    /// `$1` id.
    pub const PAGES: &str = "SELECT visit_pages FROM visitors WHERE id = $1";
    /// `$1` pages, `$2` id.
    pub const SET_PAGES: &str = "UPDATE visitors SET visit_pages = $1 WHERE id = $2";
    /// `$1` id.
    pub const RECORD_OF: &str = "SELECT v.site_id, s.name AS site_name, v.user_agent, v.language, v.timezone, v.referrer,
                v.visits, v.visit_pages, v.created_at, v.last_seen,
                v.ident_id, v.ident_name, v.ident_email, v.ident_verified, v.contact_name, v.contact_email,
                (SELECT COUNT(*) FROM messages m WHERE m.visitor_id = v.id) AS messages,
                (SELECT MIN(m.created_at) FROM messages m WHERE m.visitor_id = v.id) AS since
         FROM visitors v JOIN sites s ON s.id = v.site_id WHERE v.id = $1";
}

/// A message's stored attachment description.
pub(super) fn attachment_json(a: &chatcast_protocol::Attachment) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

/// The inverse of [`attachment_json`]; what does not read as one is none.
pub(super) fn attachment_from(json: Option<String>) -> Option<chatcast_protocol::Attachment> {
    json_from(json)
}

/// A stored JSON column; what does not read as `T` is none.
pub(super) fn json_from<T: serde::de::DeserializeOwned>(json: Option<String>) -> Option<T> {
    serde_json::from_str(&json?).ok()
}

/// The files' queries (`$N` placeholders, both backends).
pub(super) mod files {
    /// `$1` id … `$8` time.
    pub const ADD: &str = "INSERT INTO attachments (id, visitor_id, uploaded_by, name, content_type, size, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    /// `$1` id, `$2` visitor, `$3` uploader, `$4` the message's client id.
    pub const CLAIM: &str = "UPDATE attachments SET client_id = $4
         WHERE id = $1 AND visitor_id = $2 AND uploaded_by = $3 AND (client_id IS NULL OR client_id = $4)
         RETURNING id, name, content_type, size";
    /// `$1` id: a sent file.
    pub const GET: &str = "SELECT id, name, content_type, size, data FROM attachments WHERE id = $1 AND client_id IS NOT NULL";
    /// `$1` visitor, `$2` uploader, `$3` since.
    pub const COUNT: &str = "SELECT COUNT(*) FROM attachments WHERE visitor_id = $1 AND uploaded_by = $2 AND created_at >= $3";
    /// `$1` before.
    pub const UNSENT: &str = "DELETE FROM attachments WHERE client_id IS NULL AND created_at < $1";
}

/// A site's stored widget settings; what does not read as settings is every default
/// (a row written by a newer version keeps working).
pub(super) fn widget_settings(json: &str) -> chatcast_protocol::WidgetSettings {
    serde_json::from_str(json).unwrap_or_default()
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

/// The queries and row readings both backends do alike (their SQL, above,
/// reads `$N` placeholders on both), written once: each backend module expands
/// this with its pool and row types, and its `Database` methods call these.
macro_rules! shared_queries {
    ($pool:ty, $row:ty) => {
        async fn user_sites(pool: &$pool, user_id: i64) -> Result<Option<Vec<i64>>> {
            let all: Option<bool> =
                sqlx::query_scalar("SELECT all_sites FROM users WHERE id = $1").bind(user_id).fetch_optional(pool).await?;
            if all.unwrap_or(false) {
                return Ok(None);
            }
            let ids = sqlx::query_scalar("SELECT site_id FROM user_sites WHERE user_id = $1 ORDER BY site_id")
                .bind(user_id)
                .fetch_all(pool)
                .await?;
            Ok(Some(ids))
        }

        async fn set_user_sites(pool: &$pool, user_id: i64, sites: Option<&[i64]>) -> Result<()> {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE users SET all_sites = $1 WHERE id = $2")
                .bind(sites.is_none())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM user_sites WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            for site in sites.unwrap_or_default() {
                sqlx::query("INSERT INTO user_sites (user_id, site_id) VALUES ($1, $2)")
                    .bind(user_id)
                    .bind(site)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn record_visit(pool: &$pool, id: &str, client: &VisitClient<'_>, new_visit: bool, first: bool) -> Result<()> {
            sqlx::query(visits::RECORD)
                .bind(client.user_agent)
                .bind(client.language)
                .bind(client.timezone)
                .bind(new_visit)
                .bind(new_visit && !first)
                .bind(client.referrer)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        }

        async fn add_visit_page(pool: &$pool, id: &str, page: &PageInfo, now: i64) -> Result<()> {
            let stored: Option<String> = sqlx::query_scalar(visits::PAGES).bind(id).fetch_optional(pool).await?;
            if let Some(pages) = stored.and_then(|s| with_page(&s, page, now, VISIT_PAGES)) {
                sqlx::query(visits::SET_PAGES).bind(pages).bind(id).execute(pool).await?;
            }
            Ok(())
        }

        async fn visitor_record(pool: &$pool, id: &str) -> Result<Option<VisitorRecord>> {
            let Some(row) = sqlx::query(visits::RECORD_OF).bind(id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let pages: String = row.try_get("visit_pages")?;
            Ok(Some(VisitorRecord {
                site_name: row.try_get("site_name")?,
                site_id: row.try_get("site_id")?,
                user_agent: row.try_get("user_agent")?,
                language: row.try_get("language")?,
                timezone: row.try_get("timezone")?,
                referrer: row.try_get("referrer")?,
                visits: row.try_get("visits")?,
                pages: serde_json::from_str(&pages).unwrap_or_default(),
                first_seen: row.try_get("created_at")?,
                last_seen: row.try_get("last_seen")?,
                messages: row.try_get("messages")?,
                conversation_since: row.try_get("since")?,
                identity: match row.try_get::<Option<String>, _>("ident_id")? {
                    Some(id) => Some(chatcast_protocol::api::Identity {
                        id,
                        name: row.try_get("ident_name")?,
                        email: row.try_get("ident_email")?,
                        verified: row.try_get("ident_verified")?,
                    }),
                    None => None,
                },
                contact: chatcast_protocol::Contact { name: row.try_get("contact_name")?, email: row.try_get("contact_email")? },
            }))
        }

        async fn set_widget_settings(pool: &$pool, site_id: i64, settings: &chatcast_protocol::WidgetSettings) -> Result<()> {
            let json = serde_json::to_string(settings).map_err(|e| StorageError::Invalid(e.to_string()))?;
            sqlx::query(visits::SET_WIDGET).bind(json).bind(site_id).execute(pool).await?;
            Ok(())
        }

        async fn set_contact(pool: &$pool, visitor_id: &str, name: Option<&str>, email: &str) -> Result<()> {
            sqlx::query(visits::SET_CONTACT).bind(name).bind(email).bind(visitor_id).execute(pool).await?;
            Ok(())
        }

        async fn contact(pool: &$pool, visitor_id: &str) -> Result<Option<(chatcast_protocol::Contact, i64)>> {
            let Some(row) = sqlx::query(visits::CONTACT).bind(visitor_id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let contact = chatcast_protocol::Contact { name: row.try_get("contact_name")?, email: row.try_get("contact_email")? };
            Ok(Some((contact, row.try_get("emailed_upto")?)))
        }

        async fn add_attachment(pool: &$pool, a: &NewAttachment<'_>) -> Result<()> {
            sqlx::query(files::ADD)
                .bind(a.id)
                .bind(a.visitor_id)
                .bind(a.uploaded_by)
                .bind(a.name)
                .bind(a.content_type)
                .bind(a.data.len() as i64)
                .bind(a.data)
                .bind(a.at)
                .execute(pool)
                .await?;
            Ok(())
        }

        async fn claim_attachment(
            pool: &$pool,
            id: &str,
            visitor_id: &str,
            uploaded_by: &str,
            client_id: &str,
        ) -> Result<Option<Attachment>> {
            let row = sqlx::query(files::CLAIM)
                .bind(id)
                .bind(visitor_id)
                .bind(uploaded_by)
                .bind(client_id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(attachment_row).transpose()
        }

        async fn attachment(pool: &$pool, id: &str) -> Result<Option<(Attachment, Vec<u8>)>> {
            let Some(row) = sqlx::query(files::GET).bind(id).fetch_optional(pool).await? else { return Ok(None) };
            Ok(Some((attachment_row(&row)?, row.try_get("data")?)))
        }

        async fn uploads_since(pool: &$pool, visitor_id: &str, uploaded_by: &str, since: i64) -> Result<i64> {
            Ok(sqlx::query_scalar(files::COUNT).bind(visitor_id).bind(uploaded_by).bind(since).fetch_one(pool).await?)
        }

        async fn delete_unsent_attachments(pool: &$pool, before: i64) -> Result<u64> {
            Ok(sqlx::query(files::UNSENT).bind(before).execute(pool).await?.rows_affected())
        }

        /// A file's description from its row.
        fn attachment_row(row: &$row) -> Result<Attachment> {
            Ok(Attachment {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                content_type: row.try_get("content_type")?,
                size: row.try_get::<i64, _>("size")?.max(0) as u64,
            })
        }

        async fn mark_emailed(pool: &$pool, visitor_id: &str, message_id: i64) -> Result<bool> {
            Ok(sqlx::query(visits::MARK_EMAILED).bind(message_id).bind(visitor_id).execute(pool).await?.rows_affected() > 0)
        }

        async fn set_identity(pool: &$pool, visitor_id: &str, identity: &chatcast_protocol::api::Identity) -> Result<()> {
            sqlx::query(visits::IDENTIFY)
                .bind(&identity.id)
                .bind(&identity.email)
                .bind(&identity.name)
                .bind(identity.verified)
                .bind(visitor_id)
                .execute(pool)
                .await?;
            Ok(())
        }

        async fn identity_secret(pool: &$pool, site_id: i64, fresh: &str) -> Result<Option<String>> {
            // Read first: every identify asks, and only a site's first needs a write.
            let secret: Option<String> = sqlx::query_scalar(visits::SECRET).bind(site_id).fetch_optional(pool).await?;
            if secret.as_deref() != Some("") {
                return Ok(secret);
            }
            // Two first uses at once: the one that fills it wins, both read the same.
            sqlx::query(visits::SECRET_FILL).bind(fresh).bind(site_id).execute(pool).await?;
            Ok(sqlx::query_scalar(visits::SECRET).bind(site_id).fetch_optional(pool).await?)
        }

        async fn canned_replies(pool: &$pool) -> Result<Vec<CannedReply>> {
            let rows = sqlx::query(canned::LIST).fetch_all(pool).await?;
            rows.iter().map(canned_row).collect()
        }

        async fn save_canned_reply(
            pool: &$pool,
            id: Option<i64>,
            shortcut: &str,
            body: &str,
            now: i64,
        ) -> Result<Option<CannedReply>> {
            let q = sqlx::query(if id.is_some() { canned::UPDATE } else { canned::INSERT }).bind(shortcut).bind(body).bind(now);
            let q = if let Some(id) = id { q.bind(id) } else { q };
            let row = q.fetch_optional(pool).await.map_err(|e| conflict(e, &canned::taken(shortcut)))?;
            row.as_ref().map(canned_row).transpose()
        }

        async fn delete_canned_reply(pool: &$pool, id: i64) -> Result<bool> {
            Ok(sqlx::query(canned::DELETE).bind(id).execute(pool).await?.rows_affected() > 0)
        }

        /// Applies a conversation change; whether it changed anything.
        async fn conversation_changed(pool: &$pool, visitor_id: &str, change: ConversationChange, now: i64) -> Result<bool> {
            let (update, user) = conversation_update(change);
            let mut q = sqlx::query(update).bind(now).bind(visitor_id);
            if let Some(user) = user {
                q = q.bind(user);
            }
            Ok(q.execute(pool).await?.rows_affected() > 0)
        }

        /// A saved reply's row.
        fn canned_row(row: &$row) -> Result<CannedReply> {
            Ok(CannedReply {
                id: row.try_get::<i64, _>("id")?.to_string(),
                shortcut: row.try_get("shortcut")?,
                body: row.try_get("body")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        /// A row of [`CONVERSATION_COLUMNS`].
        fn conversation_row(row: &$row) -> Result<Conversation> {
            Ok(conversation_from(
                row.try_get("id")?,
                row.try_get("assignee_id")?,
                row.try_get("assignee_name")?,
                row.try_get("closed")?,
                row.try_get("state_at")?,
            ))
        }
    };
}
pub(super) use shared_queries;
