//! Chatcast wire types: the JSON messages of protocol version [`VERSION`].
//!
//! `docs/protocol.md` describes them in prose; this crate is the source of
//! truth. The TypeScript in `web/src/protocol/` is generated from these types by
//! `cargo test -p chatcast-protocol` (ts-rs), so the browser code and the server
//! cannot drift apart silently.
//!
//! Every text frame is `{"v": 1, "t": "<type>", …}`: [`Envelope`] adds `v` on the
//! way out; [`decode`] checks it on the way in and names what was wrong.

pub mod api;
pub mod url_mask;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use ts_rs::TS;

/// The protocol version every frame carries in `v`.
pub const VERSION: u32 = 1;

/// The longest chat message body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 4000;

/// Milliseconds since the Unix epoch, server clock.
pub type Millis = i64;

/// Who wrote a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The website visitor, through the widget.
    Visitor,
    /// A consultant, through the console.
    Consultant,
    /// The server itself (broadcast start/stop and the like).
    System,
}

impl Author {
    /// The name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Visitor => "visitor",
            Author::Consultant => "consultant",
            Author::System => "system",
        }
    }

    /// The inverse of [`Author::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "visitor" => Some(Author::Visitor),
            "consultant" => Some(Author::Consultant),
            "system" => Some(Author::System),
            _ => None,
        }
    }
}

/// One message of a dialog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ChatMessage {
    /// Server-assigned id; grows with time.
    pub id: String,
    /// The dialog's visitor.
    pub visitor_id: String,
    /// The id the sending client chose, used to de-duplicate resends.
    pub client_id: Option<String>,
    /// Who wrote it.
    pub author: Author,
    /// The consultant's display name, for consultant messages.
    pub author_name: Option<String>,
    /// The text.
    pub body: String,
    /// When the server stored it.
    #[ts(type = "number")]
    pub at: Millis,
    /// A system line of a particular kind (absent for ordinary messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub kind: Option<MessageKind>,
    /// A file sent with the message (absent for most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub attachment: Option<Attachment>,
    /// A broadcast's receipt as facts, for each reader to word in their
    /// language (`kind: receipt`; `body` is the English wording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub receipt: Option<ReceiptFacts>,
}

/// What the receipt of a screen broadcast says: how long, where, what stayed hidden.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReceiptFacts {
    /// How long the consultant watched, in seconds.
    #[ts(type = "number")]
    pub seconds: u64,
    /// The pages shown, in order (paths with masked values), at most 8.
    pub pages: Vec<String>,
    /// How many more pages were shown than are listed.
    pub more_pages: u32,
    /// Form fields that stayed hidden.
    #[ts(type = "number")]
    pub fields: u64,
    /// Other areas that stayed hidden.
    #[ts(type = "number")]
    pub areas: u64,
}

/// A file or image sent in a dialog. Its bytes are at `/files/{id}` on the
/// chat server: the id is random and long, the link is the permission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Attachment {
    /// The file's id (and the last part of its link).
    pub id: String,
    /// The name it was sent with.
    pub name: String,
    /// What the server found it to be (read from its first bytes, not taken from the sender):
    /// `image/png`, `image/jpeg`, `image/gif`, `image/webp`, `application/pdf` or `text/plain`.
    pub content_type: String,
    /// Its size in bytes.
    #[ts(type = "number")]
    pub size: u64,
}

/// What a system line is: clients may draw it in its own way, and the
/// visitor reads it in words written for them (the stored body is the
/// consultant's; `author_name` names the consultant involved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The receipt of a screen broadcast that ended: how long, which pages,
    /// how many fields and areas stayed hidden.
    Receipt,
    /// A consultant asked to see the tab.
    Requested,
    /// The visitor allowed it.
    Allowed,
    /// Recording started.
    Started,
    /// The consultant stopped it.
    Stopped,
    /// It stopped because nobody watched.
    NoViewers,
    /// The visitor declined.
    Denied,
    /// The request expired unanswered.
    Timeout,
    /// The visitor's browser cannot do it.
    Unsupported,
    /// The visitor's connection is too weak.
    WeakConnection,
    /// The visitor's tab went away.
    Offline,
    /// The visitor pressed Stop.
    StoppedByVisitor,
    /// The page sent more than the server may hold.
    TooMuchData,
    /// The consultants' answers went to the visitor's email address (nobody was online to read them).
    Emailed,
}

