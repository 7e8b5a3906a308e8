//! HTTP routes: health, login/logout, the admin API, transcript search, saved replies, embedded assets, and the
//! three WebSocket endpoints (handled by [`crate::transport::accept`]).

mod admin;
mod assets;
pub mod auth;
mod canned;
pub mod client;
mod files;
mod search;
mod sockets;
pub mod views;
mod visitors;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::app::AppState;

/// All routes of the server, with the request body's size limit and read
/// timeout (the header timeout is the connection's, see [`crate::app::serve`]).
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.http_max_body_bytes;
    let body_timeout = std::time::Duration::from_secs(state.settings.http_body_timeout_secs.max(1));
    // An upload: the file and its form around it.
    let upload_limit = || axum::extract::DefaultBodyLimit::max(state.settings.max_attachment_bytes + 64 * 1024);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/team", get(auth::team))
        .route("/api/search", get(search::search))
        .route("/api/visitors/{id}", get(visitors::details))
        .route("/api/canned", get(canned::list).post(canned::create))
        .route("/api/canned/{id}", axum::routing::put(canned::update).delete(canned::remove))
        .route("/api/sites", get(admin::list_sites).post(admin::create_site))
        .route("/api/sites/{id}/settings", axum::routing::put(admin::update_site_settings))
        .route("/api/sites/{id}/widget", axum::routing::put(admin::update_widget_settings))
        .route("/api/sites/{id}/name", axum::routing::put(admin::rename_site))
        .route("/api/sites/{id}", axum::routing::delete(admin::remove_site))
        .route("/api/sites/{id}/identity-secret", get(admin::identity_secret))
        .route("/api/users", get(admin::list_users).post(admin::create_user))
        .route("/api/users/{id}", axum::routing::patch(admin::update_user).delete(admin::remove_user))
        .route("/api/users/{id}/sites", axum::routing::put(admin::set_user_sites))
        .route("/api/sessions", get(auth::my_sessions))
        .route("/api/sessions/{id}", axum::routing::delete(auth::revoke_session))
        .route("/api/audit", get(admin::audit_log))
        .route("/files", post(files::visitor_upload).layer(upload_limit()))
        .route("/files/{id}", get(files::download))
        .route("/api/files", post(files::console_upload).layer(upload_limit()))
        .route("/ws/visitor", get(sockets::visitor_socket))
        .route("/ws/console", get(sockets::console_socket))
        .route("/ws/screen", get(sockets::screen_socket))
        .merge(assets::routes())
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_timeout))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /metrics`: for this machine only (a direct request from loopback, not
/// one a local proxy forwarded), or with `Authorization: Bearer <metrics_token>`.
/// Anyone else gets 404: the counters say how busy the server is.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>, req: axum::extract::Request) -> Response {
    let headers = req.headers();
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let direct_local = peer.is_some_and(|ip| ip.is_loopback())
        && !headers.contains_key("x-forwarded-for")
        && !headers.contains_key(http::header::FORWARDED);
    let token_ok =
        state.settings.metrics_token.as_deref().filter(|t| !t.is_empty()).is_some_and(|t| {
            headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {t}"))
        });
    if direct_local || token_ok {
        crate::telemetry::render().into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

/// An API error: a status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
    /// Seconds for `Retry-After`, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": { "code": self.code, "message": self.message } }));
        let mut res = (self.status, body).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::Conflict(what) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", format!("{what} already exists"))
            }
            crate::storage::StorageError::Invalid(what) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", what),
            e => {
                tracing::error!(error = %e, "storage failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; nothing was changed")
            }
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError::*;
        match e {
            InvalidCredentials => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", e.to_string()),
            RateLimited { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
            },
            Invalid(msg) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", msg),
            Busy => ApiError { retry_after: Some(1), ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string()) },
            Disabled => ApiError::new(StatusCode::FORBIDDEN, "account_disabled", e.to_string()),
            LastAdmin(msg) => ApiError::new(StatusCode::CONFLICT, "last_admin", msg),
            NotFound(msg) => ApiError::new(StatusCode::NOT_FOUND, "not_found", msg),
            Storage(e) => e.into(),
        }
    }
}

/// Parses a JSON request body, naming what was wrong. Requiring
/// `application/json` also means a cross-site HTML form cannot post here.
pub fn json_body<T: serde::de::DeserializeOwned>(headers: &http::HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let is_json =
        headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("bad JSON body: {e}")))
}
