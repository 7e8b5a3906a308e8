//! Ending sessions everywhere, at once: when a session ends (logout, revoked,
//! its account disabled, removed, given a new role or password — by the admin
//! API, the command line in another process, or the environment at start) the
//! console sockets opened with it close within a second.
//!
//! The database keeps an epoch that grows with every such change (triggers,
//! see the migrations); each server polls it cheaply and, when it moved,
//! checks the sessions of its console sockets and the sites their users work
//! on. A change made by this server
//! closes its sockets at once, without waiting for the poll. A removed site
//! moves the epoch too: its visitors' tabs close the same way.

use std::time::Duration;

use crate::app::AppState;
use crate::transport::CLOSE_UNAUTHORIZED;

/// How often the epoch is read.
pub const POLL: Duration = Duration::from_millis(400);

/// Closes every console socket whose session is no longer valid.
pub async fn close_ended_sessions(state: &AppState) {
    let open = state.hub.console_sessions();
    if open.is_empty() {
        return;
    }
    let mut hashes: Vec<String> = open.iter().map(|(_, h)| h.clone()).collect();
    hashes.sort();
    hashes.dedup();
    let live = match state.db.live_sessions(&hashes, crate::now_ms()).await {
        Ok(live) => live,
        Err(e) => {
            tracing::error!(error = %e, "checking console sessions failed");
            return;
        }
    };
    let ended: Vec<_> = open.into_iter().filter(|(_, h)| !live.contains(h)).map(|(c, _)| c).collect();
    if !ended.is_empty() {
        tracing::info!(sockets = ended.len(), "closing console sockets of ended sessions");
        let reason = "your session has ended: log in again";
        // The error first: the console shows its login page on `unauthorized`.
        let error = chatcast_protocol::ConsoleOut::Error(chatcast_protocol::ErrorBody::new(
            chatcast_protocol::ErrorCode::Unauthorized,
            reason,
        ));
        state.hub.close_consoles(&ended, &chatcast_protocol::frame(&error), CLOSE_UNAUTHORIZED, reason);
    }
}

/// Closes the console sockets whose user now works on other sites than when
/// they connected; the console reconnects at once and gets its new sites' snapshot.
pub async fn close_changed_site_access(state: &AppState) {
    let open = state.hub.console_access();
    let mut users: Vec<i64> = open.iter().map(|(_, u, _)| *u).collect();
    users.sort_unstable();
    users.dedup();
    let mut now = std::collections::HashMap::new();
    for id in users {
        let access = match state.db.user(id).await {
            Ok(Some(user)) => super::site_access(state.db.as_ref(), &user).await,
            // Removed: its sessions end, which closes its sockets.
            Ok(None) => continue,
            Err(e) => Err(e),
        };
        match access {
            Ok(a) => {
                now.insert(id, a);
            }
            Err(e) => {
                tracing::error!(error = %e, "checking a console user's sites failed");
                return;
            }
        }
    }
    let changed: Vec<_> =
        open.into_iter().filter(|(_, u, was)| now.get(u).is_some_and(|a| a != was.as_ref())).map(|(c, _, _)| c).collect();
    if !changed.is_empty() {
        tracing::info!(sockets = changed.len(), "closing console sockets whose sites changed");
        let reason = "the sites you work on changed: reconnecting";
        let note = chatcast_protocol::ConsoleOut::Error(chatcast_protocol::ErrorBody::new(
            chatcast_protocol::ErrorCode::NotReady,
            reason,
        ));
        // 1012 (service restart): the console reconnects by itself.
        state.hub.close_consoles(&changed, &chatcast_protocol::frame(&note), 1012, reason);
    }
}

/// Closes the tabs of visitors whose site was removed: the widget shows it is
/// unavailable and does not reconnect (`unknown_site`).
pub async fn close_removed_sites(state: &AppState) {
    let sites = match state.db.list_sites().await {
        Ok(s) => s.into_iter().map(|s| s.id).collect(),
        Err(e) => {
            tracing::error!(error = %e, "listing sites failed");
            return;
        }
    };
    let reason = "this site was removed from the chat";
    let error = chatcast_protocol::VisitorOut::Error(chatcast_protocol::ErrorBody::new(
        chatcast_protocol::ErrorCode::UnknownSite,
        reason,
    ));
    let closed = state.hub.close_tabs_of_removed_sites(
        &sites,
        &chatcast_protocol::frame(&error),
        crate::transport::CLOSE_UNKNOWN_SITE,
        reason,
    );
    if closed > 0 {
        tracing::info!(tabs = closed, "closed the tabs of a removed site");
    }
}

/// Polls the epoch until shutdown; runs on the server's task tracker.
pub async fn watch(state: AppState) {
    let mut seen = state.db.auth_epoch().await.ok();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = state.shutdown.cancelled() => return,
        }
        match state.db.auth_epoch().await {
            Ok(epoch) if Some(epoch) != seen => {
                seen = Some(epoch);
                close_ended_sessions(&state).await;
                close_changed_site_access(&state).await;
                close_removed_sites(&state).await;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "reading the auth epoch failed"),
        }
    }
}
