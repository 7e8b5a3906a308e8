//! The screen socket (`/ws/screen?token=…`): a broadcasting tab's upload of
//! binary keyframes and deltas, apart from its chat socket.
//!
//! Why a socket of its own: permessage-deflate pays off on the screen stream
//! only with context takeover, which costs a deflate window per socket. Chat
//! sockets are many and mostly idle, so they compress without context (no
//! per-socket state); the one screen socket per live broadcast keeps its
//! context. A large keyframe also never holds up a chat message.
//!
//! The token comes in `screencast_start` and is valid while that broadcast is
//! live on that tab; the server closes the socket when the broadcast ends or
//! the tab moves on (its next page gets a new token). Control messages
//! (`keyframe_request`, `screencast_stop`) stay on the chat socket.

use chatcast_protocol::{ErrorBody, ErrorCode};

use super::{Entry, Phase};
use crate::app::AppState;
use crate::engine::{Envelope, Target};
use crate::transport::{ConnId, Connection, Event};

/// A screen token that belongs to a live broadcast.
pub struct Ticket {
    /// The broadcasting visitor.
    pub visitor_id: String,
    token: String,
    /// The node that runs the broadcast, when it is another one: the socket's
    /// frames are forwarded there.
    owner: Option<crate::engine::NodeId>,
}

/// The live broadcast a token belongs to, if any: on this node (the token
/// starts with the visitor's id, so that is one lookup), or on another one.
pub async fn ticket(app: &AppState, token: &str) -> Option<Ticket> {
    let (visitor_id, _) = token.split_once('.')?;
    let here = matches!(
        app.broadcasts.phase(visitor_id),
        Some(Phase::Active { link: Some(link), .. }) if link.token == token
    );
    let owner = if here { None } else { Some(super::cluster::owner_of_token(app, visitor_id, token).await?) };
    Some(Ticket { visitor_id: visitor_id.to_owned(), token: token.to_owned(), owner })
}

/// Runs one screen socket to its end.
pub async fn run(app: AppState, ticket: Ticket, conn: Connection) {
    match ticket.owner {
        Some(owner) => forward(app, ticket, owner, conn).await,
        None => run_here(app, ticket, conn).await,
    }
}

async fn run_here(app: AppState, ticket: Ticket, mut conn: Connection) {
    let conn_id = conn.peer().id;
    if !attach(&app, &ticket, &conn) {
        let e = ErrorBody::new(ErrorCode::NoBroadcast, "the broadcast of this screen token ended before the socket opened");
        return conn.send_error(e, Some(1008)).await;
    }
    loop {
        match conn.next_event().await {
            Event::Binary(data) => match super::screen_frame(&app, &ticket.visitor_id, super::Source::Socket(conn_id), data) {
                Ok(None) => {}
                Ok(Some(reason)) => super::overflowed(&app, &ticket.visitor_id, reason).await,
                Err(e) => {
                    let over = e.code == ErrorCode::NoBroadcast;
                    conn.send_error(e, over.then_some(1000)).await;
                }
            },
            Event::Text(_) => conn.send_error(text_refused(), None).await,
            Event::Drained => {}
            Event::Closed => break,
        }
    }
    detach(&app, &ticket, conn_id);
}

fn text_refused() -> ErrorBody {
    ErrorBody::new(ErrorCode::BadMessage, "the screen socket takes binary screen frames only; chat goes on /ws/visitor")
}

/// How often a forwarding node checks that its token is still the broadcast's.
const STILL_CURRENT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// A screen socket that reached a node other than the broadcast's (the load
/// balancer chose): its frames go on to the broadcast's node, in order, and
/// it closes once its token is no longer the broadcast's current one (the
/// broadcast ended, or its tab moved on).
async fn forward(app: AppState, ticket: Ticket, owner: crate::engine::NodeId, mut conn: Connection) {
    let peer = conn.peer();
    let (check, vid, token) = (app.clone(), ticket.visitor_id.clone(), ticket.token.clone());
    let watcher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(STILL_CURRENT_EVERY).await;
            if super::cluster::owner_of_token(&check, &vid, &token).await != Some(owner) {
                peer.close(1000, "the screen broadcast of this token is over here");
                return;
            }
        }
    });
    let engine = app.hub.engine().clone();
    loop {
        match conn.next_event().await {
            Event::Binary(data) => {
                let kind = chatcast_protocol::screen::header(&data).map(|(k, _)| k);
                if !matches!(kind, Some(chatcast_protocol::screen::KIND_KEYFRAME | chatcast_protocol::screen::KIND_DELTA)) {
                    let e = ErrorBody::new(
                        ErrorCode::BadMessage,
                        "screen frame: expected a 5-byte header with kind 1 (keyframe) or 2 (delta)",
                    );
                    conn.send_error(e, None).await;
                    continue;
                }
                let target = Target::Screen { node: owner, visitor_id: ticket.visitor_id.clone(), token: ticket.token.clone() };
                engine.publish(Envelope { origin: engine.node(), target, frame: data });
            }
            Event::Text(_) => conn.send_error(text_refused(), None).await,
            Event::Drained => {}
            Event::Closed => break,
        }
    }
    watcher.abort();
}

/// A frame a screen socket on another node forwarded here (called in the
/// order they arrive). Returns a relay bound it went past: the caller ends the
/// broadcast with [`super::overflowed`].
pub fn forwarded(app: &AppState, visitor_id: &str, token: &str, data: bytes::Bytes) -> Option<&'static str> {
    match super::screen_frame(app, visitor_id, super::Source::Forwarded(token), data) {
        Ok(over) => over,
        // Its socket closes at its node's next check.
        Err(e) => {
            tracing::debug!(visitor = visitor_id, error = ?e.message, "dropped a forwarded screen frame");
            None
        }
    }
}

/// Makes this socket the broadcast's screen socket (closing an earlier one
/// with the same token: the tab reconnected it). False if the broadcast is over.
fn attach(app: &AppState, ticket: &Ticket, conn: &Connection) -> bool {
    let mut phases = app.broadcasts.phases.lock().unwrap();
    let Some(Entry { phase: Phase::Active { link: Some(link), .. }, screen }) = phases.get_mut(&ticket.visitor_id) else {
        return false;
    };
    if link.token != ticket.token {
        return false;
    }
    if let Some(old) = screen.replace(conn.peer()) {
        old.close(1000, "replaced by a newer screen socket of the same tab");
    }
    true
}

fn detach(app: &AppState, ticket: &Ticket, conn: ConnId) {
    if let Some(Entry { phase: Phase::Active { link: Some(link), .. }, screen }) =
        app.broadcasts.phases.lock().unwrap().get_mut(&ticket.visitor_id)
        && link.token == ticket.token
        && screen.as_ref().is_some_and(|p| p.id == conn)
    {
        *screen = None;
    }
}
