//! The three WebSocket endpoints (`/ws/visitor`, `/ws/console`,
//! `/ws/screen`): check who may connect, upgrade, and hand the socket to its
//! session (chat for visitors and consoles, upload for a broadcasting tab's
//! screen socket). A refused socket is still upgraded so that a
//! browser can read why (an `error` frame, then a 4xxx close code).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chatcast_protocol::{ErrorBody, ErrorCode};
use futures::FutureExt;
use futures::future::Either;
use serde::Deserialize;
use yawc::IncomingUpgrade;

use crate::app::AppState;
use crate::chat;
use crate::consent;
use crate::http::auth::session_token;
use crate::http::client::ClientIp;
use crate::storage::{Site, User};
use crate::transport::{Compression, Connection, offers_client_window_bits, origin, refusal, ws_options};

/// Query of the widget socket.
#[derive(Deserialize)]
pub struct VisitorQuery {
    site: Option<String>,
}

/// `GET /ws/visitor?site=KEY`.
pub async fn visitor_socket(
    State(state): State<AppState>,
    Query(q): Query<VisitorQuery>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    upgrade: IncomingUpgrade,
) -> Response {
    let verdict = check_visitor(&state, q.site.as_deref(), &headers).await.and_then(|site| {
        // Held for the socket's life: the address's place among its open sockets.
        let slot = state.limits.sockets.take(ip).ok_or_else(|| {
            let most = state.settings.visitor_sockets_per_address;
            refusal(ErrorCode::RateLimited, format!("your address has {most} chat connections open already, the most allowed"))
        })?;
        Ok((site, slot))
    });
    // Besides chat, the chat socket carries the connection probe (`probe_bytes`).
    let max_frame = state.settings.max_frame_bytes.max(state.settings.probe_bytes as usize + 64);
    let opts = ws_options(max_frame, Compression::Stateless, offers_client_window_bits(&headers));
    // Kept for the visitor panel, cut short (a header can be long).
    let ua = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ua: String = ua.chars().take(300).collect();
    accept(state, "visitor", opts, upgrade, verdict, |state, conn, (site, slot)| chat::visitor::run(state, site, slot, ua, conn))
}

/// Query of the screen socket.
#[derive(Deserialize)]
pub struct ScreenQuery {
    token: Option<String>,
}

/// `GET /ws/screen?token=T`: a broadcasting tab's upload of screen frames
/// (the token comes in `screencast_start`).
pub async fn screen_socket(
    State(state): State<AppState>,
    Query(q): Query<ScreenQuery>,
    headers: HeaderMap,
    upgrade: IncomingUpgrade,
) -> Response {
    let verdict = check_screen(&state, q.token.as_deref(), &headers).await;
    let max_frame = state.settings.max_screen_frame_bytes.max(state.settings.max_frame_bytes);
    let opts = ws_options(max_frame, Compression::Stream, offers_client_window_bits(&headers));
    accept(state, "screen", opts, upgrade, verdict, |state, conn, ticket| consent::screen::run(state, ticket, conn))
}

/// `GET /ws/console` (session cookie, same origin).
pub async fn console_socket(State(state): State<AppState>, headers: HeaderMap, upgrade: IncomingUpgrade) -> Response {
    let verdict = check_console(&state, &headers).await;
    let opts = ws_options(state.settings.max_frame_bytes, Compression::Stream, offers_client_window_bits(&headers));
    accept(state, "console", opts, upgrade, verdict, |state, conn, (user, session)| {
        chat::console::run(state, user, session, conn)
    })
}

pub(super) async fn check_visitor(state: &AppState, key: Option<&str>, headers: &HeaderMap) -> Result<Site, (ErrorBody, u16)> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(refusal(ErrorCode::UnknownSite, "no site key: connect to /ws/visitor?site=KEY".into()));
    };
    let site = match state.db.site_by_key(key).await {
        Ok(Some(site)) => site,
        Ok(None) => {
            return Err(refusal(ErrorCode::UnknownSite, format!("no site has the key `{}`", crate::validate::shown(key))));
        }
        Err(e) => {
            tracing::error!(error = %e, "site lookup failed");
            return Err((ErrorBody::new(ErrorCode::Internal, "the server failed to look up the site"), 1011));
        }
    };
    check_site_origin(state, &site, headers)?;
    Ok(site)
}

/// The request's `Origin` must be one the site allows.
fn check_site_origin(state: &AppState, site: &Site, headers: &HeaderMap) -> Result<(), (ErrorBody, u16)> {
    let Some(req_origin) = origin::request_origin(headers) else {
        return Err(refusal(ErrorCode::OriginNotAllowed, "the request has no Origin header".into()));
    };
    let mut allowed = site.origins.clone();
    if site.is_demo {
        // The demo site lives on this server: its own origin is allowed.
        allowed.extend(origin::own_origins(headers, &state.settings.public_origins));
    }
    if !origin::is_allowed(req_origin, &allowed) {
        return Err(refusal(
            ErrorCode::OriginNotAllowed,
            format!(
                "origin `{}` is not allowed for site `{}`; add it to the site's origins",
                crate::validate::shown(req_origin),
                site.name
            ),
        ));
    }
    Ok(())
}

