//! Telegram Bot API: the webhook secret check, updates into [`Event`]s, our
//! [`OutContent`] into Bot API calls (`sendMessage` with an inline keyboard, `sendPhoto`,
//! …), and the Bot API's answers into a message id or a classified [`SendError`].
//! Pure: no I/O. One bot belongs to one tenant, so the tenant comes from the webhook
//! path (`/webhooks/telegram/{tenant}`), not from the update.
//!
//! Dedupe: `provider_id` is `tg:{update_id}` (unique per bot, what Telegram redelivers);
//! the chat's `message_id` is kept in `details.message_id`.

pub mod wire;

use crate::event::{Event, ParseError};
use crate::model::{
    Channel, Contact, Content, Details, Inbound, MediaKind, OutContent, SharedContact,
};
use crate::send::{RenderError, SendError, SendErrorKind, check_len, parse_retry_after};
use serde_json::{Value, json};
use std::time::Duration;
use subtle::ConstantTimeEq;

pub use wire::Update;

const CHANNEL: &str = "Telegram";
/// Longest message text.
pub const MAX_TEXT: usize = 4096;
/// Longest media caption.
pub const MAX_CAPTION: usize = 1024;
/// Longest `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;
/// The updates a bot subscribes to (webhook or long polling).
pub const ALLOWED_UPDATES: [&str; 3] = ["message", "edited_message", "callback_query"];

/// Checks `X-Telegram-Bot-Api-Secret-Token` against the secret given to `setWebhook`,
/// in constant time. An empty expected secret never matches.
pub fn verify_secret(expected: &str, header: Option<&str>) -> bool {
    match header {
        Some(given) if !expected.is_empty() => {
            bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        }
        _ => false,
    }
}

/// Parses one webhook body. Valid JSON without an integer `update_id` is an error
/// (dead letter); unknown update kinds parse and are ignored by [`normalize`].
pub fn parse_update(raw: &[u8]) -> Result<Update, ParseError> {
    serde_json::from_slice(raw).map_err(|e| ParseError::from_json("Telegram Update", e))
}

/// Turns an update into events (zero or one today).
pub fn normalize(tenant: &str, update: &Update) -> Vec<Event> {
    let provider_id = format!("tg:{}", update.update_id);
    let event = if let Some(raw) = &update.message {
        message(tenant, provider_id, raw)
    } else if let Some(raw) = &update.callback_query {
        callback(tenant, provider_id, raw)
    } else if update.edited_message.is_some() {
        Event::ignored(format!(
            "telegram update {} edits a message (already handled)",
            update.update_id
        ))
    } else {
        let kind = update
            .other
            .keys()
            .next()
            .map(String::as_str)
            .unwrap_or("empty");
        Event::ignored(format!(
            "telegram update {} of kind {kind:?} is not handled",
            update.update_id
        ))
    };
    vec![event]
}

fn display_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

fn e164(phone: &str) -> String {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    format!("+{digits}")
}

/// Content kinds of a message we keep as `Unsupported`; any other message without
/// content is a service message (ignored, no reply).
const CONTENT_KINDS: [&str; 8] = [
    "poll",
    "dice",
    "game",
    "invoice",
    "story",
    "giveaway",
    "paid_media",
    "checklist",
];

