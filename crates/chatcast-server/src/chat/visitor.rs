//! The widget's socket: `hello` → `welcome` with the dialog, then page moves
//! and messages, until the tab goes away.

use std::time::Duration;

use chatcast_protocol::{
    Author, ConsoleOut, ErrorBody, ErrorCode, PageInfo, VISITOR_TYPES, VisitorIn, VisitorOut, decode, screen,
};

use super::{HISTORY_LIMIT, TYPING_EVERY, check_client_id, internal};
use crate::app::AppState;
use crate::auth::{new_token, token_hash};
use crate::consent;
use crate::hub::TabJoin;
use crate::limits::{Bucket, Slot, wait_text};
use crate::storage::{ConversationChange, NewMessage, Site, StorageError, VisitClient};
use crate::transport::{CLOSE_RATE_LIMITED, Connection, Event};
use chatcast_protocol::frame;

/// How long a new socket may stay silent before its `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one widget socket to its end; `slot` is its place among its address's sockets.
/// `user_agent`: the socket request's `User-Agent` header (for the visitor panel).
pub async fn run(state: AppState, site: Site, slot: Slot, user_agent: String, mut conn: Connection) {
    let Some((visitor_id, tab_id)) = handshake(&state, &site, slot.ip, &user_agent, &mut conn).await else { return };
    let conn_id = conn.peer().id;
    consent::tab_joined(&state, &visitor_id, conn_id, tab_id.as_deref()).await;
    let limits = state.limits.clone();
    let (mut frames, mut messages) = (Bucket::new(limits.frames), Bucket::new(limits.messages));
    let mut typed: Option<std::time::Instant> = None;
    // The first message refused for the rate limit, until it is sent again.
    let mut held: Option<String> = None;
    loop {
        let event = conn.next_event().await;
        if matches!(event, Event::Text(_) | Event::Binary(_))
            && let Err(wait) = frames.take(limits.frames, std::time::Instant::now())
        {
            let e = ErrorBody::new(
                ErrorCode::RateLimited,
                format!(
                    "more than {} frames a minute on this connection; it is closed, reconnect in {}",
                    limits.frames.per_minute,
                    wait_text(wait)
                ),
            );
            conn.send_error(e, Some(CLOSE_RATE_LIMITED)).await;
            break;
        }
        let text = match event {
            Event::Text(t) => t,
            Event::Binary(data) => {
                match screen::header(&data) {
                    Some((screen::KIND_PROBE, _)) => consent::probe_upload(&state, &visitor_id, conn_id, data.len()).await,
                    _ => {
                        let e = ErrorBody::new(
                            ErrorCode::BinaryNotSupported,
                            "binary frames on the chat socket are connection probes only; screen frames go on /ws/screen?token=…",
                        );
                        conn.send_error(e, None).await;
                    }
                }
                continue;
            }
            Event::Drained => continue,
            Event::Closed => break,
        };
        let text = String::from_utf8_lossy(&text);
        let msg = match decode::<VisitorIn>(&text, VISITOR_TYPES) {
            Ok(m) => m,
            Err(e) => {
                conn.send_error(e, None).await;
                continue;
            }
        };
        match msg {
            VisitorIn::ConsentAnswer { request_id, allow } => {
                consent::answer(&state, &visitor_id, conn_id, tab_id.clone(), &request_id, allow).await;
            }
            VisitorIn::ScreencastUnavailable { detail, .. } => {
                consent::unavailable(&state, &visitor_id, conn_id, unavailable_detail(&detail)).await;
            }
            VisitorIn::ScreencastStop {} => consent::stop_by_visitor(&state, &visitor_id).await,
            VisitorIn::ScreencastStats { hidden_fields, hidden_areas } => {
                consent::hidden_counted(&state, &visitor_id, conn_id, hidden_fields, hidden_areas).await;
            }
            VisitorIn::Probe { id } => consent::probe_echo(&state, &visitor_id, conn_id, &id).await,
            VisitorIn::Typing {} => {
                if typed.is_none_or(|t| t.elapsed() >= TYPING_EVERY) {
                    typed = Some(std::time::Instant::now());
                    state.hub.to_consoles(site.id, &frame(&ConsoleOut::Typing { visitor_id: visitor_id.clone() }));
                }
            }
            VisitorIn::Seen { message_id } => {
                let Ok(id) = message_id.parse::<i64>() else {
                    let mut e = ErrorBody::new(ErrorCode::BadMessage, "`message_id` must be the id of a message, such as \"42\"");
                    e.ref_type = Some("seen".into());
                    conn.send_error(e, None).await;
                    continue;
                };
                // Ids of other dialogs, or behind the mark, change nothing.
                match state.db.mark_seen(&visitor_id, id).await {
                    Ok(true) => {
                        let seen = ConsoleOut::Seen { visitor_id: visitor_id.clone(), message_id: id.to_string() };
                        state.hub.to_consoles(site.id, &frame(&seen));
                    }
                    Ok(false) => {}
                    Err(e) => conn.send_error(internal(e), None).await,
                }
            }
            VisitorIn::Identify { id, name, email, signature } => {
                let claim = match super::identity::check(&id, name.as_deref(), email.as_deref()) {
                    Ok(c) => c,
                    Err(e) => {
                        conn.send_error(e, None).await;
                        continue;
                    }
                };
                // The consoles' list entry stays the same; the visitor panel reads the identity.
                if let Err(e) = super::identity::identify(&state, site.id, &visitor_id, claim, signature.as_deref()).await {
                    conn.send_error(internal(e), None).await;
                }
            }
            VisitorIn::Contact { name, email } => {
                let given = super::identity::check_contact(name.as_deref(), &email);
                let stored = match given {
                    Ok((name, email)) => state.db.set_contact(&visitor_id, name.as_deref(), &email).await.map_err(internal),
                    Err(e) => Err(e),
                };
                if let Err(e) = stored {
                    conn.send_error(e, None).await;
                }
            }
            VisitorIn::Hello { .. } => {
                let mut e = ErrorBody::new(ErrorCode::BadMessage, "`hello` was already received on this socket");
                e.ref_type = Some("hello".into());
                conn.send_error(e, None).await;
            }
            VisitorIn::Page { page } => {
                let page = clean_page(page, &site.privacy.keep_url_params);
                consent::page_moved(&state, &visitor_id, conn_id, &page.url).await;
                let now = crate::now_ms();
                let stored = async {
                    state.db.touch_visitor(&visitor_id, &page, now).await?;
                    state.db.add_visit_page(&visitor_id, &page, now).await
                };
                if let Err(e) = stored.await {
                    conn.send_error(internal(e), None).await;
                }
                if let Some(info) = state.hub.visitor_page(&visitor_id, conn_id, page) {
                    state.hub.to_consoles(site.id, &frame(&ConsoleOut::Visitor { visitor: info }));
                }
            }
            VisitorIn::Send { client_id, body, attachment_id } => {
                // A sent message ends the typing: the next keystroke is news again.
                typed = None;
                if let Err(e) = check_client_id(&client_id, "send") {
                    conn.send_error(e, None).await;
                    continue;
                }
                // After a refusal, nothing overtakes the refused message: the
                // others wait until it is sent again (the widget resends in order).
                let overtakes = held.as_ref().is_some_and(|h| *h != client_id);
                let limited =
                    if overtakes { Err(None) } else { messages.take(limits.messages, std::time::Instant::now()).map_err(Some) };
                if let Err(wait) = limited {
                    held.get_or_insert_with(|| client_id.clone());
                    let message = match wait {
                        Some(wait) => format!(
                            "messages are coming faster than {} a minute; this one was not sent, try again in {}",
                            limits.messages.per_minute,
                            wait_text(wait)
                        ),
                        None => "an earlier message was not sent yet; this one was not sent either, send both again in order"
                            .to_owned(),
                    };
                    let mut e = ErrorBody::new(ErrorCode::RateLimited, message);
                    e.ref_type = Some("send".into());
                    conn.send_error(e, None).await;
                    continue;
                }
                held = None;
                let parts = super::message_parts(
                    &state,
                    &visitor_id,
                    crate::files::UPLOADER_VISITOR,
                    &client_id,
                    &body,
                    attachment_id.as_deref(),
                )
                .await;
                let (body, attachment) = match parts {
                    Ok(p) => p,
                    Err(e) => {
                        conn.send_error(e, None).await;
                        continue;
                    }
                };
                let m = NewMessage {
                    visitor_id: &visitor_id,
                    author: Author::Visitor,
                    user_id: None,
                    author_name: None,
                    client_id: Some(&client_id),
                    body,
                    at: crate::now_ms(),
                    kind: None,
                    attachment: attachment.as_ref(),
                    receipt: None,
                };
                // The visitor's other tabs show it too; this one gets the ack.
                match super::deliver(&state, site.id, m, Some(conn_id)).await {
                    Ok((message, is_new)) => {
                        conn.send_now(frame(&VisitorOut::Ack { client_id, message })).await;
                        // Writing again reopens a closed conversation (to whoever had it).
                        if is_new
                            && let Err(e) =
                                super::change_conversation(&state, site.id, &visitor_id, ConversationChange::Reopen).await
                        {
                            tracing::error!(error = %e, "reopening a conversation failed");
                        }
                    }
                    Err(e) => conn.send_error(internal(e), None).await,
                }
            }
        }
    }
    consent::tab_left(&state, &visitor_id, conn_id).await;
    if let Some(info) = state.hub.visitor_left(&visitor_id, conn_id) {
        // Still online if a tab of theirs is on another node.
        if !state.hub.engine().is_online_elsewhere(&visitor_id).await {
            state.hub.to_consoles(site.id, &frame(&ConsoleOut::Visitor { visitor: info.clone() }));
        }
        let page = PageInfo { url: info.page_url, title: info.page_title };
        let _ = state.db.touch_visitor(&visitor_id, &page, info.last_seen).await;
        // Answers they did not read may go to their email address now.
        if !info.online {
            crate::mail::schedule(&state, &visitor_id);
        }
    }
}