impl MessageKind {
    const NAMES: [(MessageKind, &'static str); 14] = [
        (MessageKind::Receipt, "receipt"),
        (MessageKind::Requested, "requested"),
        (MessageKind::Allowed, "allowed"),
        (MessageKind::Started, "started"),
        (MessageKind::Stopped, "stopped"),
        (MessageKind::NoViewers, "no_viewers"),
        (MessageKind::Denied, "denied"),
        (MessageKind::Timeout, "timeout"),
        (MessageKind::Unsupported, "unsupported"),
        (MessageKind::WeakConnection, "weak_connection"),
        (MessageKind::Offline, "offline"),
        (MessageKind::StoppedByVisitor, "stopped_by_visitor"),
        (MessageKind::TooMuchData, "too_much_data"),
        (MessageKind::Emailed, "emailed"),
    ];

    /// The name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(k, _)| *k == self).map(|(_, n)| *n).expect("every kind is named")
    }

    /// The inverse of [`MessageKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
    }
}

/// A page as the visitor's tab shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct PageInfo {
    /// `location.href`.
    pub url: String,
    /// `document.title`.
    #[serde(default)]
    pub title: String,
}

/// What the widget tells of the visitor's browser (never anything the page typed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct ClientInfo {
    /// `navigator.language`, e.g. `de-DE`.
    #[serde(default)]
    pub language: String,
    /// The IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default)]
    pub timezone: String,
    /// `document.referrer` (the server masks it as it masks page URLs).
    #[serde(default)]
    pub referrer: String,
}

/// One entry of the console's visitor list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitorInfo {
    /// Public id of the visitor (never its secret token).
    pub visitor_id: String,
    /// The site the visitor is on.
    pub site_id: String,
    /// That site's name.
    pub site_name: String,
    /// Whether at least one tab of the visitor is connected.
    pub online: bool,
    /// The page of the most recently active tab.
    pub page_url: String,
    /// Its title.
    pub page_title: String,
    /// Since when the visitor is online without interruption.
    #[ts(type = "number | null")]
    pub online_since: Option<Millis>,
    /// Last time the server heard from the visitor.
    #[ts(type = "number")]
    pub last_seen: Millis,
    /// The newest message of the dialog.
    pub last_message: Option<ChatMessage>,
    /// The state of the visitor's screen broadcast.
    pub screencast: ScreencastState,
}

/// The logged-in consultant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Me {
    /// User id.
    pub id: String,
    /// Login email.
    pub email: String,
    /// Display name shown to visitors.
    pub name: String,
    /// `consultant` or `admin`.
    pub role: String,
}

/// Frames the widget sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum VisitorIn {
    /// First frame on every socket.
    Hello {
        /// The token issued earlier, if the page kept one.
        #[serde(default)]
        token: Option<String>,
        /// Where the tab is.
        page: PageInfo,
        /// Random id of the browser tab, kept in `sessionStorage` so that it
        /// survives navigation: a broadcast follows this tab and no other.
        #[serde(default)]
        tab_id: Option<String>,
        /// What the browser says of itself, for the consultant's visitor panel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        client: Option<ClientInfo>,
    },
    /// The tab moved without a reload (single-page-app route change).
    Page {
        /// Where the tab is now.
        page: PageInfo,
    },
    /// A chat message.
    Send {
        /// Client-chosen id for de-duplication.
        client_id: String,
        /// The text (may be empty with an attachment).
        body: String,
        /// A file the visitor uploaded to `POST /files` to send with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        attachment_id: Option<String>,
    },
    /// The visitor answered a `consent_request`.
    ConsentAnswer {
        /// The request answered.
        request_id: String,
        /// Yes or No.
        allow: bool,
    },
    /// The agent cannot broadcast this tab (answer to `screencast_start`).
    ScreencastUnavailable {
        /// `unsupported` (with the missing APIs in `detail`).
        reason: NoticeReason,
        /// What exactly is missing.
        detail: String,
    },
    /// The visitor pressed Stop: ends the broadcast and revokes the remembered consent.
    ScreencastStop {},
    /// How much of the broadcast page stays hidden (for the receipt): counted
    /// by the widget with the recorder's rules when recording starts on a page.
    ScreencastStats {
        /// Fields (inputs, text areas, selects) blocked or masked.
        hidden_fields: u32,
        /// Other areas blocked or masked.
        hidden_areas: u32,
    },
    /// Echo of the server's `probe` (round-trip measurement).
    Probe {
        /// The probe's id.
        id: String,
    },
    /// The visitor is typing. Never carries the text: sent at most every few
    /// seconds while keys are pressed; consoles forget it after a few seconds.
    Typing {},
    /// The widget showed the dialog up to this message (panel open, page
    /// visible): the consultant's replies up to it read "Seen".
    Seen {
        /// The newest message shown.
        message_id: String,
    },
    /// The site says who the visitor is (`Chatcast.identify`): trusted only
    /// with a `signature` made on the site's server (see docs/protocol.md).
    Identify {
        /// The site's own id for this person.
        id: String,
        /// Their name.
        #[serde(default)]
        name: Option<String>,
        /// Their email address.
        #[serde(default)]
        email: Option<String>,
        /// Hex HMAC-SHA256 of `id` with the site's identity secret.
        #[serde(default)]
        signature: Option<String>,
    },
    /// The visitor's own name and email address (the pre-chat form, or the
    /// address for answers while nobody is online). Shown to consultants as
    /// given by the visitor; answers written while the visitor is away go to the address.
    Contact {
        /// Their name, as they typed it.
        #[serde(default)]
        name: Option<String>,
        /// Their email address.
        email: String,
    },
}

