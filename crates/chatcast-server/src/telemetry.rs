//! Prometheus metrics at `GET /metrics`: connections, presence, messages,
//! refusals and logins. The recorder is process-wide, installed once.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder (once per process) and describes the metrics.
pub fn init() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program); then ours only renders.
        let _ = metrics::set_global_recorder(recorder);
        metrics::describe_gauge!("chatcast_sockets_open", "WebSocket connections open, by endpoint");
        metrics::describe_gauge!("chatcast_visitors_online", "visitors with at least one connected tab");
        metrics::describe_counter!("chatcast_messages_total", "chat messages stored, by author");
        metrics::describe_counter!("chatcast_sockets_refused_total", "sockets refused, by reason");
        metrics::describe_counter!("chatcast_logins_total", "console login attempts, by result");
        handle
    });
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    HANDLE.get().map(|h| h.render()).unwrap_or_default()
}
