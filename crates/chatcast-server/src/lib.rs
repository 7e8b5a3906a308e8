//! The Chatcast server as a library: the `chatcast` binary only parses its
//! command line and calls in here, and the tests start the same server on a
//! port-0 listener.
//!
//! # Layout: where each concern lives
//!
//! | module | concern |
//! |---|---|
//! | [`config`] | settings: defaults < optional TOML file < `CHATCAST_*` environment < flags |
//! | [`app`] | [`AppState`], built in one place, and [`serve`] on an injected listener with graceful shutdown |
//! | [`http`] | HTTP routes: login/logout, admin API, transcript search, saved replies, visitor details, file uploads and downloads, embedded assets (widget, console, demo site), `/healthz`, and the WebSocket endpoints that hand sockets to their sessions |
//! | [`transport`] | WebSocket options (permessage-deflate, frame limits), origin checks, per-connection send queues bounded in frames and bytes |
//! | [`hub`] | this node's sockets: visitors' tabs and consoles; fans serialized frames out to them and hands them to the engine |
//! | [`engine`] | what nodes share: fan-out to other nodes' sockets and who is online there; [`engine::memory`] (one node) and [`engine::redis`] (`--redis-url`) side by side |
//! | [`chat`] | the two socket sessions (visitor and console): hello, messages, de-duplication, read positions, conversation states, `Chatcast.identify`, the visitor's contact, whether a site's support is online ([`chat::support`]) |
//! | [`files`] | files and images sent in dialogs: what may be sent (by its first bytes), names, how each is served |
//! | [`mail`] | answers emailed over SMTP to visitors who wrote while nobody was online and are away |
//! | [`consent`] | screen broadcast life: consent asked or remembered, connection probe, start/stop, audit; [`consent::screen`]: the broadcasting tab's screen socket |
//! | [`relay`] | screen frames: per-broadcast keyframe + tail cache (memory only), fan-out, slow-viewer resync |
//! | [`auth`] | argon2id passwords, sessions that can be revoked, login rate limiting, the sites each consultant may see ([`auth::SiteAccess`]) |
//! | [`limits`] | what one client may do on the public widget endpoint: sockets and new visitors per address, frames and messages per socket |
//! | [`telemetry`] | Prometheus metrics at `/metrics` |
//! | [`validate`] | checks of names, origins, emails and passwords people type (CLI and admin API), and quoting of client values in messages and logs |
//! | [`storage`] | the [`storage::Database`] trait and its backends (SQLite, PostgreSQL; one module per backend) |
//!
//! Data flows one way: a frame read by [`transport`] is decoded once by a [`chat`]
//! session, stored through [`storage`], serialized once into `Bytes`, and fanned
//! out by the [`hub`] to every connection of this node that should see it (a
//! console only if its user works on the visitor's site), and
//! by the [`engine`] to the other nodes, whose hubs deliver it to theirs.

pub mod app;
pub mod auth;
pub mod chat;
pub mod config;
pub mod consent;
pub mod engine;
pub mod files;
pub mod http;
pub mod hub;
pub mod limits;
pub mod mail;
pub mod relay;
pub mod storage;
pub mod telemetry;
pub mod transport;
pub mod validate;

pub use app::{AppState, serve};
pub use config::Settings;

/// Milliseconds since the Unix epoch: the clock of every stored and sent time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
