//! WhatsApp Cloud API: webhook items into [`Event`]s, our [`Outbound`] into Graph API
//! `/{phone_number_id}/messages` bodies, and the Graph API's answers into a message id
//! or a classified [`SendError`]. Pure: no I/O; the gateway sends.
//!
//! See `docs/channels.md` for the mapping tables.

pub mod wire;

use crate::event::{DeliveryState, DeliveryStatus, Event, ProviderError, Reaction};
use crate::meta::{self, Envelope, Object, Product, seconds_to_ms};
use crate::model::{
    Button, Channel, Contact, Content, Details, Inbound, MediaKind, OutContent, Outbound, Referral,
    SharedContact,
};
use crate::send::{RenderError, SendError, SendErrorKind, check_len, cut};
use serde_json::{Map, Value, json};

const CHANNEL: &str = "WhatsApp";
/// Longest free-form text body.
pub const MAX_TEXT: usize = 4096;
/// Longest body of an interactive (buttons or list) message.
pub const MAX_INTERACTIVE_BODY: usize = 1024;
/// Reply buttons per message; more become a list.
pub const MAX_BUTTONS: usize = 3;
/// Rows a list message can hold.
pub const MAX_LIST_ROWS: usize = 10;
/// Longest reply button title.
pub const MAX_BUTTON_TITLE: usize = 20;
/// Longest list row title.
pub const MAX_ROW_TITLE: usize = 24;
/// Longest reply button id (a list row id may have 200).
pub const MAX_BUTTON_ID: usize = 256;
const MAX_ROW_ID: usize = 200;
/// Longest media caption.
pub const MAX_CAPTION: usize = 1024;
/// The label of the button that opens a list (at most 20 characters).
pub const LIST_BUTTON_LABEL: &str = "Seçenekler";

/// Turns every WhatsApp item of a Meta webhook body into events. `resolve` maps a
/// `metadata.phone_number_id` to the tenant that owns it; an unknown number gives
/// [`Event::Unroutable`]. A body for another product gives nothing.
pub fn normalize(envelope: &Envelope, resolve: impl Fn(&str) -> Option<String>) -> Vec<Event> {
    if envelope.object != Object::WhatsappBusinessAccount {
        return Vec::new();
    }
    let mut events: Vec<Event> = envelope
        .bad_entries
        .iter()
        .map(|reason| Event::ignored(reason.clone()))
        .collect();
    for entry in &envelope.entries {
        for change in &entry.changes {
            if change.field != "messages" {
                events.push(Event::ignored(format!(
                    "whatsapp change field {:?} is not handled",
                    change.field
                )));
                continue;
            }
            normalize_change(&change.value, &resolve, &mut events);
        }
    }
    events
}

fn normalize_change(
    value: &Value,
    resolve: &impl Fn(&str) -> Option<String>,
    events: &mut Vec<Event>,
) {
    let value: wire::ChangeValue = match serde_json::from_value(value.clone()) {
        Ok(v) => v,
        Err(e) => {
            events.push(Event::ignored(format!(
                "whatsapp change value is malformed: {e}"
            )));
            return;
        }
    };
    let Some(number) = value
        .metadata
        .as_ref()
        .and_then(|m| m.phone_number_id.clone())
        .filter(|n| !n.is_empty())
    else {
        events.push(Event::ignored(
            "whatsapp change without metadata.phone_number_id",
        ));
        return;
    };
    let Some(tenant) = resolve(&number) else {
        events.push(Event::Unroutable {
            channel: Channel::Whatsapp,
            id: number,
        });
        return;
    };
    for raw in &value.messages {
        events.push(message(&tenant, &value.contacts, raw));
    }
    for raw in &value.statuses {
        events.push(status(&tenant, raw));
    }
    for error in &value.errors {
        events.push(Event::ignored(format!(
            "whatsapp webhook error {}: {}",
            error.code,
            error_text(error)
        )));
    }
}

fn error_text(e: &wire::Error) -> String {
    let title = e
        .title
        .clone()
        .or_else(|| e.message.clone())
        .unwrap_or_default();
    match details_of(e) {
        Some(d) if !d.is_empty() && d != title => format!("{title} ({d})"),
        _ => title,
    }
}

fn details_of(e: &wire::Error) -> Option<String> {
    e.error_data
        .as_ref()
        .and_then(|d| d.details.clone())
        .or_else(|| e.details.clone())
}