/// Frames the server sends to the widget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum VisitorOut {
    /// Answer to `hello`.
    Welcome {
        /// Public visitor id.
        visitor_id: String,
        /// Secret token to keep and present in the next `hello`.
        token: String,
        /// The dialog so far.
        messages: Vec<ChatMessage>,
        /// The site's privacy rules: page URLs are masked with its
        /// `keep_url_params` before they are sent; the "what stays hidden"
        /// preview draws with its selectors.
        privacy: PrivacySettings,
        /// How the site's widget looks and speaks.
        settings: WidgetSettings,
        /// Whether a consultant of the site is online (else the widget says so).
        support_online: bool,
        /// Whether the server emails answers to visitors who are away (SMTP is
        /// set up): only then does the widget ask for an email address while nobody is online.
        emails_answers: bool,
        /// The name and email address the visitor gave (`contact`), if any.
        contact: Contact,
    },
    /// Whether a consultant of the site is online changed.
    Support {
        /// Someone is online to answer.
        online: bool,
    },
    /// A new message in the dialog.
    Message {
        /// The message.
        message: ChatMessage,
    },
    /// A `send` was stored.
    Ack {
        /// The client id of that `send`.
        client_id: String,
        /// The stored message.
        message: ChatMessage,
    },
    /// A consultant asks to see this tab: show the consent block.
    ConsentRequest {
        /// Id to answer with.
        request_id: String,
        /// Who asks.
        consultant_name: String,
        /// When the request lapses.
        #[ts(type = "number")]
        expires_at: Millis,
        /// What will be masked and blocked (for the "what stays hidden" preview).
        privacy: PrivacySettings,
        /// How long a Yes is remembered for the tab that gives it, in hours.
        #[ts(type = "number")]
        remember_hours: i64,
    },
    /// The request is no longer open (timed out, withdrawn, or answered in another tab): hide the block.
    ConsentClosed {
        /// The request.
        request_id: String,
    },
    /// Measure the connection: echo `probe` at once, then send a binary probe
    /// frame (kind 3) of `upload_bytes` bytes.
    Probe {
        /// Echo this.
        id: String,
        /// Size of the binary probe to send after the echo.
        upload_bytes: u32,
    },
    /// Start recording this tab (consent is given and a consultant watches).
    ScreencastStart {
        /// What to mask and block, from the site's admin settings.
        privacy: PrivacySettings,
        /// Who watches, for the "being viewed" indicator.
        consultant_name: String,
        /// Opens this broadcast's screen socket: `GET /ws/screen?token=…`, where
        /// the tab sends its binary keyframes and deltas (valid until the broadcast ends).
        screen_token: String,
    },
    /// Stop recording at once; no further screen frame may leave the page.
    ScreencastStop {
        /// Why, for the visitor (`stopped_by_consultant`, `stopped_by_visitor`, `no_viewers`, …).
        reason: String,
    },
    /// The server has no usable keyframe: take a full snapshot now.
    KeyframeRequest {},
    /// A consultant is typing a reply (no text; forget it after a few seconds).
    Typing {
        /// Who, as the visitor sees consultants named.
        name: String,
    },
    /// Something was wrong.
    Error(ErrorBody),
}

