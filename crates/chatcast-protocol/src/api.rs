//! The bodies of the console's HTTP API (docs/protocol.md, "HTTP API"):
//! what the server answers, typed here like the socket messages and
//! generated to TypeScript beside them, so that the console and the server
//! cannot drift apart silently.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Millis, PrivacySettings};

/// What an account may do: consultants chat; admins also manage sites and the team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Chats with visitors, asks to see their tabs.
    Consultant,
    /// Also manages sites, the team and reads the audit trail.
    Admin,
}

/// A site as an admin sees it (`GET /api/sites`, `POST /api/sites`, `PUT /api/sites/{id}/settings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Site {
    /// Site id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The public key the widget's script tag carries.
    pub key: String,
    /// Origins allowed to embed the widget.
    pub origins: Vec<String>,
    /// The demo site this server serves at `/demo/`.
    pub is_demo: bool,
    /// What the agent masks and blocks on the site's pages.
    pub privacy: PrivacySettings,
    /// How long a visitor's consent is remembered for the tab that gave it.
    #[ts(type = "number")]
    pub consent_ttl_hours: i64,
    /// How the widget looks and speaks on the site.
    pub widget: crate::WidgetSettings,
    /// When it was added.
    #[ts(type = "number")]
    pub created_at: Millis,
}

/// An account as an admin sees it (`GET /api/users` and the user changes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct User {
    /// User id.
    pub id: String,
    /// Login email.
    pub email: String,
    /// Display name shown to visitors.
    pub name: String,
    /// What the account may do.
    pub role: Role,
    /// A disabled account cannot log in; its sessions ended when it was disabled.
    pub disabled: bool,
    /// The ids of the sites a consultant works on; `null`: every site (admins always).
    pub sites: Option<Vec<String>>,
}

/// One of the caller's own console sessions (`GET /api/sessions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Session {
    /// The id to end it by (`DELETE /api/sessions/{id}`).
    pub id: String,
    /// When it was made.
    #[ts(type = "number")]
    pub created_at: Millis,
    /// When it was last used.
    #[ts(type = "number")]
    pub last_seen_at: Millis,
    /// When it ends.
    #[ts(type = "number")]
    pub expires_at: Millis,
    /// The address it was made from.
    pub client_ip: String,
    /// The browser's user agent.
    pub user_agent: String,
    /// The session of the browser that asks.
    pub current: bool,
}

/// One row of the screen broadcast audit trail (`GET /api/audit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AuditEntry {
    /// Row id.
    #[ts(type = "number")]
    pub id: i64,
    /// Whose broadcast.
    pub visitor_id: String,
    /// The visitor's site.
    pub site_name: String,
    /// The consultant involved, if any.
    #[ts(type = "number | null")]
    pub user_id: Option<i64>,
    /// Their name at the time.
    pub consultant_name: Option<String>,
    /// What happened: `requested`, `granted`, `denied`, `started`, `resumed`, `stopped`, …
    pub event: String,
    /// Details (who stopped, measured figures, missing APIs).
    pub detail: String,
    /// When.
    #[ts(type = "number")]
    pub at: Millis,
}

/// A message that matched a transcript search (`GET /api/search`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SearchHit {
    /// The message (its `visitor_id` names the dialog to open).
    pub message: crate::ChatMessage,
    /// The visitor's site.
    pub site_name: String,
}

/// A saved reply the whole team can insert (`/shortcut` in the reply box).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CannedReply {
    /// Id.
    pub id: String,
    /// What follows `/` to find it: letters, digits, `-` and `_`, lowercase, unique.
    pub shortcut: String,
    /// The text it inserts.
    pub body: String,
    /// Last change.
    #[ts(type = "number")]
    pub updated_at: Millis,
}

/// Who a visitor is, for the console's visitor panel (`GET /api/visitors/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitorDetails {
    /// The visitor.
    pub visitor_id: String,
    /// Their site.
    pub site_name: String,
    /// Their browser, e.g. `Firefox 128` (read from the user agent).
    pub browser: String,
    /// Their operating system, e.g. `Windows`.
    pub os: String,
    /// The browser's language, e.g. `de-DE`.
    pub language: String,
    /// Their time zone, e.g. `Europe/Berlin` (the console shows their local time).
    pub timezone: String,
    /// Where this visit came from (masked like page URLs), or empty.
    pub referrer: String,
    /// The pages of this visit, oldest first (masked URLs; the latest 20).
    pub pages: Vec<PageVisit>,
    /// When the visitor was first seen.
    #[ts(type = "number")]
    pub first_seen: Millis,
    /// When they were last seen.
    #[ts(type = "number")]
    pub last_seen: Millis,
    /// Visits so far (a new one after 30 minutes away).
    #[ts(type = "number")]
    pub visits: i64,
    /// Messages in their conversation, from both sides.
    #[ts(type = "number")]
    pub messages: i64,
    /// When their conversation started (their first message), if it did.
    #[ts(type = "number | null")]
    pub conversation_since: Option<Millis>,
    /// Who the site says they are, if it did.
    pub identity: Option<Identity>,
    /// The name and email address the visitor typed in the widget (never verified).
    pub contact: crate::Contact,
}

/// Who a site says a visitor is (`Chatcast.identify`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Identity {
    /// The site's id for them.
    pub id: String,
    /// Their name, if given.
    pub name: Option<String>,
    /// Their email, if given.
    pub email: Option<String>,
    /// The site signed the id with its identity secret: it vouches for it.
    /// Unsigned (or wrongly signed) data is anyone's claim.
    pub verified: bool,
}

/// A page seen during a visit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PageVisit {
    /// The URL, masked.
    pub url: String,
    /// Its title.
    pub title: String,
    /// When the tab arrived there.
    #[ts(type = "number")]
    pub at: Millis,
}
