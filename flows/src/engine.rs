//! The engine's contract: [`Event`] in, ([`ConversationState`], `Vec<`[`Action`]`>`) out.
//! The gateway runs the actions (stores replies in the outbox, sets timers, tags, hands
//! off) in one transaction with the new state.

use crate::clinic::{Busy, Clinic, Slot};
use crate::clock::Clock;
use crate::profile::{Niche, TenantProfile};
use channels::{Content, OutContent};
use intents::entities::Entities;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What the NLU understood of a customer message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    pub intent: String,
    pub confidence: f32,
    /// ISO 639-1 code of the message's language, when detected.
    #[serde(default)]
    pub language: Option<String>,
    /// The entities found in the message (treatment, tooth count, dates, phone, …).
    /// Not stored with the event: the gateway extracts them when it runs the turn.
    /// Boxed: it is large, and most events carry none.
    #[serde(skip)]
    pub entities: Box<Entities>,
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
    /// Hold, book, move or cancel an appointment of this conversation. A `Book` or
    /// `Reschedule` that finds the slot taken fails the whole turn; the gateway then
    /// runs the event again with the slot in [`ClinicCtx::rejected`].
    Appointment(AppointmentAction),
    /// Move or annotate the conversation's lead.
    Lead(LeadAction),
}

/// An appointment change (see [`Action::Appointment`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AppointmentAction {
    /// Keep an offered slot for this conversation until `until`.
    Hold {
        slot: Slot,
        until: Timestamp,
    },
    Book {
        slot: Slot,
    },
    Cancel {
        id: i64,
    },
    Reschedule {
        id: i64,
        to: Slot,
    },
    /// Let go of every slot held for this conversation.
    ReleaseHolds,
    JoinWaitlist {
        service: String,
        practitioner: Option<String>,
        part: Option<String>,
    },
}

/// A lead change (see [`Action::Lead`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LeadAction {
    Stage {
        stage: String,
        lost_reason: Option<String>,
    },
    Interest {
        treatment: Option<String>,
        value_try: Option<i64>,
    },
    Score {
        score: i32,
        reasons: Vec<String>,
    },
    Event {
        kind: String,
        data: serde_json::Value,
    },
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
    /// The clinic pipeline: quote draft, offered slots, follow-ups, lead signals.
    pub clinic: crate::dental::ClinicState,
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
    /// Whether a free-form message may go out now (timers fire outside the window).
    pub window: SendWindow,
    /// The clinic's data and calendar, for clinic tenants that have clinic data.
    pub clinic: Option<ClinicCtx<'a>>,
}

impl<'a> Ctx<'a> {
    /// A context with no clinic data and no send window (web chat, Telegram, tests).
    pub fn new(tenant: &'a TenantProfile, clock: &'a dyn Clock) -> Self {
        Ctx {
            tenant,
            clock,
            window: SendWindow::Open,
            clinic: None,
        }
    }
}

/// Whether the channel lets a free-form message out now (see `eligibility`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendWindow {
    /// No window on this channel, or it is open.
    #[default]
    Open,
    /// Only an approved template may go out.
    Closed,
}

/// A clinic tenant's data and the conversation's calendar facts, read before the turn.
#[derive(Clone, Copy)]
pub struct ClinicCtx<'a> {
    pub clinic: &'a Clinic,
    /// Resources taken, from now to the search horizon (holds of this conversation
    /// excluded: they are offers to this very customer).
    pub busy: &'a [Busy],
    /// This conversation's upcoming appointments (booked), soonest first.
    pub appointments: &'a [Booking],
    /// A slot the store just refused as taken; the flow offers others.
    pub rejected: Option<&'a Slot>,
    /// The customer's IANA time zone when it is not the clinic's (foreign patients).
    pub customer_tz: Option<&'a str>,
}

/// A booked appointment as flows see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub id: i64,
    pub slot: Slot,
}

/// Handles one event. Pure: the same inputs give the same outputs. Clinic tenants
/// with clinic data run the clinic pipeline first; everything else is the general flow.
pub fn handle(
    state: &ConversationState,
    event: &Event,
    ctx: &Ctx<'_>,
) -> (ConversationState, Vec<Action>) {
    let clinic_niche = matches!(
        ctx.tenant.niche,
        Niche::Dental | Niche::Aesthetic | Niche::Health
    );
    match ctx.clinic {
        Some(clinic) if clinic_niche => crate::dental::handle(state, event, ctx, &clinic),
        _ => crate::general::handle(state, event, ctx),
    }
}
