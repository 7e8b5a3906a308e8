//! Saved replies (`/api/canned`): one list for the whole team; any logged-in
//! user may add, change and delete them, as teams keep them together.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chatcast_protocol::MAX_BODY_CHARS;
use chatcast_protocol::api::CannedReply;
use serde::Deserialize;

use super::auth::CurrentUser;
use super::{ApiError, json_body};
use crate::app::AppState;

/// The body of `POST` and `PUT`.
#[derive(Deserialize)]
struct Draft {
    shortcut: String,
    body: String,
}

/// The draft checked: its shortcut as stored and its text trimmed.
fn checked(headers: &HeaderMap, body: &Bytes) -> Result<(String, String), ApiError> {
    let d: Draft = json_body(headers, body)?;
    let invalid = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m);
    let shortcut = crate::validate::shortcut(&d.shortcut).map_err(invalid)?;
    let text = d.body.trim();
    if text.is_empty() {
        return Err(invalid("the reply's text is empty".into()));
    }
    let n = text.chars().count();
    if n > MAX_BODY_CHARS {
        return Err(invalid(format!("the reply has {n} characters; a message holds at most {MAX_BODY_CHARS}")));
    }
    Ok((shortcut, text.to_owned()))
}

/// `GET /api/canned`: all saved replies, by shortcut.
pub async fn list(State(state): State<AppState>, _: CurrentUser) -> Result<Json<Vec<CannedReply>>, ApiError> {
    Ok(Json(state.db.canned_replies().await?))
}

/// `POST /api/canned` `{shortcut, body}`: 201 the new reply; 409 if the shortcut is taken.
pub async fn create(
    State(state): State<AppState>,
    _: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CannedReply>), ApiError> {
    let (shortcut, text) = checked(&headers, &body)?;
    let saved = state.db.save_canned_reply(None, &shortcut, &text, crate::now_ms()).await?;
    let saved = saved.ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the reply was not saved"))?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// `PUT /api/canned/{id}` `{shortcut, body}`: the changed reply; 404, 409.
pub async fn update(
    State(state): State<AppState>,
    _: CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CannedReply>, ApiError> {
    let (shortcut, text) = checked(&headers, &body)?;
    match state.db.save_canned_reply(Some(id), &shortcut, &text, crate::now_ms()).await? {
        Some(saved) => Ok(Json(saved)),
        None => Err(not_found(id)),
    }
}

/// `DELETE /api/canned/{id}`: 204; 404.
pub async fn remove(State(state): State<AppState>, _: CurrentUser, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    if state.db.delete_canned_reply(id).await? { Ok(StatusCode::NO_CONTENT) } else { Err(not_found(id)) }
}

fn not_found(id: i64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no saved reply has the id {id}"))
}