/// How a site's widget looks and speaks, set by the site's admins in the console.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct WidgetSettings {
    /// The first words of an empty chat; empty: the language's own.
    pub greeting: String,
    /// What the widget says while no consultant of the site is online; empty: the language's own.
    pub offline_text: String,
    /// The accent colour, `#rrggbb`; empty: the script tag's `data-color`, else Chatcast's blue.
    pub color: String,
    /// The corner the launcher sits in.
    pub position: WidgetPosition,
    /// The language of the widget's own words.
    pub language: WidgetLanguage,
    /// Ask for a name and email address before the first message.
    pub prechat: bool,
}

/// The corner of the page the widget sits in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum WidgetPosition {
    /// Bottom right.
    #[default]
    Right,
    /// Bottom left.
    Left,
}

/// A language the widget ships (its strings are in `web/src/widget/i18n/`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum WidgetLanguage {
    /// English.
    #[default]
    En,
    /// Russian.
    Ru,
}

impl WidgetLanguage {
    /// The BCP 47 tag (`en`, `ru`).
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetLanguage::En => "en",
            WidgetLanguage::Ru => "ru",
        }
    }
}

/// The name and email address a visitor gave in the widget.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Contact {
    /// Their name, if they gave one.
    pub name: Option<String>,
    /// Their email address.
    pub email: Option<String>,
}

/// Privacy settings of a site, applied by the agent before anything leaves the page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct PrivacySettings {
    /// Mask every input's value, not only passwords and payment fields.
    pub mask_all_inputs: bool,
    /// CSS selectors of elements to block (replaced by a grey box of the same size).
    pub block_selectors: Vec<String>,
    /// CSS selectors of elements whose text is masked (layout kept).
    pub mask_selectors: Vec<String>,
    /// Query parameters whose values stay visible in URLs (all others are
    /// masked, see [`url_mask`]); the entry `#` keeps the fragment.
    #[serde(default)]
    pub keep_url_params: Vec<String>,
}

/// What the console's screencast button shows for a visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ScreencastState {
    /// Nothing going on; a request is possible.
    Idle,
    /// Waiting for the visitor's permission.
    Pending,
    /// Consent given: the broadcast is live (or ready to be watched).
    Active,
    /// Not possible now (the visitor is offline).
    Unavailable,
}

/// Why a broadcast was refused, impossible, or ended by the visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NoticeReason {
    /// The visitor pressed No.
    Denied,
    /// The visitor's browser lacks APIs the agent needs.
    Unsupported,
    /// The measured connection is too slow.
    WeakConnection,
    /// The visitor has no live connection.
    Offline,
    /// The request expired unanswered.
    Timeout,
    /// The visitor pressed Stop.
    StoppedByVisitor,
    /// The page sent more than the relay may hold (it ignored keyframe
    /// requests, or the server holds all it may): the broadcast was ended.
    TooMuchData,
}

/// Frames the console sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ConsoleIn {
    /// Open a dialog: answered with `dialog`, and marks it read.
    Open {
        /// Whose dialog.
        visitor_id: String,
    },
    /// A consultant message.
    Send {
        /// To whom.
        visitor_id: String,
        /// Client-chosen id for de-duplication.
        client_id: String,
        /// The text (may be empty with an attachment).
        body: String,
        /// A file the consultant uploaded to `POST /api/files` for this visitor, to send with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        attachment_id: Option<String>,
    },
    /// The consultant has read the dialog up to now.
    Read {
        /// Which dialog.
        visitor_id: String,
    },
    /// Ask to see the visitor's tab (or start at once with remembered consent).
    ScreencastRequest {
        /// Whose tab.
        visitor_id: String,
    },
    /// End the broadcast.
    ScreencastStop {
        /// Whose.
        visitor_id: String,
    },
    /// This socket wants the broadcast's screen frames (keyframe, then live deltas).
    Watch {
        /// Whose broadcast.
        visitor_id: String,
    },
    /// This socket no longer wants them.
    Unwatch {
        /// Whose broadcast.
        visitor_id: String,
    },
    /// The consultant is typing a reply to this visitor (no text travels).
    Typing {
        /// To whom.
        visitor_id: String,
    },
    /// Give the conversation to a teammate (`user_id`), or to nobody (`null`).
    /// Assigning a closed conversation reopens it.
    Assign {
        /// Whose conversation.
        visitor_id: String,
        /// The teammate's user id (see the snapshot's `team`), or `null`.
        user_id: Option<String>,
    },
    /// Close the conversation: it leaves the open views until the visitor writes again.
    Close {
        /// Whose conversation.
        visitor_id: String,
    },
    /// Open a closed conversation again.
    Reopen {
        /// Whose conversation.
        visitor_id: String,
    },
}

