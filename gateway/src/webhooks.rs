//! Provider webhooks: `GET|POST /webhooks/meta` (WhatsApp and Instagram) and
//! `POST /webhooks/telegram/{tenant}`. Verify first (signature or secret token), then
//! parse; store every message before answering 200; a correctly signed body we cannot
//! parse is kept whole as a dead letter and answered 200 (Meta would retry it for days).

use crate::api::ApiError;
use crate::inbox::ingest;
use crate::metrics as m;
use crate::runtime::Runtime;
use crate::server::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use channels::event::{DeliveryState, Event};
use channels::{Channel, Inbound};
use serde_json::json;
use std::collections::HashMap;
use store::{MessageStatus, NewDeadLetter, StoreError};

/// Meta retries a webhook for up to 7 days; a signed event older than that is a
/// replay, not a retry.
const MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;

/// `GET /webhooks/meta`: the subscription handshake.
pub async fn meta_verify(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let expected = state.rt.meta_verify_token.as_deref().unwrap_or("");
    match channels::meta::verify_challenge(
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
        expected,
    ) {
        Ok(challenge) => (
            [(axum::http::header::CONTENT_TYPE, "text/plain")],
            challenge,
        )
            .into_response(),
        Err(e) => {
            m::webhook("meta", "challenge_refused");
            ApiError::Forbidden(format!("verification failed: {e}")).into_response()
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /webhooks/meta`
pub async fn meta_receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rt = &state.rt;
    let Some(secret) = rt.meta_app_secret.as_deref() else {
        // Never accept unsigned traffic: without the secret nothing can be verified.
        m::webhook("meta", "no_secret");
        return ApiError::Unavailable(format!(
            "the Meta app secret is not configured (set {})",
            rt.config.meta.app_secret_env
        ))
        .into_response();
    };
    if let Err(e) = channels::meta::verify_signature(
        secret.as_bytes(),
        &body,
        header(&headers, "x-hub-signature-256"),
    ) {
        m::webhook("meta", "bad_signature");
        return ApiError::Unauthorized(match e {
            channels::meta::SignatureError::Missing => "missing X-Hub-Signature-256",
            _ => "X-Hub-Signature-256 does not match the body",
        })
        .into_response();
    }
    match process_meta_body(rt, &body).await {
        Ok(Processed::Handled(_)) => ok(),
        Ok(Processed::Unparseable(reason)) => {
            dead_letter(rt, "meta", None, &reason, &headers, &body).await
        }
        Err(e) => not_stored(e),
    }
}

/// What became of a webhook body that passed verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Processed {
    /// Parsed, and every event handled: messages stored in the inbox (deduplicated),
    /// statuses recorded.
    Handled(Handled),
    /// The body does not parse; the reason. The webhook keeps it as a dead letter.
    Unparseable(String),
}

/// What [`store_events`] did with a body's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// Messages newly stored in the inbox.
    pub messages: u32,
    /// Messages already stored before (a provider's retry, a replay, a re-drive).
    pub duplicates: u32,
    /// Delivery statuses recorded (or for a message we do not know).
    pub statuses: u32,
    /// Messages older than the retry window, dropped.
    pub stale: u32,
    /// Everything else: reactions, referrals, unroutable and ignored items.
    pub other: u32,
}

/// Parses a verified `POST /webhooks/meta` body (WhatsApp and Instagram) and handles
/// its events. Shared by the webhook and `kopru deadletters redrive`; the caller has
/// verified the signature. `Err` only when storage failed (the sender should retry).
pub async fn process_meta_body(rt: &Runtime, body: &[u8]) -> Result<Processed, StoreError> {
    let envelope = match channels::meta::parse(body) {
        Ok(e) => e,
        Err(e) => return Ok(Processed::Unparseable(e.to_string())),
    };
    let mut events =
        channels::whatsapp::normalize(&envelope, |id| rt.whatsapp_numbers.get(id).cloned());
    // Meta counts a number's inbound messages against its throughput too.
    for e in &events {
        if let Event::Message(i) = e
            && let Some(w) = rt
                .tenant(&i.tenant)
                .and_then(|t| t.config.whatsapp.as_ref())
        {
            rt.senders.count_inbound(&w.phone_number_id);
        }
    }
    events.extend(channels::instagram::normalize(&envelope, |id| {
        rt.instagram_accounts.get(id).cloned()
    }));
    for reason in &envelope.bad_entries {
        tracing::warn!(%reason, "meta webhook: an entry was skipped");
    }
    store_events(rt, "meta", events)
        .await
        .map(Processed::Handled)
}

/// Parses a verified Telegram update of `tenant`'s bot and handles it. Shared by the
/// webhook and `kopru deadletters redrive`; the caller has checked the tenant and the
/// secret token. `Err` only when storage failed.
pub async fn process_telegram_body(
    rt: &Runtime,
    tenant: &str,
    body: &[u8],
) -> Result<Processed, StoreError> {
    let update = match channels::telegram::parse_update(body) {
        Ok(u) => u,
        Err(e) => return Ok(Processed::Unparseable(e.to_string())),
    };
    let events = channels::telegram::normalize(tenant, &update);
    store_events(rt, "telegram", events)
        .await
        .map(Processed::Handled)
}

/// `POST /webhooks/telegram/{tenant}`
pub async fn telegram_receive(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rt = &state.rt;
    let Some(t) = rt.tenant(&tenant).filter(|t| t.config.telegram.is_some()) else {
        // Telegram retries non-2xx answers; an unknown tenant will not become known.
        tracing::warn!(%tenant, "telegram webhook for an unknown tenant or one without Telegram");
        m::webhook("telegram", "unroutable");
        return ok();
    };
    let Some(secret) = t.secrets.telegram_secret.as_deref() else {
        m::webhook("telegram", "no_secret");
        return ApiError::Unavailable(
            "the tenant's Telegram secret token is not configured".into(),
        )
        .into_response();
    };
    if !channels::telegram::verify_secret(
        secret,
        header(&headers, "x-telegram-bot-api-secret-token"),
    ) {
        m::webhook("telegram", "bad_secret");
        return ApiError::Unauthorized("X-Telegram-Bot-Api-Secret-Token does not match")
            .into_response();
    }
    match process_telegram_body(rt, &tenant, &body).await {
        Ok(Processed::Handled(_)) => ok(),
        Ok(Processed::Unparseable(reason)) => {
            dead_letter(rt, "telegram", Some(&tenant), &reason, &headers, &body).await
        }
        Err(e) => not_stored(e),
    }
}

fn ok() -> Response {
    (StatusCode::OK, Json(json!({"ok": true}))).into_response()
}

/// Storage failed: 503 so the provider retries the whole body (already stored parts
/// are deduplicated then). The error was logged where it happened.
fn not_stored(_: StoreError) -> Response {
    ApiError::Unavailable("storage is not answering; retry".into()).into_response()
}

async fn dead_letter(
    rt: &Runtime,
    source: &'static str,
    tenant: Option<&str>,
    reason: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let kept: serde_json::Map<String, serde_json::Value> = [
        "content-type",
        "x-hub-signature-256",
        "x-telegram-bot-api-secret-token",
    ]
    .iter()
    .filter(|n| **n != "x-telegram-bot-api-secret-token") // a secret: never stored
    .filter_map(|n| header(headers, n).map(|v| (n.to_string(), json!(v))))
    .collect();
    match keep_dead_letter(
        rt,
        source,
        tenant,
        reason,
        serde_json::Value::Object(kept),
        body,
    )
    .await
    {
        Ok(_) => ok(),
        Err(e) => not_stored(e),
    }
}

/// Keeps a body that cannot be processed whole in the dead-letter table (`headers`: the
/// request headers needed to re-drive it, never a secret); logs and counts it.
pub async fn keep_dead_letter(
    rt: &Runtime,
    source: &'static str,
    tenant: Option<&str>,
    reason: &str,
    headers: serde_json::Value,
    body: &[u8],
) -> Result<i64, StoreError> {
    let letter = NewDeadLetter {
        source: source.into(),
        tenant: tenant.map(str::to_string),
        reason: reason.chars().take(500).collect(),
        body: body.to_vec(),
        headers,
        received_at: jiff::Timestamp::now(),
    };
    match rt.store.add_dead_letter(&letter).await {
        Ok(id) => {
            tracing::warn!(source, dead_letter = id, reason = %letter.reason, "webhook body kept as a dead letter");
            m::webhook(source, "dead_letter");
            Ok(id)
        }
        Err(e) => {
            tracing::error!(source, error = %e, "could not keep a dead letter; asking the sender to retry");
            Err(e)
        }
    }
}

/// Stores what must be stored, then answers. Any storage failure answers 503 so the
/// provider retries the whole body; what was stored already is deduplicated then.
pub async fn handle_events(rt: &Runtime, source: &'static str, events: Vec<Event>) -> Response {
    match store_events(rt, source, events).await {
        Ok(_) => ok(),
        Err(e) => not_stored(e),
    }
}

/// Handles events in order: messages into the inbox (deduplicated), statuses recorded
/// forward-only, the rest logged and counted. Stops at the first storage failure and
/// returns it (logged here); what was stored before it stays stored.
pub async fn store_events(
    rt: &Runtime,
    source: &'static str,
    events: Vec<Event>,
) -> Result<Handled, StoreError> {
    let mut done = Handled::default();
    let now_ms = jiff::Timestamp::now().as_millisecond();
    for event in events {
        match event {
            Event::Message(inbound) => {
                if inbound.sent_at_ms.is_some_and(|t| now_ms - t > MAX_AGE_MS) {
                    tracing::warn!(source, tenant = %inbound.tenant, "signed message older than the retry window dropped");
                    m::webhook(source, "stale");
                    done.stale += 1;
                    continue;
                }
                match ingest(rt, &inbound).await {
                    Ok(i) if i.duplicate => done.duplicates += 1,
                    Ok(_) => done.messages += 1,
                    Err(e) => {
                        tracing::error!(source, tenant = %inbound.tenant, error = %e, "webhook message not stored");
                        return Err(e);
                    }
                }
                m::webhook(source, "message");
                answer_callback(rt, &inbound);
            }
            Event::Status(status) => {
                let (state, error) = match status.status {
                    DeliveryState::Sent => (MessageStatus::Sent, None),
                    DeliveryState::Delivered => (MessageStatus::Delivered, None),
                    DeliveryState::Read => (MessageStatus::Read, None),
                    DeliveryState::Failed => (
                        MessageStatus::Failed,
                        Some(
                            status
                                .errors
                                .iter()
                                .map(|e| format!("{} {}", e.code, e.title))
                                .collect::<Vec<_>>()
                                .join("; "),
                        ),
                    ),
                };
                // Our idempotency key comes back with WhatsApp statuses: it settles a
                // send whose answer we never saw (a crash mid-call).
                if let Some(key) = &status.callback_data
                    && status.status != DeliveryState::Failed
                    && let Err(e) = rt
                        .store
                        .outbox_confirm(
                            &status.tenant,
                            key,
                            &status.provider_message_id,
                            jiff::Timestamp::now(),
                        )
                        .await
                {
                    tracing::error!(source, error = %e, "status confirmation not stored");
                    return Err(e);
                }
                match rt
                    .store
                    .record_status(
                        &status.tenant,
                        status.channel,
                        &status.provider_message_id,
                        state,
                        error.as_deref(),
                    )
                    .await
                {
                    Ok(true) => m::webhook(source, "status"),
                    Ok(false) => m::webhook(source, "status_unknown_message"),
                    Err(e) => {
                        tracing::error!(source, error = %e, "status not stored");
                        return Err(e);
                    }
                }
                done.statuses += 1;
            }
            Event::Reaction(r) => {
                tracing::debug!(source, tenant = %r.tenant, "reaction received");
                m::webhook(source, "reaction");
                done.other += 1;
            }
            Event::Referral(r) => {
                tracing::info!(source, tenant = %r.tenant, "referral without a message");
                m::webhook(source, "referral");
                done.other += 1;
            }
            Event::Unroutable { channel, id } => {
                tracing::warn!(source, %channel, %id, "webhook for an account no tenant owns");
                m::webhook(source, "unroutable");
                done.other += 1;
            }
            Event::Ignored { reason } => {
                tracing::debug!(source, %reason, "webhook item ignored");
                m::webhook(source, "ignored");
                done.other += 1;
            }
        }
    }
    Ok(done)
}

/// A Telegram button tap keeps spinning until answered; best effort, after storing.
fn answer_callback(rt: &Runtime, inbound: &Inbound) {
    if inbound.channel != Channel::Telegram {
        return;
    }
    let Some(id) = inbound.details.callback_id.clone() else {
        return;
    };
    let Some(token) = rt
        .tenant(&inbound.tenant)
        .and_then(|t| t.secrets.telegram_token.clone())
    else {
        return;
    };
    let url = format!(
        "{}/bot{token}/answerCallbackQuery",
        rt.config.upstreams.telegram_api.trim_end_matches('/')
    );
    let body = channels::telegram::answer_callback(&id).body;
    let http = rt.senders.http().clone();
    tokio::spawn(async move {
        if let Err(e) = http.post(url).json(&body).send().await {
            tracing::debug!(error = %e.without_url(), "answerCallbackQuery failed");
        }
    });
}
