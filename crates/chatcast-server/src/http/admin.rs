//! The admin API: sites (with their allowed origins and keys) and the team.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chatcast_protocol::PrivacySettings;
use chatcast_protocol::api;
use serde::Deserialize;

use super::auth::Admin;
use super::{ApiError, json_body, views};
use crate::app::{AppState, new_site_key};
use crate::storage::Role;

#[derive(Deserialize)]
struct SiteSettings {
    privacy: PrivacySettings,
    #[serde(default)]
    consent_ttl_hours: Option<i64>,
}

/// The site with this id, or a 404 saying there is none.
async fn target_site(state: &AppState, id: i64) -> Result<crate::storage::Site, ApiError> {
    state.db.site(id).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no site has the id {id}")))
}

/// `PUT /api/sites/{id}/settings` `{privacy: {mask_all_inputs, block_selectors, mask_selectors, keep_url_params},
/// consent_ttl_hours?}`: applied to the next broadcast, without redeploying the site.
pub async fn update_site_settings(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<api::Site>, ApiError> {
    let req: SiteSettings = json_body(&headers, &body)?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m);
    let clean = |list: Vec<String>| -> Result<Vec<String>, ApiError> {
        let list: Vec<String> = list.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        if let Some(s) = list.iter().find(|s| s.len() > 500 || s.contains(['{', '}'])) {
            return Err(bad(format!("`{s}` is not a CSS selector")));
        }
        Ok(list)
    };
    let keep: Vec<String> =
        req.privacy.keep_url_params.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    if let Some(k) =
        keep.iter().find(|k| *k != "#" && (k.len() > 100 || k.contains(|c: char| c.is_whitespace() || "=&#?".contains(c))))
    {
        return Err(bad(format!("`{k}` is not a URL parameter name (or `#` for the fragment)")));
    }
    let privacy = PrivacySettings {
        mask_all_inputs: req.privacy.mask_all_inputs,
        block_selectors: clean(req.privacy.block_selectors)?,
        mask_selectors: clean(req.privacy.mask_selectors)?,
        keep_url_params: keep,
    };
    let site = target_site(&state, id).await?;
    let ttl = req.consent_ttl_hours.unwrap_or(site.consent_ttl_hours);
    if !(1..=24 * 365).contains(&ttl) {
        return Err(bad(format!("consent_ttl_hours must be between 1 and 8760, not {ttl}")));
    }
    state.db.update_site_settings(id, &privacy, ttl).await?;
    // Sites can be removed meanwhile: a 404 then, not a panic.
    Ok(Json(views::site(&target_site(&state, id).await?)))
}

/// `PUT /api/sites/{id}/widget` `{greeting, offline_text, color, position, language, prechat}`:
/// how the site's widget looks and speaks, from each visitor's next page load.
pub async fn update_widget_settings(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<api::Site>, ApiError> {
    let req: chatcast_protocol::WidgetSettings = json_body(&headers, &body)?;
    let settings = crate::validate::widget_settings(req).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m))?;
    target_site(&state, id).await?;
    state.db.set_widget_settings(id, &settings).await?;
    Ok(Json(views::site(&target_site(&state, id).await?)))
}