fn message(tenant: &str, provider_id: String, raw: &Value) -> Event {
    let m: wire::Message = match serde_json::from_value(raw.clone()) {
        Ok(m) => m,
        Err(e) => return Event::ignored(format!("telegram message is malformed: {e}")),
    };
    if m.chat.kind != "private" {
        return Event::ignored(format!(
            "telegram message in a {} chat (only private chats are served)",
            m.chat.kind
        ));
    }
    if m.from.as_ref().is_some_and(|u| u.is_bot) {
        return Event::ignored("telegram message from a bot");
    }
    let mut contact = Contact {
        handle: m.chat.id.to_string(),
        name: m
            .from
            .as_ref()
            .and_then(|u| display_name(Some(&u.first_name), u.last_name.as_deref()))
            .or_else(|| display_name(m.chat.first_name.as_deref(), m.chat.last_name.as_deref())),
        phone: None,
    };
    let mut details = Details {
        message_id: Some(m.message_id.to_string()),
        ..Details::default()
    };
    let caption = m.caption.clone().filter(|c| !c.is_empty());
    let file = |kind: MediaKind, f: &wire::File, details: &mut Details| {
        if kind == MediaKind::Document {
            details.filename = f.file_name.clone();
        }
        Content::Media {
            kind,
            url: None,
            media_id: Some(f.file_id.clone()),
            mime: f.mime_type.clone(),
            caption: caption.clone(),
        }
    };
    let content = if let Some(text) = &m.text {
        Content::Text { body: text.clone() }
    } else if let Some(sizes) = m.photo.as_ref().filter(|p| !p.is_empty()) {
        // Telegram lists sizes small to large; pick by area, then size, to be sure.
        let largest = sizes
            .iter()
            .max_by_key(|p| (p.width.saturating_mul(p.height), p.file_size.unwrap_or(0)))
            .expect("not empty");
        Content::Media {
            kind: MediaKind::Image,
            url: None,
            media_id: Some(largest.file_id.clone()),
            mime: None,
            caption: caption.clone(),
        }
    } else if let Some(f) = &m.animation {
        file(MediaKind::Video, f, &mut details)
    } else if let Some(f) = &m.document {
        file(MediaKind::Document, f, &mut details)
    } else if let Some(f) = m.voice.as_ref().or(m.audio.as_ref()) {
        file(MediaKind::Audio, f, &mut details)
    } else if let Some(f) = m.video.as_ref().or(m.video_note.as_ref()) {
        file(MediaKind::Video, f, &mut details)
    } else if let Some(f) = &m.sticker {
        file(MediaKind::Sticker, f, &mut details)
    } else if let Some(v) = &m.venue {
        location(&v.location, v.title.clone(), v.address.clone())
    } else if let Some(l) = &m.location {
        location(l, None, None)
    } else if let Some(c) = &m.contact {
        let phone = e164(&c.phone_number);
        details.contacts = vec![SharedContact {
            name: display_name(c.first_name.as_deref(), c.last_name.as_deref()),
            phones: vec![phone.clone()],
        }];
        let own = c.user_id.is_some() && c.user_id == m.from.as_ref().map(|u| u.id);
        if own && phone.len() > 1 {
            // The customer shared their own number (a "share my phone" button): it is
            // theirs, and it is the answer to whatever we asked.
            contact.phone = Some(phone.clone());
            Content::Text { body: phone }
        } else {
            Content::Unsupported {
                kind: "contact".into(),
            }
        }
    } else if let Some(kind) = CONTENT_KINDS.iter().find(|k| raw.get(**k).is_some()) {
        Content::Unsupported {
            kind: (*kind).to_string(),
        }
    } else {
        return Event::ignored(format!(
            "telegram service message {} has no content",
            m.message_id
        ));
    };
    Event::Message(Inbound {
        tenant: tenant.to_string(),
        channel: Channel::Telegram,
        contact,
        content,
        referral: None,
        provider_id,
        sent_at_ms: m.date.and_then(|d| d.checked_mul(1000)),
        reply_to: m.reply_to_message.map(|r| r.message_id.to_string()),
        details,
    })
}

fn location(l: &wire::Location, name: Option<String>, address: Option<String>) -> Content {
    if l.latitude.is_finite() && l.longitude.is_finite() {
        Content::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            name,
            address,
        }
    } else {
        Content::Unsupported {
            kind: "location".into(),
        }
    }
}

