//! `GET /api/search`: full-text search across the transcripts of the sites a
//! consultant works on (storage does the matching: FTS5 or PostgreSQL text search).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chatcast_protocol::api::SearchHit;
use serde::Deserialize;

use super::ApiError;
use super::auth::CurrentUser;
use crate::app::AppState;
use crate::storage::search_words;

/// Query of `GET /api/search`.
#[derive(Deserialize)]
pub struct SearchQuery {
    q: String,
    limit: Option<i64>,
}

/// `GET /api/search?q=&limit=`: visitor and consultant messages with every
/// word of `q` (as words or their starts), newest first; 400 without a word.
pub async fn search(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<SearchHit>>, ApiError> {
    let words = search_words(&q.q);
    if words.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid", "type a word to search for (letters or digits)"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    // A consultant finds messages of their sites' visitors only.
    let access = crate::auth::site_access(state.db.as_ref(), &user).await?;
    Ok(Json(state.db.search_messages(&words, access.ids(), limit).await?))
}
