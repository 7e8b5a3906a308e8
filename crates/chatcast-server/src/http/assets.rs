//! The browser code, embedded in the binary: the widget script, the console
//! and the demo site. Built from `web/` by `build.rs` (esbuild).

use axum::Router;
use axum::extract::{Path, State};
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

/// Console pages may only load our own code and talk to our own server.
const CONSOLE_CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
    style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/widget.js", get(|h: HeaderMap| async move { asset("widget.js", &h, Kind::Widget) }))
        .route("/widget.js.map", get(|h: HeaderMap| async move { asset("widget.js.map", &h, Kind::Widget) }))
        // The recorder, loaded by the widget only when a broadcast starts.
        .route("/agent.js", get(|h: HeaderMap| async move { asset("agent.js", &h, Kind::Widget) }))
        .route("/agent.js.map", get(|h: HeaderMap| async move { asset("agent.js.map", &h, Kind::Widget) }))
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(|h: HeaderMap| async move { asset("console/index.html", &h, Kind::Console) }))
        .route(
            "/console/{*path}",
            get(|Path(p): Path<String>, h: HeaderMap| async move { asset(&format!("console/{p}"), &h, Kind::Console) }),
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
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONSOLE_CSP));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        }
        Kind::Demo => {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
    }
    res
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
