//! The admin API: sites (with their allowed origins and keys) and the team.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Admin;
use super::{ApiError, json_body};
use crate::app::{AppState, new_site_key};
use crate::storage::{Role, Site};
use crate::transport::origin;

fn site_json(s: &Site) -> Value {
    json!({ "id": s.id.to_string(), "name": s.name, "key": s.key, "origins": s.origins,
            "is_demo": s.is_demo, "created_at": s.created_at })
}

/// `GET /api/sites`.
pub async fn list_sites(State(state): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Array(state.db.list_sites().await?.iter().map(site_json).collect())))
}

#[derive(Deserialize)]
struct NewSite {
    name: String,
    #[serde(default)]
    origins: Vec<String>,
}

/// Checks and normalizes a site's origins (shared with the CLI).
pub fn normalize_origins(origins: &[String]) -> Result<Vec<String>, String> {
    origins
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| {
            origin::normalize(o)
                .ok_or_else(|| format!("`{o}` is not an origin (expected scheme://host[:port], e.g. https://shop.example.com)"))
        })
        .collect()
}

/// `POST /api/sites` `{name, origins}`: 201 with the new site and its key.
pub async fn create_site(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: NewSite = json_body(&headers, &body)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid", "a site needs a name"));
    }
    let origins = normalize_origins(&req.origins).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m))?;
    let site = state.db.create_site(req.name.trim(), &new_site_key(), &origins, false).await?;
    Ok((StatusCode::CREATED, Json(site_json(&site))))
}

/// `GET /api/users`.
pub async fn list_users(State(state): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    let users = state.db.list_users().await?;
    Ok(Json(json!(users)))
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/users` `{email, password, role?, name?}`: 201.
pub async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: NewUser = json_body(&headers, &body)?;
    let role = match req.role.as_deref() {
        None => Role::Consultant,
        Some(r) => Role::parse(r).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("role `{r}`: expected consultant or admin"))
        })?,
    };
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let user = crate::auth::add_user(state.db.as_ref(), req.email.trim(), &req.password, role, name).await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}
