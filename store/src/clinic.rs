//! Clinic records: appointments (tentative holds and bookings) with the resource claims
//! that make double-booking impossible in the database, the waitlist, and leads with
//! their timeline. The contract is [`ClinicStore`]; both SQL backends implement it.
//!
//! Double-booking: an appointment claims its resources (practitioner, room) in 5-minute
//! cells, `UNIQUE (tenant, resource, cell)`; whichever transaction inserts a cell first
//! wins, the other gets [`crate::StoreError::Conflict`]. Expired holds give their cells
//! up inside the transaction that wants them.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Resource claims are taken in cells of this many minutes.
pub const CELL_MINUTES: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Offered in chat and held for a while (`hold_expires_at`).
    Held,
    Booked,
    Cancelled,
    /// The patient came.
    Showed,
    NoShow,
}

impl AppointmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Held => "held",
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::Showed => "showed",
            AppointmentStatus::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AppointmentStatus::Held,
            AppointmentStatus::Booked,
            AppointmentStatus::Cancelled,
            AppointmentStatus::Showed,
            AppointmentStatus::NoShow,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether the appointment still occupies its resources.
    pub fn occupies(self) -> bool {
        matches!(
            self,
            AppointmentStatus::Held | AppointmentStatus::Booked | AppointmentStatus::Showed
        )
    }
}

/// An appointment to create: a hold (`hold_until` set) or a booking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewAppointment {
    pub service: String,
    pub practitioner: String,
    pub room: Option<String>,
    /// The visit as the patient sees it.
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// What the resources are claimed for: the visit with the service's buffers.
    pub blocks_from: Timestamp,
    pub blocks_until: Timestamp,
    /// `Some` makes it a hold that lapses then.
    pub hold_until: Option<Timestamp>,
    /// The patient's IANA time zone when it differs from the clinic's.
    pub customer_tz: Option<String>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppointmentRecord {
    pub id: i64,
    pub tenant: String,
    /// The chat it was made in (`None` when an agent booked it through the API).
    pub conversation: Option<i64>,
    pub lead: Option<i64>,
    pub service: String,
    pub practitioner: String,
    pub room: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub blocks_from: Timestamp,
    pub blocks_until: Timestamp,
    pub status: AppointmentStatus,
    pub hold_expires_at: Option<Timestamp>,
    pub customer_tz: Option<String>,
    pub note: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An interval a resource is taken for (a booking or a live hold).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BusyBlock {
    pub resource: String,
    pub from: Timestamp,
    pub until: Timestamp,
    pub appointment: i64,
    pub conversation: Option<i64>,
    pub held: bool,
}

/// Which appointments to list; every field narrows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppointmentFilter {
    pub conversation: Option<i64>,
    pub practitioner: Option<String>,
    pub statuses: Vec<AppointmentStatus>,
    /// Starting at or after.
    pub from: Option<Timestamp>,
    /// Starting before.
    pub to: Option<Timestamp>,
    pub limit: u32,
}

/// An appointment change made by an engine turn, in the turn's transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AppointmentOp {
    /// Hold a slot for the conversation. Best effort: a slot taken meanwhile (or an
    /// invalid or already lapsed one) is skipped. Without `hold_until` it lasts 15 minutes.
    Hold(NewAppointment),
    /// Book a slot for the conversation. The conversation's own live hold on exactly
    /// this slot (service, practitioner, room, start) becomes the booking; otherwise the
    /// cells are claimed now. Taken by someone else → the whole turn fails with
    /// `StoreError::Conflict`. The conversation's other holds are released, and its
    /// waitlist entries for the service are done.
    Book(NewAppointment),
    /// Cancel one of the conversation's appointments; frees its cells and offers the
    /// freed slot to the waitlist (see [`ClinicStore`]).
    Cancel { id: i64 },
    /// Move one of the conversation's bookings to a new slot, atomically (conflict as
    /// for `Book`, and then nothing changes). The appointment keeps its id; the
    /// conversation's holds give way (the new slot is usually one of them). The old slot
    /// goes to the waitlist unless the new one overlaps it. Not booked → `Invalid`.
    Reschedule { id: i64, to: NewAppointment },
    /// Drop the conversation's holds. A waitlist offer it had not taken goes back to
    /// waiting, in its old place in line, and the slot it held goes to the next in line.
    ReleaseHolds,
    /// Put the conversation on the waitlist for a service.
    JoinWaitlist {
        service: String,
        practitioner: Option<String>,
        /// morning | afternoon | evening ([`part_of_day`]): only a freed slot starting
        /// then is offered.
        part: Option<String>,
        /// The clinic's time zone (IANA name), which `part` is in.
        #[serde(default)]
        tz: Option<String>,
    },
}