fn message(tenant: &str, contacts: &[wire::Profile], raw: &Value) -> Event {
    let head: wire::MessageHead = match serde_json::from_value(raw.clone()) {
        Ok(h) => h,
        Err(e) => return Event::ignored(format!("whatsapp message is malformed: {e}")),
    };
    let Some(from) = head.from.clone().filter(|f| !f.is_empty()) else {
        return Event::ignored(format!("whatsapp message {} has no sender", head.id));
    };
    if head.group_id.is_some() {
        return Event::ignored(format!("whatsapp message {} is from a group", head.id));
    }
    let kind = head.kind.clone().unwrap_or_else(|| "unknown".into());
    let contact = Contact {
        name: contacts
            .iter()
            .find(|c| c.wa_id.as_deref() == Some(from.as_str()))
            .or(if contacts.len() == 1 {
                contacts.first()
            } else {
                None
            })
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.clone())
            .filter(|n| !n.trim().is_empty()),
        phone: Some(format!("+{}", from.trim_start_matches('+'))),
        handle: from,
    };
    let sent_at_ms = seconds_to_ms(head.timestamp.as_ref());
    let field = |name: &str| raw.get(name).cloned().unwrap_or(Value::Null);

    if kind == "reaction" {
        let reaction: wire::Reaction =
            serde_json::from_value(field("reaction")).unwrap_or_default();
        let Some(message_id) = reaction.message_id.filter(|m| !m.is_empty()) else {
            return Event::ignored(format!("whatsapp reaction {} names no message", head.id));
        };
        return Event::Reaction(Reaction {
            tenant: tenant.to_string(),
            channel: Channel::Whatsapp,
            contact,
            message_id,
            emoji: reaction.emoji.filter(|e| !e.is_empty()),
            provider_id: Some(head.id),
            sent_at_ms,
        });
    }
    if kind == "system" || kind == "request_welcome" {
        return Event::ignored(format!(
            "whatsapp {kind} message {} is not from the customer's keyboard",
            head.id
        ));
    }

    let mut details = Details::default();
    let content = content(&kind, raw, &mut details).unwrap_or(Content::Unsupported { kind });
    let referral = raw
        .get("referral")
        .and_then(|r| serde_json::from_value::<wire::Referral>(r.clone()).ok())
        .map(referral)
        .filter(|r| !r.is_empty());
    Event::Message(Inbound {
        tenant: tenant.to_string(),
        channel: Channel::Whatsapp,
        contact,
        content,
        referral,
        provider_id: head.id,
        sent_at_ms,
        reply_to: head.context.and_then(|c| c.id).filter(|id| !id.is_empty()),
        details,
    })
}

/// The typed body of a message; `None` when it is missing or malformed (the caller
/// keeps the message as `Unsupported`).
fn content(kind: &str, raw: &Value, details: &mut Details) -> Option<Content> {
    fn body<T: serde::de::DeserializeOwned>(raw: &Value, name: &str) -> Option<T> {
        serde_json::from_value(raw.get(name)?.clone()).ok()
    }
    let media = |media_kind: MediaKind, details: &mut Details| -> Option<Content> {
        let m: wire::Media = body(raw, kind)?;
        details.filename = m.filename.clone().filter(|f| !f.is_empty());
        Some(Content::Media {
            kind: media_kind,
            url: m.url,
            media_id: m.id,
            mime: m.mime_type,
            caption: m.caption.filter(|c| !c.is_empty()),
        })
    };
    Some(match kind {
        "text" => Content::Text {
            body: body::<wire::Text>(raw, "text")?.body,
        },
        "image" => media(MediaKind::Image, details)?,
        "audio" => media(MediaKind::Audio, details)?,
        "video" => media(MediaKind::Video, details)?,
        "document" => media(MediaKind::Document, details)?,
        "sticker" => media(MediaKind::Sticker, details)?,
        "location" => {
            let l: wire::Location = body(raw, "location")?;
            if !l.latitude.is_finite() || !l.longitude.is_finite() {
                return None;
            }
            Content::Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name,
                address: l.address,
            }
        }
        "contacts" => {
            let cards: Vec<wire::ContactCard> = body(raw, "contacts")?;
            details.contacts = cards.into_iter().map(shared_contact).collect();
            Content::Unsupported {
                kind: "contacts".into(),
            }
        }
        "interactive" => {
            let i: wire::Interactive = body(raw, "interactive")?;
            let reply = match i.kind.as_deref() {
                Some("button_reply") => i.button_reply?,
                Some("list_reply") => i.list_reply?,
                other => {
                    return Some(Content::Unsupported {
                        kind: format!("interactive.{}", other.unwrap_or("unknown")),
                    });
                }
            };
            Content::Interactive {
                title: reply.title,
                id: reply.id,
            }
        }
        "button" => {
            let b: wire::Button = body(raw, "button")?;
            let title = b.text.unwrap_or_default();
            Content::Interactive {
                id: b
                    .payload
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| title.clone()),
                title,
            }
        }
        other => Content::Unsupported {
            kind: other.to_string(),
        },
    })
}