/// Waits for `hello`, finds or creates the visitor, answers `welcome` and
/// registers the tab. Returns the visitor and tab ids, `None` if the socket ended first.
async fn handshake(
    state: &AppState,
    site: &Site,
    ip: std::net::IpAddr,
    user_agent: &str,
    conn: &mut Connection,
) -> Option<(String, Option<String>)> {
    let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    let (token, page, tab_id, client) = loop {
        let event = match tokio::time::timeout_at(deadline, conn.next_event()).await {
            Ok(ev) => ev,
            Err(_) => {
                conn.send_error(ErrorBody::new(ErrorCode::NotReady, "no `hello` within 30 s"), Some(1008)).await;
                return None;
            }
        };
        let text = match event {
            Event::Text(t) => t,
            Event::Binary(_) => {
                conn.send_error(ErrorBody::new(ErrorCode::NotReady, "send `hello` first"), None).await;
                continue;
            }
            Event::Closed => return None,
            Event::Drained => continue,
        };
        match decode::<VisitorIn>(&String::from_utf8_lossy(&text), VISITOR_TYPES) {
            Ok(VisitorIn::Hello { token, page, tab_id, client }) => {
                let page = clean_page(page, &site.privacy.keep_url_params);
                break (token, page, tab_id.filter(|t| is_tab_id(t)), client.unwrap_or_default());
            }
            Ok(_) => {
                let t = text_type(&text);
                let mut e = ErrorBody::new(ErrorCode::NotReady, format!("send `hello` before `{t}`"));
                e.ref_type = Some(t);
                conn.send_error(e, None).await;
            }
            Err(e) => conn.send_error(e, None).await,
        }
    };
    match identify(state, site, ip, token.as_deref(), &page).await {
        Ok(Err(wait)) => {
            let most = state.settings.new_visitors_per_address_per_minute;
            let e = ErrorBody::new(
                ErrorCode::RateLimited,
                format!("more than {most} new visitors a minute from your address; try again in {}", wait_text(wait)),
            );
            conn.send_error(e, Some(CLOSE_RATE_LIMITED)).await;
            None
        }
        Ok(Ok((visitor_id, token, messages, visit))) => {
            // Who the visitor is, for the consultant's panel (the referrer masked like a page URL).
            let referrer = clean_page(PageInfo { url: client.referrer, title: String::new() }, &site.privacy.keep_url_params).url;
            let seen = VisitClient {
                user_agent,
                language: short(&client.language, 35),
                timezone: short(&client.timezone, 64),
                referrer: &referrer,
            };
            let noted = async {
                state.db.record_visit(&visitor_id, &seen, visit != Visit::Continues, visit == Visit::First).await?;
                state.db.add_visit_page(&visitor_id, &page, crate::now_ms()).await
            };
            if let Err(e) = noted.await {
                tracing::error!(error = %e, "noting a visit failed");
            }
            let last_message = messages.last().cloned();
            // A new visitor gave nothing yet.
            let contact = match visit {
                Visit::First => Ok(None),
                _ => state.db.contact(&visitor_id).await,
            };
            let contact = match contact {
                Ok(c) => c.map(|(c, _)| c).unwrap_or_default(),
                Err(e) => {
                    conn.send_error(internal(e), Some(1011)).await;
                    return None;
                }
            };
            let welcome = VisitorOut::Welcome {
                visitor_id: visitor_id.clone(),
                token,
                messages,
                privacy: site.privacy.clone(),
                settings: site.widget.clone(),
                support_online: state.support.welcome(&state.hub, site.id),
                emails_answers: state.mail.is_some(),
                contact,
            };
            // Registered before the welcome leaves: a client that acts on the
            // welcome at once (a consultant asking for its screen) finds the tab.
            // What the hub queues meanwhile goes out after the welcome.
            let info = state.hub.visitor_joined(
                TabJoin {
                    visitor_id: visitor_id.clone(),
                    site_id: site.id,
                    site_name: site.name.clone(),
                    page,
                    last_message,
                    tab_id: tab_id.clone(),
                },
                conn.peer(),
            );
            conn.send_first(frame(&welcome)).await;
            state.hub.to_consoles(site.id, &frame(&ConsoleOut::Visitor { visitor: info }));
            if let Err(e) = super::announce_conversation(state, site.id, &visitor_id).await {
                tracing::error!(error = %e, "reading a conversation's state failed");
            }
            Some((visitor_id, tab_id))
        }
        Err(e) => {
            conn.send_error(internal(e), Some(1011)).await;
            None
        }
    }
}

