//! Files in dialogs over HTTP (see [`crate::files`]):
//! - `POST /files?site=KEY` — the widget uploads for its visitor: a
//!   `multipart/form-data` body (no preflight from the site's page) with the
//!   visitor's `token` and the `file`, from an origin the site allows;
//! - `POST /api/files` — a consultant uploads to a dialog of one of their sites;
//! - `GET /files/{id}` — a sent file: images in place, everything else as a
//!   download, with a policy that lets nothing in it run.
//!
//! Each answers the [`Attachment`] to name in the next `send` (`attachment_id`).

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatcast_protocol::Attachment;
use serde::Deserialize;

use super::ApiError;
use super::auth::CurrentUser;
use crate::app::AppState;
use crate::files::{self, UPLOADER_VISITOR};
use crate::storage::NewAttachment;
use crate::transport::origin;

/// Query of `POST /files`.
#[derive(Deserialize)]
pub struct UploadQuery {
    site: Option<String>,
}

/// `POST /files?site=KEY`: a visitor's upload (fields `token`, `file`).
pub async fn visitor_upload(
    State(state): State<AppState>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let result = async {
        let site = super::sockets::check_visitor(&state, q.site.as_deref(), &headers).await.map_err(|(e, _)| {
            let status = match e.code {
                chatcast_protocol::ErrorCode::UnknownSite => StatusCode::NOT_FOUND,
                chatcast_protocol::ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::FORBIDDEN,
            };
            ApiError::new(status, "refused", e.message)
        })?;
        let form = read(form, &state, "token").await?;
        let token = form.text.ok_or_else(|| bad("the form has no `token` field: the visitor's token from `welcome`"))?;
        let visitor =
            state.db.visitor_by_token(site.id, &crate::auth::token_hash(&token)).await?.ok_or_else(|| {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "no visitor of this site has this token")
            })?;
        store(&state, &visitor.id, UPLOADER_VISITOR, form.file).await
    }
    .await;
    // The site's page reads the answer (errors too): it may, if its origin is allowed.
    let allowed = origin::request_origin(&headers).map(str::to_owned);
    let mut res = match result {
        Ok(a) => (StatusCode::CREATED, Json(a)).into_response(),
        Err(e) => e.into_response(),
    };
    if let Some(o) = allowed.and_then(|o| HeaderValue::from_str(&o).ok()) {
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        res.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// `POST /api/files`: a consultant's upload to a dialog (fields `visitor_id`, `file`).
pub async fn console_upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    // A form any site could post: only the console's own pages may.
    let own = origin::own_origins(&headers, &state.settings.public_origins);
    if !origin::request_origin(&headers).is_some_and(|o| origin::is_allowed(o, &own)) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", "uploads come from the console's own pages"));
    }
    let form = read(form, &state, "visitor_id").await?;
    let visitor_id = form.text.ok_or_else(|| bad("the form has no `visitor_id` field"))?;
    let access = crate::auth::site_access(state.db.as_ref(), &user).await?;
    let site = crate::chat::site_of(&state, &visitor_id).await;
    if !site.is_some_and(|s| access.allows(s)) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no visitor of your sites has this id"));
    }
    let a = store(&state, &visitor_id, &files::uploader_user(user.id), form.file).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// `GET /files/{id}`: a sent file.
pub async fn download(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file");
    if !files::is_id(&id) {
        return Err(missing());
    }
    let (a, data) = state.db.attachment(&id).await?.ok_or_else(missing)?;
    // Stored types only; anything but an image is a download of bytes.
    let content_type = if files::is_image(&a.content_type) { a.content_type.as_str() } else { "application/octet-stream" };
    let mut res = data.into_response();
    let h = res.headers_mut();
    let value = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("attachment"));
    h.insert(header::CONTENT_TYPE, value(content_type));
    h.insert(header::CONTENT_DISPOSITION, value(&files::disposition(&a.content_type, &a.name)));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    // The widget shows images on the site's own pages.
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400, immutable"));
    Ok(res)
}

/// An upload form read: its one text field and its file.
struct Form {
    text: Option<String>,
    file: Option<(String, Vec<u8>)>,
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", m)
}

fn too_large(state: &AppState) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the file is larger than {} MB, the most that can be sent", state.settings.max_attachment_bytes / (1024 * 1024)),
    )
}

/// Reads a `multipart/form-data` body: the text field `field` and the field `file`.
async fn read(
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    state: &AppState,
    field: &str,
) -> Result<Form, ApiError> {
    let mut form = form.map_err(|e| bad(format!("the body is not a multipart/form-data upload: {e}")))?;
    let mut out = Form { text: None, file: None };
    loop {
        let next = form.next_field().await;
        let f = match next {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large(state)),
            Err(e) => return Err(bad(format!("the upload is broken: {}", e.body_text()))),
        };
        let name = f.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = f.file_name().unwrap_or_default().to_owned();
            let data = f
                .bytes()
                .await
                .map_err(|e| if e.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large(state) } else { bad(e.body_text()) })?;
            out.file = Some((file_name, data.to_vec()));
        } else if name == field {
            let text = f.text().await.map_err(|e| bad(e.body_text()))?;
            out.text = Some(text.chars().take(200).collect());
        }
    }
    Ok(out)
}

/// Checks and stores an upload to `visitor_id`'s dialog by `uploader`.
async fn store(
    state: &AppState,
    visitor_id: &str,
    uploader: &str,
    file: Option<(String, Vec<u8>)>,
) -> Result<Attachment, ApiError> {
    let (raw_name, data) = file.ok_or_else(|| bad("the form has no `file` field"))?;
    if data.len() > state.settings.max_attachment_bytes {
        return Err(too_large(state));
    }
    let name = files::clean_name(&raw_name);
    let content_type =
        files::kind_of(&data, &name).map_err(|m| ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type", m))?;
    let now = crate::now_ms();
    let most = state.settings.attachments_per_hour;
    if state.db.uploads_since(visitor_id, uploader, now - 3_600_000).await? >= most as i64 {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{most} files were sent to this conversation in the last hour, the most allowed; try again later"),
        );
        e.retry_after = Some(600);
        return Err(e);
    }
    let id = files::new_id();
    state
        .db
        .add_attachment(&NewAttachment {
            id: &id,
            visitor_id,
            uploaded_by: uploader,
            name: &name,
            content_type,
            data: &data,
            at: now,
        })
        .await?;
    metrics::counter!("chatcast_attachments_total").increment(1);
    Ok(Attachment { id, name, content_type: content_type.to_owned(), size: data.len() as u64 })
}