/// Frames the server sends to the console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ConsoleOut {
    /// First frame after connecting.
    Snapshot {
        /// Who is logged in.
        me: Me,
        /// Online visitors and recent dialogs.
        visitors: Vec<VisitorInfo>,
        /// This consultant's unread visitor messages per dialog (dialogs with none are left out).
        /// The console keeps the counts current itself: +1 for each visitor `message`, 0 on `read`.
        unread: Vec<Unread>,
        /// The state of every listed conversation that ever left "open, unassigned"
        /// (the others are that); kept current by `conversation` frames.
        conversations: Vec<Conversation>,
        /// The enabled accounts a conversation can be handed to.
        team: Vec<Teammate>,
    },
    /// Insert or replace one visitor list entry.
    Visitor {
        /// The entry.
        visitor: VisitorInfo,
    },
    /// Answer to `open`.
    Dialog {
        /// Whose dialog.
        visitor_id: String,
        /// The whole history.
        messages: Vec<ChatMessage>,
        /// The newest message the visitor's widget has shown, if any.
        seen: Option<String>,
    },
    /// A new message in any dialog.
    Message {
        /// The message.
        message: ChatMessage,
    },
    /// This consultant's `send` was stored.
    Ack {
        /// The client id of that `send`.
        client_id: String,
        /// The stored message.
        message: ChatMessage,
    },
    /// A visitor's broadcast changed state (sent to every console).
    Screencast {
        /// Whose.
        visitor_id: String,
        /// The new state.
        state: ScreencastState,
    },
    /// Where the replica of a broadcast may load the visitor's site's assets
    /// from (images, fonts, style sheets): sent in answer to `watch`, before
    /// its first screen frame. Nothing from elsewhere is fetched.
    ScreencastAssets {
        /// Whose broadcast.
        visitor_id: String,
        /// The site's allowed origins.
        origins: Vec<String>,
        /// The demo site, served by this server under `/demo/`.
        demo: bool,
    },
    /// A broadcast was refused, impossible, or stopped by the visitor: show it over the dialog.
    ScreencastNotice {
        /// Whose.
        visitor_id: String,
        /// Why.
        reason: NoticeReason,
        /// Details for a human (e.g. which API is missing, the measured round trip).
        detail: String,
        /// After a "No": seconds until a consultant may ask this visitor again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        retry_in_secs: Option<u32>,
    },
    /// This consultant read the dialog (in this or another of their consoles): unread is 0.
    Read {
        /// Which dialog.
        visitor_id: String,
    },
    /// The visitor is typing (no text; forget it after a few seconds).
    Typing {
        /// Who.
        visitor_id: String,
    },
    /// A conversation was assigned, closed or reopened (sent to every console;
    /// also when a visitor whose conversation is not "open, unassigned" comes online).
    /// Of two frames about one conversation, the one with the later `updated_at` holds.
    Conversation {
        /// Its new state.
        conversation: Conversation,
    },
    /// The visitor's widget showed the dialog up to `message_id`.
    Seen {
        /// Whose dialog.
        visitor_id: String,
        /// The newest message shown.
        message_id: String,
    },
    /// Something was wrong.
    Error(ErrorBody),
}

/// Where a conversation is in the team's workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Waiting for someone to take it.
    Open,
    /// One teammate has it.
    Assigned,
    /// Done, until the visitor writes again.
    Closed,
}