fn shared_contact(card: wire::ContactCard) -> SharedContact {
    let name = card.name.and_then(|n| {
        n.formatted_name
            .filter(|f| !f.trim().is_empty())
            .or_else(|| {
                let full = [n.first_name, n.last_name]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                (!full.trim().is_empty()).then_some(full)
            })
    });
    let phones = card
        .phones
        .into_iter()
        .filter_map(|p| match (p.wa_id, p.phone) {
            (Some(wa), _) if !wa.is_empty() => Some(format!("+{}", wa.trim_start_matches('+'))),
            (_, Some(phone)) if !phone.is_empty() => Some(phone),
            _ => None,
        })
        .collect();
    SharedContact { name, phones }
}

fn referral(r: wire::Referral) -> Referral {
    let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    Referral {
        source_type: present(r.source_type),
        source_id: present(r.source_id),
        source_url: present(r.source_url),
        headline: present(r.headline),
        body: present(r.body),
        ctwa_clid: present(r.ctwa_clid),
        media_type: present(r.media_type),
        image_url: present(r.image_url),
        video_url: present(r.video_url),
        thumbnail_url: present(r.thumbnail_url),
        ..Referral::default()
    }
}

fn status(tenant: &str, raw: &Value) -> Event {
    let s: wire::Status = match serde_json::from_value(raw.clone()) {
        Ok(s) => s,
        Err(e) => return Event::ignored(format!("whatsapp status is malformed: {e}")),
    };
    let state = match s.status.as_str() {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        other => {
            return Event::ignored(format!(
                "whatsapp status {other:?} of {} is not tracked",
                s.id
            ));
        }
    };
    Event::Status(DeliveryStatus {
        tenant: tenant.to_string(),
        channel: Channel::Whatsapp,
        provider_message_id: s.id,
        status: state,
        errors: s
            .errors
            .iter()
            .map(|e| ProviderError {
                code: e.code,
                title: e
                    .title
                    .clone()
                    .or_else(|| e.message.clone())
                    .unwrap_or_default(),
                details: details_of(e).filter(|d| !d.is_empty()),
            })
            .collect(),
        timestamp_ms: seconds_to_ms(s.timestamp.as_ref()),
        recipient: s.recipient_id,
        callback_data: s.biz_opaque_callback_data,
    })
}

// ------------------------------------------------------------------------ sending

/// The Graph API body for `POST /{phone_number_id}/messages`. The outbox idempotency
/// key travels as `biz_opaque_callback_data` and comes back on every status.
///
/// Buttons: up to 3 become reply buttons (titles cut to 20 characters), 4 to 10 become a
/// list (row titles cut to 24). A template is sent with its language code and its
/// parameters as body text parameters. The 24-hour window is the caller's business:
/// this function renders whatever it is given.
pub fn render(out: &Outbound) -> Result<Value, RenderError> {
    let mut body = Map::new();
    body.insert("messaging_product".into(), json!("whatsapp"));
    body.insert("recipient_type".into(), json!("individual"));
    body.insert("to".into(), json!(out.to));
    match &out.content {
        OutContent::Text { body: text } => {
            check_len(CHANNEL, "text", text, MAX_TEXT)?;
            body.insert("type".into(), json!("text"));
            body.insert("text".into(), json!({ "body": text }));
        }
        OutContent::Buttons {
            body: text,
            buttons,
        } => {
            body.insert("type".into(), json!("interactive"));
            body.insert("interactive".into(), interactive(text, buttons)?);
        }
        OutContent::Template {
            name,
            language,
            params,
        } => {
            if name.trim().is_empty() {
                return Err(RenderError::Empty {
                    what: "template name",
                });
            }
            let mut template = json!({ "name": name, "language": { "code": language } });
            if !params.is_empty() {
                let parameters: Vec<Value> = params
                    .iter()
                    .map(|p| json!({ "type": "text", "text": p }))
                    .collect();
                template["components"] = json!([{ "type": "body", "parameters": parameters }]);
            }
            body.insert("type".into(), json!("template"));
            body.insert("template".into(), template);
        }
        OutContent::Media {
            kind,
            url,
            caption,
            filename,
        } => {
            if url.trim().is_empty() {
                return Err(RenderError::Empty { what: "media url" });
            }
            let (name, takes_caption) = match kind {
                MediaKind::Image => ("image", true),
                MediaKind::Video => ("video", true),
                MediaKind::Document => ("document", true),
                MediaKind::Audio => ("audio", false),
                MediaKind::Sticker => ("sticker", false),
            };
            let mut media = json!({ "link": url });
            if let Some(c) = caption.as_ref().filter(|c| !c.trim().is_empty()) {
                if !takes_caption {
                    return Err(RenderError::Unsupported {
                        channel: CHANNEL,
                        what: "a caption on audio or a sticker",
                    });
                }
                check_len(CHANNEL, "caption", c, MAX_CAPTION)?;
                media["caption"] = json!(c);
            }
            if let (MediaKind::Document, Some(f)) = (kind, filename) {
                media["filename"] = json!(f);
            }
            body.insert("type".into(), json!(name));
            body.insert(name.into(), media);
        }
    }
    if !out.idempotency_key.is_empty() {
        body.insert(
            "biz_opaque_callback_data".into(),
            json!(cut(&out.idempotency_key, 512)),
        );
    }
    Ok(Value::Object(body))
}

