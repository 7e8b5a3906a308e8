//! The SQLite backend: one file in the data dir, WAL journal so that the CLI
//! can add sites and users while a server runs on the same file.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chatcast_protocol::{Attachment, Author, ChatMessage, Conversation, PageInfo, PrivacySettings, Unread};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::rows::{
    CONVERSATION_COLUMNS, USER_COLUMNS, attachment_from, canned, conflict, conversation_from, conversation_update, files,
    json_from, kind_from, lines, sql, visits, with_page,
};
use super::{
    AuditEntry, CannedReply, ConversationChange, Database, NewAttachment, NewMessage, NewSession, RecentDialog, Result, Role,
    SearchHit, SessionInfo, Site, StorageError, User, VISIT_PAGES, VisitClient, Visitor, VisitorRecord,
};

/// A pool of connections to one SQLite file.
pub struct Sqlite {
    pool: SqlitePool,
}

super::rows::shared_queries!(SqlitePool, SqliteRow);

impl Sqlite {
    /// Opens (creating if missing) the database at `url` and runs the migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Another process (the CLI) may hold the write lock for a moment.
            .busy_timeout(Duration::from_secs(5))
            // Each connection caches up to 2 MiB of pages: the pool's memory stays
            // bounded (writes take turns anyway; reads are short).
            .pragma("cache_size", "-2048");
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        sqlx::migrate!("src/storage/migrations/sqlite").run(&pool).await?;
        Ok(Sqlite { pool })
    }
}

fn user_from(row: &SqliteRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StorageError::Invalid(format!("role `{role}` in users")))?,
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        password_hash: row.try_get("password_hash")?,
    })
}

fn message_from(row: &SqliteRow) -> Result<ChatMessage> {
    let author: String = row.try_get("author")?;
    Ok(ChatMessage {
        id: row.try_get::<i64, _>("id")?.to_string(),
        visitor_id: row.try_get("visitor_id")?,
        client_id: row.try_get("client_id")?,
        author: Author::parse(&author).ok_or_else(|| StorageError::Invalid(format!("author `{author}`")))?,
        author_name: row.try_get("author_name")?,
        body: row.try_get("body")?,
        at: row.try_get("created_at")?,
        kind: kind_from(row.try_get("kind")?)?,
        attachment: attachment_from(row.try_get("attachment")?),
        receipt: json_from(row.try_get("receipt")?),
    })
}

fn visitor_from(row: &SqliteRow) -> Result<Visitor> {
    Ok(Visitor {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        last_seen: row.try_get("last_seen")?,
        page: PageInfo { url: row.try_get("page_url")?, title: row.try_get("page_title")? },
    })
}

impl Sqlite {
    /// The site in an optional row (the `*_by_*` lookups).
    async fn maybe_site(&self, row: Option<SqliteRow>) -> Result<Option<Site>> {
        match row {
            Some(row) => Ok(Some(self.site_from(&row).await?)),
            None => Ok(None),
        }
    }

    async fn site_from(&self, row: &SqliteRow) -> Result<Site> {
        let id: i64 = row.try_get("id")?;
        let origins = sqlx::query("SELECT origin FROM site_origins WHERE site_id = ? ORDER BY origin")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("origin"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Site {
            id,
            name: row.try_get("name")?,
            key: row.try_get("key")?,
            origins,
            is_demo: row.try_get::<i64, _>("is_demo")? != 0,
            privacy: PrivacySettings {
                mask_all_inputs: row.try_get::<i64, _>("mask_all_inputs")? != 0,
                block_selectors: lines(&row.try_get::<String, _>("block_selectors")?),
                mask_selectors: lines(&row.try_get::<String, _>("mask_selectors")?),
                keep_url_params: lines(&row.try_get::<String, _>("keep_url_params")?),
            },
            consent_ttl_hours: row.try_get("consent_ttl_hours")?,
            widget: super::rows::widget_settings(&row.try_get::<String, _>("widget_settings")?),
            created_at: row.try_get("created_at")?,
        })
    }
}