/// A conversation's place in the team's workflow (one per visitor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Conversation {
    /// Whose conversation.
    pub visitor_id: String,
    /// Open, assigned or closed.
    pub state: ConversationState,
    /// Who has it (also while closed: a visitor writing again reopens it to them).
    pub assignee_id: Option<String>,
    /// That teammate's display name.
    pub assignee_name: Option<String>,
    /// When it last changed (0: never).
    #[ts(type = "number")]
    pub updated_at: Millis,
}

/// A teammate a conversation can be handed to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Teammate {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// One dialog's unread count for the logged-in consultant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Unread {
    /// Which dialog.
    pub visitor_id: String,
    /// Visitor messages newer than the consultant's last `read`/`open`.
    #[ts(type = "number")]
    pub count: i64,
}

/// The body of an `error` frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ErrorBody {
    /// Machine-readable code (see `docs/protocol.md`).
    pub code: ErrorCode,
    /// What was wrong, for a human.
    pub message: String,
    /// The `t` of the offending frame, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_type: Option<String>,
}

/// Machine-readable error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not a JSON object.
    BadJson,
    /// `v` missing or unknown.
    UnsupportedVersion,
    /// `t` not accepted on this endpoint.
    UnknownType,
    /// A field missing or of the wrong type.
    BadMessage,
    /// Empty chat message.
    EmptyMessage,
    /// Chat message over [`MAX_BODY_CHARS`].
    MessageTooLong,
    /// A visitor frame before `hello`.
    NotReady,
    /// The console named a visitor that does not exist.
    UnknownVisitor,
    /// Binary frames are reserved for screen data.
    BinaryNotSupported,
    /// No site has this key.
    UnknownSite,
    /// The origin is not allowed.
    OriginNotAllowed,
    /// No valid session.
    Unauthorized,
    /// The peer does not read its messages.
    TooSlow,
    /// No broadcast is live where one was expected (a screen frame, a `watch`).
    NoBroadcast,
    /// Past a limit of this client (address or socket); the message says which and when to retry.
    RateLimited,
    /// The server failed; nothing was stored.
    Internal,
}

impl ErrorBody {
    /// An error about no particular frame.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { code, message: message.into(), ref_type: None }
    }
}

/// An outgoing frame: the message with the protocol version beside its tag.
#[derive(Serialize)]
pub struct Envelope<'a, T: Serialize> {
    /// Always [`VERSION`].
    pub v: u32,
    /// The message, flattened so that `t` sits beside `v`.
    #[serde(flatten)]
    pub msg: &'a T,
}

/// Serialize a message into the text of one frame.
pub fn encode<T: Serialize>(msg: &T) -> String {
    serde_json::to_string(&Envelope { v: VERSION, msg }).expect("wire types always serialize")
}

/// Serialize a message once into the bytes of a text frame, for every peer it goes to.
pub fn frame<T: Serialize>(msg: &T) -> bytes::Bytes {
    bytes::Bytes::from(encode(msg))
}