/// (visitor id, token, history, whether a visit starts).
type Identified = (String, String, Vec<chatcast_protocol::ChatMessage>, Visit);

/// How long away starts a new visit.
const VISIT_GAP_MS: i64 = 30 * 60 * 1000;

/// Where a socket stands in the visitor's visits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Visit {
    /// A new visitor.
    First,
    /// Back after [`VISIT_GAP_MS`] or more.
    Again,
    /// Another page or tab of the same visit.
    Continues,
}

/// At most `max` bytes of `s` (on a character boundary).
fn short(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The visitor behind `token` on this site, or a new one; with its history.
/// `Ok(Err(wait))`: a new one would pass the address's limit.
async fn identify(
    state: &AppState,
    site: &Site,
    ip: std::net::IpAddr,
    token: Option<&str>,
    page: &PageInfo,
) -> Result<Result<Identified, Duration>, StorageError> {
    let now = crate::now_ms();
    if let Some(token) = token.filter(|t| t.len() <= 128)
        && let Some(v) = state.db.visitor_by_token(site.id, &token_hash(token)).await?
    {
        let visit = if now - v.last_seen >= VISIT_GAP_MS { Visit::Again } else { Visit::Continues };
        state.db.touch_visitor(&v.id, page, now).await?;
        let messages = state.db.messages(&v.id, HISTORY_LIMIT).await?;
        return Ok(Ok((v.id, token.to_owned(), messages, visit)));
    }
    // This node's count, then the cluster's (an address spreading over the nodes gets no more).
    let allowed = match state.limits.new_visitors.take(ip) {
        Ok(()) => state
            .hub
            .engine()
            .new_visitor(&ip.to_string(), state.settings.new_visitors_per_address_per_minute)
            .await
            .map_err(Duration::from_secs),
        Err(wait) => Err(wait),
    };
    if let Err(wait) = allowed {
        metrics::counter!("chatcast_sockets_refused_total", "reason" => "new_visitors_per_address").increment(1);
        return Ok(Err(wait));
    }
    let token = new_token();
    let visitor_id = format!("v_{}", &new_token()[..20]);
    state.db.create_visitor(&visitor_id, site.id, &token_hash(&token), page, now).await?;
    Ok(Ok((visitor_id, token, Vec::new(), Visit::First)))
}

/// A tab id as the widget makes them: up to 64 letters, digits, `-` and `_`
/// (it is named in the audit; nothing else gets through).
fn is_tab_id(t: &str) -> bool {
    !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the widget says is missing, as it goes into the transcript and the
/// audit: letters, digits, spaces and `.,()-_` only, at most 160 characters —
/// no links, addresses or quotes a page could use to pass its own words off
/// as the system's. The line says it is the widget's report.
fn unavailable_detail(detail: &str) -> String {
    let kept: String = detail.chars().map(|c| if c.is_alphanumeric() || " .,()-_".contains(c) { c } else { ' ' }).collect();
    let words: Vec<&str> = kept.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        if out.len() + w.len() + 1 > 160 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() { "no reason given".to_owned() } else { out }
}
/// The `t` of a frame that decoded, for messages about it.
fn text_type(text: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("t").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// Bounds what a page may claim about itself, and masks its URL by the
/// site's rule (the widget did already; a URL is never stored unmasked).
fn clean_page(mut page: PageInfo, keep_url_params: &[String]) -> PageInfo {
    page.url = chatcast_protocol::url_mask::mask_url(&page.url, keep_url_params);
    fn cut(s: &mut String, max: usize) {
        if s.len() > max {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
    }
    cut(&mut page.url, 2048);
    cut(&mut page.title, 300);
    page
}