fn callback(tenant: &str, provider_id: String, raw: &Value) -> Event {
    let q: wire::CallbackQuery = match serde_json::from_value(raw.clone()) {
        Ok(q) => q,
        Err(e) => return Event::ignored(format!("telegram callback query is malformed: {e}")),
    };
    let Some(data) = q.data.clone().filter(|d| !d.is_empty()) else {
        return Event::ignored(format!("telegram callback query {} carries no data", q.id));
    };
    if q.from.is_bot {
        return Event::ignored("telegram callback query from a bot");
    }
    let message: Option<wire::Message> = q
        .message
        .as_ref()
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    if let Some(m) = &message
        && m.chat.kind != "private"
    {
        return Event::ignored(format!("telegram callback query in a {} chat", m.chat.kind));
    }
    // The tapped button's label, found on the keyboard we sent; else the data itself.
    let title = message
        .as_ref()
        .and_then(|m| m.reply_markup.as_ref())
        .and_then(|k| {
            k.inline_keyboard
                .iter()
                .flatten()
                .find(|b| b.callback_data.as_deref() == Some(data.as_str()))
                .map(|b| b.text.clone())
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| data.clone());
    let chat = message.as_ref().map(|m| m.chat.id).unwrap_or(q.from.id);
    let bot_message = message.as_ref().map(|m| m.message_id.to_string());
    Event::Message(Inbound {
        tenant: tenant.to_string(),
        channel: Channel::Telegram,
        contact: Contact {
            handle: chat.to_string(),
            name: display_name(Some(&q.from.first_name), q.from.last_name.as_deref()),
            phone: None,
        },
        content: Content::Interactive { id: data, title },
        referral: None,
        provider_id,
        sent_at_ms: None,
        reply_to: bot_message.clone(),
        details: Details {
            message_id: bot_message,
            callback_id: Some(q.id),
            ..Details::default()
        },
    })
}

// ------------------------------------------------------------------------ sending

/// A Bot API call: `POST {base}/bot{token}/{method}` with `body` as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: &'static str,
    pub body: Value,
}

/// A chat id as the Bot API prefers it: a number when the handle is one.
fn chat_id(handle: &str) -> Value {
    handle
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(handle))
}

/// Renders a message for chat `chat_id` (the contact handle). Buttons become an inline
/// keyboard, one button per row, with the button id as `callback_data` (1–64 bytes).
/// Media goes by URL (`sendPhoto`, `sendDocument`, …). Templates do not exist on
/// Telegram: rendering one is an error.
pub fn render(chat: &str, content: &OutContent) -> Result<Request, RenderError> {
    let chat = chat_id(chat);
    match content {
        OutContent::Text { body } => {
            check_len(CHANNEL, "text", body, MAX_TEXT)?;
            Ok(Request {
                method: "sendMessage",
                body: json!({ "chat_id": chat, "text": body }),
            })
        }
        OutContent::Buttons { body, buttons } => {
            check_len(CHANNEL, "text", body, MAX_TEXT)?;
            if buttons.is_empty() {
                return Err(RenderError::Empty {
                    what: "button list",
                });
            }
            let mut rows = Vec::with_capacity(buttons.len());
            for b in buttons {
                if b.id.is_empty() || b.id.len() > MAX_CALLBACK_DATA {
                    return Err(RenderError::InvalidButtonId {
                        channel: CHANNEL,
                        id: b.id.clone(),
                        reason: "callback_data must be 1-64 bytes",
                    });
                }
                rows.push(json!([{ "text": b.title, "callback_data": b.id }]));
            }
            Ok(Request {
                method: "sendMessage",
                body: json!({
                    "chat_id": chat,
                    "text": body,
                    "reply_markup": { "inline_keyboard": rows }
                }),
            })
        }
        OutContent::Template { .. } => Err(RenderError::Unsupported {
            channel: CHANNEL,
            what: "a template (templates are WhatsApp-only)",
        }),
        OutContent::Media {
            kind, url, caption, ..
        } => {
            if url.trim().is_empty() {
                return Err(RenderError::Empty { what: "media url" });
            }
            let (method, field) = match kind {
                MediaKind::Image => ("sendPhoto", "photo"),
                MediaKind::Video => ("sendVideo", "video"),
                MediaKind::Audio => ("sendAudio", "audio"),
                MediaKind::Document => ("sendDocument", "document"),
                MediaKind::Sticker => ("sendSticker", "sticker"),
            };
            let mut body = json!({ "chat_id": chat, field: url });
            if let Some(c) = caption.as_deref().filter(|c| !c.trim().is_empty()) {
                if *kind == MediaKind::Sticker {
                    return Err(RenderError::Unsupported {
                        channel: CHANNEL,
                        what: "a caption on a sticker",
                    });
                }
                check_len(CHANNEL, "caption", c, MAX_CAPTION)?;
                body["caption"] = json!(c);
            }
            Ok(Request { method, body })
        }
    }
}