/// The part of the day a time falls in, at the clinic: `morning` before 12:00,
/// `afternoon` until 17:00, then `evening` (as the flows offer slots). `None` for a zone
/// name jiff does not know.
pub fn part_of_day(at: Timestamp, tz: &str) -> Option<&'static str> {
    let zone = jiff::tz::TimeZone::get(tz).ok()?;
    Some(match at.to_zoned(zone).hour() {
        0..12 => "morning",
        12..17 => "afternoon",
        _ => "evening",
    })
}

/// Whether a waitlist entry wishing for `part` (in `tz`) takes a slot starting `at`. An
/// entry without a wish, or from before zones were kept, takes any.
pub(crate) fn waitlist_takes(part: Option<&str>, tz: Option<&str>, at: Timestamp) -> bool {
    match (part, tz.and_then(|tz| part_of_day(at, tz))) {
        (Some(wish), Some(slot)) => wish == slot,
        _ => true,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    pub id: i64,
    pub tenant: String,
    pub conversation: i64,
    pub service: String,
    pub practitioner: Option<String>,
    pub part: Option<String>,
    /// waiting | offered | done
    pub status: String,
    pub created_at: Timestamp,
}

/// The inbox event a freed slot produces for the next conversation on the waitlist:
/// `{"kind":"timer","key":WAITLIST_TIMER_KEY,"payload":{"service":…,"practitioner":…,
/// "room":…,"starts_at":…,"ends_at":…,"blocks_from":…,"blocks_until":…,"waitlist":id}}`
/// (times RFC 3339).
pub const WAITLIST_TIMER_KEY: &str = "waitlist:offer";

/// A lead: one person across channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadRecord {
    pub id: i64,
    pub tenant: String,
    pub name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `channel:handle` of every conversation merged into this lead.
    pub handles: Vec<String>,
    pub stage: String,
    pub lost_reason: Option<String>,
    pub score: i32,
    /// Why the score is what it is, one short reason per rule that counted.
    pub score_reasons: Vec<String>,
    pub assignee: Option<String>,
    /// Where the lead came from: the channel, or `ad:<source_id>` for an ad referral.
    pub source: Option<String>,
    pub language: Option<String>,
    /// The treatment asked about (entity value, e.g. `implant`).
    pub treatment: Option<String>,
    /// The quoted value in TRY (upper end), for scoring and reports.
    pub value_try: Option<i64>,
    /// When the first human answer is due (SLA), while none was given.
    pub first_response_due: Option<Timestamp>,
    pub first_response_at: Option<Timestamp>,
    pub sla_breached: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_activity_at: Timestamp,
}

/// Who identifies a lead; any field that matches an existing lead of the tenant merges.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadIdentity {
    /// `channel:handle`, e.g. `whatsapp:905551112233`, `telegram:123`.
    pub handle: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub source: Option<String>,
    pub language: Option<String>,
}

/// A change to a lead, made by a turn (with the conversation's lead) or the admin API.
/// Each writes a timeline entry when it changes something (`created`/`merged`/`linked`,
/// `stage_changed`, `interest`, `scored`, `assigned`, `sla_set`, `first_response`,
/// `sla_breached`); a repeat that changes nothing writes none. `Event` always writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LeadOp {
    /// Find the lead by handle, phone or e-mail (merging leads that now prove to be one
    /// person, keeping every event), or create it in `stage`; links the conversation.
    Touch {
        identity: LeadIdentity,
        stage: String,
    },
    /// Moves the stage (a `stage_changed` event with from/to/reason).
    Stage {
        stage: String,
        lost_reason: Option<String>,
    },
    /// What the lead is interested in.
    Interest {
        treatment: Option<String>,
        value_try: Option<i64>,
    },
    Score {
        score: i32,
        reasons: Vec<String>,
    },
    Assign {
        assignee: Option<String>,
    },
    /// Sets or clears the first-response deadline.
    SlaDue {
        due: Option<Timestamp>,
    },
    /// A human answered: records the first response once.
    HumanResponded,
    SlaBreached,
    /// A timeline entry.
    Event {
        kind: String,
        data: serde_json::Value,
    },
}

/// One entry of a lead's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadEvent {
    pub id: i64,
    pub lead: i64,
    pub at: Timestamp,
    pub kind: String,
    /// `bot`, `agent:<name>` or `system`.
    pub actor: String,
    pub data: serde_json::Value,
}

/// A timeline event waiting for the tenant's CRM webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrmDelivery {
    pub event: LeadEvent,
    pub tenant: String,
    pub attempts: i32,
}

