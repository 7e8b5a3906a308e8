//! The browser code, embedded in the binary: the widget script, the console
//! and the demo site. Built from `web/` by `build.rs` (esbuild).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::Embed;
use tower_http::compression::CompressionLayer;

use crate::app::AppState;

#[derive(Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../web/dist"]
struct Dist;

/// The placeholder in demo pages that becomes the demo site's key.
const DEMO_KEY_PLACEHOLDER: &str = "{{CHATCAST_SITE_KEY}}";

/// The console's policy: only our own scripts, only our own server to talk
/// to. The replica renders the visitor's page in an iframe that inherits this
/// policy, so its images, fonts and stylesheets may come from the origins
/// named here — and nowhere else, so a hostile page cannot make a consultant's
/// browser fetch arbitrary addresses. Scripts never run in it. Which origins
/// a page names: see [`replica_origins`].
fn console_csp(site_origins: &[String]) -> String {
    let sites = site_origins.join(" ");
    format!(
        "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob: {sites}; \
         font-src 'self' data: {sites}; style-src 'self' 'unsafe-inline' {sites}; media-src 'self' {sites}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/widget.js", get(|h: HeaderMap| async move { asset("widget.js", &h, Kind::Widget) }))
        .route("/widget.js.map", get(|h: HeaderMap| async move { asset("widget.js.map", &h, Kind::Widget) }))
        // The recorder, loaded by the widget only when a broadcast starts.
        .route("/agent.js", get(|h: HeaderMap| async move { asset("agent.js", &h, Kind::Widget) }))
        .route("/agent.js.map", get(|h: HeaderMap| async move { asset("agent.js.map", &h, Kind::Widget) }))
        // The widget's words in another language, loaded only by the widgets of a site that chose it.
        .route(
            "/lang/{file}",
            get(|Path(f): Path<String>, h: HeaderMap| async move { asset(&format!("lang/{f}"), &h, Kind::Widget) }),
        )
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(|s: State<AppState>, h: HeaderMap| async move { console(s, "index.html", None, h).await }))
        .route(
            "/console/{*path}",
            get(|s: State<AppState>, Path(p): Path<String>, q: Query<ConsoleQuery>, h: HeaderMap| async move {
                console(s, &p, q.0.visitor, h).await
            }),
        )
        .route("/demo", get(|| async { Redirect::permanent("/demo/") }))
        .route("/demo/", get(|s: State<AppState>| demo(s, Path(String::new()))))
        .route("/demo/{*path}", get(demo))
        .layer(CompressionLayer::new())
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Widget,
    Console,
    Demo,
}

fn asset(path: &str, req: &HeaderMap, kind: Kind) -> Response {
    let Some(file) = Dist::get(path) else {
        return (StatusCode::NOT_FOUND, format!("no such file: /{path}")).into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut res = file.data.into_owned().into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(file.metadata.mimetype()).unwrap());
    h.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    match kind {
        // Embedded on other sites: any origin may load it; revalidate every few minutes.
        Kind::Widget => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
        }
        Kind::Console => {
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&console_csp(&[])).unwrap());
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        }
        Kind::Demo => {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
    }
    res
}

/// The query of a console page (`screencast.html?visitor=…`).
#[derive(serde::Deserialize)]
struct ConsoleQuery {
    visitor: Option<String>,
}

/// A login page names no site: a site's origins are no business of someone who is not logged in.
/// More origins than this and the main console names none (its panel replica then shows no
/// external images; the screencast window, scoped to one site, always does).
const MAX_CONSOLE_ORIGINS: usize = 64;

/// A console file; its pages carry a policy naming the origins of [`replica_origins`].
async fn console(State(state): State<AppState>, path: &str, visitor: Option<String>, req: HeaderMap) -> Response {
    let path = format!("console/{path}");
    if !path.ends_with(".html") {
        return asset(&path, &req, Kind::Console);
    }
    // Pages are always sent whole: their policy depends on who asks.
    let mut res = asset(&path, &HeaderMap::new(), Kind::Console);
    res.headers_mut().remove(header::ETAG);
    let origins = replica_origins(&state, &path, visitor.as_deref(), &req).await;
    if let Ok(v) = HeaderValue::from_str(&console_csp(&origins)) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// The origins a console page may load a replica's assets from:
/// - the screencast window of a visitor: that visitor's site's origins only;
/// - the main console (whose panel shows a replica where popups are blocked):
///   the sites' origins, up to [`MAX_CONSOLE_ORIGINS`];
/// - nothing without a valid session.
async fn replica_origins(state: &AppState, path: &str, visitor: Option<&str>, req: &HeaderMap) -> Vec<String> {
    let Some(token) = super::auth::session_token(req) else { return Vec::new() };
    if !matches!(state.sessions.user(&token).await, Ok(Some(_))) {
        return Vec::new();
    }
    let listed = if path == "console/screencast.html" {
        match visitor {
            Some(v) => state.db.site_of_visitor(v).await.map(|s| s.map(|s| s.origins).unwrap_or_default()),
            None => Ok(Vec::new()),
        }
    } else {
        state.db.list_sites().await.map(|sites| sites.into_iter().flat_map(|s| s.origins).collect())
    };
    let mut origins = listed.unwrap_or_else(|e| {
        tracing::error!(error = %e, "listing sites for the console policy failed");
        Vec::new()
    });
    origins.sort();
    origins.dedup();
    if origins.len() > MAX_CONSOLE_ORIGINS { Vec::new() } else { origins }
}

/// The demo site, with the demo site's key written into its pages.
async fn demo(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    if !state.settings.demo {
        return (StatusCode::NOT_FOUND, "the demo site is turned off (setting `demo`)").into_response();
    }
    let path = if path.is_empty() || path.ends_with('/') { format!("demo/{path}index.html") } else { format!("demo/{path}") };
    let mut res = asset(&path, &HeaderMap::new(), Kind::Demo);
    if !path.ends_with(".html") || res.status() != StatusCode::OK {
        return res;
    }
    let key = match state.db.demo_site().await {
        Ok(Some(site)) => site.key,
        _ => return (StatusCode::SERVICE_UNAVAILABLE, "the demo site is missing").into_response(),
    };
    let body = axum::body::to_bytes(std::mem::take(res.body_mut()), usize::MAX).await.unwrap_or_default();
    let html = String::from_utf8_lossy(&body).replace(DEMO_KEY_PLACEHOLDER, &key);
    res.headers_mut().remove(header::ETAG);
    res.headers_mut().remove(header::CONTENT_LENGTH);
    *res.body_mut() = html.into();
    res
}