fn interactive(text: &str, buttons: &[Button]) -> Result<Value, RenderError> {
    check_len(CHANNEL, "interactive body", text, MAX_INTERACTIVE_BODY)?;
    if buttons.is_empty() {
        return Err(RenderError::Empty {
            what: "button list",
        });
    }
    if buttons.len() > MAX_LIST_ROWS {
        return Err(RenderError::TooManyButtons {
            channel: CHANNEL,
            got: buttons.len(),
            max: MAX_LIST_ROWS,
        });
    }
    let max_id = if buttons.len() <= MAX_BUTTONS {
        MAX_BUTTON_ID
    } else {
        MAX_ROW_ID
    };
    for b in buttons {
        if b.id.is_empty() || b.id.trim() != b.id {
            return Err(RenderError::InvalidButtonId {
                channel: CHANNEL,
                id: b.id.clone(),
                reason: "empty or with leading/trailing spaces",
            });
        }
        if b.id.chars().count() > max_id {
            return Err(RenderError::InvalidButtonId {
                channel: CHANNEL,
                id: b.id.clone(),
                reason: "too long (256 for buttons, 200 for list rows)",
            });
        }
    }
    if buttons.len() <= MAX_BUTTONS {
        let buttons: Vec<Value> = buttons
            .iter()
            .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": cut(&b.title, MAX_BUTTON_TITLE) } }))
            .collect();
        Ok(json!({ "type": "button", "body": { "text": text }, "action": { "buttons": buttons } }))
    } else {
        let rows: Vec<Value> = buttons
            .iter()
            .map(|b| json!({ "id": b.id, "title": cut(&b.title, MAX_ROW_TITLE) }))
            .collect();
        Ok(json!({
            "type": "list",
            "body": { "text": text },
            "action": { "button": LIST_BUTTON_LABEL, "sections": [{ "rows": rows }] }
        }))
    }
}

/// The body that marks a customer's message as read (blue ticks), sent to the same
/// `/{phone_number_id}/messages` endpoint.
pub fn mark_read(message_id: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id })
}

/// Reads the Graph API's answer to a send: the `wamid` on success, otherwise the
/// classified error (use [`classify_error`] directly to honour a `Retry-After` header).
pub fn parse_send_response(status: u16, body: &[u8]) -> Result<String, SendError> {
    if !(200..300).contains(&status) {
        return Err(classify_error(status, body, None));
    }
    let response: wire::SendResponse = serde_json::from_slice(body).map_err(|e| {
        SendError::new(
            SendErrorKind::Permanent,
            None,
            format!("HTTP {status} but the body is not a send response: {e}"),
        )
    })?;
    response
        .messages
        .into_iter()
        .map(|m| m.id)
        .find(|id| !id.is_empty())
        .ok_or_else(|| {
            // Possibly sent: never retry blindly, record it.
            SendError::new(
                SendErrorKind::Permanent,
                None,
                format!("HTTP {status} without a message id"),
            )
        })
}

/// Classifies a failed Graph API call (see `docs/channels.md` for the table).
pub fn classify_error(status: u16, body: &[u8], retry_after_header: Option<&str>) -> SendError {
    meta::classify(Product::Whatsapp, status, body, retry_after_header)
}
