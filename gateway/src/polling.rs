//! Telegram long polling, for development: a tenant with `telegram.mode = "polling"`
//! gets its updates by asking the Bot API (`getUpdates`) instead of through the
//! webhook, so `kopru serve` can run its bot on a machine without a public URL.
//!
//! One task per polling tenant: `deleteWebhook` once (Telegram refuses `getUpdates`
//! while a webhook is set), then `getUpdates` with a long-poll timeout, in a loop. Each
//! update goes through the same code as a webhook body
//! ([`crate::webhooks::process_telegram_body`]: stored in the inbox, deduplicated on
//! `tg:{update_id}`); one that does not parse is kept as a dead letter, as the webhook
//! would. The offset (which confirms the updates to Telegram) advances only after the
//! whole batch is stored, so a crash or a storage failure redelivers the batch, and
//! the dedupe key makes that harmless. Errors back off exponentially; a 429's
//! `retry_after` is honoured. The task stops when shutdown is signalled.

use crate::runtime::Runtime;
use crate::webhooks::Processed;
use channels::send::SendErrorKind;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long one `getUpdates` waits for an update (Telegram holds the request open).
pub const POLL_TIMEOUT_SECS: u32 = 25;
/// The first wait after an error; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Starts a poller for every tenant whose Telegram bot is in polling mode (and has a
/// bot token); they stop when `shutdown` turns true.
pub fn spawn_pollers(rt: &Arc<Runtime>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut ids: Vec<&String> = rt.tenants.keys().collect();
    ids.sort();
    let mut handles = Vec::new();
    for id in ids {
        let tenant = &rt.tenants[id];
        let Some(tg) = tenant.config.telegram.as_ref() else {
            continue;
        };
        if tg.mode != crate::config::TelegramMode::Polling {
            continue;
        }
        let Some(token) = tenant.secrets.telegram_token.clone() else {
            tracing::warn!(
                tenant = %id,
                var = tg.bot_token_env.as_deref().unwrap_or("(bot_token_env not set)"),
                "telegram polling mode without a bot token: not polling"
            );
            continue;
        };
        tracing::info!(tenant = %id, "telegram: polling getUpdates (development mode)");
        handles.push(tokio::spawn(poll(
            rt.clone(),
            id.clone(),
            token,
            shutdown.clone(),
        )));
    }
    handles
}

/// Why one round of polling failed.
enum Failed {
    /// Wait this long (Telegram's `retry_after`), else the current backoff.
    Wait(Option<Duration>),
    /// Another consumer holds the bot (a webhook is set, or a second poller): delete
    /// the webhook again before the next try.
    Conflict,
}

async fn poll(
    rt: Arc<Runtime>,
    tenant: String,
    token: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let base = rt
        .config
        .upstreams
        .telegram_api
        .trim_end_matches('/')
        .to_string();
    let mut offset: Option<i64> = None;
    let mut backoff = MIN_BACKOFF;
    let mut webhook_deleted = false;
    while !*shutdown.borrow() {
        if !webhook_deleted {
            webhook_deleted = delete_webhook(&rt, &base, &token, &tenant).await;
        }
        let round = tokio::select! {
            r = round(&rt, &base, &token, &tenant, &mut offset) => r,
            _ = stopped(&mut shutdown) => return,
        };
        let wait = match round {
            Ok(()) => {
                backoff = MIN_BACKOFF;
                continue;
            }
            Err(Failed::Wait(Some(after))) => after,
            Err(Failed::Wait(None)) => backoff,
            Err(Failed::Conflict) => {
                webhook_deleted = false;
                backoff
            }
        };
        backoff = (backoff * 2).min(MAX_BACKOFF);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut shutdown) => return,
        }
    }
}

/// Resolves when shutdown is signalled (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// `deleteWebhook` (keeping pending updates); true when Telegram agreed.
async fn delete_webhook(rt: &Runtime, base: &str, token: &str, tenant: &str) -> bool {
    let url = format!("{base}/bot{token}/deleteWebhook");
    let sent = rt
        .senders
        .http()
        .post(url)
        .json(&serde_json::json!({ "drop_pending_updates": false }))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            tracing::warn!(%tenant, status = r.status().as_u16(), "telegram deleteWebhook refused");
            false
        }
        Err(e) => {
            // reqwest's error includes the URL, and a Telegram URL holds the token.
            tracing::warn!(%tenant, error = %e.without_url(), "telegram deleteWebhook failed");
            false
        }
    }
}

/// One `getUpdates`; stores what it brought and then advances `offset`.
async fn round(
    rt: &Runtime,
    base: &str,
    token: &str,
    tenant: &str,
    offset: &mut Option<i64>,
) -> Result<(), Failed> {
    let request = channels::telegram::get_updates(*offset, POLL_TIMEOUT_SECS);
    let url = format!("{base}/bot{token}/{}", request.method);
    let req = rt
        .senders
        .http()
        .post(url)
        .timeout(Duration::from_secs(u64::from(POLL_TIMEOUT_SECS) + 15))
        .json(&request.body);
    let (status, retry_after, body) = crate::senders::send_json(req).await.map_err(|e| {
        tracing::warn!(%tenant, error = %e, "telegram getUpdates failed");
        Failed::Wait(None)
    })?;
    if channels::telegram::parse_updates(status, &body).is_err() {
        // Classified again with the Retry-After header, which parse_updates cannot see.
        let e = channels::telegram::classify_error(status, &body, retry_after.as_deref());
        tracing::warn!(%tenant, code = ?e.code, error = %e.message, "telegram getUpdates refused");
        return Err(match e.kind {
            _ if e.code == Some(409) => Failed::Conflict,
            SendErrorKind::SlowDown { after } | SendErrorKind::Retry { after } => {
                Failed::Wait(after)
            }
            _ => Failed::Wait(None),
        });
    }
    // Every item is handled one by one, like a webhook body each, so that one Telegram
    // cannot parse becomes a dead letter instead of being skipped or blocking the rest.
    let items = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("result").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    let mut last: Option<i64> = None;
    // Confirms what was stored even when a later item of the batch fails.
    let advance = |offset: &mut Option<i64>, last: Option<i64>| {
        if let Some(last) = last {
            *offset = Some(offset.map_or(last + 1, |o| o.max(last + 1)));
        }
    };
    for item in &items {
        let Some(id) = item.get("update_id").and_then(Value::as_i64) else {
            tracing::warn!(%tenant, "telegram getUpdates item without update_id skipped");
            continue;
        };
        let raw = serde_json::to_vec(item).unwrap_or_default();
        match crate::webhooks::process_telegram_body(rt, tenant, &raw).await {
            Ok(Processed::Handled(_)) => {}
            Ok(Processed::Unparseable(reason)) => {
                let headers = serde_json::json!({ "content-type": "application/json" });
                if crate::webhooks::keep_dead_letter(
                    rt,
                    "telegram",
                    Some(tenant),
                    &reason,
                    headers,
                    &raw,
                )
                .await
                .is_err()
                {
                    advance(offset, last);
                    return Err(Failed::Wait(None));
                }
            }
            // Logged where it happened; the rest of the batch is asked for again.
            Err(_) => {
                advance(offset, last);
                return Err(Failed::Wait(None));
            }
        }
        last = Some(last.map_or(id, |l| l.max(id)));
    }
    advance(offset, last);
    Ok(())
}
