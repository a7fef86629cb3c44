//! The records the storage traits read and write. Times are `jiff::Timestamp`;
//! message contents and engine state are JSON the store does not interpret.

use channels::{Channel, Contact, OutContent, Referral};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A configured tenant as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: String,
    pub niche: String,
    pub name: String,
}

/// The result of [`crate::Store::accept_inbound`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    pub conversation: i64,
    /// The stored message's `seq`.
    pub message: i64,
    pub duplicate: bool,
}

/// A conversation leased to one worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub tenant: String,
    pub conversation: i64,
}

/// One queued event for the engine. `event` is `{"kind":"message","message":SEQ,"inbound":…}`
/// for customer messages, `{"kind":"timer","key":…,"payload":…}` for timers, or what
/// [`crate::Store::enqueue_event`] was given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxItem {
    pub id: i64,
    pub tenant: String,
    pub conversation: i64,
    pub event: serde_json::Value,
    pub created_at: Timestamp,
}

/// A conversation: one contact on one channel of one tenant, with the engine's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    pub id: i64,
    pub tenant: String,
    pub channel: Channel,
    pub contact: Contact,
    /// First-touch referral of the contact, if any.
    pub referral: Option<Referral>,
    /// The engine's state; `null` for a new conversation.
    pub state: serde_json::Value,
    pub handoff: bool,
    pub opted_out: bool,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub last_inbound_at: Option<Timestamp>,
}

/// A conversation in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub channel: Channel,
    pub contact: Contact,
    pub handoff: bool,
    pub opted_out: bool,
    pub tags: Vec<String>,
    pub message_count: i64,
    pub created_at: Timestamp,
    pub last_message_at: Timestamp,
}

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// A message's delivery state: `received` for inbound; `queued` → `sent` →
/// `delivered` → `read`, or `failed`, for outbound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Received,
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => MessageStatus::Received,
            "queued" => MessageStatus::Queued,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "failed" => MessageStatus::Failed,
            _ => return None,
        })
    }
}

/// A stored message. `content` is a `channels::Content` (inbound) or `channels::OutContent`
/// (outbound) as JSON; `meta` holds the engine's annotations (intent, confidence, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub seq: i64,
    pub conversation: i64,
    pub direction: Direction,
    /// "customer", "bot" or "agent".
    pub sender: String,
    pub content: serde_json::Value,
    pub status: MessageStatus,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub meta: serde_json::Value,
    pub created_at: Timestamp,
}

/// A message the engine wants sent, stored with the turn that caused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewOutgoing {
    /// "bot" or "agent".
    pub sender: String,
    pub content: OutContent,
}

/// A timer change made by a turn. Setting a key that exists replaces it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TimerOp {
    Set {
        key: String,
        due_at: Timestamp,
        payload: serde_json::Value,
    },
    Cancel {
        key: String,
    },
}

/// One engine turn, applied by [`crate::Store::commit_turn`] in one transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub tenant: String,
    pub conversation: i64,
    /// The lease holder; the commit fails with `LeaseLost` otherwise.
    pub owner: String,
    pub inbox_id: i64,
    pub state: serde_json::Value,
    pub handoff: bool,
    /// Records the contact's opt-out (kept for the consent ledger).
    pub opt_out: bool,
    /// Annotation for the inbound message this turn handled: (seq, meta JSON).
    pub annotate: Option<(i64, serde_json::Value)>,
    pub outgoing: Vec<NewOutgoing>,
    pub timers: Vec<TimerOp>,
    /// Tags added to the conversation (set semantics).
    pub tags: Vec<String>,
    /// Drop the lease in the same transaction when no other inbox item is pending
    /// (saves the worker a separate release).
    #[serde(default)]
    pub release: bool,
    /// Appointment changes for this conversation, applied after the lead ops.
    #[serde(default)]
    pub appointments: Vec<crate::AppointmentOp>,
    /// Changes to the conversation's lead (a `Touch` finds or creates it first).
    #[serde(default)]
    pub lead: Vec<crate::LeadOp>,
    pub now: Timestamp,
}

/// An outbox row leased to a sender. `idempotency_key` is stable across retries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: i64,
    pub tenant: String,
    pub conversation: i64,
    pub message: i64,
    pub channel: Channel,
    pub to: String,
    pub content: OutContent,
    pub attempts: i32,
    pub idempotency_key: String,
    /// Who wrote it: "bot" or "agent" (Instagram lets an agent answer for 7 days).
    #[serde(default)]
    pub sender: String,
    /// When the customer last wrote (the 24-hour window runs from here).
    #[serde(default)]
    pub last_inbound_at: Option<Timestamp>,
    /// When the customer last came in through an ad (72-hour free entry point).
    #[serde(default)]
    pub last_referral_at: Option<Timestamp>,
}

/// A webhook body kept whole because it could not be processed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewDeadLetter {
    /// Where it came from: "meta", "telegram".
    pub source: String,
    pub tenant: Option<String>,
    /// Why it was not processed.
    pub reason: String,
    pub body: Vec<u8>,
    /// The request headers needed to re-drive it (signature, content type).
    pub headers: serde_json::Value,
    pub received_at: Timestamp,
}

/// A stored dead letter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: i64,
    pub source: String,
    pub tenant: Option<String>,
    pub reason: String,
    pub body: Vec<u8>,
    pub headers: serde_json::Value,
    pub received_at: Timestamp,
    pub redriven_at: Option<Timestamp>,
}

/// A wake-up between workers, sockets and replicas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// New pending inbox items.
    Inbox,
    /// New outbox rows.
    Outbox,
    /// A conversation has new or changed messages (for open web chat sockets).
    Messages { tenant: String, conversation: i64 },
}
