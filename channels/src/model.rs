//! The channel-neutral message model: what a customer sent ([`Inbound`]) and what we
//! send back ([`Outbound`]). Every adapter normalises into these; nothing above
//! `channels` sees a provider's wire format.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A messaging channel a tenant can be reached on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Whatsapp,
    Instagram,
    Telegram,
    Webchat,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Whatsapp,
        Channel::Instagram,
        Channel::Telegram,
        Channel::Webchat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Instagram => "instagram",
            Channel::Telegram => "telegram",
            Channel::Webchat => "webchat",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the known channel names.
#[derive(Debug, thiserror::Error)]
#[error("unknown channel {0:?} (expected whatsapp, instagram, telegram or webchat)")]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownChannel(s.to_string()))
    }
}

/// Who wrote: the channel-scoped handle (WhatsApp phone, Instagram-scoped id,
/// Telegram chat id, web chat session id) and what the channel told us about them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub handle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E.164 phone when the channel gives one (WhatsApp always does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Kinds of media a customer can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

/// What a customer sent, in channel-neutral form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        body: String,
    },
    Media {
        kind: MediaKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// A tap on a button or list row we sent: `id` is the button's id.
    Interactive {
        id: String,
        title: String,
    },
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    /// A payload we do not understand; kept, never an error.
    Unsupported {
        kind: String,
    },
}

impl Content {
    /// The text a classifier should read, if any: the body, a caption or a button title.
    pub fn text(&self) -> Option<&str> {
        match self {
            Content::Text { body } => Some(body),
            Content::Media { caption, .. } => caption.as_deref(),
            Content::Interactive { title, .. } => Some(title),
            Content::Location { .. } | Content::Unsupported { .. } => None,
        }
    }
}

/// Where a customer came from: a click-to-WhatsApp / Instagram ad, or web UTM tags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    /// `image` or `video`: what the ad showed (WhatsApp `media_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// The `ref` parameter of an `ig.me` / `m.me` link (Instagram referrals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gclid: Option<String>,
}

impl Referral {
    pub fn is_empty(&self) -> bool {
        *self == Referral::default()
    }
}

/// One message from a customer, normalised. `provider_id` is the provider's message id
/// (or the client's id for web chat): the dedupe key together with tenant and channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    pub tenant: String,
    pub channel: Channel,
    pub contact: Contact,
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    pub provider_id: String,
    /// When the provider says it was sent (unix milliseconds), if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_ms: Option<i64>,
    /// The provider id of the message this one answers (WhatsApp `context.id`,
    /// Instagram `reply_to.mid`, Telegram `reply_to_message.message_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// What the channel told us beyond [`Content`]: kept for people (the agent view),
    /// never read by a classifier.
    #[serde(default, skip_serializing_if = "Details::is_empty")]
    pub details: Details,
}

/// Provider facts about an inbound message that [`Content`] has no place for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// A document's file name (`fatura.pdf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Contact cards the customer shared (WhatsApp `contacts`, Telegram `contact`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<SharedContact>,
    /// The Instagram story the message replies to or mentions us in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<Story>,
    /// The provider's own message id when [`Inbound::provider_id`] is something else
    /// (Telegram: `provider_id` is `tg:{update_id}`, this is the chat's `message_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Telegram `callback_query.id`: answer it (`answerCallbackQuery`) or the
    /// customer's button keeps spinning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_id: Option<String>,
}

impl Details {
    pub fn is_empty(&self) -> bool {
        *self == Details::default()
    }
}

/// A contact card a customer shared: someone's name and phone numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SharedContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Phone numbers as the card gives them (E.164 when the provider says so).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
}

/// An Instagram story: its id (when given) and its media URL (expires with the story).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Story {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A button offered with a reply; `id` comes back in [`Content::Interactive`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub id: String,
    pub title: String,
}

/// What we send, in channel-neutral form; each adapter renders it for its provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutContent {
    Text {
        body: String,
    },
    Buttons {
        body: String,
        buttons: Vec<Button>,
    },
    /// A pre-approved template (WhatsApp) with positional parameters.
    Template {
        name: String,
        language: String,
        #[serde(default)]
        params: Vec<String>,
    },
    /// A file sent by link (a public HTTPS URL the provider fetches).
    Media {
        kind: MediaKind,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        /// Shown for documents (`katalog.pdf`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
}

impl OutContent {
    pub fn text(body: impl Into<String>) -> Self {
        OutContent::Text { body: body.into() }
    }

    /// The human-readable text of the message (what a transcript shows).
    pub fn body(&self) -> &str {
        match self {
            OutContent::Text { body } | OutContent::Buttons { body, .. } => body,
            OutContent::Template { name, .. } => name,
            OutContent::Media { caption, url, .. } => caption.as_deref().unwrap_or(url),
        }
    }
}

/// One message to a customer, ready for a channel adapter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    pub tenant: String,
    pub channel: Channel,
    /// The contact's channel handle (see [`Contact::handle`]).
    pub to: String,
    pub content: OutContent,
    /// Stable across retries: the provider-side or client-side dedupe key.
    pub idempotency_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), c);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
        assert!("sms".parse::<Channel>().is_err());
    }

    #[test]
    fn content_text_reads_body_caption_and_button_title() {
        assert_eq!(
            Content::Text {
                body: "selam".into()
            }
            .text(),
            Some("selam")
        );
        let tap = Content::Interactive {
            id: "b1".into(),
            title: "Evet".into(),
        };
        assert_eq!(tap.text(), Some("Evet"));
        let loc = Content::Location {
            latitude: 41.0,
            longitude: 29.0,
            name: None,
            address: None,
        };
        assert_eq!(loc.text(), None);
    }

    #[test]
    fn inbound_without_the_new_fields_still_reads_and_empty_ones_are_not_written() {
        let stored = serde_json::json!({
            "tenant": "t", "channel": "whatsapp",
            "contact": {"handle": "905321234567"},
            "content": {"type": "text", "body": "selam"},
            "provider_id": "wamid.1"
        });
        let m: Inbound = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(m.reply_to, None);
        assert!(m.details.is_empty());
        assert_eq!(serde_json::to_value(&m).unwrap(), stored);
    }

    #[test]
    fn media_out_content_round_trips() {
        let media = OutContent::Media {
            kind: MediaKind::Document,
            url: "https://cdn.example.com/menu.pdf".into(),
            caption: None,
            filename: Some("menu.pdf".into()),
        };
        let v = serde_json::to_value(&media).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "media", "kind": "document",
                "url": "https://cdn.example.com/menu.pdf", "filename": "menu.pdf"})
        );
        assert_eq!(serde_json::from_value::<OutContent>(v).unwrap(), media);
        assert_eq!(media.body(), "https://cdn.example.com/menu.pdf");
    }

    #[test]
    fn content_serialises_with_a_type_tag() {
        let v = serde_json::to_value(Content::Text {
            body: "İyi akşamlar 🌙".into(),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "text", "body": "İyi akşamlar 🌙"})
        );
    }
}