#[derive(Deserialize)]
/// Query of `GET /api/audit`.
pub struct AuditQuery {
    visitor_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/audit?visitor_id=&limit=`: the screen broadcast audit trail, newest first.
pub async fn audit_log(
    State(state): State<AppState>,
    _: Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<api::AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let rows = state.db.audit_log(q.visitor_id.as_deref(), limit).await?;
    Ok(Json(rows))
}

/// `GET /api/sites`.
pub async fn list_sites(State(state): State<AppState>, _: Admin) -> Result<Json<Vec<api::Site>>, ApiError> {
    Ok(Json(state.db.list_sites().await?.iter().map(views::site).collect()))
}

#[derive(Deserialize)]
struct NewSite {
    name: String,
    #[serde(default)]
    origins: Vec<String>,
}

/// `POST /api/sites` `{name, origins}`: 201 with the new site and its key.
pub async fn create_site(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<api::Site>), ApiError> {
    let req: NewSite = json_body(&headers, &body)?;
    let invalid = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m);
    let name = crate::validate::name("site name", &req.name).map_err(invalid)?;
    let origins = crate::validate::origins(&req.origins).map_err(invalid)?;
    crate::app::origins_unclaimed(state.db.as_ref(), &origins)
        .await
        .map_err(|m| ApiError::new(StatusCode::CONFLICT, "conflict", m))?;
    let site = state.db.create_site(&name, &new_site_key(), &origins, false).await?;
    Ok((StatusCode::CREATED, Json(views::site(&site))))
}

#[derive(Deserialize)]
struct SiteName {
    name: String,
}

/// `PUT /api/sites/{id}/name` `{name}`: renames a site (blank names are refused).
pub async fn rename_site(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<api::Site>, ApiError> {
    let req: SiteName = json_body(&headers, &body)?;
    let name = crate::validate::name("site name", &req.name).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m))?;
    state.db.rename_site(id, &name).await?;
    // No such site: nothing was renamed, and this says so (404).
    Ok(Json(views::site(&target_site(&state, id).await?)))
}

/// `GET /api/sites/{id}/identity-secret`: `{secret}`, the key the site's
/// server signs visitor ids with for `Chatcast.identify` (made on first use).
pub async fn identity_secret(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    match state.db.identity_secret(id, &crate::auth::new_token()).await? {
        Some(secret) => Ok(Json(serde_json::json!({ "secret": secret }))),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no site has the id {id}"))),
    }
}

/// `DELETE /api/sites/{id}`: removes a site with its visitors and their
/// transcripts; its widget is refused from now on and its open tabs close.
pub async fn remove_site(State(state): State<AppState>, _: Admin, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    let site = target_site(&state, id).await?;
    crate::app::site_removable(&state.settings, &site).map_err(|m| ApiError::new(StatusCode::CONFLICT, "conflict", m))?;
    state.db.delete_site(id).await?;
    crate::auth::revoke::close_removed_sites(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/users`.
pub async fn list_users(State(state): State<AppState>, _: Admin) -> Result<Json<Vec<api::User>>, ApiError> {
    let mut out = Vec::new();
    for u in state.db.list_users().await? {
        out.push(user_view(&state, &u).await?);
    }
    Ok(Json(out))
}

/// A user as the API shows it, with their sites.
async fn user_view(state: &AppState, u: &crate::storage::User) -> Result<api::User, ApiError> {
    Ok(views::user(u, state.db.user_sites(u.id).await?))
}

/// Site ids as the API gives them, each checked to exist; 400 naming one that does not.
async fn site_ids(state: &AppState, ids: &[String]) -> Result<Vec<i64>, ApiError> {
    let known: std::collections::HashSet<i64> = state.db.list_sites().await?.into_iter().map(|s| s.id).collect();
    ids.iter()
        .map(|raw| {
            raw.parse::<i64>().ok().filter(|id| known.contains(id)).ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("no site has the id `{}`", crate::validate::shown(raw)))
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct UserSites {
    sites: Option<Vec<String>>,
}

/// `PUT /api/users/{id}/sites` `{sites: [site id…] | null}`: the sites a
/// consultant works on (`null`: every site); their open consoles reconnect with them.
pub async fn set_user_sites(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<api::User>, ApiError> {
    let req: UserSites = json_body(&headers, &body)?;
    let user = target_user(&state, id).await?;
    let ids = match &req.sites {
        Some(raw) => Some(site_ids(&state, raw).await?),
        None => None,
    };
    state.db.set_user_sites(user.id, ids.as_deref()).await?;
    crate::auth::revoke::close_changed_site_access(&state).await;
    Ok(Json(user_view(&state, &user).await?))
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// Site ids; absent or `null`: every site.
    #[serde(default)]
    sites: Option<Vec<String>>,
}

/// `POST /api/users` `{email, password, role?, name?, sites?}`: 201.
pub async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<api::User>), ApiError> {
    let req: NewUser = json_body(&headers, &body)?;
    let role = match req.role.as_deref() {
        None => Role::Consultant,
        Some(r) => Role::parse(r).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("role `{r}`: expected consultant or admin"))
        })?,
    };
    let name = req.name.as_deref().filter(|n| !n.trim().is_empty());
    // The sites first: an unknown one adds nobody.
    let sites = match &req.sites {
        Some(raw) => Some(site_ids(&state, raw).await?),
        None => None,
    };
    let user = crate::auth::add_user(state.db.as_ref(), &req.email, &req.password, role, name).await?;
    if sites.is_some() {
        state.db.set_user_sites(user.id, sites.as_deref()).await?;
    }
    Ok((StatusCode::CREATED, Json(user_view(&state, &user).await?)))
}

#[derive(Deserialize)]
struct UserChange {
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

async fn target_user(state: &AppState, id: i64) -> Result<crate::storage::User, ApiError> {
    state.db.user(id).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no user has the id {id}")))
}

/// `PATCH /api/users/{id}` `{disabled?, role?, password?, name?}`: disabling,
/// a new role or a new password end the user's sessions (their sockets close at once).
pub async fn update_user(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<api::User>, ApiError> {
    let req: UserChange = json_body(&headers, &body)?;
    let role = match req.role.as_deref() {
        None => None,
        Some(r) => Some(Role::parse(r).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("role `{}`: expected consultant or admin", crate::validate::shown(r)),
            )
        })?),
    };
    let user = target_user(&state, id).await?;
    let change =
        crate::auth::AccountChange { disabled: req.disabled, role, password: req.password.as_deref(), name: req.name.as_deref() };
    let user = crate::auth::change_account(state.db.as_ref(), &user, change).await?;
    crate::auth::revoke::close_ended_sessions(&state).await;
    Ok(Json(user_view(&state, &user).await?))
}

/// `DELETE /api/users/{id}`: removes the account; its sessions end (sockets close at once).
pub async fn remove_user(State(state): State<AppState>, _: Admin, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    let user = target_user(&state, id).await?;
    crate::auth::remove_account(state.db.as_ref(), &user).await?;
    crate::auth::revoke::close_ended_sessions(&state).await;
    Ok(StatusCode::NO_CONTENT)
}
