//! Login, logout, `me`, and the [`CurrentUser`] extractor for console routes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::client::ClientIp;
use super::{ApiError, json_body};
use crate::app::AppState;
use crate::storage::{Role, User};

/// The session cookie's name.
pub const COOKIE: &str = "chatcast_session";

/// The session token in the request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
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

fn me_json(u: &User) -> serde_json::Value {
    json!({ "id": u.id.to_string(), "email": u.email, "name": u.name, "role": u.role.as_str() })
}

/// `POST /api/login`: 204 with the session cookie, or 401 that does not say
/// which field was wrong, or 429 after too many failures.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let creds: Credentials = json_body(&headers, &body)?;
    let (token, user) = state.sessions.login(client, &creds.email, &creds.password).await?;
    tracing::info!(user = user.id, "console login");
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", state.sessions.ttl_secs());
    Ok(([(header::SET_COOKIE, cookie)], Json(me_json(&user))).into_response())
}

/// `POST /api/logout`: ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        state.sessions.logout(&token).await?;
    }
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// `GET /api/me`.
pub async fn me(CurrentUser(user): CurrentUser) -> Json<serde_json::Value> {
    Json(me_json(&user))
}
