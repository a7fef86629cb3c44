//! The CRM webhook (`docs/clinic.md`, "CRM webhook"): every timeline event of a lead of a
//! tenant with `leads.crm_webhook_url` is POSTed there as JSON, with the lead as it is
//! now, signed with `X-Kopru-Signature` when the tenant has a `crm_secret_env`. Events of
//! one lead go out in order; a failure is retried with exponential backoff and jitter
//! (1 s … 10 min, `Retry-After` honoured) and given up after [`MAX_ATTEMPTS`] (a 4xx
//! other than 408/429 after [`MAX_CLIENT_ERROR_ATTEMPTS`]), the error kept on the event.
//! Delivery is at least once: `X-Kopru-Delivery` (the event id) lets the receiver drop a
//! repeat. Logs name the tenant, lead and event ids only: never the secret, the URL
//! (it may carry a token) or personal data.

use crate::runtime::Runtime;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use rand::Rng;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use store::CrmDelivery;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Attempts before an event is given up.
pub const MAX_ATTEMPTS: i32 = 12;
/// Attempts before an event the receiver refuses (a 4xx other than 408/429) is given up:
/// a few, in case the receiver was being redeployed or misconfigured for a moment.
pub const MAX_CLIENT_ERROR_ATTEMPTS: i32 = 3;
/// How often the worker looks for events, at least (the runtime's poll interval when
/// longer).
const MIN_POLL: Duration = Duration::from_secs(1);
/// Events claimed at once.
const BATCH: u32 = 50;
/// Leads delivered at once (each lead's events one after another).
const CONCURRENT_LEADS: usize = 8;
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// A `Retry-After` longer than this is cut to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `hex(HMAC-SHA256(key, message))`.
pub fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Kopru-Signature` value of a body: `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(secret.as_bytes(), body))
}

/// Starts the worker when some tenant has a CRM webhook; it stops when `shutdown`
/// turns true.
pub fn spawn(rt: &Arc<Runtime>, shutdown: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    let mut tenants: Vec<String> = rt
        .tenants
        .values()
        .filter(|t| t.config.leads.crm_webhook_url.is_some())
        .map(|t| t.config.id.clone())
        .collect();
    if tenants.is_empty() {
        return None;
    }
    tenants.sort();
    Some(tokio::spawn(run(rt.clone(), tenants, shutdown)))
}

async fn run(rt: Arc<Runtime>, tenants: Vec<String>, mut shutdown: watch::Receiver<bool>) {
    // A claim is a write; a CRM can wait a second, the store's writer should not.
    let poll = rt.poll().max(MIN_POLL);
    let mut idle = poll;
    while !*shutdown.borrow() {
        match rt
            .store
            .claim_crm_deliveries(&tenants, BATCH, Timestamp::now())
            .await
        {
            Ok(batch) if !batch.is_empty() => {
                idle = poll;
                let full = batch.len() as u32 >= BATCH;
                deliver_batch(&rt, batch).await;
                if full {
                    continue;
                }
            }
            Ok(_) => idle = poll,
            Err(e) => {
                tracing::warn!(error = %e, "claiming CRM deliveries failed");
                crate::metrics::worker_error("crm");
                idle = (idle * 2).clamp(poll, Duration::from_secs(30));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { break; }
            }
        }
    }
}

/// Delivers a claimed batch: leads in parallel, each lead's events in order. (The store
/// hands out a lead's event only with every older undelivered one of that lead, so a
/// batch never skips ahead of an event that waits for a retry.)
async fn deliver_batch(rt: &Runtime, batch: Vec<CrmDelivery>) {
    let mut groups: Vec<Vec<CrmDelivery>> = Vec::new();
    for d in batch {
        match groups
            .iter_mut()
            .find(|g| g[0].tenant == d.tenant && g[0].event.lead == d.event.lead)
        {
            Some(g) => g.push(d),
            None => groups.push(vec![d]),
        }
    }
    for g in &mut groups {
        g.sort_by_key(|d| d.event.id);
    }
    futures_util::stream::iter(groups)
        .for_each_concurrent(CONCURRENT_LEADS, |group| deliver_lead(rt, group))
        .await;
}

