//! The engine's contract: [`Event`] in, ([`ConversationState`], `Vec<`[`Action`]`>`) out.
//! The gateway runs the actions (stores replies in the outbox, sets timers, tags, hands
//! off) in one transaction with the new state.

use crate::clock::Clock;
use crate::profile::TenantProfile;
use channels::{Content, OutContent};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What the NLU understood of a customer message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    pub intent: String,
    pub confidence: f32,
    /// ISO 639-1 code of the message's language, when detected.
    #[serde(default)]
    pub language: Option<String>,
}

/// Something that happened in a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A customer message; `understanding` is `None` when it has no text to classify.
    Message {
        content: Content,
        understanding: Option<Understanding>,
    },
    /// A timer set by an earlier [`Action::Schedule`] fired.
    Timer {
        key: String,
        #[serde(default)]
        payload: serde_json::Value,
    },
    /// A human agent gave the conversation back to the bot.
    AgentRelease,
}

/// What the engine wants done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Send a message to the customer (free-form or template is decided downstream).
    Reply { content: OutContent },
    /// Add a tag to the conversation.
    Tag { tag: String },
    /// Hand the conversation to a human; the bot stays silent until released.
    Handoff { reason: String },
    /// Record the contact's opt-out from messages.
    OptOut,
    /// Fire [`Event::Timer`] with `key` at `at`; replaces a timer with the same key.
    Schedule {
        key: String,
        at: Timestamp,
        #[serde(default)]
        payload: serde_json::Value,
    },
    /// Cancel the timer with `key`, if set.
    Cancel { key: String },
}

impl Action {
    pub fn reply(body: impl Into<String>) -> Self {
        Action::Reply {
            content: OutContent::text(body),
        }
    }
}

/// A conversation's state between events. New fields must default, so old stored
/// states keep loading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationState {
    /// A human has it; the bot sends nothing until an [`Event::AgentRelease`].
    pub handoff: bool,
    /// The customer opted out; the bot sends nothing more.
    pub opted_out: bool,
    /// Messages in a row the bot did not understand.
    pub unclear_streak: u8,
    /// Whether the bot has greeted in this conversation.
    pub greeted: bool,
    /// Events handled so far.
    pub turns: u32,
    /// The last intent understood with confidence.
    pub last_intent: Option<String>,
    /// A question the bot asked and a yes/no answer would settle.
    pub pending: Option<Pending>,
    /// Attachments (media without text, locations, unsupported payloads) in a row;
    /// only the first of a burst gets a reply.
    pub attachments_in_row: u8,
}

/// A question the bot is waiting on, so "evet" / "hayır" typed as text answers it
/// just like a tap on the buttons that came with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pending {
    /// "Shall I connect you to a colleague?" (after two messages not understood).
    HandoffOffer,
}

impl ConversationState {
    /// Reads a stored state; `null` or an unreadable value is a new conversation.
    pub fn from_json(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// What a flow may read besides the state and the event.
pub struct Ctx<'a> {
    pub tenant: &'a TenantProfile,
    pub clock: &'a dyn Clock,
}

/// Handles one event. Pure: the same inputs give the same outputs.
pub fn handle(
    state: &ConversationState,
    event: &Event,
    ctx: &Ctx<'_>,
) -> (ConversationState, Vec<Action>) {
    crate::general::handle(state, event, ctx)
}
