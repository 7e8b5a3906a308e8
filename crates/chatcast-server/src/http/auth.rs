//! Login, logout, `me`, and the [`CurrentUser`] extractor for console routes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::client::ClientIp;
use super::{ApiError, json_body};
use crate::app::AppState;
use crate::storage::{Role, User};

/// The session cookie's name.
pub const COOKIE: &str = "chatcast_session";
/// The known-device cookie's name (see [`crate::auth::Sessions::login`]).
pub const DEVICE_COOKIE: &str = "chatcast_device";

/// The session token in the request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The logged-in console user (401 without a valid session).
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "log in first");
        let token = session_token(&parts.headers).ok_or_else(unauthorized)?;
        state.sessions.user(&token).await?.map(CurrentUser).ok_or_else(unauthorized)
    }
}

/// An admin (403 for a consultant).
pub struct Admin(pub User);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only an admin may do this"));
        }
        Ok(Admin(user))
    }
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// `POST /api/login`: 200 with the session cookie (and a known-device cookie
/// for a browser new to the account), or 401 that does not say which field was
/// wrong, 403 for a disabled account, 429 after too many attempts, 503 when
/// every password check is busy.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let creds: Credentials = json_body(&headers, &body)?;
    let device = cookie(&headers, DEVICE_COOKIE);
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let who = crate::auth::Client { ip: client, user_agent, device_token: device.as_deref() };
    let done = state.sessions.login(who, &creds.email, &creds.password).await?;
    tracing::info!(user = done.user.id, "console login");
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    let mut res = Json(super::views::me(&done.user)).into_response();
    let session =
        format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", done.token, state.sessions.ttl_secs());
    res.headers_mut().append(header::SET_COOKIE, session.parse().expect("a cookie of hex and ASCII"));
    if let Some(t) = done.device_token {
        let device = format!(
            "{DEVICE_COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/api/login; Max-Age={}{secure}",
            state.sessions.device_ttl_secs()
        );
        res.headers_mut().append(header::SET_COOKIE, device.parse().expect("a cookie of hex and ASCII"));
    }
    Ok(res)
}

/// `POST /api/logout`: ends the session (its open sockets close at once) and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        state.sessions.logout(&token).await?;
        crate::auth::revoke::close_ended_sessions(&state).await;
    }
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// `GET /api/sessions`: the caller's own sessions, newest first (`current`: this one).
pub async fn my_sessions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Result<Json<Vec<chatcast_protocol::api::Session>>, ApiError> {
    let mine = session_token(&headers).map(|t| crate::auth::token_hash(&t));
    let list = state.db.user_sessions(user.id, crate::now_ms()).await?;
    Ok(Json(list.iter().map(|s| super::views::session(s, mine.as_deref() == Some(s.token_hash.as_str()))).collect()))
}

/// `DELETE /api/sessions/{id}`: ends one of the caller's own sessions (its sockets close at once).
pub async fn revoke_session(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.db.delete_user_session(user.id, &id).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "you have no session with this id"));
    }
    crate::auth::revoke::close_ended_sessions(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`.
pub async fn me(CurrentUser(user): CurrentUser) -> Json<chatcast_protocol::Me> {
    Json(super::views::me(&user))
}

/// `GET /api/team`: who a conversation can be handed to (any logged-in user may ask).
pub async fn team(State(state): State<AppState>, _: CurrentUser) -> Result<Json<Vec<chatcast_protocol::Teammate>>, ApiError> {
    Ok(Json(super::views::team(state.db.list_users().await?)))
}
