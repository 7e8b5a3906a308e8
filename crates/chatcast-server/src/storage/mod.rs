//! Storage: the [`Database`] trait the rest of the server talks to, and one
//! module per backend: SQLite ([`sqlite`]), the embedded default, and
//! PostgreSQL ([`postgres`]), the store a cluster of nodes shares.
//!
//! Queries are plain runtime SQL; each backend keeps its own migrations under
//! `migrations/<backend>/`.

pub mod postgres;
mod rows;
pub mod sqlite;

use async_trait::async_trait;
use chatcast_protocol::{Author, ChatMessage, Conversation, PageInfo, PrivacySettings, Unread};
use serde::Serialize;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A unique value (email, site key) is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A value the caller passed is not acceptable.
    #[error("invalid {0}")]
    Invalid(String),
    /// The backend failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Result of a storage call.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What a console user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Chats with visitors.
    Consultant,
    /// Also manages sites and the team.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Consultant => "consultant",
            Role::Admin => "admin",
        }
    }
    /// Parses a stored or user-given name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "consultant" => Some(Role::Consultant),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A console account.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login email (unique, case-insensitive).
    pub email: String,
    /// Display name shown to visitors.
    pub name: String,
    /// Permissions.
    pub role: Role,
    /// The account is disabled: it cannot log in, and has no sessions.
    pub disabled: bool,
    /// argon2id PHC string; never serialized.
    #[serde(skip)]
    pub password_hash: String,
}

/// A console login to store.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    /// SHA-256 of the cookie's token.
    pub token_hash: &'a str,
    /// The id the user sees it by (to revoke it).
    pub public_id: &'a str,
    /// Whose.
    pub user_id: i64,
    /// When it was made.
    pub now: i64,
    /// When it ends.
    pub expires_at: i64,
    /// The client address it was made from.
    pub client_ip: &'a str,
    /// The browser's user agent (cut short).
    pub user_agent: &'a str,
}

/// A console login as its user sees it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The id to revoke it by.
    pub id: String,
    /// When it was made.
    pub created_at: i64,
    /// When it was last used (login, console opened).
    pub last_seen_at: i64,
    /// When it ends.
    pub expires_at: i64,
    /// The client address it was made from.
    pub client_ip: String,
    /// The browser's user agent.
    pub user_agent: String,
    /// SHA-256 of its token (to tell the caller's own session; never sent).
    pub token_hash: String,
}

/// A website that embeds the widget.
#[derive(Clone, Debug, Serialize)]
pub struct Site {
    /// Row id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The public key in the embed snippet.
    pub key: String,
    /// Origins allowed to open the widget socket (`scheme://host[:port]`).
    pub origins: Vec<String>,
    /// The built-in demo site, served at `/demo/` from the server's own origin.
    pub is_demo: bool,
    /// What the agent masks and blocks on this site, beyond what it always does.
    pub privacy: PrivacySettings,
    /// How long a visitor's "yes" to screen broadcast is remembered.
    pub consent_ttl_hours: i64,
    /// How the widget looks and speaks on this site.
    pub widget: chatcast_protocol::WidgetSettings,
    /// Creation time.
    pub created_at: i64,
}

/// A visitor as stored.
#[derive(Clone, Debug)]
pub struct Visitor {
    /// Public id.
    pub id: String,
    /// Site it belongs to.
    pub site_id: i64,
    /// Last time the server heard from it.
    pub last_seen: i64,
    /// Last known page.
    pub page: PageInfo,
}

/// A message to store.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    /// Whose dialog.
    pub visitor_id: &'a str,
    /// Who wrote it.
    pub author: Author,
    /// The consultant, for consultant messages.
    pub user_id: Option<i64>,
    /// The consultant's name at the time.
    pub author_name: Option<&'a str>,
    /// Client-chosen id; a second message with the same one is not stored.
    pub client_id: Option<&'a str>,
    /// The text.
    pub body: &'a str,
    /// When.
    pub at: i64,
    /// A system line's kind, if it has one.
    pub kind: Option<chatcast_protocol::MessageKind>,
    /// A file sent with it (claimed with [`Database::claim_attachment`] first).
    pub attachment: Option<&'a chatcast_protocol::Attachment>,
    /// A broadcast receipt's facts (`kind: receipt`).
    pub receipt: Option<&'a chatcast_protocol::ReceiptFacts>,
}