#[async_trait]
impl Database for Sqlite {
    async fn create_user(&self, email: &str, name: &str, password_hash: &str, role: Role) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
             RETURNING id, email, name, role, password_hash, disabled_at",
        )
        .bind(email)
        .bind(name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(crate::now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| conflict(e, &format!("a user with email {email}")))?;
        user_from(&row)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(sql(format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = ?")))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn update_user(&self, id: i64, password_hash: &str, role: Role) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = ?, role = ? WHERE id = ?")
            .bind(password_hash)
            .bind(role.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(sql(format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"))).fetch_all(&self.pool).await?;
        rows.iter().map(user_from).collect()
    }

    async fn user(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(sql(format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn set_user_disabled(&self, id: i64, disabled: bool, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET disabled_at = CASE WHEN ? THEN COALESCE(disabled_at, ?) ELSE NULL END WHERE id = ?")
            .bind(disabled)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_user_role(&self, id: i64, role: Role) -> Result<()> {
        sqlx::query("UPDATE users SET role = ? WHERE id = ?").bind(role.as_str()).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn set_user_password(&self, id: i64, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?").bind(password_hash).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn set_user_name(&self, id: i64, name: &str) -> Result<()> {
        sqlx::query("UPDATE users SET name = ? WHERE id = ?").bind(name).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_user(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_session(&self, n: NewSession<'_>) -> Result<()> {
        // Expired sessions are swept whenever a new one is made.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?").bind(n.now).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, public_id, user_id, created_at, expires_at, last_seen_at, client_ip, user_agent)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(n.token_hash)
        .bind(n.public_id)
        .bind(n.user_id)
        .bind(n.now)
        .bind(n.expires_at)
        .bind(n.now)
        .bind(n.client_ip)
        .bind(n.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        let row = sqlx::query(sql(format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL"
        )))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    async fn user_sessions(&self, user_id: i64, now: i64) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT public_id, created_at, last_seen_at, expires_at, client_ip, user_agent, token_hash FROM sessions
             WHERE user_id = ? AND expires_at > ? ORDER BY last_seen_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    id: r.try_get("public_id")?,
                    created_at: r.try_get("created_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                    expires_at: r.try_get("expires_at")?,
                    client_ip: r.try_get("client_ip")?,
                    user_agent: r.try_get("user_agent")?,
                    token_hash: r.try_get("token_hash")?,
                })
            })
            .collect()
    }

    async fn delete_user_session(&self, user_id: i64, public_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ? AND public_id = ?")
            .bind(user_id)
            .bind(public_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn live_sessions(&self, token_hashes: &[String], now: i64) -> Result<Vec<String>> {
        let mut live = Vec::new();
        // In chunks: SQLite allows a bounded number of parameters per statement.
        for chunk in token_hashes.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let text = format!(
                "SELECT s.token_hash FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.expires_at > ? AND u.disabled_at IS NULL AND s.token_hash IN ({marks})"
            );
            let mut q = sqlx::query(sql(text)).bind(now);
            for h in chunk {
                q = q.bind(h);
            }
            for row in q.fetch_all(&self.pool).await? {
                live.push(row.try_get("token_hash")?);
            }
        }
        Ok(live)
    }

    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?")
            .bind(now)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn auth_epoch(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT epoch FROM auth_epoch WHERE id = 1").fetch_one(&self.pool).await?.try_get("epoch")?)
    }

    async fn remember_device(&self, token_hash: &str, user_id: i64, now: i64, expires_at: i64) -> Result<()> {
        sqlx::query("DELETE FROM known_devices WHERE expires_at <= ?").bind(now).execute(&self.pool).await?;
        sqlx::query("INSERT OR REPLACE INTO known_devices (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn device_user(&self, token_hash: &str, now: i64) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT user_id FROM known_devices WHERE token_hash = ? AND expires_at > ?")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("user_id")).transpose()?)
    }

    async fn create_site(&self, name: &str, key: &str, origins: &[String], is_demo: bool) -> Result<Site> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query("INSERT INTO sites (name, key, is_demo, created_at) VALUES (?, ?, ?, ?) RETURNING id")
            .bind(name)
            .bind(key)
            .bind(is_demo as i64)
            .bind(crate::now_ms())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| conflict(e, "a site with this key"))?
            .try_get("id")?;
        for origin in origins {
            sqlx::query("INSERT OR IGNORE INTO site_origins (site_id, origin) VALUES (?, ?)")
                .bind(id)
                .bind(origin)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let row = sqlx::query("SELECT * FROM sites WHERE id = ?").bind(id).fetch_one(&self.pool).await?;
        self.site_from(&row).await
    }

    async fn site_by_key(&self, key: &str) -> Result<Option<Site>> {
        let row = sqlx::query("SELECT * FROM sites WHERE key = ?").bind(key).fetch_optional(&self.pool).await?;
        self.maybe_site(row).await
    }

    async fn demo_site(&self) -> Result<Option<Site>> {
        let row = sqlx::query("SELECT * FROM sites WHERE is_demo = 1 ORDER BY id LIMIT 1").fetch_optional(&self.pool).await?;
        self.maybe_site(row).await
    }

    async fn list_sites(&self) -> Result<Vec<Site>> {
        let rows = sqlx::query("SELECT * FROM sites ORDER BY id").fetch_all(&self.pool).await?;
        let mut sites = Vec::with_capacity(rows.len());
        for row in &rows {
            sites.push(self.site_from(row).await?);
        }
        Ok(sites)
    }

    async fn site(&self, id: i64) -> Result<Option<Site>> {
        let row = sqlx::query("SELECT * FROM sites WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        self.maybe_site(row).await
    }

    async fn rename_site(&self, id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE sites SET name = ? WHERE id = ?").bind(name).bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_site(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sites WHERE id = ?").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn update_site_settings(&self, id: i64, privacy: &PrivacySettings, consent_ttl_hours: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sites SET mask_all_inputs = ?, block_selectors = ?, mask_selectors = ?, keep_url_params = ?,
                 consent_ttl_hours = ? WHERE id = ?",
        )
        .bind(privacy.mask_all_inputs as i64)
        .bind(privacy.block_selectors.join("\n"))
        .bind(privacy.mask_selectors.join("\n"))
        .bind(privacy.keep_url_params.join("\n"))
        .bind(consent_ttl_hours)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remember_consent(&self, visitor_id: &str, tab_id: &str, now: i64, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO consents (visitor_id, tab_id, granted_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, NULL)
             ON CONFLICT (visitor_id, tab_id) DO UPDATE SET granted_at = excluded.granted_at,
                 expires_at = excluded.expires_at, revoked_at = NULL",
        )
        .bind(visitor_id)
        .bind(tab_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn has_consent(&self, visitor_id: &str, tab_id: &str, now: i64) -> Result<bool> {
        let row =
            sqlx::query("SELECT 1 FROM consents WHERE visitor_id = ? AND tab_id = ? AND revoked_at IS NULL AND expires_at > ?")
                .bind(visitor_id)
                .bind(tab_id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    async fn revoke_consent(&self, visitor_id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE consents SET revoked_at = ? WHERE visitor_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(visitor_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit(
        &self,
        visitor_id: &str,
        user_id: Option<i64>,
        consultant_name: Option<&str>,
        event: &str,
        detail: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO screencast_audit (visitor_id, user_id, consultant_name, event, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(visitor_id)
        .bind(user_id)
        .bind(consultant_name)
        .bind(event)
        .bind(detail)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn last_denied(&self, visitor_id: &str) -> Result<Option<i64>> {
        let row: (Option<i64>,) =
            sqlx::query_as("SELECT MAX(at) FROM screencast_audit WHERE visitor_id = ? AND event = 'denied'")
                .bind(visitor_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.0)
    }

    async fn audit_log(&self, visitor_id: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT a.*, s.name AS site_name FROM screencast_audit a
             JOIN visitors v ON v.id = a.visitor_id JOIN sites s ON s.id = v.site_id
             WHERE (?1 IS NULL OR a.visitor_id = ?1) ORDER BY a.id DESC LIMIT ?2",
        )
        .bind(visitor_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    visitor_id: r.try_get("visitor_id")?,
                    site_name: r.try_get("site_name")?,
                    user_id: r.try_get("user_id")?,
                    consultant_name: r.try_get("consultant_name")?,
                    event: r.try_get("event")?,
                    detail: r.try_get("detail")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    async fn visitor_by_token(&self, site_id: i64, token_hash: &str) -> Result<Option<Visitor>> {
        let row = sqlx::query("SELECT * FROM visitors WHERE token_hash = ? AND site_id = ?")
            .bind(token_hash)
            .bind(site_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(visitor_from).transpose()
    }

    async fn visitor(&self, id: &str) -> Result<Option<(Visitor, String)>> {
        let row = sqlx::query("SELECT v.*, s.name AS site_name FROM visitors v JOIN sites s ON s.id = v.site_id WHERE v.id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some((visitor_from(&row)?, row.try_get("site_name")?))),
            None => Ok(None),
        }
    }

    async fn create_visitor(&self, id: &str, site_id: i64, token_hash: &str, page: &PageInfo, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO visitors (id, site_id, token_hash, created_at, last_seen, page_url, page_title)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(site_id)
        .bind(token_hash)
        .bind(now)
        .bind(now)
        .bind(&page.url)
        .bind(&page.title)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn expired_visitors(
        &self,
        idle_before: Option<i64>,
        transcript_before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<String>> {
        // -1 never matches a time: that kind is kept.
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT v.id FROM visitors v
             WHERE (v.last_seen < ?1 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.visitor_id = v.id))
                OR (v.last_seen < ?2 AND (SELECT MAX(m.created_at) FROM messages m WHERE m.visitor_id = v.id) < ?2)
             LIMIT ?3",
        )
        .bind(idle_before.unwrap_or(-1))
        .bind(transcript_before.unwrap_or(-1))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn delete_visitors(&self, ids: &[String]) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for id in ids {
            n += sqlx::query("DELETE FROM visitors WHERE id = ?").bind(id).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn touch_visitor(&self, id: &str, page: &PageInfo, now: i64) -> Result<()> {
        sqlx::query("UPDATE visitors SET last_seen = ?, page_url = ?, page_title = ? WHERE id = ?")
            .bind(now)
            .bind(&page.url)
            .bind(&page.title)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_message(&self, m: NewMessage<'_>) -> Result<(ChatMessage, bool)> {
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO messages (visitor_id, author, user_id, author_name, client_id, body, created_at, kind, attachment, receipt)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             RETURNING id, visitor_id, author, author_name, client_id, body, created_at, kind, attachment, receipt",
        )
        .bind(m.visitor_id)
        .bind(m.author.as_str())
        .bind(m.user_id)
        .bind(m.author_name)
        .bind(m.client_id)
        .bind(m.body)
        .bind(m.at)
        .bind(m.kind.map(|k| k.as_str()))
        .bind(m.attachment.map(super::rows::attachment_json))
        .bind(m.receipt.and_then(|r| serde_json::to_string(r).ok()))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok((message_from(&row)?, true));
        }
        // Ignored: the same client id was stored before. Answer with that message.
        let row = sqlx::query(
            "SELECT id, visitor_id, author, author_name, client_id, body, created_at, kind, attachment, receipt FROM messages
             WHERE visitor_id = ? AND author = ? AND client_id = ?",
        )
        .bind(m.visitor_id)
        .bind(m.author.as_str())
        .bind(m.client_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((message_from(&row)?, false))
    }

    async fn messages(&self, visitor_id: &str, limit: i64) -> Result<Vec<ChatMessage>> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT id, visitor_id, author, author_name, client_id, body, created_at, kind, attachment, receipt
             FROM messages WHERE visitor_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
        )
        .bind(visitor_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from).collect()
    }

    async fn recent_dialogs(&self, closed: bool, limit: i64) -> Result<Vec<RecentDialog>> {
        let rows = sqlx::query(
            "SELECT v.id, v.site_id, v.last_seen, v.page_url, v.page_title, s.name AS site_name,
                    m.id AS m_id, m.author, m.author_name, m.client_id, m.body, m.created_at, m.kind, m.attachment, m.receipt, m.receipt
             FROM (SELECT m.visitor_id, MAX(m.id) AS last_id FROM messages m JOIN visitors cv ON cv.id = m.visitor_id
                   WHERE (cv.closed_at IS NOT NULL) = $1 GROUP BY m.visitor_id
                   ORDER BY last_id DESC LIMIT $2) lm
             JOIN messages m ON m.id = lm.last_id
             JOIN visitors v ON v.id = lm.visitor_id
             JOIN sites s ON s.id = v.site_id
             ORDER BY m.id DESC",
        )
        .bind(closed)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let visitor = visitor_from(row)?;
                let author: String = row.try_get("author")?;
                let last_message = ChatMessage {
                    id: row.try_get::<i64, _>("m_id")?.to_string(),
                    visitor_id: visitor.id.clone(),
                    client_id: row.try_get("client_id")?,
                    author: Author::parse(&author).ok_or_else(|| StorageError::Invalid(format!("author `{author}`")))?,
                    author_name: row.try_get("author_name")?,
                    body: row.try_get("body")?,
                    at: row.try_get("created_at")?,
                    kind: kind_from(row.try_get("kind")?)?,
                    attachment: attachment_from(row.try_get("attachment")?),
                    receipt: json_from(row.try_get("receipt")?),
                };
                Ok(RecentDialog { visitor, site_name: row.try_get("site_name")?, last_message })
            })
            .collect()
    }

    async fn mark_seen(&self, visitor_id: &str, message_id: i64) -> Result<bool> {
        // Only a message of this very dialog moves the mark, and only forward.
        let done = sqlx::query(
            "UPDATE visitors SET seen_message_id = ?
             WHERE id = ? AND (seen_message_id IS NULL OR seen_message_id < ?)
               AND EXISTS (SELECT 1 FROM messages WHERE id = ? AND visitor_id = visitors.id)",
        )
        .bind(message_id)
        .bind(visitor_id)
        .bind(message_id)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn seen_message(&self, visitor_id: &str) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT seen_message_id FROM visitors WHERE id = ?")
            .bind(visitor_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.0))
    }

    async fn user_sites(&self, user_id: i64) -> Result<Option<Vec<i64>>> {
        user_sites(&self.pool, user_id).await
    }

    async fn set_user_sites(&self, user_id: i64, sites: Option<&[i64]>) -> Result<()> {
        set_user_sites(&self.pool, user_id, sites).await
    }

    async fn record_visit(&self, id: &str, client: &VisitClient<'_>, new_visit: bool, first: bool) -> Result<()> {
        record_visit(&self.pool, id, client, new_visit, first).await
    }

    async fn add_visit_page(&self, id: &str, page: &PageInfo, now: i64) -> Result<()> {
        add_visit_page(&self.pool, id, page, now).await
    }

    async fn visitor_record(&self, id: &str) -> Result<Option<VisitorRecord>> {
        visitor_record(&self.pool, id).await
    }

    async fn set_identity(&self, visitor_id: &str, identity: &chatcast_protocol::api::Identity) -> Result<()> {
        set_identity(&self.pool, visitor_id, identity).await
    }

    async fn identity_secret(&self, site_id: i64, fresh: &str) -> Result<Option<String>> {
        identity_secret(&self.pool, site_id, fresh).await
    }

    async fn set_widget_settings(&self, site_id: i64, settings: &chatcast_protocol::WidgetSettings) -> Result<()> {
        set_widget_settings(&self.pool, site_id, settings).await
    }

    async fn set_contact(&self, visitor_id: &str, name: Option<&str>, email: &str) -> Result<()> {
        set_contact(&self.pool, visitor_id, name, email).await
    }

    async fn contact(&self, visitor_id: &str) -> Result<Option<(chatcast_protocol::Contact, i64)>> {
        contact(&self.pool, visitor_id).await
    }

    async fn mark_emailed(&self, visitor_id: &str, message_id: i64) -> Result<bool> {
        mark_emailed(&self.pool, visitor_id, message_id).await
    }

    async fn add_attachment(&self, a: &NewAttachment<'_>) -> Result<()> {
        add_attachment(&self.pool, a).await
    }

    async fn claim_attachment(
        &self,
        id: &str,
        visitor_id: &str,
        uploaded_by: &str,
        client_id: &str,
    ) -> Result<Option<Attachment>> {
        claim_attachment(&self.pool, id, visitor_id, uploaded_by, client_id).await
    }

    async fn attachment(&self, id: &str) -> Result<Option<(Attachment, Vec<u8>)>> {
        attachment(&self.pool, id).await
    }

    async fn uploads_since(&self, visitor_id: &str, uploaded_by: &str, since: i64) -> Result<i64> {
        uploads_since(&self.pool, visitor_id, uploaded_by, since).await
    }

    async fn delete_unsent_attachments(&self, before: i64) -> Result<u64> {
        delete_unsent_attachments(&self.pool, before).await
    }

    async fn canned_replies(&self) -> Result<Vec<CannedReply>> {
        canned_replies(&self.pool).await
    }

    async fn save_canned_reply(&self, id: Option<i64>, shortcut: &str, body: &str, now: i64) -> Result<Option<CannedReply>> {
        save_canned_reply(&self.pool, id, shortcut, body, now).await
    }

    async fn delete_canned_reply(&self, id: i64) -> Result<bool> {
        delete_canned_reply(&self.pool, id).await
    }

    async fn search_messages(&self, words: &[String], sites: Option<&[i64]>, limit: i64) -> Result<Vec<SearchHit>> {
        // FTS5: each word a quoted prefix ("boot"* finds "boots"); all must match.
        let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
        let rows = sqlx::query(
            "SELECT m.id, m.visitor_id, m.author, m.author_name, m.client_id, m.body, m.created_at, m.kind, m.attachment, m.receipt,
                    s.name AS site_name
             FROM messages_fts f JOIN messages m ON m.id = f.rowid
             JOIN visitors v ON v.id = m.visitor_id JOIN sites s ON s.id = v.site_id
             WHERE messages_fts MATCH $1 AND m.author <> 'system'
               AND ($3 IS NULL OR v.site_id IN (SELECT value FROM json_each($3)))
             ORDER BY m.id DESC LIMIT $2",
        )
        .bind(query.join(" "))
        .bind(limit)
        .bind(sites.map(|s| serde_json::to_string(s).unwrap_or_default()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(SearchHit { message: message_from(r)?, site_name: r.try_get("site_name")? })).collect()
    }

    async fn mark_read(&self, user_id: i64, visitor_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO dialog_reads (user_id, visitor_id, last_read_id)
             SELECT ?, ?, COALESCE(MAX(id), 0) FROM messages WHERE visitor_id = ?
             ON CONFLICT (user_id, visitor_id) DO UPDATE SET last_read_id = excluded.last_read_id",
        )
        .bind(user_id)
        .bind(visitor_id)
        .bind(visitor_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn conversations(&self, visitor_ids: &[String]) -> Result<Vec<Conversation>> {
        let rows = sqlx::query(sql(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM visitors v LEFT JOIN users u ON u.id = v.assignee_id
             WHERE v.state_at > 0 AND v.id IN (SELECT value FROM json_each($1))"
        )))
        .bind(serde_json::to_string(visitor_ids).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(conversation_row).collect()
    }

    async fn change_conversation(&self, visitor_id: &str, change: ConversationChange, now: i64) -> Result<Option<Conversation>> {
        if !conversation_changed(&self.pool, visitor_id, change, now).await? {
            return Ok(None);
        }
        Ok(self.conversations(&[visitor_id.to_owned()]).await?.pop())
    }

    async fn unread_counts(&self, user_id: i64) -> Result<Vec<Unread>> {
        let rows = sqlx::query(
            "SELECT m.visitor_id, COUNT(*) AS n FROM messages m
             LEFT JOIN dialog_reads r ON r.visitor_id = m.visitor_id AND r.user_id = ?
             WHERE m.author = 'visitor' AND m.id > COALESCE(r.last_read_id, 0)
             GROUP BY m.visitor_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(Unread { visitor_id: r.try_get("visitor_id")?, count: r.try_get("n")? })).collect()
    }

    async fn close(&self) {
        // Fold the WAL back into the main file so the data dir is one tidy file at rest.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }
}
