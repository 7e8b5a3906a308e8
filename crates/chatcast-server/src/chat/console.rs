//! The console's socket: a snapshot of who is online and what is unread, then
//! opening dialogs, replying, and marking read.

use std::collections::HashSet;

use chatcast_protocol::{Author, CONSOLE_TYPES, ConsoleIn, ConsoleOut, ErrorBody, ErrorCode, VisitorInfo, VisitorOut, decode};

use super::{HISTORY_LIMIT, TYPING_EVERY, check_client_id, internal};
use crate::app::AppState;
use crate::auth::SiteAccess;
use crate::consent;
use crate::storage::{ConversationChange, NewMessage, User};
use crate::transport::{Connection, Event};
use chatcast_protocol::frame;

/// How many offline dialogs not closed the snapshot lists (the newest).
const OPEN_DIALOGS: i64 = 500;
/// How many closed dialogs it lists (the newest).
const CLOSED_DIALOGS: i64 = 100;

/// Runs one console socket to its end.
/// `session`: the hash of the session token the socket was opened with (it closes when that ends).
pub async fn run(state: AppState, user: User, session: String, mut conn: Connection) {
    // Register first, so that nothing that happens while the snapshot is built
    // is missed; the snapshot still goes out first (what was queued meanwhile follows it).
    let access = match crate::auth::site_access(state.db.as_ref(), &user).await {
        Ok(a) => std::sync::Arc::new(a),
        Err(e) => {
            conn.send_error(internal(e), Some(1011)).await;
            return;
        }
    };
    state.hub.console_joined(user.id, session, access.clone(), conn.peer());
    state.support.poke();
    match snapshot(&state, &user, &access).await {
        Ok(s) => conn.send_first(frame(&s)).await,
        Err(e) => {
            conn.send_error(internal(e), Some(1011)).await;
            state.hub.console_left(conn.peer().id);
            state.support.poke();
            return;
        }
    }
    let mut typed: Typed = None;
    loop {
        let text = match conn.next_event().await {
            Event::Text(t) => t,
            Event::Binary(_) => {
                let e = ErrorBody::new(ErrorCode::BinaryNotSupported, "binary frames are reserved for screen data");
                conn.send_error(e, None).await;
                continue;
            }
            Event::Drained => {
                // A viewer that fell behind has caught up: resync it now, not at the next frame.
                state.relay.resync(conn.peer().id);
                continue;
            }
            Event::Closed => break,
        };
        let msg = match decode::<ConsoleIn>(&String::from_utf8_lossy(&text), CONSOLE_TYPES) {
            Ok(m) => m,
            Err(e) => {
                conn.send_error(e, None).await;
                continue;
            }
        };
        if let Err(e) = handle(&state, &user, &access, &mut conn, &mut typed, msg).await {
            conn.send_error(e, None).await;
        }
    }
    state.hub.console_left(conn.peer().id);
    state.support.poke();
    for visitor_id in state.relay.unwatch_all(conn.peer().id) {
        consent::unwatch(&state, &visitor_id, conn.peer().id).await;
    }
}

/// The dialog this socket last said it types in, and when.
type Typed = Option<(String, std::time::Instant)>;

async fn handle(
    state: &AppState,
    user: &User,
    access: &SiteAccess,
    conn: &mut Connection,
    typed: &mut Typed,
    msg: ConsoleIn,
) -> Result<(), ErrorBody> {
    match msg {
        ConsoleIn::Open { visitor_id } => {
            known_visitor(state, access, &visitor_id, "open").await?;
            let messages = state.db.messages(&visitor_id, HISTORY_LIMIT).await.map_err(internal)?;
            let seen = state.db.seen_message(&visitor_id).await.map_err(internal)?.map(|id| id.to_string());
            conn.send_now(frame(&ConsoleOut::Dialog { visitor_id: visitor_id.clone(), messages, seen })).await;
            mark_read(state, user, visitor_id).await
        }
        ConsoleIn::Read { visitor_id } => {
            known_visitor(state, access, &visitor_id, "read").await?;
            mark_read(state, user, visitor_id).await
        }
        ConsoleIn::Send { visitor_id, client_id, body, attachment_id } => {
            check_client_id(&client_id, "send")?;
            let site = known_visitor(state, access, &visitor_id, "send").await?;
            let by = crate::files::uploader_user(user.id);
            let (body, attachment) =
                super::message_parts(state, &visitor_id, &by, &client_id, &body, attachment_id.as_deref()).await?;
            let m = NewMessage {
                visitor_id: &visitor_id,
                author: Author::Consultant,
                user_id: Some(user.id),
                author_name: Some(&user.name),
                client_id: Some(&client_id),
                body,
                at: crate::now_ms(),
                kind: None,
                attachment: attachment.as_ref(),
                receipt: None,
            };
            let (message, is_new) = super::deliver(state, site, m, None).await.map_err(internal)?;
            conn.send_now(frame(&ConsoleOut::Ack { client_id, message })).await;
            if is_new {
                // Whoever answers a conversation nobody had takes it; answering a closed one reopens it.
                super::change_conversation(state, site, &visitor_id, ConversationChange::Answered(user.id))
                    .await
                    .map_err(internal)?;
            }
            // Answering a dialog means having read it.
            mark_read(state, user, visitor_id).await
        }
        ConsoleIn::ScreencastRequest { visitor_id } => {
            known_visitor(state, access, &visitor_id, "screencast_request").await?;
            consent::request(state, user, &visitor_id).await;
            Ok(())
        }
        ConsoleIn::ScreencastStop { visitor_id } => {
            known_visitor(state, access, &visitor_id, "screencast_stop").await?;
            consent::stop_by_consultant(state, user, &visitor_id).await;
            Ok(())
        }
        ConsoleIn::Watch { visitor_id } => {
            known_visitor(state, access, &visitor_id, "watch").await?;
            consent::watch(state, &visitor_id, conn.peer()).await.map_err(|mut e| {
                e.ref_type = Some("watch".into());
                e
            })
        }
        ConsoleIn::Unwatch { visitor_id } => {
            consent::unwatch(state, &visitor_id, conn.peer().id).await;
            Ok(())
        }
        ConsoleIn::Typing { visitor_id } => {
            if typed.as_ref().is_some_and(|(v, t)| *v == visitor_id && t.elapsed() < TYPING_EVERY) {
                return Ok(());
            }
            known_visitor(state, access, &visitor_id, "typing").await?;
            *typed = Some((visitor_id.clone(), std::time::Instant::now()));
            state.hub.to_visitor(&visitor_id, &frame(&VisitorOut::Typing { name: user.name.clone() }), None);
            Ok(())
        }
        ConsoleIn::Assign { visitor_id, user_id } => {
            let site = known_visitor(state, access, &visitor_id, "assign").await?;
            let change = match user_id {
                Some(id) => ConversationChange::Assign(teammate(state, &id).await?),
                None => ConversationChange::Unassign,
            };
            super::change_conversation(state, site, &visitor_id, change).await.map_err(internal)
        }
        ConsoleIn::Close { visitor_id } => {
            let site = known_visitor(state, access, &visitor_id, "close").await?;
            super::change_conversation(state, site, &visitor_id, ConversationChange::Close).await.map_err(internal)
        }
        ConsoleIn::Reopen { visitor_id } => {
            let site = known_visitor(state, access, &visitor_id, "reopen").await?;
            super::change_conversation(state, site, &visitor_id, ConversationChange::Reopen).await.map_err(internal)
        }
    }
}

