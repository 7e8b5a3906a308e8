//! Retention: visitors who never wrote are deleted after
//! `retention_idle_visitor_days` without a visit, and whole conversations
//! (visitor, messages, consents, read marks, audit rows) after
//! `retention_transcript_days` without a message or visit; files uploaded but
//! never sent after a day. A task sweeps every `retention_sweep_minutes`;
//! visitors online now are never deleted.

use std::time::Duration;

use crate::app::AppState;
use crate::storage::StorageError;

/// Visitors deleted per statement batch: a sweep never holds the database long.
const BATCH: i64 = 500;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Deletes what the settings say has expired as of `now` (ms); returns how many visitors.
pub async fn sweep(state: &AppState, now: i64) -> Result<u64, StorageError> {
    let unsent = state.db.delete_unsent_attachments(now - DAY_MS).await?;
    if unsent > 0 {
        tracing::info!(unsent, "retention: deleted files uploaded a day ago and never sent");
    }
    let days = |d: u64| (d > 0).then(|| now - d as i64 * DAY_MS);
    let idle_before = days(state.settings.retention_idle_visitor_days);
    let transcript_before = days(state.settings.retention_transcript_days);
    if idle_before.is_none() && transcript_before.is_none() {
        return Ok(0);
    }
    let mut deleted = 0;
    loop {
        let found = state.db.expired_visitors(idle_before, transcript_before, BATCH).await?;
        let batch_full = found.len() as i64 == BATCH;
        // One connected long enough for its last visit to look old is still here.
        let ids: Vec<String> = found.into_iter().filter(|id| !state.hub.is_online(id)).collect();
        if ids.is_empty() {
            break;
        }
        deleted += state.db.delete_visitors(&ids).await?;
        if !batch_full {
            break;
        }
        tokio::task::yield_now().await;
    }
    if deleted > 0 {
        tracing::info!(deleted, "retention: deleted expired visitors and their conversations");
        metrics::counter!("chatcast_visitors_deleted_total").increment(deleted);
    }
    Ok(deleted)
}

/// Sweeps a minute after start, then every `retention_sweep_minutes`, until shutdown.
pub async fn run(state: AppState) {
    let every = Duration::from_secs(state.settings.retention_sweep_minutes.max(1) * 60);
    let mut wait = Duration::from_secs(60).min(every);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = sweep(&state, crate::now_ms()).await {
            tracing::error!(error = %e, "retention sweep failed");
        }
        wait = every;
    }
}
