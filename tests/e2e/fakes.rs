//! Local fakes of the upstreams we cannot reach here, answering as their public docs
//! show: the Meta Graph API (WhatsApp Cloud API and Instagram send endpoints) and the
//! Telegram Bot API. They check request shapes and auth, record what they accepted,
//! and can be scripted to fail (429 with or without Retry-After, 5xx, Meta error codes).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One request the fake accepted.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    /// The phone number id, Instagram account id or bot token in the path.
    pub(crate) account: String,
    pub(crate) body: Value,
    /// When it was accepted.
    pub(crate) at: std::time::Instant,
}

/// A scripted answer instead of success.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// HTTP status with a Meta-style error body `{"error":{code,…}}`, and an optional
    /// Retry-After header.
    Meta {
        status: u16,
        code: i64,
        retry_after: Option<u64>,
    },
    /// Telegram `{"ok":false,"error_code":…,"parameters":{"retry_after":…}}`.
    Telegram {
        status: u16,
        retry_after: Option<u64>,
    },
    /// A bare 503 with no body, as a proxy in front of a down service would answer.
    Down,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<Failure>,
    /// While set, every request fails this way (an outage).
    outage: Option<Failure>,
    next_id: u64,
    /// Telegram updates queued for `getUpdates`, not yet confirmed by an offset.
    updates: Vec<Value>,
    /// Every `getUpdates` asked: the offset and the update ids returned (empty while held).
    polls: Vec<Poll>,
    /// How many times `deleteWebhook` was called.
    webhook_deletions: u32,
    /// Where WhatsApp status webhooks go, and the app secret that signs them; Meta posts
    /// a `sent` status for every accepted message, echoing `biz_opaque_callback_data`.
    status_hook: Option<(String, String)>,
    /// Status bodies not yet accepted by the hook (Meta retries until a 2xx).
    statuses: VecDeque<Value>,
    status_enabled: bool,
    /// Chat-completions requests received, and the intent the fake LLM answers with.
    llm_requests: Vec<Value>,
    llm_intent: Option<String>,
    /// Accounts whose Graph API requests hang until released (a stalled upstream).
    held: std::collections::HashSet<String>,
    /// Requests hanging now.
    hanging: usize,
}

/// One `getUpdates` call the fake received.
#[derive(Clone, Debug)]
pub(crate) struct Poll {
    pub(crate) offset: Option<i64>,
    pub(crate) returned: Vec<i64>,
    /// When it arrived.
    pub(crate) at: std::time::Instant,
    /// Answered with a scripted failure.
    pub(crate) failed: bool,
}

/// A running fake upstream.
#[derive(Clone)]
pub(crate) struct Fake {
    pub(crate) base: String,
    inner: Arc<Mutex<Inner>>,
    /// The bearer token the Graph API expects.
    pub(crate) token: String,
}