async fn check_screen(
    state: &AppState,
    token: Option<&str>,
    headers: &HeaderMap,
) -> Result<consent::screen::Ticket, (ErrorBody, u16)> {
    let no_broadcast = |m: &str| refusal(ErrorCode::NoBroadcast, m.to_owned());
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| no_broadcast("no token: connect to /ws/screen?token=TOKEN from `screencast_start`"))?;
    let ticket = consent::screen::ticket(state, token)
        .await
        .ok_or_else(|| no_broadcast("this screen token belongs to no live broadcast (it ended, or the tab moved on)"))?;
    match state.db.site_of_visitor(&ticket.visitor_id).await {
        Ok(Some(site)) => check_site_origin(state, &site, headers)?,
        Ok(None) => return Err(no_broadcast("the broadcast's visitor no longer exists")),
        Err(e) => {
            tracing::error!(error = %e, "site lookup failed");
            return Err((ErrorBody::new(ErrorCode::Internal, "the server failed to look up the site"), 1011));
        }
    }
    Ok(ticket)
}

/// The console socket's account and the hash of its session's token (sockets close when it ends).
async fn check_console(state: &AppState, headers: &HeaderMap) -> Result<(User, String), (ErrorBody, u16)> {
    let own = origin::own_origins(headers, &state.settings.public_origins);
    match origin::request_origin(headers) {
        Some(o) if origin::is_allowed(o, &own) => {}
        Some(o) => {
            return Err(refusal(
                ErrorCode::OriginNotAllowed,
                format!("origin `{}` may not open the console socket", crate::validate::shown(o)),
            ));
        }
        None => return Err(refusal(ErrorCode::OriginNotAllowed, "the request has no Origin header".into())),
    }
    let unauthorized = || refusal(ErrorCode::Unauthorized, "no valid console session: log in first".into());
    let token = session_token(headers).ok_or_else(unauthorized)?;
    match state.sessions.user(&token).await {
        Ok(Some(user)) => {
            let hash = crate::auth::token_hash(&token);
            // Seen in use: the user's list of sessions shows when.
            let _ = state.db.touch_session(&hash, crate::now_ms()).await;
            Ok((user, hash))
        }
        Ok(None) => Err(unauthorized()),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            Err((ErrorBody::new(ErrorCode::Internal, "the server failed to check the session"), 1011))
        }
    }
}

/// Upgrades and runs `session` (or says why not) in a tracked task.
fn accept<T, F, Fut>(
    state: AppState,
    endpoint: &'static str,
    options: yawc::Options,
    upgrade: IncomingUpgrade,
    verdict: Result<T, (ErrorBody, u16)>,
    session: F,
) -> Response
where
    T: Send + 'static,
    F: FnOnce(AppState, Connection, T) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (response, fut) = match upgrade.upgrade(options) {
        Ok(r) => r,
        Err(e) => {
            return crate::http::ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "bad_request",
                format!("WebSocket upgrade failed: {e}"),
            )
            .into_response();
        }
    };
    let tasks = state.tasks.clone();
    // Built from combinators, not one `async` block: a task's memory is the
    // largest state of its future, for the socket's whole life. An async block
    // keeps a slot for the upgrade's locals (the socket, the `Connection`)
    // beside the session that took them over (~1.2 KB more per idle socket);
    // `then` holds the upgrade, then only the session.
    let task = fut.then(move |upgraded| {
        let ws = match upgraded {
            Ok(ws) => ws,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade did not complete");
                return Either::Left(std::future::ready(()));
            }
        };
        let conn = Connection::new(
            ws,
            state.settings.send_queue_frames,
            state.settings.send_queue_bytes,
            Duration::from_secs(state.settings.ping_interval_secs.max(1)),
            state.settings.max_frame_bytes,
            state.shutdown.clone(),
        );
        Either::Right(match verdict {
            Ok(who) => Either::Left(counted(endpoint, session(state, conn, who))),
            Err((err, code)) => Either::Right(refuse(conn, err, code)),
        })
    });
    tasks.spawn(task);
    response.map(axum::body::Body::new).into_response()
}

/// Runs a session, counted in `chatcast_sockets_open`. A `map`, not an
/// `async fn` awaiting its argument: that would hold the session future twice
/// (the argument's slot and the awaited copy), ~3.9 KB more per socket.
fn counted(endpoint: &'static str, session: impl Future<Output = ()>) -> impl Future<Output = ()> {
    let open = metrics::gauge!("chatcast_sockets_open", "endpoint" => endpoint);
    open.increment(1);
    session.map(move |()| open.decrement(1))
}

/// Tells a refused socket why, and closes it.
async fn refuse(mut conn: Connection, err: ErrorBody, code: u16) {
    // Debug formatting: the reason quotes what the client sent, escaped.
    tracing::info!(code = ?err.code, reason = ?err.message, "socket refused");
    let reason = serde_json::to_value(err.code).ok().and_then(|v| v.as_str().map(str::to_owned));
    metrics::counter!("chatcast_sockets_refused_total", "reason" => reason.unwrap_or_default()).increment(1);
    conn.send_error(err, Some(code)).await;
}
