//! Instagram Messaging webhook and send types, as documented for the Messenger Platform
//! / Instagram API (`entry[].messaging[]`, `POST /{ig-id}/messages`). Optional where a
//! payload may omit a field; unknown fields are ignored.

use crate::meta::wire::{lenient_vec, opt_string_or_number, string_or_number};
use serde::Deserialize;
use serde_json::Value;

/// One `messaging[]` item (or the `value` of an Instagram `changes[]` item).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Messaging {
    #[serde(default)]
    pub sender: Option<Party>,
    #[serde(default)]
    pub recipient: Option<Party>,
    /// Unix milliseconds.
    #[serde(default)]
    pub timestamp: Option<Value>,
    /// Kept raw: parsed on its own so a broken message body is `Unsupported`, not lost.
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub postback: Option<Postback>,
    #[serde(default)]
    pub referral: Option<Referral>,
    #[serde(default)]
    pub read: Option<Read>,
    #[serde(default)]
    pub reaction: Option<Reaction>,
    #[serde(default)]
    pub message_edit: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Party {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: String,
}

/// `message`: text, attachments, a quick reply tap, a reply to a message or story.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub is_echo: bool,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default)]
    pub is_unsupported: bool,
    #[serde(default)]
    pub quick_reply: Option<QuickReply>,
    #[serde(default)]
    pub reply_to: Option<ReplyTo>,
    #[serde(default)]
    pub referral: Option<Referral>,
}

/// `attachments[]`: `image`, `video`, `audio`, `file`, `share`, `story_mention`,
/// `ig_reel`, `reel`, `ig_post`, …
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Attachment {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub payload: Option<AttachmentPayload>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AttachmentPayload {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct QuickReply {
    #[serde(default)]
    pub payload: Option<String>,
}

/// `reply_to`: `{ "mid": … }` for a reply to a message, `{ "story": { "url", "id" } }`
/// for a reply to a story.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReplyTo {
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub story: Option<StoryRef>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct StoryRef {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub id: Option<String>,
}

/// `postback`: an icebreaker or generic-template button tap.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Postback {
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub payload: Option<String>,
}

/// `referral`: an ad (`source: "ADS"`) or an `ig.me` link with `ref`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Referral {
    #[serde(default, rename = "ref")]
    pub link_ref: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub ad_id: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub ads_context_data: Option<AdsContext>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdsContext {
    #[serde(default)]
    pub ad_title: Option<String>,
    #[serde(default)]
    pub photo_url: Option<String>,
    #[serde(default)]
    pub video_url: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub post_id: Option<String>,
}

/// `read` (`messaging_seen`): the customer saw our message `mid`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Read {
    #[serde(default)]
    pub mid: Option<String>,
}

/// `reaction` (`message_reactions`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reaction {
    #[serde(default)]
    pub mid: Option<String>,
    /// `react` or `unreact`.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub reaction: Option<String>,
    #[serde(default)]
    pub emoji: Option<String>,
}

/// The answer to a successful send: `{"recipient_id": …, "message_id": …}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SendResponse {
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
}