/// Decode one text frame, naming what was wrong if it cannot be used.
///
/// `accepted` lists the `t` values of the endpoint, so that an unknown type is
/// told apart from a known type with a bad field.
pub fn decode<T: DeserializeOwned>(text: &str, accepted: &[&str]) -> Result<T, ErrorBody> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ErrorBody::new(ErrorCode::BadJson, format!("frame is not valid JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| ErrorBody::new(ErrorCode::BadJson, "frame must be a JSON object"))?;
    let t = obj.get("t").and_then(|t| t.as_str()).map(str::to_owned);
    let with_ref = |mut e: ErrorBody| {
        e.ref_type = t.clone();
        e
    };
    match obj.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == VERSION as u64 => {}
        Some(v) => {
            return Err(with_ref(ErrorBody::new(
                ErrorCode::UnsupportedVersion,
                format!("protocol version {v} is not supported; this server speaks {VERSION}"),
            )));
        }
        None => {
            return Err(with_ref(ErrorBody::new(
                ErrorCode::UnsupportedVersion,
                format!("field `v` (protocol version, a number) is missing; this server speaks {VERSION}"),
            )));
        }
    }
    let Some(t_str) = t.as_deref() else {
        return Err(ErrorBody::new(ErrorCode::BadMessage, "field `t` (message type, a string) is missing"));
    };
    if !accepted.contains(&t_str) {
        return Err(with_ref(ErrorBody::new(
            ErrorCode::UnknownType,
            format!("unknown message type `{t_str}`; this endpoint accepts {}", accepted.join(", ")),
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| with_ref(ErrorBody::new(ErrorCode::BadMessage, format!("bad `{t_str}` message: {e}"))))
}

/// The `t` values a visitor may send.
pub const VISITOR_TYPES: &[&str] = &[
    "hello",
    "page",
    "send",
    "consent_answer",
    "screencast_unavailable",
    "screencast_stop",
    "screencast_stats",
    "probe",
    "typing",
    "seen",
    "identify",
    "contact",
];
/// The `t` values a console may send.
pub const CONSOLE_TYPES: &[&str] =
    &["open", "send", "read", "screencast_request", "screencast_stop", "watch", "unwatch", "typing", "assign", "close", "reopen"];

/// Binary screen frames: a 5-byte header, then the body the server forwards
/// without parsing (a JSON array of rrweb events for kinds 1 and 2).
pub mod screen {
    /// Header length: kind (1 byte) + sequence number (u32, big-endian).
    pub const HEADER_LEN: usize = 5;
    /// Starts with a full snapshot: replaces everything before it.
    pub const KIND_KEYFRAME: u8 = 1;
    /// Events after the latest keyframe.
    pub const KIND_DELTA: u8 = 2;
    /// Connection measurement padding (never relayed).
    pub const KIND_PROBE: u8 = 3;

    /// Reads a frame's kind and sequence number.
    pub fn header(frame: &[u8]) -> Option<(u8, u32)> {
        if frame.len() < HEADER_LEN {
            return None;
        }
        Some((frame[0], u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]])))
    }

    /// Builds a frame (tests and the load generator).
    pub fn encode(kind: u8, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN + body.len());
        v.push(kind);
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(body);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_carries_version_and_tag() {
        let s = encode(&VisitorIn::Page { page: PageInfo { url: "u".into(), title: "t".into() } });
        assert_eq!(s, r#"{"v":1,"t":"page","page":{"url":"u","title":"t"}}"#);
        let e = encode(&ConsoleOut::Error(ErrorBody::new(ErrorCode::BadJson, "x")));
        assert_eq!(e, r#"{"v":1,"t":"error","code":"bad_json","message":"x"}"#);
    }

    #[test]
    fn decode_names_the_problem() {
        let err = decode::<VisitorIn>("nope", VISITOR_TYPES).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadJson);
        let err = decode::<VisitorIn>(r#"{"t":"send"}"#, VISITOR_TYPES).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedVersion);
        let err = decode::<VisitorIn>(r#"{"v":1,"t":"dance"}"#, VISITOR_TYPES).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownType);
        assert!(err.message.contains("dance"));
        let err = decode::<VisitorIn>(r#"{"v":1,"t":"send","client_id":"a"}"#, VISITOR_TYPES).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadMessage);
        assert!(err.message.contains("body"), "{}", err.message);
        assert_eq!(err.ref_type.as_deref(), Some("send"));
        let ok = decode::<VisitorIn>(r#"{"v":1,"t":"send","client_id":"a","body":"hi"}"#, VISITOR_TYPES).unwrap();
        assert_eq!(ok, VisitorIn::Send { client_id: "a".into(), body: "hi".into(), attachment_id: None });
    }

    /// Regenerates `web/src/protocol/*.ts`; CI checks the result is committed.
    #[test]
    fn export_typescript() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/src/protocol");
        let cfg = ts_rs::Config::new().with_out_dir(dir);
        VisitorIn::export_all(&cfg).unwrap();
        VisitorOut::export_all(&cfg).unwrap();
        ConsoleIn::export_all(&cfg).unwrap();
        ConsoleOut::export_all(&cfg).unwrap();
        api::Site::export_all(&cfg).unwrap();
        api::User::export_all(&cfg).unwrap();
        api::Session::export_all(&cfg).unwrap();
        api::AuditEntry::export_all(&cfg).unwrap();
        api::SearchHit::export_all(&cfg).unwrap();
        api::CannedReply::export_all(&cfg).unwrap();
        api::VisitorDetails::export_all(&cfg).unwrap();
    }
}
