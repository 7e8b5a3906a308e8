//! Chat: the visitor and console socket sessions. Each decodes its frames
//! once, stores through [`crate::storage`], serializes each outgoing message
//! once and lets the [`crate::hub`] fan it out.

pub mod console;
pub mod identity;
pub mod retention;
pub mod support;
pub mod visitor;

use chatcast_protocol::{ChatMessage, ConsoleOut, ErrorBody, ErrorCode, MAX_BODY_CHARS, VisitorOut, frame};

use crate::app::AppState;
use crate::storage::{ConversationChange, NewMessage, StorageError};

/// How many messages of history a dialog sends when opened.
pub const HISTORY_LIMIT: i64 = 500;

/// The most often one socket's "typing" is passed on: clients send it about
/// every 2 s while keys are pressed; faster ones are dropped, not errors.
pub const TYPING_EVERY: std::time::Duration = std::time::Duration::from_millis(1500);

/// Delivers a chat message: stores it, then (the first time its client id is
/// seen) sends it to every console and to the visitor's tabs — all but the
/// tab `except` that sent it, which gets an `ack` instead. The one path every
/// message takes, visitor, consultant or system. Returns the stored message
/// and whether it is new (a resend gets the message stored the first time).
pub async fn deliver(
    state: &AppState,
    site_id: i64,
    m: NewMessage<'_>,
    except: Option<crate::transport::ConnId>,
) -> Result<(ChatMessage, bool), StorageError> {
    let (message, is_new) = state.db.insert_message(m).await?;
    if is_new {
        let author = message.author.as_str();
        metrics::counter!("chatcast_messages_total", "author" => author).increment(1);
        state.hub.note_message(&message);
        let out = frame(&ConsoleOut::Message { message: message.clone() });
        state.hub.to_consoles(site_id, &out);
        state.hub.to_visitor(&message.visitor_id, &frame(&VisitorOut::Message { message: message.clone() }), except);
        if message.author == chatcast_protocol::Author::Consultant {
            // Unread later, with the visitor away: it may go by email.
            crate::mail::schedule(state, &message.visitor_id);
        }
    }
    Ok((message, is_new))
}

/// Changes a conversation's state and, if that changed it, tells the site's consoles.
pub async fn change_conversation(
    state: &AppState,
    site_id: i64,
    visitor_id: &str,
    change: ConversationChange,
) -> Result<(), StorageError> {
    if let Some(c) = state.db.change_conversation(visitor_id, change, crate::now_ms()).await? {
        state.hub.to_consoles(site_id, &frame(&ConsoleOut::Conversation { conversation: c }));
    }
    Ok(())
}

/// The site of a visitor: from this node's sockets, else from storage
/// (`None`: no such visitor, e.g. removed with its site).
pub async fn site_of(state: &AppState, visitor_id: &str) -> Option<i64> {
    if let Some(site) = state.hub.site_of(visitor_id) {
        return Some(site);
    }
    match state.db.visitor(visitor_id).await {
        Ok(v) => v.map(|(v, _)| v.site_id),
        Err(e) => {
            tracing::error!(error = %e, "looking up a visitor's site failed");
            None
        }
    }
}

/// Sends a frame about a visitor to the consoles of its site.
pub async fn to_consoles_about(state: &AppState, visitor_id: &str, frame: &bytes::Bytes) {
    if let Some(site) = site_of(state, visitor_id).await {
        state.hub.to_consoles(site, frame);
    }
}

/// Tells the site's consoles the state of a conversation that came online, unless
/// it is the default ("open, unassigned", which consoles assume).
pub async fn announce_conversation(state: &AppState, site_id: i64, visitor_id: &str) -> Result<(), StorageError> {
    if let Some(c) = state.db.conversations(&[visitor_id.to_owned()]).await?.pop() {
        state.hub.to_consoles(site_id, &frame(&ConsoleOut::Conversation { conversation: c }));
    }
    Ok(())
}

/// A message's text and file, checked: the file (if named) is one `uploaded_by`
/// uploaded to this dialog and sent with no other message; it is taken for
/// this one. With a file the text may be empty.
pub async fn message_parts<'a>(
    state: &AppState,
    visitor_id: &str,
    uploaded_by: &str,
    client_id: &str,
    body: &'a str,
    attachment_id: Option<&str>,
) -> Result<(&'a str, Option<chatcast_protocol::Attachment>), ErrorBody> {
    let Some(id) = attachment_id else { return Ok((check_body(body, "send")?, None)) };
    let body = if body.trim().is_empty() { "" } else { check_body(body, "send")? };
    match state.db.claim_attachment(id, visitor_id, uploaded_by, client_id).await {
        Ok(Some(a)) => Ok((body, Some(a))),
        Ok(None) => Err(ErrorBody {
            code: ErrorCode::BadMessage,
            message: "no file with this `attachment_id` was uploaded by you to this dialog, or it was sent with another message"
                .into(),
            ref_type: Some("send".into()),
        }),
        Err(e) => Err(internal(e)),
    }
}

/// Checks a chat message body; returns it trimmed.
pub fn check_body<'a>(body: &'a str, t: &str) -> Result<&'a str, ErrorBody> {
    let trimmed = body.trim();
    let err = |code, message: String| ErrorBody { code, message, ref_type: Some(t.to_owned()) };
    if trimmed.is_empty() {
        return Err(err(ErrorCode::EmptyMessage, "the message is empty".into()));
    }
    let n = trimmed.chars().count();
    if n > MAX_BODY_CHARS {
        return Err(err(
            ErrorCode::MessageTooLong,
            format!("the message has {n} characters; at most {MAX_BODY_CHARS} are allowed"),
        ));
    }
    Ok(trimmed)
}

/// Checks a client id (non-empty, at most 64 characters).
pub fn check_client_id(id: &str, t: &str) -> Result<(), ErrorBody> {
    if id.is_empty() || id.len() > 64 {
        return Err(ErrorBody {
            code: ErrorCode::BadMessage,
            message: "`client_id` must be 1 to 64 characters".into(),
            ref_type: Some(t.to_owned()),
        });
    }
    Ok(())
}

/// The error frame for a storage failure (the client may retry: nothing was stored).
pub fn internal(e: crate::storage::StorageError) -> ErrorBody {
    tracing::error!(error = %e, "storage failed");
    ErrorBody::new(ErrorCode::Internal, "the server failed to store this; send it again")
}