impl Fake {
    /// Starts the fake on a free loopback port.
    pub(crate) async fn start(token: &str) -> Fake {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let fake = Fake {
            base: String::new(),
            inner: inner.clone(),
            token: token.to_string(),
        };
        let app = Router::new()
            .route("/v21.0/{account}/messages", post(graph_messages))
            .route("/v1/chat/completions", post(chat_completions))
            .route("/{bot}/{method}", post(telegram_method))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("fake addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        tokio::spawn(fake.clone().deliver_statuses());
        Fake {
            base: format!("http://{addr}"),
            ..fake
        }
    }

    /// From now on every accepted WhatsApp message gets a signed `sent` status webhook,
    /// delivered to `url` (retried until it is accepted, as Meta does).
    pub(crate) fn send_statuses_to(&self, url: &str, app_secret: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.status_enabled = true;
        inner.status_hook = Some((url.to_string(), app_secret.to_string()));
    }

    fn queue_status(&self, account: &str, to: &str, wamid: &str, request: &Value) {
        let mut inner = self.inner.lock().unwrap();
        if !inner.status_enabled {
            return;
        }
        let mut status = json!({"id": wamid, "status": "sent",
            "timestamp": jiff::Timestamp::now().as_second().to_string(), "recipient_id": to});
        if let Some(cb) = request.get("biz_opaque_callback_data") {
            status["biz_opaque_callback_data"] = cb.clone();
        }
        inner.statuses.push_back(
            json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
            "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "905320000000", "phone_number_id": account},
                "statuses": [status]}}]}]}),
        );
    }

    /// Delivers queued status webhooks, in order, until each is accepted.
    async fn deliver_statuses(self) {
        let http = reqwest::Client::new();
        loop {
            let next = {
                let inner = self.inner.lock().unwrap();
                inner
                    .status_hook
                    .clone()
                    .zip(inner.statuses.front().cloned())
            };
            let Some(((url, secret), body)) = next else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let raw = serde_json::to_vec(&body).unwrap();
            let ok = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", meta_signature(&secret, &raw))
                .body(raw)
                .timeout(std::time::Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                self.inner.lock().unwrap().statuses.pop_front();
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }

    /// The fake LLM answers every classification with `intent` (confidence 0.93).
    pub(crate) fn llm_answers(&self, intent: &str) {
        self.inner.lock().unwrap().llm_intent = Some(intent.to_string());
    }

    pub(crate) fn llm_requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().llm_requests.clone()
    }

    pub(crate) fn graph_api(&self) -> String {
        format!("{}/v21.0", self.base)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The next requests fail as scripted, in order.
    pub(crate) fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
        self.inner.lock().unwrap().script.extend(failures);
    }

    /// Every request fails until `None`.
    pub(crate) fn outage(&self, failure: Option<Failure>) {
        self.inner.lock().unwrap().outage = failure;
    }

    /// Graph API requests for `account` hang (no answer) until [`Fake::release`].
    pub(crate) fn hold(&self, account: &str) {
        self.inner.lock().unwrap().held.insert(account.to_string());
    }

    /// Held requests get their answers.
    pub(crate) fn release(&self) {
        self.inner.lock().unwrap().held.clear();
    }

    /// How many requests hang now.
    pub(crate) fn hanging(&self) -> usize {
        self.inner.lock().unwrap().hanging
    }

    async fn wait_while_held(&self, account: &str) {
        let mut counted = false;
        loop {
            {
                let mut inner = self.inner.lock().unwrap();
                if !inner.held.contains(account) {
                    if counted {
                        inner.hanging -= 1;
                    }
                    return;
                }
                if !counted {
                    inner.hanging += 1;
                    counted = true;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Queues a Telegram update for `getUpdates` (long polling).
    pub(crate) fn queue_update(&self, update: Value) {
        self.inner.lock().unwrap().updates.push(update);
    }

    /// The `getUpdates` calls received so far.
    pub(crate) fn polls(&self) -> Vec<Poll> {
        self.inner.lock().unwrap().polls.clone()
    }

    /// How many times `deleteWebhook` was called.
    pub(crate) fn webhook_deletions(&self) -> u32 {
        self.inner.lock().unwrap().webhook_deletions
    }

    fn next(&self) -> Result<u64, Failure> {
        let mut inner = self.inner.lock().unwrap();
        if let Some(f) = inner.outage.clone() {
            return Err(f);
        }
        if let Some(f) = inner.script.pop_front() {
            return Err(f);
        }
        inner.next_id += 1;
        Ok(inner.next_id)
    }

    fn record(&self, account: &str, body: Value) {
        self.inner.lock().unwrap().received.push(Received {
            account: account.to_string(),
            body,
            at: std::time::Instant::now(),
        });
    }
}

fn failure_response(f: Failure) -> Response {
    match f {
        Failure::Meta {
            status,
            code,
            retry_after,
        } => {
            let message = match code {
                131047 => "Re-engagement message",
                130429 => "Rate limit hit",
                131056 => "(Business Account, Consumer Account) pair rate limit hit",
                131026 => "Message Undeliverable",
                _ => "An unknown error occurred",
            };
            let body = json!({"error": {
                "message": format!("({code}) {message}"),
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": message},
                "fbtrace_id": "AbCdEfGhIjK"
            }});
            let mut resp =
                (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            if let Some(s) = retry_after {
                resp.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            resp
        }
        Failure::Telegram {
            status,
            retry_after,
        } => {
            let mut body = json!({"ok": false, "error_code": status, "description": "Too Many Requests: retry later"});
            if let Some(s) = retry_after {
                body["description"] = json!(format!("Too Many Requests: retry after {s}"));
                body["parameters"] = json!({"retry_after": s});
            }
            (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
        }
        Failure::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn bad_request(message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "OAuthException", "code": 100, "fbtrace_id": "X"}});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// `POST /v21.0/{phone-number-id | ig-account-id}/messages`
async fn graph_messages(
    State(fake): State<Fake>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", fake.token) {
        let body = json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190, "fbtrace_id": "X"}});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("Unexpected end of JSON input");
    };
    fake.wait_while_held(&account).await;
    let id = match fake.next() {
        Ok(id) => id,
        Err(f) => return failure_response(f),
    };
    if v["messaging_product"] == "whatsapp" {
        // Mark as read: {"messaging_product":"whatsapp","status":"read","message_id":…}
        if v["status"] == "read" {
            if v["message_id"].as_str().is_none() {
                return bad_request("message_id is required");
            }
            fake.record(&account, v);
            return axum::Json(json!({"success": true})).into_response();
        }
        let to = v["to"].as_str().unwrap_or("");
        let kind = v["type"].as_str().unwrap_or("text");
        if to.is_empty() || v.get(kind).is_none() {
            return bad_request("(#100) Invalid parameter");
        }
        if kind == "text" && v["text"]["body"].as_str().is_none_or(|b| b.is_empty()) {
            return bad_request("(#100) Param text['body'] is required");
        }
        fake.record(&account, v.clone());
        fake.queue_status(&account, to, &format!("wamid.FAKE{id:06}"), &v);
        let wa_id = to.trim_start_matches('+').to_string();
        return axum::Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": wa_id}],
            "messages": [{"id": format!("wamid.FAKE{id:06}")}]
        }))
        .into_response();
    }
    // Instagram: {"recipient":{"id":…},"message":{…}}
    let Some(recipient) = v["recipient"]["id"].as_str().map(str::to_string) else {
        return bad_request("(#100) The parameter recipient is required");
    };
    if v.get("message").is_none() && v.get("sender_action").is_none() {
        return bad_request("(#100) The parameter message is required");
    }
    fake.record(&account, v);
    axum::Json(json!({"recipient_id": recipient, "message_id": format!("m_FAKE{id:06}")}))
        .into_response()
}