/// `answerCallbackQuery`: stops the spinner on the button the customer tapped
/// (`details.callback_id` of the inbound message). Send it right after storing.
pub fn answer_callback(callback_id: &str) -> Request {
    Request {
        method: "answerCallbackQuery",
        body: json!({ "callback_query_id": callback_id }),
    }
}

/// `setWebhook` with our secret token and the update kinds we handle.
pub fn set_webhook(url: &str, secret: &str) -> Request {
    Request {
        method: "setWebhook",
        body: json!({ "url": url, "secret_token": secret, "allowed_updates": ALLOWED_UPDATES }),
    }
}

/// `getUpdates` for long polling (development without a public URL). `offset` is the
/// last seen `update_id + 1`; `timeout` in seconds.
pub fn get_updates(offset: Option<i64>, timeout: u32) -> Request {
    let mut body = json!({ "timeout": timeout, "allowed_updates": ALLOWED_UPDATES });
    if let Some(offset) = offset {
        body["offset"] = json!(offset);
    }
    Request {
        method: "getUpdates",
        body,
    }
}

/// Reads a `getUpdates` answer. Items without an `update_id` are dropped (they cannot
/// be acknowledged either way); the others parse like webhook bodies.
pub fn parse_updates(status: u16, body: &[u8]) -> Result<Vec<Update>, SendError> {
    let result = result_of(status, body)?;
    Ok(match result {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|u| serde_json::from_value(u).ok())
            .collect(),
        _ => Vec::new(),
    })
}

fn result_of(status: u16, body: &[u8]) -> Result<Value, SendError> {
    match serde_json::from_slice::<wire::Response>(body) {
        Ok(r) if r.ok && (200..300).contains(&status) => Ok(r.result.unwrap_or(Value::Null)),
        _ => Err(classify_error(status, body, None)),
    }
}

/// Reads the answer to a send: the new message's `message_id` on success (an empty
/// string for calls whose result is not a message, like `answerCallbackQuery`),
/// otherwise the classified error.
pub fn parse_send_response(status: u16, body: &[u8]) -> Result<String, SendError> {
    let result = result_of(status, body)?;
    Ok(result
        .get("message_id")
        .and_then(Value::as_i64)
        .map(|id| id.to_string())
        .unwrap_or_default())
}

/// Classifies a failed Bot API call: 429 slows the bot down for `parameters.retry_after`
/// seconds (or the `Retry-After` header), 5xx is retried, 401/404 (a bad token) is an
/// auth problem, other 4xx (blocked by the user, chat not found, bad request) are final.
pub fn classify_error(status: u16, body: &[u8], retry_after_header: Option<&str>) -> SendError {
    let response = serde_json::from_slice::<wire::Response>(body).ok();
    let code = response
        .as_ref()
        .and_then(|r| r.error_code)
        .or(Some(i64::from(status)));
    let after = response
        .as_ref()
        .and_then(|r| r.parameters.as_ref())
        .and_then(|p| p.retry_after)
        .map(|s| Duration::from_secs(s.min(24 * 3600)))
        .or_else(|| parse_retry_after(retry_after_header));
    let description = response
        .as_ref()
        .and_then(|r| r.description.clone())
        .unwrap_or_else(|| format!("HTTP {status} without a Bot API body"));
    let kind = match code {
        Some(429) => SendErrorKind::SlowDown { after },
        Some(401 | 404) => SendErrorKind::Auth,
        Some(c) if (500..600).contains(&c) => SendErrorKind::Retry { after },
        _ if (500..600).contains(&status) || status == 408 => SendErrorKind::Retry { after },
        _ => SendErrorKind::Permanent,
    };
    SendError::new(kind, code, description)
}