/// The enabled account a conversation may be assigned to.
async fn teammate(state: &AppState, id: &str) -> Result<i64, ErrorBody> {
    let user = match id.parse::<i64>() {
        Ok(n) => state.db.user(n).await.map_err(internal)?,
        Err(_) => None,
    };
    match user {
        Some(u) if !u.disabled => Ok(u.id),
        Some(_) => Err(ErrorBody {
            code: ErrorCode::BadMessage,
            message: format!("the account `{id}` is disabled: it cannot take conversations"),
            ref_type: Some("assign".into()),
        }),
        None => Err(ErrorBody {
            code: ErrorCode::BadMessage,
            message: format!("no account has the id `{id}`"),
            ref_type: Some("assign".into()),
        }),
    }
}

/// The site of a visitor this console may act on; a visitor of another site
/// is answered as unknown (its existence is not the console's to learn).
async fn known_visitor(state: &AppState, access: &SiteAccess, visitor_id: &str, t: &str) -> Result<i64, ErrorBody> {
    match state.db.visitor(visitor_id).await.map_err(internal)? {
        Some((v, _)) if access.allows(v.site_id) => Ok(v.site_id),
        _ => Err(ErrorBody {
            code: ErrorCode::UnknownVisitor,
            message: format!("no visitor of your sites has the id `{visitor_id}`"),
            ref_type: Some(t.to_owned()),
        }),
    }
}

async fn mark_read(state: &AppState, user: &User, visitor_id: String) -> Result<(), ErrorBody> {
    state.db.mark_read(user.id, &visitor_id).await.map_err(internal)?;
    state.hub.to_user(user.id, &frame(&ConsoleOut::Read { visitor_id }));
    Ok(())
}

async fn snapshot(state: &AppState, user: &User, access: &SiteAccess) -> Result<ConsoleOut, crate::storage::StorageError> {
    // This node's visitors and every other live node's, one entry each: of this console's sites.
    let mut elsewhere = state.hub.engine().online_elsewhere().await;
    elsewhere.extend(state.hub.online_visitors());
    let mut visitors = crate::engine::merge(elsewhere);
    visitors.retain(|v| v.site_id.parse().is_ok_and(|s| access.allows(s)));
    let online: HashSet<String> = visitors.iter().map(|v| v.visitor_id.clone()).collect();
    let mut dialogs = state.db.recent_dialogs(false, OPEN_DIALOGS).await?;
    dialogs.extend(state.db.recent_dialogs(true, CLOSED_DIALOGS).await?);
    for d in dialogs {
        if online.contains(&d.visitor.id) || !access.allows(d.visitor.site_id) {
            continue;
        }
        visitors.push(VisitorInfo {
            visitor_id: d.visitor.id,
            site_id: d.visitor.site_id.to_string(),
            site_name: d.site_name,
            online: false,
            page_url: d.visitor.page.url,
            page_title: d.visitor.page.title,
            online_since: None,
            last_seen: d.visitor.last_seen,
            last_message: Some(d.last_message),
            screencast: chatcast_protocol::ScreencastState::Unavailable,
        });
    }
    let ids: Vec<String> = visitors.iter().map(|v| v.visitor_id.clone()).collect();
    let listed: HashSet<&String> = ids.iter().collect();
    let mut unread = state.db.unread_counts(user.id).await?;
    unread.retain(|u| listed.contains(&u.visitor_id));
    Ok(ConsoleOut::Snapshot {
        me: crate::http::views::me(user),
        visitors,
        unread,
        conversations: state.db.conversations(&ids).await?,
        team: crate::http::views::team(state.db.list_users().await?),
    })
}
