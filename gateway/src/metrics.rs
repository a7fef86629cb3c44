//! The one place that names metrics; the Prometheus recorder behind `/metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once per process (tests start several servers in one).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::debug!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

pub fn message_in(tenant: &str, channel: &str, duplicate: bool) {
    metrics::counter!("kopru_messages_in_total", "tenant" => tenant.to_string(), "channel" => channel.to_string(), "duplicate" => duplicate.to_string()).increment(1);
}

pub fn message_out(tenant: &str, channel: &str) {
    metrics::counter!("kopru_messages_out_total", "tenant" => tenant.to_string(), "channel" => channel.to_string()).increment(1);
}

pub fn turn_handled(tenant: &str, replies: usize, took: Duration) {
    metrics::counter!("kopru_turns_total", "tenant" => tenant.to_string()).increment(1);
    metrics::counter!("kopru_replies_total", "tenant" => tenant.to_string())
        .increment(replies as u64);
    metrics::histogram!("kopru_turn_seconds").record(took.as_secs_f64());
}

pub fn handoff(tenant: &str, reason: &str) {
    metrics::counter!("kopru_handoffs_total", "tenant" => tenant.to_string(), "reason" => reason.to_string()).increment(1);
}

pub fn worker_error(worker: &'static str) {
    metrics::counter!("kopru_worker_errors_total", "worker" => worker).increment(1);
}

pub fn rejected(surface: &'static str, code: &'static str) {
    metrics::counter!("kopru_rejected_total", "surface" => surface, "code" => code).increment(1);
}

pub fn webchat_sockets(delta: f64) {
    metrics::gauge!("kopru_webchat_sockets").increment(delta);
}

pub fn slowed_down(account: &str) {
    metrics::counter!("kopru_upstream_slowdowns_total", "account" => account.to_string())
        .increment(1);
}

pub fn send_result(channel: &str, result: &'static str) {
    metrics::counter!("kopru_sends_total", "channel" => channel.to_string(), "result" => result)
        .increment(1);
}

pub fn webhook(source: &'static str, outcome: &'static str) {
    metrics::counter!("kopru_webhook_events_total", "source" => source, "outcome" => outcome)
        .increment(1);
}
