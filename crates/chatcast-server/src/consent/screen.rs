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

use super::{Phase, ScreenLink};
use crate::app::AppState;
use crate::transport::{ConnId, Connection, Event};

/// A screen token that belongs to a live broadcast.
pub struct Ticket {
    /// The broadcasting visitor.
    pub visitor_id: String,
    token: String,
}

/// The live broadcast a token belongs to, if any.
pub fn ticket(app: &AppState, token: &str) -> Option<Ticket> {
    let phases = app.broadcasts.phases.lock().unwrap();
    phases.iter().find_map(|(visitor_id, p)| match p {
        Phase::Active { screen: Some(link), .. } if link.token == token => {
            Some(Ticket { visitor_id: visitor_id.clone(), token: token.to_owned() })
        }
        _ => None,
    })
}

/// Runs one screen socket to its end.
pub async fn run(app: AppState, ticket: Ticket, mut conn: Connection) {
    let conn_id = conn.peer().id;
    if !attach(&app, &ticket, &conn) {
        let e = ErrorBody::new(ErrorCode::NoBroadcast, "the broadcast of this screen token ended before the socket opened");
        return conn.send_error(e, Some(1008)).await;
    }
    loop {
        match conn.next_event().await {
            Event::Binary(data) => match super::screen_frame(&app, &ticket.visitor_id, conn_id, data) {
                Ok(None) => {}
                Ok(Some(reason)) => super::overflowed(&app, &ticket.visitor_id, reason).await,
                Err(e) => {
                    let over = e.code == ErrorCode::NoBroadcast;
                    conn.send_error(e, over.then_some(1000)).await;
                }
            },
            Event::Text(_) => {
                let e = ErrorBody::new(
                    ErrorCode::BadMessage,
                    "the screen socket takes binary screen frames only; chat goes on /ws/visitor",
                );
                conn.send_error(e, None).await;
            }
            Event::Drained => {}
            Event::Closed => break,
        }
    }
    detach(&app, &ticket, conn_id);
}

/// Makes this socket the broadcast's screen socket (closing an earlier one
/// with the same token: the tab reconnected it). False if the broadcast is over.
fn attach(app: &AppState, ticket: &Ticket, conn: &Connection) -> bool {
    let mut phases = app.broadcasts.phases.lock().unwrap();
    let Some(Phase::Active { screen: Some(link), .. }) = phases.get_mut(&ticket.visitor_id) else { return false };
    if link.token != ticket.token {
        return false;
    }
    if let Some(old) = link.peer.replace(conn.peer()) {
        old.close(1000, "replaced by a newer screen socket of the same tab");
    }
    true
}

fn detach(app: &AppState, ticket: &Ticket, conn: ConnId) {
    if let Some(Phase::Active { screen: Some(ScreenLink { token, peer, .. }), .. }) =
        app.broadcasts.phases.lock().unwrap().get_mut(&ticket.visitor_id)
        && *token == ticket.token
        && peer.as_ref().is_some_and(|p| p.id == conn)
    {
        *peer = None;
    }
}
