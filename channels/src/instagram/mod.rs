//! Instagram Messaging: webhook items (`object: "instagram"`) into [`Event`]s, our
//! [`Outbound`] into `POST /{ig-id}/messages` bodies, and the Graph API's answers into a
//! message id or a classified [`SendError`]. Pure: no I/O.
//!
//! See `docs/channels.md` for the mapping tables.

pub mod wire;

use crate::event::{DeliveryState, DeliveryStatus, Event, Reaction, ReferralEvent};
use crate::meta::{self, Envelope, Object, Product};
use crate::model::{
    Channel, Contact, Content, Details, Inbound, MediaKind, OutContent, Outbound, Referral, Story,
};
use crate::send::{RenderError, SendError, SendErrorKind, check_len, cut};
use serde_json::{Value, json};

const CHANNEL: &str = "Instagram";
/// Longest text Instagram accepts.
pub const MAX_TEXT: usize = 1000;
/// Quick replies per message.
pub const MAX_QUICK_REPLIES: usize = 13;
/// Longest quick reply title.
pub const MAX_QUICK_REPLY_TITLE: usize = 20;
/// Longest quick reply payload.
pub const MAX_PAYLOAD: usize = 1000;

/// `changes[].field` values whose `value` is a messaging item (Instagram Login apps and
/// the dashboard's test button send messaging events this way).
const MESSAGING_FIELDS: [&str; 5] = [
    "messages",
    "messaging_postbacks",
    "message_reactions",
    "messaging_seen",
    "messaging_referral",
];

/// Turns every Instagram item of a Meta webhook body into events. `resolve` maps the
/// Instagram professional account id (`entry[].id`, else the item's `recipient.id`) to
/// its tenant. A body for another product gives nothing.
pub fn normalize(envelope: &Envelope, resolve: impl Fn(&str) -> Option<String>) -> Vec<Event> {
    if envelope.object != Object::Instagram {
        return Vec::new();
    }
    let mut events: Vec<Event> = envelope
        .bad_entries
        .iter()
        .map(|reason| Event::ignored(reason.clone()))
        .collect();
    for entry in &envelope.entries {
        let items = entry.messaging.iter().chain(
            entry
                .changes
                .iter()
                .filter(|c| MESSAGING_FIELDS.contains(&c.field.as_str()))
                .map(|c| &c.value),
        );
        for raw in items {
            item(&entry.id, raw, &resolve, &mut events);
        }
        for change in entry
            .changes
            .iter()
            .filter(|c| !MESSAGING_FIELDS.contains(&c.field.as_str()))
        {
            events.push(Event::ignored(format!(
                "instagram change field {:?} is not handled",
                change.field
            )));
        }
        for _ in &entry.standby {
            events.push(Event::ignored(
                "instagram standby item: another app controls the thread",
            ));
        }
    }
    events
}