/// Delivers one lead's events in order; at the first that must wait, the rest of the
/// lead's events wait with it (retried together, still in order).
async fn deliver_lead(rt: &Runtime, group: Vec<CrmDelivery>) {
    let mut held: Option<Timestamp> = None;
    let tenant_id = group[0].tenant.clone();
    let lead_id = group[0].event.lead;
    let Some(tenant) = rt.tenant(&tenant_id) else {
        return;
    };
    let Some(url) = tenant.config.leads.crm_webhook_url.clone() else {
        return;
    };
    // The lead as it is now, once for the group.
    let lead = match rt.store.lead(&tenant_id, lead_id).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(tenant = %tenant_id, lead = lead_id, error = %e, "reading the lead for the CRM webhook failed");
            let at = retry_at(Duration::from_secs(5));
            for d in &group {
                record(rt, d, Some("the lead could not be read"), Some(at)).await;
            }
            return;
        }
    };
    for d in group {
        if let Some(at) = held {
            record(
                rt,
                &d,
                Some("waiting for an earlier event of this lead"),
                Some(at),
            )
            .await;
            continue;
        }
        let body = serde_json::json!({
            "id": d.event.id,
            "tenant": tenant_id,
            "lead": lead,
            "event": {
                "kind": d.event.kind,
                "actor": d.event.actor,
                "at": d.event.at,
                "data": d.event.data,
            },
        });
        let raw = match serde_json::to_vec(&body) {
            Ok(r) => r,
            Err(e) => {
                record(rt, &d, Some(&format!("cannot encode: {e}")), None).await;
                continue;
            }
        };
        let mut req = rt
            .senders
            .http()
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::USER_AGENT, "kopru-crm-webhook/1")
            .header("X-Kopru-Event", d.event.kind.as_str())
            .header("X-Kopru-Delivery", d.event.id.to_string());
        if let Some(secret) = &tenant.crm_secret {
            req = req.header("X-Kopru-Signature", signature(secret, &raw));
        }
        // Counted by the claim: 1 for the first.
        let attempt = d.attempts.max(1);
        let outcome = match req.body(raw).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Timestamp::now()));
                classify(status, after, attempt, rand::rng().random_range(0.5..=1.0))
            }
            // Without the URL: it may carry the receiver's token.
            Err(e) => network_error(
                &e.without_url().to_string(),
                attempt,
                rand::rng().random_range(0.5..=1.0),
            ),
        };
        match outcome {
            Outcome::Delivered => {
                tracing::debug!(tenant = %tenant_id, lead = lead_id, event = d.event.id, "CRM event delivered");
                record(rt, &d, None, None).await;
            }
            Outcome::Retry { after, error } => {
                let at = retry_at(after);
                tracing::info!(tenant = %tenant_id, lead = lead_id, event = d.event.id, attempt, %error, retry_in_ms = after.as_millis() as u64, "CRM event will be retried");
                record(rt, &d, Some(&error), Some(at)).await;
                held = Some(at);
            }
            Outcome::GiveUp { error } => {
                tracing::warn!(tenant = %tenant_id, lead = lead_id, event = d.event.id, attempt, %error, "CRM event given up");
                crate::metrics::worker_error("crm");
                record(rt, &d, Some(&error), None).await;
            }
        }
    }
}

fn retry_at(after: Duration) -> Timestamp {
    let now = Timestamp::now();
    jiff::SignedDuration::try_from(after)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(now)
}

async fn record(rt: &Runtime, d: &CrmDelivery, error: Option<&str>, retry_at: Option<Timestamp>) {
    if let Err(e) = rt.store.crm_delivered(d.event.id, error, retry_at).await {
        // The lease expires and the event is claimed again: delivered twice at worst,
        // which `X-Kopru-Delivery` lets the receiver see.
        tracing::warn!(tenant = %d.tenant, lead = d.event.lead, event = d.event.id, error = %e, "recording a CRM delivery failed");
        crate::metrics::worker_error("crm");
    }
}

