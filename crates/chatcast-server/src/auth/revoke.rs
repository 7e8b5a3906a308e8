//! Ending sessions everywhere, at once: when a session ends (logout, revoked,
//! its account disabled, removed, given a new role or password — by the admin
//! API, the command line in another process, or the environment at start) the
//! console sockets opened with it close within a second.
//!
//! The database keeps an epoch that grows with every such change (triggers,
//! see the migrations); each server polls it cheaply and, when it moved,
//! checks the sessions of its console sockets. A change made by this server
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
                close_removed_sites(&state).await;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "reading the auth epoch failed"),
        }
    }
}