fn item(
    account: &str,
    raw: &Value,
    resolve: &impl Fn(&str) -> Option<String>,
    events: &mut Vec<Event>,
) {
    let m: wire::Messaging = match serde_json::from_value(raw.clone()) {
        Ok(m) => m,
        Err(e) => {
            events.push(Event::ignored(format!(
                "instagram messaging item is malformed: {e}"
            )));
            return;
        }
    };
    let sender = m.sender.as_ref().map(|p| p.id.clone()).unwrap_or_default();
    let recipient = m
        .recipient
        .as_ref()
        .map(|p| p.id.clone())
        .unwrap_or_default();
    let account = if account.is_empty() {
        recipient.as_str()
    } else {
        account
    };
    if account.is_empty() {
        events.push(Event::ignored("instagram item names no account"));
        return;
    }
    let Some(tenant) = resolve(account) else {
        events.push(Event::Unroutable {
            channel: Channel::Instagram,
            id: account.to_string(),
        });
        return;
    };
    let sent_at_ms = m.timestamp.as_ref().and_then(|t| match t {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    // Echoes name our account as the sender: check before requiring a customer.
    if let Some(message) = &m.message
        && message.get("is_echo").and_then(Value::as_bool) == Some(true)
    {
        events.push(Event::ignored("instagram echo of a message we sent"));
        return;
    }
    if sender.is_empty() {
        events.push(Event::ignored("instagram item without a sender"));
        return;
    }
    let contact = Contact {
        handle: sender.clone(),
        name: None,
        phone: None,
    };

    if let Some(raw_message) = &m.message {
        message(&tenant, contact, raw_message, sent_at_ms, events);
    } else if let Some(p) = m.postback {
        let payload = p.payload.filter(|p| !p.is_empty());
        let title = p.title.unwrap_or_default();
        let Some(id) = payload.or_else(|| (!title.is_empty()).then(|| title.clone())) else {
            events.push(Event::ignored(
                "instagram postback without payload or title",
            ));
            return;
        };
        let provider_id = p
            .mid
            .filter(|mid| !mid.is_empty())
            .unwrap_or_else(|| format!("postback:{sender}:{}", sent_at_ms.unwrap_or_default()));
        events.push(Event::Message(Inbound {
            tenant,
            channel: Channel::Instagram,
            contact,
            content: Content::Interactive { id, title },
            referral: m.referral.map(referral).filter(|r| !r.is_empty()),
            provider_id,
            sent_at_ms,
            reply_to: None,
            details: Details::default(),
        }));
    } else if let Some(r) = m.reaction {
        let Some(message_id) = r.mid.filter(|mid| !mid.is_empty()) else {
            events.push(Event::ignored("instagram reaction names no message"));
            return;
        };
        let removed = r.action.as_deref() == Some("unreact");
        events.push(Event::Reaction(Reaction {
            tenant,
            channel: Channel::Instagram,
            contact,
            message_id,
            emoji: if removed {
                None
            } else {
                r.emoji.filter(|e| !e.is_empty()).or(r.reaction)
            },
            provider_id: None,
            sent_at_ms,
        }));
    } else if let Some(read) = m.read {
        let Some(mid) = read.mid.filter(|mid| !mid.is_empty()) else {
            events.push(Event::ignored("instagram read receipt names no message"));
            return;
        };
        events.push(Event::Status(DeliveryStatus {
            tenant,
            channel: Channel::Instagram,
            provider_message_id: mid,
            status: DeliveryState::Read,
            errors: Vec::new(),
            timestamp_ms: sent_at_ms,
            recipient: Some(sender),
            callback_data: None,
        }));
    } else if let Some(r) = m.referral {
        let referral = referral(r);
        if referral.is_empty() {
            events.push(Event::ignored("instagram referral without data"));
        } else {
            events.push(Event::Referral(ReferralEvent {
                tenant,
                channel: Channel::Instagram,
                contact,
                referral,
                sent_at_ms,
            }));
        }
    } else if m.message_edit.is_some() {
        events.push(Event::ignored("instagram message edit"));
    } else {
        events.push(Event::ignored(
            "instagram messaging item of an unknown kind",
        ));
    }
}

fn message(
    tenant: &str,
    contact: Contact,
    raw: &Value,
    sent_at_ms: Option<i64>,
    events: &mut Vec<Event>,
) {
    let Some(mid) = raw
        .get("mid")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
    else {
        events.push(Event::ignored("instagram message without mid"));
        return;
    };
    let inbound = |provider_id: String, content: Content, details: Details| Inbound {
        tenant: tenant.to_string(),
        channel: Channel::Instagram,
        contact: contact.clone(),
        content,
        referral: None,
        provider_id,
        sent_at_ms,
        reply_to: None,
        details,
    };
    let m: wire::Message = match serde_json::from_value(raw.clone()) {
        Ok(m) => m,
        Err(_) => {
            let unsupported = Content::Unsupported {
                kind: "message".into(),
            };
            events.push(Event::Message(inbound(
                mid,
                unsupported,
                Details::default(),
            )));
            return;
        }
    };
    if m.is_deleted {
        events.push(Event::ignored(format!(
            "instagram message {mid} was deleted by the customer"
        )));
        return;
    }
    let mut details = Details::default();
    let reply_to = m
        .reply_to
        .as_ref()
        .and_then(|r| r.mid.clone())
        .filter(|r| !r.is_empty());
    if let Some(story) = m.reply_to.as_ref().and_then(|r| r.story.as_ref()) {
        details.story = Some(Story {
            id: story.id.clone(),
            url: story.url.clone(),
        });
    }
    let text = m.text.clone().filter(|t| !t.is_empty());
    let referral = m.referral.clone().map(referral).filter(|r| !r.is_empty());

    let mut contents: Vec<(Content, Details)> = Vec::new();
    if let Some(qr) = m.quick_reply.as_ref().and_then(|q| q.payload.clone()) {
        let title = text.clone().unwrap_or_else(|| qr.clone());
        contents.push((Content::Interactive { id: qr, title }, details.clone()));
    } else if m.attachments.is_empty() {
        let content = match text.clone() {
            Some(body) => Content::Text { body },
            None if m.is_unsupported => Content::Unsupported {
                kind: "unsupported".into(),
            },
            None => Content::Unsupported {
                kind: "message".into(),
            },
        };
        contents.push((content, details.clone()));
    } else {
        for (i, a) in m.attachments.iter().enumerate() {
            let mut details = details.clone();
            // A text that came with attachments is the first attachment's caption.
            let caption = if i == 0 { text.clone() } else { None };
            contents.push((attachment(a, caption, &mut details), details));
        }
    }
    for (i, (content, details)) in contents.into_iter().enumerate() {
        let provider_id = if i == 0 {
            mid.clone()
        } else {
            format!("{mid}:{i}")
        };
        let mut msg = inbound(provider_id, content, details);
        if i == 0 {
            msg.referral = referral.clone();
            msg.reply_to = reply_to.clone();
        }
        events.push(Event::Message(msg));
    }
}

fn attachment(a: &wire::Attachment, caption: Option<String>, details: &mut Details) -> Content {
    let url = a.payload.as_ref().and_then(|p| p.url.clone());
    let media = |kind| Content::Media {
        kind,
        url: url.clone(),
        media_id: None,
        mime: None,
        caption: caption.clone(),
    };
    match a.kind.as_str() {
        "image" => media(MediaKind::Image),
        "video" => media(MediaKind::Video),
        "audio" => media(MediaKind::Audio),
        "file" => media(MediaKind::Document),
        "sticker" | "animated_image" => media(MediaKind::Sticker),
        "story_mention" => {
            details.story = Some(Story {
                id: a.payload.as_ref().and_then(|p| p.id.clone()),
                url,
            });
            Content::Unsupported {
                kind: "story_mention".into(),
            }
        }
        "" => Content::Unsupported {
            kind: "attachment".into(),
        },
        other => Content::Unsupported {
            kind: other.to_string(),
        },
    }
}

fn referral(r: wire::Referral) -> Referral {
    let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let ads = r.ads_context_data.unwrap_or_default();
    let source_type = present(r.source).map(|s| {
        if s.eq_ignore_ascii_case("ADS") {
            "ad".to_string()
        } else {
            s.to_lowercase()
        }
    });
    let image_url = present(ads.photo_url);
    let video_url = present(ads.video_url);
    Referral {
        source_type,
        source_id: present(r.ad_id),
        headline: present(ads.ad_title),
        media_type: if video_url.is_some() {
            Some("video".into())
        } else if image_url.is_some() {
            Some("image".into())
        } else {
            None
        },
        image_url,
        video_url,
        link_ref: present(r.link_ref),
        ..Referral::default()
    }
}

// ------------------------------------------------------------------------ sending

/// The bodies for `POST /{ig-id}/messages` (or `/me/messages`), in sending order.
/// Usually one; media with a caption gives two (the attachment, then the caption as
/// text), since Instagram attachments carry no caption.
///
/// Buttons become quick replies (at most 13, titles cut to 20 characters). Templates
/// do not exist on Instagram: rendering one is an error.
pub fn render(out: &Outbound) -> Result<Vec<Value>, RenderError> {
    let to = json!({ "id": out.to });
    let text_message = |text: &str| -> Result<Value, RenderError> {
        check_len(CHANNEL, "text", text, MAX_TEXT)?;
        Ok(json!({ "recipient": to, "message": { "text": text } }))
    };
    match &out.content {
        OutContent::Text { body } => Ok(vec![text_message(body)?]),
        OutContent::Buttons { body, buttons } => {
            check_len(CHANNEL, "text", body, MAX_TEXT)?;
            if buttons.is_empty() {
                return Err(RenderError::Empty {
                    what: "button list",
                });
            }
            if buttons.len() > MAX_QUICK_REPLIES {
                return Err(RenderError::TooManyButtons {
                    channel: CHANNEL,
                    got: buttons.len(),
                    max: MAX_QUICK_REPLIES,
                });
            }
            let mut quick = Vec::with_capacity(buttons.len());
            for b in buttons {
                if b.id.is_empty() || b.id.chars().count() > MAX_PAYLOAD {
                    return Err(RenderError::InvalidButtonId {
                        channel: CHANNEL,
                        id: b.id.clone(),
                        reason: "payload must be 1-1000 characters",
                    });
                }
                quick.push(json!({
                    "content_type": "text",
                    "title": cut(&b.title, MAX_QUICK_REPLY_TITLE),
                    "payload": b.id,
                }));
            }
            Ok(vec![json!({
                "recipient": to,
                "message": { "text": body, "quick_replies": quick }
            })])
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
            let kind = match kind {
                MediaKind::Image | MediaKind::Sticker => "image",
                MediaKind::Video => "video",
                MediaKind::Audio => "audio",
                MediaKind::Document => "file",
            };
            let mut bodies = vec![json!({
                "recipient": to,
                "message": { "attachment": { "type": kind, "payload": { "url": url } } }
            })];
            if let Some(c) = caption.as_deref().filter(|c| !c.trim().is_empty()) {
                bodies.push(text_message(c)?);
            }
            Ok(bodies)
        }
    }
}

/// Reads the answer to a send: the `message_id` on success, otherwise the classified
/// error (use [`classify_error`] directly to honour a `Retry-After` header).
pub fn parse_send_response(status: u16, body: &[u8]) -> Result<String, SendError> {
    if !(200..300).contains(&status) {
        return Err(classify_error(status, body, None));
    }
    serde_json::from_slice::<wire::SendResponse>(body)
        .ok()
        .and_then(|r| r.message_id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            SendError::new(
                SendErrorKind::Permanent,
                None,
                format!("HTTP {status} without a message_id"),
            )
        })
}

/// Classifies a failed Instagram send (see `docs/channels.md` for the table).
pub fn classify_error(status: u16, body: &[u8], retry_after_header: Option<&str>) -> SendError {
    meta::classify(Product::Instagram, status, body, retry_after_header)
}