/// Which leads to list; every field narrows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadFilter {
    pub stage: Option<String>,
    pub source: Option<String>,
    pub assignee: Option<String>,
    pub min_score: Option<i32>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    pub limit: u32,
    pub offset: u32,
}

/// Open leads and the latest assignment per assignee, for round-robin and load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssigneeLoad {
    pub assignee: String,
    pub open_leads: i64,
    pub last_assigned_at: Option<Timestamp>,
}

/// Appointments, waitlist and leads. Every call is scoped by tenant.
///
/// In a turn ([`crate::Store::commit_turn`], its transaction): the lead ops first, then
/// the appointment ops; ops other than `Touch` before the conversation has a lead are
/// skipped; appointment ops act on the conversation's appointments only (`NotFound`
/// otherwise, nothing committed). Bookings, cancellations and reschedules are entries on
/// the conversation's lead (`appointment_booked`, …) when it has one.
///
/// A cancelled booking (a turn's `Cancel`, a reschedule's old slot, or
/// [`ClinicStore::set_appointment_status`]) is offered to the oldest `waiting` entry of
/// the tenant for that service whose practitioner wish is none or this one, of another
/// conversation: the entry becomes `offered` and its conversation gets a pending inbox
/// event (see [`WAITLIST_TIMER_KEY`]) in the same transaction.
#[async_trait]
pub trait ClinicStore: Send + Sync + 'static {
    /// Resources taken between `from` and `to`: booked/showed appointments and holds
    /// live at `now`.
    async fn busy(
        &self,
        tenant: &str,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> crate::Result<Vec<BusyBlock>>;

    async fn appointment(&self, tenant: &str, id: i64) -> crate::Result<Option<AppointmentRecord>>;

    async fn appointments(
        &self,
        tenant: &str,
        filter: &AppointmentFilter,
    ) -> crate::Result<Vec<AppointmentRecord>>;

    /// Books outside a chat (an agent through the API); `Conflict` when taken. Always a
    /// booking (`hold_until` is ignored), with no conversation or lead.
    async fn book(
        &self,
        tenant: &str,
        new: &NewAppointment,
        now: Timestamp,
    ) -> crate::Result<AppointmentRecord>;

    /// Sets showed / no_show / cancelled (cancelling frees the cells and offers the slot
    /// to the waitlist). `NotFound` for another tenant's id. A no-show frees the cells
    /// without an offer; back to showed claims them again (`Conflict` if taken). Held or
    /// booked, or any change of a cancelled one, is `Invalid`. The lead (if any) gets an
    /// `appointment_<status>` entry by `system`.
    async fn set_appointment_status(
        &self,
        tenant: &str,
        id: i64,
        status: AppointmentStatus,
        now: Timestamp,
    ) -> crate::Result<AppointmentRecord>;

    async fn waitlist(&self, tenant: &str) -> crate::Result<Vec<WaitlistEntry>>;

    /// The lead of a conversation, if it has one.
    async fn lead_for_conversation(
        &self,
        tenant: &str,
        conversation: i64,
    ) -> crate::Result<Option<LeadRecord>>;

    async fn lead(&self, tenant: &str, id: i64) -> crate::Result<Option<LeadRecord>>;

    async fn leads(&self, tenant: &str, filter: &LeadFilter) -> crate::Result<Vec<LeadRecord>>;

    /// The timeline, oldest first.
    async fn lead_events(&self, tenant: &str, lead: i64) -> crate::Result<Vec<LeadEvent>>;

    /// Applies changes to a lead outside a turn (admin API), in one transaction, each
    /// recorded on the timeline with `actor`. `NotFound` for another tenant's id. A
    /// `Touch` that merges this lead into an older one returns that one.
    async fn update_lead(
        &self,
        tenant: &str,
        lead: i64,
        ops: &[LeadOp],
        actor: &str,
        now: Timestamp,
    ) -> crate::Result<LeadRecord>;

    async fn assignee_loads(&self, tenant: &str) -> crate::Result<Vec<AssigneeLoad>>;

    /// Leases up to `limit` timeline events of tenants in `tenants` that are due for the
    /// CRM webhook (never sent, or failed with the retry time passed), oldest first.
    async fn claim_crm_deliveries(
        &self,
        tenants: &[String],
        limit: u32,
        now: Timestamp,
    ) -> crate::Result<Vec<CrmDelivery>>;

    /// The webhook took it (`retry_at: None` and no error), or failed: retried at
    /// `retry_at`, or given up when `None` with an error.
    async fn crm_delivered(
        &self,
        event: i64,
        error: Option<&str>,
        retry_at: Option<Timestamp>,
    ) -> crate::Result<()>;
}
