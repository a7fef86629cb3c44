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
            .route("/{bot}/{method}", post(telegram_method))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("fake addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            base: format!("http://{addr}"),
            ..fake
        }
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

/// `POST /bot{token}/{method}` — sendMessage and answerCallbackQuery.
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

/// `sha256=<hex>` of the body with the app secret, as Meta signs webhooks.
pub(crate) fn meta_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