/// `POST /bot{token}/{method}` — sendMessage, answerCallbackQuery, getUpdates and
/// deleteWebhook.
async fn telegram_method(
    State(fake): State<Fake>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(token) = bot.strip_prefix("bot") else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"ok": false, "error_code": 404, "description": "Not Found"})),
        )
            .into_response();
    };
    if token != fake.token {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"ok": false, "error_code": 400, "description": "Bad Request: invalid JSON"}),
            ),
        )
            .into_response();
    };
    // Receiving, not sending: answered before the scripted failures, which are meant
    // for sends.
    match method.as_str() {
        "getUpdates" => return telegram_get_updates(&fake, &v).await,
        "deleteWebhook" => {
            fake.inner.lock().unwrap().webhook_deletions += 1;
            return axum::Json(
                json!({"ok": true, "result": true, "description": "Webhook was deleted"}),
            )
            .into_response();
        }
        _ => {}
    }
    let id = match fake.next() {
        Ok(id) => id,
        Err(f) => return failure_response(f),
    };
    match method.as_str() {
        "sendMessage" => {
            let Some(chat) = v["chat_id"].as_i64().or_else(|| v["chat_id"].as_str().and_then(|s| s.parse().ok())) else {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: chat_id is empty"}))).into_response();
            };
            if v["text"].as_str().is_none_or(|t| t.is_empty()) {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"}))).into_response();
            }
            fake.record(token, v.clone());
            axum::Json(json!({"ok": true, "result": {
                "message_id": id,
                "from": {"id": 1, "is_bot": true, "first_name": "Köprü"},
                "chat": {"id": chat, "type": "private"},
                "date": 1_767_225_600,
                "text": v["text"]
            }}))
            .into_response()
        }
        "answerCallbackQuery" => {
            fake.record(token, v);
            axum::Json(json!({"ok": true, "result": true})).into_response()
        }
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"}))).into_response(),
    }
}

/// `getUpdates` as the Bot API documents it: `offset` confirms (forgets) every update
/// with a smaller id; the answer lists the updates from `offset` on, oldest first, at
/// most `limit` (default 100). Without any, the request is held up to `timeout`
/// seconds (long polling) and answered as soon as one is queued.
async fn telegram_get_updates(fake: &Fake, v: &Value) -> Response {
    let offset = v["offset"].as_i64();
    let limit = v["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let timeout = v["timeout"].as_u64().unwrap_or(0).min(50);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout);
    // Recorded on arrival (a held request has asked already); filled in when answered.
    // Scripted failures and outages apply to polling too (429 with retry_after, 5xx).
    let (index, failure) = {
        let mut inner = fake.inner.lock().unwrap();
        let failure = match inner.outage.clone() {
            Some(f) => Some(f),
            None => inner.script.pop_front(),
        };
        inner.polls.push(Poll {
            offset,
            returned: Vec::new(),
            at: std::time::Instant::now(),
            failed: failure.is_some(),
        });
        (inner.polls.len() - 1, failure)
    };
    if let Some(f) = failure {
        return failure_response(f);
    }
    loop {
        let answer = {
            let mut inner = fake.inner.lock().unwrap();
            if let Some(o) = offset {
                inner
                    .updates
                    .retain(|u| u["update_id"].as_i64().is_some_and(|id| id >= o));
            }
            let pending: Vec<Value> = inner.updates.iter().take(limit).cloned().collect();
            if !pending.is_empty() || std::time::Instant::now() >= deadline {
                let returned = pending
                    .iter()
                    .filter_map(|u| u["update_id"].as_i64())
                    .collect();
                inner.polls[index].returned = returned;
                Some(pending)
            } else {
                None
            }
        };
        if let Some(pending) = answer {
            return axum::Json(json!({"ok": true, "result": pending})).into_response();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `sha256=<hex>` of the body with the app secret, as Meta signs webhooks.
pub(crate) fn meta_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `POST /v1/chat/completions`: an OpenAI-compatible endpoint answering with structured
/// output (the `content` is the JSON the schema asks for) and token usage.
async fn chat_completions(State(fake): State<Fake>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": {"message": "invalid JSON", "type": "invalid_request_error"}}),
            ),
        )
            .into_response();
    };
    let intent = {
        let mut inner = fake.inner.lock().unwrap();
        inner.llm_requests.push(v.clone());
        inner
            .llm_intent
            .clone()
            .unwrap_or_else(|| "out_of_scope".into())
    };
    let content = json!({"intent": intent, "confidence": 0.93}).to_string();
    axum::Json(json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_767_225_600,
        "model": v["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 312, "completion_tokens": 14, "total_tokens": 326}
    }))
    .into_response()
}