/// What became of one delivery attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Try again after this long.
    Retry {
        after: Duration,
        error: String,
    },
    /// Stop trying; the error is kept on the event.
    GiveUp {
        error: String,
    },
}

/// The receiver's answer to attempt number `attempt` (1 for the first), with `jitter`
/// in 0.5–1.0 scaling the backoff.
pub fn classify(status: u16, retry_after: Option<Duration>, attempt: i32, jitter: f64) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Delivered;
    }
    let error = format!("HTTP {status}");
    let transient = status == 408 || status == 429 || status >= 500;
    let limit = if transient {
        MAX_ATTEMPTS
    } else {
        MAX_CLIENT_ERROR_ATTEMPTS
    };
    if attempt >= limit {
        return Outcome::GiveUp {
            error: format!("{error}; gave up after {attempt} attempts"),
        };
    }
    let after = match retry_after {
        Some(d) if transient => d.min(MAX_RETRY_AFTER),
        _ => backoff(attempt, jitter),
    };
    Outcome::Retry { after, error }
}

/// No answer (connection refused, timeout, TLS …): retried like a 5xx.
pub fn network_error(error: &str, attempt: i32, jitter: f64) -> Outcome {
    let error = format!("no answer: {error}");
    if attempt >= MAX_ATTEMPTS {
        return Outcome::GiveUp {
            error: format!("{error}; gave up after {attempt} attempts"),
        };
    }
    Outcome::Retry {
        after: backoff(attempt, jitter),
        error,
    }
}

/// 1 s after the first attempt, doubling up to 10 min, scaled by `jitter` (0.5–1.0) so
/// many failed events do not all come back at once (never under 1 s).
pub fn backoff(attempt: i32, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 20) as u32;
    let base = MIN_BACKOFF.saturating_mul(1u32 << exp).min(MAX_BACKOFF);
    base.mul_f64(jitter.clamp(0.5, 1.0)).max(MIN_BACKOFF)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let d = at.duration_since(now);
    Some(Duration::try_from(d).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(200, None, 1, 1.0), Outcome::Delivered);
        assert_eq!(classify(204, None, 12, 1.0), Outcome::Delivered);
        assert_eq!(
            classify(500, None, 1, 1.0),
            Outcome::Retry {
                after: Duration::from_secs(1),
                error: "HTTP 500".into()
            }
        );
        assert!(matches!(
            classify(503, None, 12, 1.0),
            Outcome::GiveUp { .. }
        ));
        // Retry-After wins over the backoff, within reason.
        assert_eq!(
            classify(429, Some(Duration::from_secs(30)), 1, 1.0),
            Outcome::Retry {
                after: Duration::from_secs(30),
                error: "HTTP 429".into()
            }
        );
        assert!(matches!(
            classify(429, Some(Duration::from_secs(86_400)), 1, 1.0),
            Outcome::Retry { after, .. } if after == MAX_RETRY_AFTER
        ));
        // A refusal is retried a few times, then given up.
        assert!(matches!(classify(404, None, 1, 1.0), Outcome::Retry { .. }));
        assert!(
            matches!(classify(422, None, 3, 1.0), Outcome::GiveUp { error } if error.contains("HTTP 422"))
        );
        assert!(matches!(classify(408, None, 3, 1.0), Outcome::Retry { .. }));
        assert!(matches!(
            network_error("refused", 11, 1.0),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            network_error("refused", 12, 1.0),
            Outcome::GiveUp { .. }
        ));
    }

    #[test]
    fn backoff_doubles_with_jitter_between_one_second_and_ten_minutes() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(4, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(11, 1.0), Duration::from_secs(600));
        assert_eq!(backoff(40, 1.0), Duration::from_secs(600));
        assert_eq!(backoff(40, 0.5), Duration::from_secs(300));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Mon, 02 Mar 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Mon, 02 Mar 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signature("k", b"{}").starts_with("sha256="));
    }
}
