//! The subset of the Telegram Bot API we read, as documented at
//! <https://core.telegram.org/bots/api> (`Update`, `Message`, `CallbackQuery`, …).
//! Our own serde types rather than teloxide's: see `docs/channels.md` ("Telegram without
//! teloxide") for the compile-time measurement behind that. Unknown fields are ignored.

use serde::Deserialize;
use serde_json::{Map, Value};

/// One update. The parts we act on are kept raw and parsed on their own, so a
/// malformed message is still an event (`Unsupported` or `Ignored`), never a lost batch.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub edited_message: Option<Value>,
    #[serde(default)]
    pub callback_query: Option<Value>,
    /// Every other kind of update (`channel_post`, `my_chat_member`, …), by name.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    /// Unix seconds.
    #[serde(default)]
    pub date: Option<i64>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub photo: Option<Vec<PhotoSize>>,
    #[serde(default)]
    pub document: Option<File>,
    #[serde(default)]
    pub animation: Option<File>,
    #[serde(default)]
    pub audio: Option<File>,
    #[serde(default)]
    pub voice: Option<File>,
    #[serde(default)]
    pub video: Option<File>,
    #[serde(default)]
    pub video_note: Option<File>,
    #[serde(default)]
    pub sticker: Option<File>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub venue: Option<Venue>,
    #[serde(default)]
    pub contact: Option<SharedContact>,
    #[serde(default)]
    pub reply_to_message: Option<MessageRef>,
    #[serde(default)]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Chat {
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct MessageRef {
    pub message_id: i64,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    #[serde(default)]
    pub width: i64,
    #[serde(default)]
    pub height: i64,
    #[serde(default)]
    pub file_size: Option<i64>,
}

/// `Document`, `Audio`, `Voice`, `Video`, `VideoNote`, `Sticker`, `Animation`: the
/// fields they share.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct File {
    pub file_id: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub file_size: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Venue {
    pub location: Location,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// `Contact`: a phone number shared (the customer's own when `user_id` is theirs).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SharedContact {
    pub phone_number: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    /// The bot's message with the keyboard (absent for inline-mode messages), kept raw.
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub data: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct InlineKeyboardMarkup {
    #[serde(default)]
    pub inline_keyboard: Vec<Vec<InlineKeyboardButton>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct InlineKeyboardButton {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub callback_data: Option<String>,
}

/// Every Bot API answer: `{"ok": true, "result": …}` or
/// `{"ok": false, "error_code": 429, "description": "…", "parameters": {"retry_after": 5}}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<ResponseParameters>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ResponseParameters {
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub migrate_to_chat_id: Option<i64>,
}
