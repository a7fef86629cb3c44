//! Storage for the road a message travels: the traits the gateway needs and their
//! backends. The SQL store ([`Store`]) is the source of truth; [`Hot`] holds only what
//! can be rebuilt (dedupe cache, wake-ups, short locks), so losing it loses speed, not data.
//!
//! # Layout
//! - [`model`]: the records the traits read and write.
//! - [`clinic`]: the clinic contract ([`ClinicStore`]): appointments, waitlist, leads.
//! - [`sqlite`]: the embedded default, one SQLite file (WAL).
//! - [`postgres`]: PostgreSQL, for many replicas.
//! - [`hot`]: [`Hot`] in-process (embedded) and on Redis (production).
//! - `sql` (private): the [`Store`] implementation both SQL backends share.
//! - `clinic_sql` (private): the [`ClinicStore`] implementation both SQL backends share.
//! - [`conformance`]: one test suite, generic over the traits, run against every backend.

pub mod clinic;
mod clinic_sql;
pub mod conformance;
pub mod hot;
pub mod model;
pub mod postgres;
mod sql;
pub mod sqlite;
mod sqlite_clinic;
mod sqlite_fast;
mod sqlite_group;

pub use clinic::*;
pub use hot::{InProcessHot, RedisConfig, RedisHot, connect_hot};
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use channels::{Channel, Inbound};
use jiff::Timestamp;
use std::time::Duration;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conversation's lease is held by someone else (or expired and was taken):
    /// the caller must drop its work; the inbox item stays pending for the new owner.
    #[error("conversation {0} is leased by another worker")]
    LeaseLost(i64),
    #[error("not found")]
    NotFound,
    /// What the call wanted is taken (an appointment's practitioner or room at that
    /// time: "slot taken: …"), or changed under it; nothing was written. Re-read and
    /// decide again.
    #[error("{0}")]
    Conflict(String),
    /// The call's input cannot be stored as given (an empty or over-long appointment,
    /// a status that cannot be set); nothing was written.
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The records: tenants, contacts, conversations and messages, inbox, outbox,
/// conversation state, timers; and, through [`ClinicStore`], appointments and leads.
/// Every read is scoped by tenant.
#[async_trait]
pub trait Store: ClinicStore + Send + Sync + 'static {
    /// Which backend this is, for logs and `/readyz` ("sqlite", "postgres").
    fn backend(&self) -> &'static str;

    /// Reachable and answering.
    async fn ping(&self) -> Result<()>;

    /// Records a configured tenant (id, niche, name); repeated calls update it.
    async fn upsert_tenant(&self, tenant: &TenantRecord) -> Result<()>;

    /// Stores a customer message and queues it for the engine, in one transaction:
    /// upserts the contact (first-touch referral kept), finds or opens the conversation
    /// for (tenant, channel, handle), appends the message, adds a pending inbox item.
    /// The same (tenant, channel, provider_id) a second time stores nothing and returns
    /// `duplicate: true` with the ids of the first.
    async fn accept_inbound(&self, inbound: &Inbound, now: Timestamp) -> Result<Accepted>;

    /// Queues a non-message event (an agent's release, …) for a conversation of the
    /// tenant. `dedupe_key` makes it idempotent per conversation.
    async fn enqueue_event(
        &self,
        tenant: &str,
        conversation: i64,
        event: &serde_json::Value,
        dedupe_key: &str,
        now: Timestamp,
    ) -> Result<bool>;

    /// Takes the lease of one conversation that has pending inbox items and no live
    /// lease, oldest pending item first. At most one owner holds a conversation at a time.
    async fn claim_conversation(
        &self,
        owner: &str,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Option<Claim>>;

    /// Extends a held lease; `LeaseLost` if `owner` no longer holds it.
    async fn renew_lease(
        &self,
        conversation: i64,
        owner: &str,
        lease: Duration,
        now: Timestamp,
    ) -> Result<()>;

    /// Drops the lease if `owner` holds it.
    async fn release_conversation(&self, conversation: i64, owner: &str) -> Result<()>;

    /// The pending inbox items of a conversation, in arrival order.
    async fn pending_inbox(&self, conversation: i64, limit: u32) -> Result<Vec<InboxItem>>;

    /// A conversation with its contact and engine state.
    async fn conversation(
        &self,
        tenant: &str,
        conversation: i64,
    ) -> Result<Option<ConversationRecord>>;

    /// Finds the conversation of a contact on a channel.
    async fn find_conversation(
        &self,
        tenant: &str,
        channel: Channel,
        handle: &str,
    ) -> Result<Option<ConversationRecord>>;

    /// Applies one engine turn atomically, if `turn.owner` still holds the lease:
    /// the inbox item is done, the state saved, the inbound message annotated, bot
    /// messages appended with their outbox rows, timers set or cancelled, tags added,
    /// an opt-out recorded on the contact, the lead ops and then the appointment ops
    /// applied (see [`ClinicStore`]). Idempotent per inbox item.
    /// Returns whether the lease was dropped (only when `turn.release` asked for it and
    /// no other item is pending). A `Book` or `Reschedule` whose slot is taken fails the
    /// whole turn with [`StoreError::Conflict`]; a `Cancel` or `Reschedule` of an
    /// appointment that is not the conversation's with [`StoreError::NotFound`].
    async fn commit_turn(&self, turn: &Turn) -> Result<bool>;

    /// Leases up to `limit` outbox rows that are due (queued, or failed with a retry
    /// time passed, or leased by a dead owner), oldest first.
    async fn claim_outbox(
        &self,
        owner: &str,
        limit: u32,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Vec<OutboxItem>>;

    /// The message went out; its status becomes `sent`.
    /// Marks several rows sent in one transaction (channels whose send is local, like
    /// web chat). Rows not found are skipped.
    async fn outbox_sent_many(&self, ids: &[i64], now: Timestamp) -> Result<()> {
        for id in ids {
            match self.outbox_sent(*id, None, now).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn outbox_sent(
        &self,
        id: i64,
        provider_message_id: Option<&str>,
        now: Timestamp,
    ) -> Result<()>;

    /// Sending failed: retried at `retry_at`, or final (message status `failed`) when `None`.
    async fn outbox_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()>;

    /// Queues a message outside an engine turn (an agent's reply from the admin API):
    /// the message and its outbox row in one transaction. `idempotency_key` makes a
    /// retried request store it once; returns the message's seq and whether it is new.
    async fn append_outgoing(
        &self,
        tenant: &str,
        conversation: i64,
        outgoing: &NewOutgoing,
        idempotency_key: &str,
        now: Timestamp,
    ) -> Result<(i64, bool)>;

    /// Records that the send call for a leased row starts now and holds the row until
    /// `hold_until` (at least): if the process dies during the call, the row is not handed
    /// out again before then, so the provider's status can confirm it first.
    async fn outbox_sending(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        hold_until: Timestamp,
    ) -> Result<()>;

    /// The provider confirmed a message we sent, found by our idempotency key (WhatsApp
    /// echoes it in `biz_opaque_callback_data`): marks it sent with the provider's id,
    /// unless it was settled already. True when this changed something.
    async fn outbox_confirm(
        &self,
        tenant: &str,
        idempotency_key: &str,
        provider_message_id: &str,
        now: Timestamp,
    ) -> Result<bool>;

    /// Applies a provider's delivery status to the outbound message with that provider
    /// id. Statuses only move forward (sent → delivered → read); `failed` is recorded
    /// unless the message was already delivered or read. False when no message matches.
    async fn record_status(
        &self,
        tenant: &str,
        channel: Channel,
        provider_message_id: &str,
        status: MessageStatus,
        error: Option<&str>,
    ) -> Result<bool>;

    /// Keeps a webhook body that could not be processed; returns its id.
    async fn add_dead_letter(&self, letter: &NewDeadLetter) -> Result<i64>;

    /// Dead letters, oldest first; re-driven ones only when `include_redriven`.
    async fn dead_letters(&self, limit: u32, include_redriven: bool) -> Result<Vec<DeadLetter>>;

    /// Marks a dead letter re-driven.
    async fn mark_redriven(&self, id: i64, now: Timestamp) -> Result<()>;

    /// Moves timers due at `now` into the inbox as events (`{"kind":"timer",…}`), in one
    /// transaction, at most `limit`; returns how many.
    async fn fire_due_timers(&self, now: Timestamp, limit: u32) -> Result<u32>;

    /// Conversations of a tenant, newest activity first.
    async fn list_conversations(
        &self,
        tenant: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ConversationSummary>>;

    /// Messages of a tenant's conversation with `seq` greater than `after`, oldest first.
    async fn messages(
        &self,
        tenant: &str,
        conversation: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<MessageRecord>>;
}

/// What can be lost and rebuilt: a dedupe cache in front of the SQL unique keys,
/// wake-ups between workers and sockets (also across replicas), short-lived locks.
#[async_trait]
pub trait Hot: Send + Sync + 'static {
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> Result<()>;
    /// True when `key` was remembered and has not expired.
    async fn seen(&self, key: &str) -> Result<bool>;
    /// Remembers `key` for `ttl`.
    async fn remember(&self, key: &str, ttl: Duration) -> Result<()>;
    /// Tells every subscriber (in every replica) about `notice`. Best effort.
    async fn publish(&self, notice: &Notice) -> Result<()>;
    /// Receives every notice published from now on, in this process and others.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Notice>;
    /// Takes `key` for `ttl` if free; returns a token to release it with.
    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<String>>;
    /// Releases `key` if `token` still holds it.
    async fn unlock(&self, key: &str, token: &str) -> Result<()>;
}

/// Connects a backend from a URL: `sqlite://PATH` (or a bare path; `sqlite::memory:` for
/// a throw-away database) or `postgres://…`, and runs migrations.
pub async fn connect(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PostgresStore::connect(url).await?))
    } else {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(std::sync::Arc::new(SqliteStore::open_in_memory().await?));
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(std::sync::Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    }
}