/// A file uploaded to a dialog, not sent yet.
pub struct NewAttachment<'a> {
    /// Its random id.
    pub id: &'a str,
    /// The dialog.
    pub visitor_id: &'a str,
    /// `visitor`, or `user:ID`: only the uploader may send it.
    pub uploaded_by: &'a str,
    /// The name it came with (cleaned).
    pub name: &'a str,
    /// What its first bytes say it is.
    pub content_type: &'a str,
    /// The bytes.
    pub data: &'a [u8],
    /// When.
    pub at: i64,
}

/// A recent dialog for the console's list.
#[derive(Clone, Debug)]
pub struct RecentDialog {
    /// The visitor.
    pub visitor: Visitor,
    /// The site's name.
    pub site_name: String,
    /// Its newest message.
    pub last_message: ChatMessage,
}

/// A change to a conversation's state (see [`Database::change_conversation`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversationChange {
    /// Give it to this user (reopens it if closed).
    Assign(i64),
    /// Give it to nobody (a closed one stays closed).
    Unassign,
    /// Close it.
    Close,
    /// Open it again (to whoever had it).
    Reopen,
    /// A consultant answered: reopen it if closed, and it is theirs if it was nobody's.
    Answered(i64),
}

/// What a visitor's browser says of itself at the start of a socket.
#[derive(Clone, Debug, Default)]
pub struct VisitClient<'a> {
    /// The `User-Agent` header.
    pub user_agent: &'a str,
    /// `navigator.language`.
    pub language: &'a str,
    /// The IANA time zone.
    pub timezone: &'a str,
    /// Where the visit came from (masked).
    pub referrer: &'a str,
}

/// What the visitor panel shows, as stored.
#[derive(Clone, Debug)]
pub struct VisitorRecord {
    /// The site's name.
    pub site_name: String,
    /// The site.
    pub site_id: i64,
    /// The `User-Agent` last seen.
    pub user_agent: String,
    /// The browser's language.
    pub language: String,
    /// The time zone.
    pub timezone: String,
    /// Where the latest visit came from.
    pub referrer: String,
    /// Visits so far.
    pub visits: i64,
    /// Pages of the latest visit, oldest first.
    pub pages: Vec<chatcast_protocol::api::PageVisit>,
    /// First seen.
    pub first_seen: i64,
    /// Last seen.
    pub last_seen: i64,
    /// Messages in the dialog.
    pub messages: i64,
    /// The first message's time.
    pub conversation_since: Option<i64>,
    /// Who the site says they are.
    pub identity: Option<chatcast_protocol::api::Identity>,
    /// What the visitor typed about themselves in the widget.
    pub contact: chatcast_protocol::Contact,
}

/// The most pages a visit keeps.
pub const VISIT_PAGES: usize = 20;

/// A saved reply (the API's type).
pub use chatcast_protocol::api::CannedReply;

/// A transcript search hit (the API's type).
pub use chatcast_protocol::api::SearchHit;

/// The most words a search uses.
pub const SEARCH_WORDS: usize = 8;

/// The words of a search: runs of letters and digits (any script), lowercased,
/// at most [`SEARCH_WORDS`] of them. A message matches when it has every word,
/// each as a word or the start of one. Only these go into the backends'
/// query languages, so no input can change a query's meaning.
pub fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(64).collect::<String>().to_lowercase())
        .take(SEARCH_WORDS)
        .collect()
}

/// One row of the screen broadcast audit trail (the API's type: storage hands it out as it is).
pub use chatcast_protocol::api::AuditEntry;

