//! What a provider webhook turns into: customer messages, delivery statuses, reactions,
//! referrals, and the items we could not route or chose to skip. The gateway handles each
//! [`Event`] on its own, so one bad item in a batch never stops the others.

use crate::model::{Channel, Contact, Inbound, Referral};
use serde::{Deserialize, Serialize};

/// One item of a webhook body, normalised. (`Message` is much larger than the other
/// variants; events live for one request, so boxing would only cost ergonomics.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A customer message: store it in the inbox, then run the flow.
    Message(Inbound),
    /// What happened to a message we sent: update the stored message.
    Status(DeliveryStatus),
    /// A customer reacted to a message (or took the reaction back). Record it; a
    /// reaction must never make the bot answer.
    Reaction(Reaction),
    /// An ad or link referral without a message (Instagram `messaging_referral` in an
    /// existing thread). Record it on the contact; no reply.
    Referral(ReferralEvent),
    /// Addressed to an account no tenant owns (a phone number id, an Instagram
    /// account id): answer 200, log a warning, do nothing else.
    Unroutable { channel: Channel, id: String },
    /// Understood and deliberately skipped (an echo of our own message, an edit, a
    /// group chat) or broken beyond use; `reason` says which, for the log.
    Ignored { reason: String },
}

impl Event {
    pub(crate) fn ignored(reason: impl Into<String>) -> Self {
        Event::Ignored {
            reason: reason.into(),
        }
    }
}

/// Where a message we sent has got to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
        }
    }
}

/// A provider's report on one message we sent. Statuses can arrive out of order
/// (`read` before `delivered`, `delivered` after `failed` on multi-device): the store
/// should only move a message forward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    pub tenant: String,
    pub channel: Channel,
    /// The id the send call returned (WhatsApp `wamid.…`, Instagram `mid`).
    pub provider_message_id: String,
    pub status: DeliveryState,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProviderError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    /// The customer's handle (WhatsApp `recipient_id`, Instagram reader id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// WhatsApp `biz_opaque_callback_data`: we send the outbox idempotency key there,
    /// so a status finds its message even when the send response was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
}

/// An error the provider reported on a message (WhatsApp `statuses[].errors[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    pub code: i64,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// A customer's reaction to a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub tenant: String,
    pub channel: Channel,
    pub contact: Contact,
    /// The message reacted to (ours or theirs).
    pub message_id: String,
    /// The emoji; `None` when the customer removed the reaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// The reaction's own id when the provider gives one (WhatsApp does): a dedupe key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_ms: Option<i64>,
}

/// A referral that came without a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferralEvent {
    pub tenant: String,
    pub channel: Channel,
    pub contact: Contact,
    pub referral: Referral,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_ms: Option<i64>,
}

/// A webhook body that is not what the provider documents: not JSON, or JSON of
/// another shape. The gateway keeps such a body (correctly signed) as a dead letter.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("body is JSON but not a {expected}: {reason}")]
    Shape {
        expected: &'static str,
        reason: String,
    },
}

impl ParseError {
    pub(crate) fn from_json(expected: &'static str, e: serde_json::Error) -> Self {
        if e.is_syntax() || e.is_eof() {
            ParseError::NotJson(e.to_string())
        } else {
            ParseError::Shape {
                expected,
                reason: e.to_string(),
            }
        }
    }
}
