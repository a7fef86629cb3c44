//! WhatsApp Cloud API webhook types, as documented in Meta's "messages webhook
//! reference" (`entry[].changes[].value`). Every field a payload may omit is optional;
//! unknown fields are ignored. Only what we read is typed.

use crate::meta::wire::{lenient_vec, opt_string_or_number};
use serde::Deserialize;
use serde_json::Value;

/// `changes[].value` of a `messages` change.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ChangeValue {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub contacts: Vec<Profile>,
    /// Kept raw: each message is parsed on its own.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub messages: Vec<Value>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub statuses: Vec<Value>,
    /// System-level errors (the "errors messages webhook").
    #[serde(default, deserialize_with = "lenient_vec")]
    pub errors: Vec<Error>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub phone_number_id: Option<String>,
}

/// `contacts[]`: who wrote.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub profile: Option<ProfileName>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub wa_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ProfileName {
    #[serde(default)]
    pub name: Option<String>,
}

/// The fields every message has; the typed body is read separately, so a message with
/// a broken body still becomes an `Unsupported` message instead of being lost.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MessageHead {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub from: Option<String>,
    pub id: String,
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub context: Option<Context>,
    #[serde(default)]
    pub group_id: Option<String>,
}

/// `context`: the message this one replies to (or the product it asks about).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub forwarded: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Text {
    pub body: String,
}

/// `image`, `audio`, `video`, `document`, `sticker`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Media {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    /// Newer payloads include a download URL (it still needs the access token).
    #[serde(default)]
    pub url: Option<String>,
    /// Audio: a voice note recorded in WhatsApp.
    #[serde(default)]
    pub voice: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// One shared contact card (`contacts[]` of a `contacts` message).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContactCard {
    #[serde(default)]
    pub name: Option<CardName>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub phones: Vec<CardPhone>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CardName {
    #[serde(default)]
    pub formatted_name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CardPhone {
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub wa_id: Option<String>,
}

/// `interactive`: a reply to our buttons or list.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Interactive {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub button_reply: Option<Reply>,
    #[serde(default)]
    pub list_reply: Option<Reply>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reply {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `button`: a tap on a template's quick-reply button.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Button {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub payload: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reaction {
    #[serde(default)]
    pub message_id: Option<String>,
    /// Absent or empty when the customer removed the reaction.
    #[serde(default)]
    pub emoji: Option<String>,
}

/// `referral`: the click-to-WhatsApp ad (or post) that started the conversation.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Referral {
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub source_id: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub headline: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub video_url: Option<String>,
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    #[serde(default)]
    pub ctwa_clid: Option<String>,
}

/// `statuses[]`: what happened to a message we sent.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Status {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub errors: Vec<Error>,
}

/// An error in `statuses[].errors[]`, `messages[].errors[]` or `value.errors[]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Error {
    pub code: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_data: Option<crate::meta::wire::ErrorData>,
    /// Older payloads put the details here.
    #[serde(default)]
    pub details: Option<String>,
}

/// The Graph API's answer to a successful send.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SendResponse {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub messages: Vec<SentMessage>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SentMessage {
    pub id: String,
    #[serde(default)]
    pub message_status: Option<String>,
}