/// Everything the server keeps. Implemented once per backend.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    // --- accounts
    /// Creates a console account.
    async fn create_user(&self, email: &str, name: &str, password_hash: &str, role: Role) -> Result<User>;
    /// Finds an account by email (case-insensitive).
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Replaces an account's password hash and role (a change ends its sessions).
    async fn update_user(&self, id: i64, password_hash: &str, role: Role) -> Result<()>;
    /// All accounts.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// One account by id.
    async fn user(&self, id: i64) -> Result<Option<User>>;
    /// Disables (ending its sessions) or enables an account.
    async fn set_user_disabled(&self, id: i64, disabled: bool, now: i64) -> Result<()>;
    /// Changes an account's role (ends its sessions).
    async fn set_user_role(&self, id: i64, role: Role) -> Result<()>;
    /// Changes an account's password (ends its sessions and forgets its known browsers).
    async fn set_user_password(&self, id: i64, password_hash: &str) -> Result<()>;
    /// Changes an account's display name.
    async fn set_user_name(&self, id: i64, name: &str) -> Result<()>;
    /// Removes an account (its sessions end; its messages keep the name they were sent with).
    async fn delete_user(&self, id: i64) -> Result<bool>;

    // --- console sessions
    /// Stores a login session by the hash of its token.
    async fn create_session(&self, session: NewSession<'_>) -> Result<()>;
    /// The account behind an unexpired session of an enabled account.
    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// A user's unexpired sessions, newest first.
    async fn user_sessions(&self, user_id: i64, now: i64) -> Result<Vec<SessionInfo>>;
    /// Ends one of a user's sessions by its public id; false if it has no such session.
    async fn delete_user_session(&self, user_id: i64, public_id: &str) -> Result<bool>;
    /// Which of these sessions (token hashes) are still valid.
    async fn live_sessions(&self, token_hashes: &[String], now: i64) -> Result<Vec<String>>;
    /// Notes that a session was used.
    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()>;
    /// A number that grows whenever a session may have ended (servers poll it).
    async fn auth_epoch(&self) -> Result<i64>;
    /// Remembers a browser that logged in to an account (by the hash of its device token).
    async fn remember_device(&self, token_hash: &str, user_id: i64, now: i64, expires_at: i64) -> Result<()>;
    /// The account a known browser logged in to before, if its token is still valid.
    async fn device_user(&self, token_hash: &str, now: i64) -> Result<Option<i64>>;

    // --- sites
    /// Creates a site with its allowed origins.
    async fn create_site(&self, name: &str, key: &str, origins: &[String], is_demo: bool) -> Result<Site>;
    /// The site with this key.
    async fn site_by_key(&self, key: &str) -> Result<Option<Site>>;
    /// The demo site, if it was created.
    async fn demo_site(&self) -> Result<Option<Site>>;
    /// All sites.
    async fn list_sites(&self) -> Result<Vec<Site>>;
    /// One site by id.
    async fn site(&self, id: i64) -> Result<Option<Site>>;
    /// Renames a site; false if no site has that id.
    async fn rename_site(&self, id: i64, name: &str) -> Result<bool>;
    /// Removes a site with its visitors, their transcripts and audit trail; false if none had that id.
    async fn delete_site(&self, id: i64) -> Result<bool>;
    /// Replaces a site's privacy settings and consent lifetime.
    async fn update_site_settings(&self, id: i64, privacy: &PrivacySettings, consent_ttl_hours: i64) -> Result<()>;

    // --- screen broadcast consent and audit
    /// Remembers a visitor's "yes", given in one browser tab, until `expires_at`.
    async fn remember_consent(&self, visitor_id: &str, tab_id: &str, now: i64, expires_at: i64) -> Result<()>;
    /// Whether that tab has a remembered, unrevoked, unexpired consent.
    async fn has_consent(&self, visitor_id: &str, tab_id: &str, now: i64) -> Result<bool>;
    /// Revokes every remembered consent of the visitor (they pressed Stop).
    async fn revoke_consent(&self, visitor_id: &str, now: i64) -> Result<()>;
    /// Appends to the audit trail.
    async fn audit(
        &self,
        visitor_id: &str,
        user_id: Option<i64>,
        consultant_name: Option<&str>,
        event: &str,
        detail: &str,
        at: i64,
    ) -> Result<()>;
    /// The newest audit rows, newest first (optionally of one visitor).
    async fn audit_log(&self, visitor_id: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>>;
    /// When the visitor last declined a screen broadcast (the audit's latest `denied`).
    async fn last_denied(&self, visitor_id: &str) -> Result<Option<i64>>;

    // --- visitors and dialogs
    /// The visitor presenting this token (by its hash) on this site.
    async fn visitor_by_token(&self, site_id: i64, token_hash: &str) -> Result<Option<Visitor>>;
    /// A visitor by public id, with its site's name.
    async fn visitor(&self, id: &str) -> Result<Option<(Visitor, String)>>;
    /// The site a visitor belongs to.
    async fn site_of_visitor(&self, visitor_id: &str) -> Result<Option<Site>> {
        match self.visitor(visitor_id).await? {
            Some((v, _)) => self.site(v.site_id).await,
            None => Ok(None),
        }
    }
    /// Creates a visitor.
    async fn create_visitor(&self, id: &str, site_id: i64, token_hash: &str, page: &PageInfo, now: i64) -> Result<()>;
    /// Records where the visitor is and when it was last heard from.
    async fn touch_visitor(&self, id: &str, page: &PageInfo, now: i64) -> Result<()>;
    /// Up to `limit` visitors due for deletion: never wrote and not seen since
    /// `idle_before`, or (with `transcript_before`) neither seen nor written
    /// to since then. Times in ms; `None` keeps that kind.
    async fn expired_visitors(&self, idle_before: Option<i64>, transcript_before: Option<i64>, limit: i64)
    -> Result<Vec<String>>;
    /// Deletes visitors with everything of theirs (messages, consents, read
    /// marks, audit rows); returns how many.
    async fn delete_visitors(&self, ids: &[String]) -> Result<u64>;
    /// Stores a message unless one with the same (visitor, author, client id)
    /// exists; returns the stored message and whether it is new.
    async fn insert_message(&self, msg: NewMessage<'_>) -> Result<(ChatMessage, bool)>;
    /// The newest `limit` messages of a dialog, oldest first.
    async fn messages(&self, visitor_id: &str, limit: i64) -> Result<Vec<ChatMessage>>;
    /// Dialogs with the newest messages, newest first: the closed ones or the others.
    async fn recent_dialogs(&self, closed: bool, limit: i64) -> Result<Vec<RecentDialog>>;
    /// The sites a user works on: `None` every site, else these (maybe none).
    async fn user_sites(&self, user_id: i64) -> Result<Option<Vec<i64>>>;
    /// Sets the sites a user works on (`None`: every site); moves the auth epoch.
    async fn set_user_sites(&self, user_id: i64, sites: Option<&[i64]>) -> Result<()>;
    /// Notes the browser a visitor came back with; `new_visit`: a visit starts
    /// (counted unless `first`, the visitor's very first socket), with its referrer and no pages yet.
    async fn record_visit(&self, id: &str, client: &VisitClient<'_>, new_visit: bool, first: bool) -> Result<()>;
    /// Adds a page to the latest visit (not twice in a row; the latest [`VISIT_PAGES`]).
    async fn add_visit_page(&self, id: &str, page: &PageInfo, now: i64) -> Result<()>;
    /// What the visitor panel shows.
    async fn visitor_record(&self, id: &str) -> Result<Option<VisitorRecord>>;
    /// Stores who the site says the visitor is.
    async fn set_identity(&self, visitor_id: &str, identity: &chatcast_protocol::api::Identity) -> Result<()>;
    /// The site's identity secret; `fresh` becomes it if it has none yet. `None`: no such site.
    async fn identity_secret(&self, site_id: i64, fresh: &str) -> Result<Option<String>>;
    /// Stores how the site's widget looks and speaks.
    async fn set_widget_settings(&self, site_id: i64, settings: &chatcast_protocol::WidgetSettings) -> Result<()>;
    /// Stores the name and email address the visitor gave (a name not given keeps the one stored).
    async fn set_contact(&self, visitor_id: &str, name: Option<&str>, email: &str) -> Result<()>;
    /// What the visitor gave about themselves, and the id of the newest answer
    /// already emailed to them (0: none). `None`: no such visitor.
    async fn contact(&self, visitor_id: &str) -> Result<Option<(chatcast_protocol::Contact, i64)>>;
    /// Stores an uploaded file (not part of any message yet).
    async fn add_attachment(&self, a: &NewAttachment<'_>) -> Result<()>;
    /// Takes an uploaded file for the message with `client_id`: only a file of
    /// this dialog, uploaded by `uploaded_by`, not sent with another message
    /// (the same message again may take it again). `None`: no such file.
    async fn claim_attachment(
        &self,
        id: &str,
        visitor_id: &str,
        uploaded_by: &str,
        client_id: &str,
    ) -> Result<Option<chatcast_protocol::Attachment>>;
    /// A sent file and its bytes (`None`: no such file, or one never sent).
    async fn attachment(&self, id: &str) -> Result<Option<(chatcast_protocol::Attachment, Vec<u8>)>>;
    /// How many files `uploaded_by` uploaded to this dialog since `since`.
    async fn uploads_since(&self, visitor_id: &str, uploaded_by: &str, since: i64) -> Result<i64>;
    /// Deletes files uploaded before `before` and never sent; how many.
    async fn delete_unsent_attachments(&self, before: i64) -> Result<u64>;
    /// Moves the "emailed up to" mark forward to `message_id`; false if it was
    /// already there or past it (someone else sent those answers).
    async fn mark_emailed(&self, visitor_id: &str, message_id: i64) -> Result<bool>;
    /// The team's saved replies, by shortcut.
    async fn canned_replies(&self) -> Result<Vec<CannedReply>>;
    /// Adds a saved reply (`id` `None`) or changes one; `None` if there is no
    /// such id. A shortcut another reply has is a [`StorageError::Conflict`].
    async fn save_canned_reply(&self, id: Option<i64>, shortcut: &str, body: &str, now: i64) -> Result<Option<CannedReply>>;
    /// Deletes a saved reply; false if there was none.
    async fn delete_canned_reply(&self, id: i64) -> Result<bool>;
    /// Visitor and consultant messages with all these words (see [`search_words`]),
    /// newest first; of these sites' visitors only, unless `sites` is `None`.
    async fn search_messages(&self, words: &[String], sites: Option<&[i64]>, limit: i64) -> Result<Vec<SearchHit>>;
    /// Marks everything in a dialog read for a consultant.
    async fn mark_read(&self, user_id: i64, visitor_id: &str) -> Result<()>;
    /// Notes that the visitor's widget showed its dialog up to `message_id`
    /// (a message of that dialog). True when that moved the mark forward.
    async fn mark_seen(&self, visitor_id: &str, message_id: i64) -> Result<bool>;
    /// The newest message of the dialog the visitor's widget has shown.
    async fn seen_message(&self, visitor_id: &str) -> Result<Option<i64>>;
    /// The conversations of these visitors that ever left "open, unassigned".
    async fn conversations(&self, visitor_ids: &[String]) -> Result<Vec<Conversation>>;
    /// Applies a change; the new state if that changed anything, `None` if it
    /// was so already (or the visitor is unknown).
    async fn change_conversation(&self, visitor_id: &str, change: ConversationChange, now: i64) -> Result<Option<Conversation>>;
    /// A consultant's unread visitor messages per dialog (non-zero only).
    async fn unread_counts(&self, user_id: i64) -> Result<Vec<Unread>>;

    /// Flushes and closes (at shutdown).
    async fn close(&self);
}

/// Opens the backend named by the URL's scheme and brings its schema up to date.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Database>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(sqlite::Sqlite::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(std::sync::Arc::new(postgres::Postgres::open(url).await?))
    } else {
        Err(StorageError::Invalid(format!("database URL `{url}`: expected sqlite:… or postgres://…")))
    }
}
