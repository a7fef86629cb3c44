//! What the two SQL backends share: the [`crate::Store`] implementation, written once
//! as a macro over the sqlx database type (the SQL is the same text for SQLite and
//! PostgreSQL apart from row locks, which each backend passes in; the macro also expands
//! `clinic_sql`'s, for [`crate::ClinicStore`]), and the plain conversions between stored
//! columns and records.
//!
//! Stored shapes: times are unix milliseconds (`i64`), channels and statuses are their
//! lowercase names, JSON goes through `sqlx::types::Json` (TEXT in SQLite, JSONB in
//! PostgreSQL). Anything that does not read back is [`StoreError::Corrupt`], never a panic.

use crate::{Direction, MessageStatus, Result, StoreError};
use channels::Channel;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A timestamp as stored: unix milliseconds.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// A stored unix-millisecond time back as a timestamp.
pub(crate) fn ts(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(format!("time {ms}: {e}")))
}

/// A lease length in milliseconds, saturating.
pub(crate) fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

/// `now + lease`, saturating.
pub(crate) fn until(now: Timestamp, lease: Duration) -> i64 {
    ms(now).saturating_add(lease_ms(lease))
}

pub(crate) fn channel(s: &str) -> Result<Channel> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))
}

pub(crate) fn direction(s: &str) -> Result<Direction> {
    match s {
        "in" => Ok(Direction::In),
        "out" => Ok(Direction::Out),
        other => Err(StoreError::Corrupt(format!(
            "unknown message direction {other:?}"
        ))),
    }
}

pub(crate) fn status(s: &str) -> Result<MessageStatus> {
    MessageStatus::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown message status {s:?}")))
}

/// A JSON column into a typed value; `what` names it in the error.
pub(crate) fn from_json<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A value into JSON for a column or an event.
pub(crate) fn to_json<T: serde::Serialize>(value: &T, what: &str) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Adds `new` tags to `old`, keeping the order of first appearance and no repeats.
pub(crate) fn merge_tags(mut old: Vec<String>, new: &[String]) -> Vec<String> {
    for tag in new {
        if !old.contains(tag) {
            old.push(tag.clone());
        }
    }
    old
}

/// What a claim of outbox rows returns of each row it leased (an [`crate::OutboxItem`]).
pub(crate) const LEASED_OUTBOX_ROWS: &str = "RETURNING id, tenant, conversation_id, message_seq, \
     channel, recipient, content, attempts, idempotency_key, \
     (SELECT sender FROM messages m WHERE m.seq = message_seq) AS sender, \
     (SELECT last_inbound_at FROM conversations c WHERE c.id = conversation_id) AS last_inbound_at, \
     (SELECT last_referral_at FROM conversations c WHERE c.id = conversation_id) AS last_referral_at";

/// Of the `picked` outbox rows (id, conversation), those to lease: per conversation, in
/// id order, the rows before its first unsent row that was not picked (`unsent`: every
/// queued or leased row of those conversations, by id), so messages go out in order.
pub(crate) fn in_order(picked: &[(i64, i64)], unsent: Vec<(i64, i64)>) -> Vec<i64> {
    let mine: std::collections::HashSet<i64> = picked.iter().map(|(id, _)| *id).collect();
    let mut blocked = std::collections::HashSet::new();
    let mut keep = Vec::new();
    for (id, conv) in unsent {
        if blocked.contains(&conv) {
            continue;
        }
        if mine.contains(&id) {
            keep.push(id);
        } else {
            blocked.insert(conv);
        }
    }
    keep
}

/// The inbox dedupe key of a customer message.
pub(crate) fn message_dedupe_key(seq: i64) -> String {
    format!("message:{seq}")
}

/// The inbox dedupe key of a fired timer: the same timer firing twice is one event.
pub(crate) fn timer_dedupe_key(key: &str, due_at_ms: i64) -> String {
    format!("timer:{key}:{due_at_ms}")
}

/// Implements [`crate::Store`] for `$store` over the sqlx database `$db`.
///
/// The type must have inherent `async fn read_conn(&self)` (a connection for reads),
/// `async fn write_conn(&self)` (a connection for single-statement writes), both
/// returning a `Result` of something that dereferences to the connection, and
/// `async fn write_tx(&self) -> Result<$tx>`, a write transaction that dereferences to
/// the connection and has `async fn commit(self)` and `async fn rollback(self)`.
/// `accept_inbound`, `commit_turn`, `outbox_sent`, `claim_conversation`, `pending_inbox`,
/// `conversation`, `messages`, `claim_outbox`, `outbox_sending` and `outbox_sent_many`
/// name the inherent methods that
/// implement those calls: `shared_accept_inbound`, … (defined here, one round trip per
/// statement) or the backend's own, which must keep their contract. The literals
/// are the row-lock clauses appended to selects (empty for SQLite, where a write
/// transaction already excludes every other writer):
/// - `lock_row`: lock the selected row until commit;
/// - `lock_conv`: lock the conversation `c` of a join;
/// - `lock_contact`: lock the contact `k` of a join;
/// - `claim_conv`: lock the conversation `c`, skipping rows another claimer holds;
/// - `claim_rows`: lock the selected rows, skipping those another claimer holds.
macro_rules! impl_sql_store {
    (
        $store:ty, $db:ty, $backend:literal,
        tx = $tx:ty,
        accept_inbound = $accept_inbound:ident,
        commit_turn = $commit_turn:ident,
        outbox_sent = $outbox_sent:ident,
        claim_conversation = $claim_conversation:ident,
        pending_inbox = $pending_inbox:ident,
        conversation = $conversation:ident,
        messages = $messages:ident,
        claim_outbox = $claim_outbox:ident,
        outbox_sending = $outbox_sending:ident,
        outbox_sent_many = $outbox_sent_many:ident,
        lock_row = $lock_row:literal,
        lock_conv = $lock_conv:literal,
        lock_contact = $lock_contact:literal,
        claim_conv = $claim_conv:literal,
        claim_rows = $claim_rows:literal $(,)?
    ) => {
        type DbRow = <$db as sqlx::Database>::Row;

        /// Reads column `col`, a decoding failure being corrupt data.
        fn get<'r, T>(row: &'r DbRow, col: &str) -> $crate::Result<T>
        where
            T: sqlx::Decode<'r, $db> + sqlx::Type<$db>,
        {
            use sqlx::Row as _;
            row.try_get(col).map_err(|e| match e {
                sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnNotFound(_) => {
                    $crate::StoreError::Corrupt(format!("column {col}: {e}"))
                }
                other => $crate::StoreError::Database(other),
            })
        }

        /// Reads a JSON column as a typed value.
        fn get_json<T: serde::de::DeserializeOwned>(row: &DbRow, col: &str) -> $crate::Result<T> {
            let sqlx::types::Json(value) = get::<sqlx::types::Json<serde_json::Value>>(row, col)?;
            $crate::sql::from_json(value, col)
        }

        /// Reads a nullable JSON column as a typed value.
        fn get_json_opt<T: serde::de::DeserializeOwned>(
            row: &DbRow,
            col: &str,
        ) -> $crate::Result<Option<T>> {
            match get::<Option<sqlx::types::Json<serde_json::Value>>>(row, col)? {
                Some(sqlx::types::Json(value)) => Ok(Some($crate::sql::from_json(value, col)?)),
                None => Ok(None),
            }
        }

        fn get_ts(row: &DbRow, col: &str) -> $crate::Result<jiff::Timestamp> {
            $crate::sql::ts(get::<i64>(row, col)?)
        }

        fn get_ts_opt(row: &DbRow, col: &str) -> $crate::Result<Option<jiff::Timestamp>> {
            get::<Option<i64>>(row, col)?.map($crate::sql::ts).transpose()
        }

        fn contact_from_row(row: &DbRow) -> $crate::Result<channels::Contact> {
            Ok(channels::Contact {
                handle: get(row, "handle")?,
                name: get(row, "name")?,
                phone: get(row, "phone")?,
            })
        }

        /// The columns [`conversation_from_row`] reads, from `conversations c JOIN contacts k`.
        const CONVERSATION_COLUMNS: &str = "c.id, c.tenant, c.channel, c.state, c.handoff, c.tags, \
             c.created_at, c.last_inbound_at, k.handle, k.name, k.phone, k.referral, k.opted_out_at";

        fn conversation_from_row(row: &DbRow) -> $crate::Result<$crate::ConversationRecord> {
            Ok($crate::ConversationRecord {
                id: get(row, "id")?,
                tenant: get(row, "tenant")?,
                channel: $crate::sql::channel(&get::<String>(row, "channel")?)?,
                contact: contact_from_row(row)?,
                referral: get_json_opt(row, "referral")?,
                state: get_json(row, "state")?,
                handoff: get(row, "handoff")?,
                opted_out: get::<Option<i64>>(row, "opted_out_at")?.is_some(),
                tags: get_json(row, "tags")?,
                created_at: get_ts(row, "created_at")?,
                last_inbound_at: get_ts_opt(row, "last_inbound_at")?,
            })
        }

        fn message_from_row(row: &DbRow) -> $crate::Result<$crate::MessageRecord> {
            Ok($crate::MessageRecord {
                seq: get(row, "seq")?,
                conversation: get(row, "conversation_id")?,
                direction: $crate::sql::direction(&get::<String>(row, "direction")?)?,
                sender: get(row, "sender")?,
                content: get_json(row, "content")?,
                status: $crate::sql::status(&get::<String>(row, "status")?)?,
                provider_id: get(row, "provider_id")?,
                error: get(row, "error")?,
                meta: get_json(row, "meta")?,
                created_at: get_ts(row, "created_at")?,
            })
        }

        fn inbox_from_row(row: &DbRow) -> $crate::Result<$crate::InboxItem> {
            Ok($crate::InboxItem {
                id: get(row, "id")?,
                tenant: get(row, "tenant")?,
                conversation: get(row, "conversation_id")?,
                event: get_json(row, "event")?,
                created_at: get_ts(row, "created_at")?,
            })
        }

        fn outbox_from_row(row: &DbRow) -> $crate::Result<$crate::OutboxItem> {
            Ok($crate::OutboxItem {
                id: get(row, "id")?,
                tenant: get(row, "tenant")?,
                conversation: get(row, "conversation_id")?,
                message: get(row, "message_seq")?,
                channel: $crate::sql::channel(&get::<String>(row, "channel")?)?,
                to: get(row, "recipient")?,
                content: get_json(row, "content")?,
                attempts: get(row, "attempts")?,
                idempotency_key: get(row, "idempotency_key")?,
                sender: get::<Option<String>>(row, "sender")?.unwrap_or_else(|| "bot".into()),
                last_inbound_at: get_ts_opt(row, "last_inbound_at")?,
                last_referral_at: get_ts_opt(row, "last_referral_at")?,
            })
        }

        /// Ends `tx` without changes and returns `result`. The rollback is awaited: a
        /// dropped transaction rolls back only when its connection is next used, and
        /// until then its row locks would make claimers skip those rows.
        async fn abandon<T>(
            tx: $tx,
            result: $crate::Result<T>,
        ) -> $crate::Result<T> {
            tx.rollback().await?;
            result
        }

        /// The first stored copy of an inbound message, if any.
        async fn find_inbound<'e, E>(
            executor: E,
            tenant: &str,
            channel: channels::Channel,
            provider_id: &str,
        ) -> $crate::Result<Option<$crate::Accepted>>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let row = sqlx::query(
                "SELECT seq, conversation_id FROM messages \
                 WHERE tenant = $1 AND channel = $2 AND provider_id = $3 AND direction = 'in'",
            )
            .bind(tenant)
            .bind(channel.as_str())
            .bind(provider_id)
            .fetch_optional(executor)
            .await?;
            row.map(|row| {
                Ok($crate::Accepted {
                    conversation: get(&row, "conversation_id")?,
                    message: get(&row, "seq")?,
                    duplicate: true,
                })
            })
            .transpose()
        }

        /// The statements of `accept_inbound`, `commit_turn` and `outbox_sent`, one call
        /// each; a backend may do the same in fewer calls (`accept_inbound = …`, …).
        #[allow(dead_code)]
        impl $store {
            async fn shared_accept_inbound(
                &self,
                inbound: &channels::Inbound,
                now: jiff::Timestamp,
            ) -> $crate::Result<$crate::Accepted> {
                let tenant = inbound.tenant.as_str();
                let channel = inbound.channel;
                // No read first: the unique key decides, inside the transaction (a
                // duplicate is rare; a read before every message is not).
                let now_ms = $crate::sql::ms(now);
                let referral = inbound
                    .referral
                    .as_ref()
                    .filter(|r| !r.is_empty())
                    .map(sqlx::types::Json);
                let content = $crate::sql::to_json(&inbound.content, "inbound content")?;

                let mut tx = self.write_tx().await?;
                let contact: i64 = sqlx::query_scalar(
                    "INSERT INTO contacts (tenant, channel, handle, name, phone, referral, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (tenant, channel, handle) DO UPDATE SET \
                     name = COALESCE(excluded.name, contacts.name), \
                     phone = COALESCE(excluded.phone, contacts.phone), \
                     referral = COALESCE(contacts.referral, excluded.referral) \
                     RETURNING id",
                )
                .bind(tenant)
                .bind(channel.as_str())
                .bind(&inbound.contact.handle)
                .bind(&inbound.contact.name)
                .bind(&inbound.contact.phone)
                .bind(referral)
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;

                let conversation: i64 = sqlx::query_scalar(
                    "INSERT INTO conversations (tenant, channel, contact_id, state, handoff, tags, \
                     created_at, last_inbound_at, last_message_at, last_referral_at) \
                     VALUES ($1, $2, $3, 'null', FALSE, '[]', $4, $4, $4, $5) \
                     ON CONFLICT (tenant, channel, contact_id) DO UPDATE SET \
                     last_inbound_at = excluded.last_inbound_at, \
                     last_message_at = excluded.last_message_at, \
                     last_referral_at = COALESCE(excluded.last_referral_at, conversations.last_referral_at) \
                     RETURNING id",
                )
                .bind(tenant)
                .bind(channel.as_str())
                .bind(contact)
                .bind(now_ms)
                .bind(referral.is_some().then_some(now_ms))
                .fetch_one(&mut *tx)
                .await?;

                let seq: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO messages (tenant, conversation_id, channel, direction, sender, \
                     content, status, provider_id, meta, created_at) \
                     VALUES ($1, $2, $3, 'in', 'customer', $4, 'received', $5, '{}', $6) \
                     ON CONFLICT DO NOTHING RETURNING seq",
                )
                .bind(tenant)
                .bind(conversation)
                .bind(channel.as_str())
                .bind(sqlx::types::Json(&content))
                .bind(&inbound.provider_id)
                .bind(now_ms)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(seq) = seq else {
                    // A concurrent copy of the same message won the race: report it.
                    tx.rollback().await?;
                    return find_inbound(&mut *self.read_conn().await?, tenant, channel, &inbound.provider_id)
                        .await?
                        .ok_or_else(|| {
                            $crate::StoreError::Corrupt(format!(
                                "inbound {} conflicted but is not stored",
                                inbound.provider_id
                            ))
                        });
                };

                let event = serde_json::json!({
                    "kind": "message",
                    "message": seq,
                    "inbound": $crate::sql::to_json(inbound, "inbound")?,
                });
                sqlx::query(
                    "INSERT INTO inbox (tenant, conversation_id, event, dedupe_key, status, created_at) \
                     VALUES ($1, $2, $3, $4, 'pending', $5)",
                )
                .bind(tenant)
                .bind(conversation)
                .bind(sqlx::types::Json(&event))
                .bind($crate::sql::message_dedupe_key(seq))
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok($crate::Accepted { conversation, message: seq, duplicate: false })
            }

            async fn shared_commit_turn(&self, turn: &$crate::Turn) -> $crate::Result<bool> {
                let now_ms = $crate::sql::ms(turn.now);
                let mut tx = self.write_tx().await?;

                if turn.opt_out {
                    // Contact before conversation, the order `accept_inbound` locks them in.
                    sqlx::query(concat!(
                        "SELECT k.id FROM contacts k JOIN conversations c ON c.contact_id = k.id \
                         WHERE c.id = $1 AND c.tenant = $2",
                        $lock_contact
                    ))
                    .bind(turn.conversation)
                    .bind(&turn.tenant)
                    .fetch_optional(&mut *tx)
                    .await?;
                }
                // One read for the lease, the inbox item and what the replies need; the
                // conversation row stays locked until commit, which also orders `seq`
                // within the conversation.
                let conv = sqlx::query(concat!(
                    "SELECT c.lease_owner, c.channel, c.contact_id, c.tags, k.handle, \
                     i.status AS inbox_status \
                     FROM conversations c JOIN contacts k ON k.id = c.contact_id \
                     LEFT JOIN inbox i ON i.id = $3 AND i.conversation_id = c.id \
                     WHERE c.id = $1 AND c.tenant = $2",
                    $lock_conv
                ))
                .bind(turn.conversation)
                .bind(&turn.tenant)
                .bind(turn.inbox_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(conv) = conv else {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                };
                if get::<Option<String>>(&conv, "lease_owner")?.as_deref() != Some(turn.owner.as_str()) {
                    return abandon(tx, Err($crate::StoreError::LeaseLost(turn.conversation))).await;
                }
                let Some(inbox_status) = get::<Option<String>>(&conv, "inbox_status")? else {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                };
                if inbox_status == "done" {
                    // Already applied (a retry after a lost acknowledgement): nothing to do.
                    return abandon(tx, Ok(false)).await;
                }
                sqlx::query("UPDATE inbox SET status = 'done' WHERE id = $1")
                    .bind(turn.inbox_id)
                    .execute(&mut *tx)
                    .await?;

                if let Some((seq, meta)) = &turn.annotate {
                    sqlx::query("UPDATE messages SET meta = $1 WHERE seq = $2 AND conversation_id = $3")
                        .bind(sqlx::types::Json(meta))
                        .bind(*seq)
                        .bind(turn.conversation)
                        .execute(&mut *tx)
                        .await?;
                }

                let channel: String = get(&conv, "channel")?;
                let handle: String = get(&conv, "handle")?;
                // Web chat is delivered by its sockets reading the conversation: the
                // stored message is the delivery, so it needs no outbox row.
                let local = channel == channels::Channel::Webchat.as_str();
                let status = if local { "sent" } else { "queued" };
                for (index, out) in turn.outgoing.iter().enumerate() {
                    let content = $crate::sql::to_json(&out.content, "outgoing content")?;
                    let seq: i64 = sqlx::query_scalar(
                        "INSERT INTO messages (tenant, conversation_id, channel, direction, sender, \
                         content, status, meta, created_at) \
                         VALUES ($1, $2, $3, 'out', $4, $5, $7, '{}', $6) RETURNING seq",
                    )
                    .bind(&turn.tenant)
                    .bind(turn.conversation)
                    .bind(&channel)
                    .bind(&out.sender)
                    .bind(sqlx::types::Json(&content))
                    .bind(now_ms)
                    .bind(status)
                    .fetch_one(&mut *tx)
                    .await?;
                    if local {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO outbox (tenant, conversation_id, message_seq, channel, recipient, \
                         content, idempotency_key, status, attempts, next_attempt_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8)",
                    )
                    .bind(&turn.tenant)
                    .bind(turn.conversation)
                    .bind(seq)
                    .bind(&channel)
                    .bind(&handle)
                    .bind(sqlx::types::Json(&content))
                    .bind(format!("{}:{index}", turn.inbox_id))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                }

                for op in &turn.timers {
                    match op {
                        $crate::TimerOp::Set { key, due_at, payload } => {
                            sqlx::query(
                                "INSERT INTO timers (tenant, conversation_id, key, due_at, payload) \
                                 VALUES ($1, $2, $3, $4, $5) \
                                 ON CONFLICT (conversation_id, key) DO UPDATE SET \
                                 due_at = excluded.due_at, payload = excluded.payload",
                            )
                            .bind(&turn.tenant)
                            .bind(turn.conversation)
                            .bind(key)
                            .bind($crate::sql::ms(*due_at))
                            .bind(sqlx::types::Json(payload))
                            .execute(&mut *tx)
                            .await?;
                        }
                        $crate::TimerOp::Cancel { key } => {
                            sqlx::query("DELETE FROM timers WHERE conversation_id = $1 AND key = $2")
                                .bind(turn.conversation)
                                .bind(key)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }

                // Leads and appointments last: a taken slot (`Conflict`) or another
                // conversation's appointment (`NotFound`) undoes the whole turn.
                if let Err(e) = apply_clinic_ops(&mut tx, turn).await {
                    return abandon(tx, Err($crate::clinic_sql::contention(e))).await;
                }

                if turn.opt_out {
                    sqlx::query(
                        "UPDATE contacts SET opted_out_at = COALESCE(opted_out_at, $1) WHERE id = $2",
                    )
                    .bind(now_ms)
                    .bind(get::<i64>(&conv, "contact_id")?)
                    .execute(&mut *tx)
                    .await?;
                }
                // State, tags, activity time and (when asked and drained) the lease, in
                // one statement: the inbox item is already marked done above.
                let tags: Vec<String> = get_json(&conv, "tags")?;
                let tags = $crate::sql::merge_tags(tags, &turn.tags);
                let released: bool = sqlx::query_scalar(
                    "UPDATE conversations SET state = $1, handoff = $2, tags = $3, \
                     last_message_at = CASE WHEN $4 THEN $5 ELSE last_message_at END, \
                     lease_until = CASE WHEN $6 AND NOT EXISTS (SELECT 1 FROM inbox \
                       WHERE conversation_id = $7 AND status = 'pending') THEN NULL ELSE lease_until END, \
                     lease_owner = CASE WHEN $6 AND NOT EXISTS (SELECT 1 FROM inbox \
                       WHERE conversation_id = $7 AND status = 'pending') THEN NULL ELSE lease_owner END \
                     WHERE id = $7 RETURNING lease_owner IS NULL",
                )
                .bind(sqlx::types::Json(&turn.state))
                .bind(turn.handoff)
                .bind(sqlx::types::Json(&tags))
                .bind(!turn.outgoing.is_empty())
                .bind(now_ms)
                .bind(turn.release)
                .bind(turn.conversation)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(released)
            }

            async fn shared_claim_conversation(
                &self,
                owner: &str,
                lease: std::time::Duration,
                now: jiff::Timestamp,
            ) -> $crate::Result<Option<$crate::Claim>> {
                // Nothing to claim is the common answer (a worker that got a claim wakes a
                // peer, and looks again after its turn): a read says so without taking the
                // writer. An item committed after this read comes with a wake-up.
                let claimable: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM inbox i JOIN conversations c ON c.id = i.conversation_id \
                     WHERE i.status = 'pending' AND (c.lease_until IS NULL OR c.lease_until < $1))",
                )
                .bind($crate::sql::ms(now))
                .fetch_one(&mut *self.read_conn().await?)
                .await?;
                if !claimable {
                    return Ok(None);
                }
                // The pick runs once, in a CTE: a locking subquery inside the UPDATE could be
                // re-run by PostgreSQL and skip the rows this very statement just locked.
                let row = sqlx::query(concat!(
                    "WITH pick AS MATERIALIZED (SELECT i.conversation_id AS id FROM inbox i \
                     JOIN conversations c ON c.id = i.conversation_id \
                     WHERE i.status = 'pending' AND (c.lease_until IS NULL OR c.lease_until < $3) \
                     ORDER BY i.id LIMIT 1",
                    $claim_conv,
                    ") UPDATE conversations SET lease_owner = $1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM pick) AND (lease_until IS NULL OR lease_until < $3) \
                     RETURNING id, tenant"
                ))
                .bind(owner)
                .bind($crate::sql::until(now, lease))
                .bind($crate::sql::ms(now))
                // One statement, so no explicit transaction: a round trip saved per message.
                .fetch_optional(&mut *self.write_conn().await?)
                .await?;
                row.map(|row| {
                    Ok($crate::Claim { tenant: get(&row, "tenant")?, conversation: get(&row, "id")? })
                })
                .transpose()
            }

            async fn shared_pending_inbox(
                &self,
                conversation: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::InboxItem>> {
                let rows = sqlx::query(
                    "SELECT id, tenant, conversation_id, event, created_at FROM inbox \
                     WHERE conversation_id = $1 AND status = 'pending' ORDER BY id LIMIT $2",
                )
                .bind(conversation)
                .bind(i64::from(limit))
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                rows.iter().map(inbox_from_row).collect()
            }

            async fn shared_conversation(
                &self,
                tenant: &str,
                conversation: i64,
            ) -> $crate::Result<Option<$crate::ConversationRecord>> {
                let row = sqlx::query(&format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations c \
                     JOIN contacts k ON k.id = c.contact_id WHERE c.tenant = $1 AND c.id = $2"
                ))
                .bind(tenant)
                .bind(conversation)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
                row.as_ref().map(conversation_from_row).transpose()
            }

            async fn shared_messages(
                &self,
                tenant: &str,
                conversation: i64,
                after: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::MessageRecord>> {
                let rows = sqlx::query(
                    "SELECT seq, conversation_id, direction, sender, content, status, provider_id, \
                     error, meta, created_at FROM messages \
                     WHERE tenant = $1 AND conversation_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
                )
                .bind(tenant)
                .bind(conversation)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                rows.iter().map(message_from_row).collect()
            }

            /// Whether any outbox row is due (queued and due, or leased and expired).
            async fn shared_outbox_due(&self, now: jiff::Timestamp) -> $crate::Result<bool> {
                Ok(sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1) \
                     OR EXISTS (SELECT 1 FROM outbox WHERE status = 'leased' AND lease_until < $1)",
                )
                .bind($crate::sql::ms(now))
                .fetch_one(&mut *self.read_conn().await?)
                .await?)
            }

            async fn shared_claim_outbox(
                &self,
                owner: &str,
                limit: u32,
                lease: std::time::Duration,
                now: jiff::Timestamp,
            ) -> $crate::Result<Vec<$crate::OutboxItem>> {
                let now_ms = $crate::sql::ms(now);
                // Nothing due is the common answer (every reply wakes this worker, web
                // chat replies too, which have no outbox row): a read says so without
                // taking the writer. A row committed after this read comes with a wake-up.
                if !self.shared_outbox_due(now).await? {
                    return Ok(Vec::new());
                }
                let mut tx = self.write_tx().await?;
                // 1. Lock due rows, oldest first, skipping rows another claimer holds.
                let picked: Vec<(i64, i64)> = sqlx::query_as(concat!(
                    // Each half of the condition reads its own partial index; an OR
                    // over both would scan the whole (ever-growing) table.
                    "SELECT id, conversation_id FROM outbox WHERE id IN ( \
                     SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 \
                     UNION ALL \
                     SELECT id FROM outbox WHERE status = 'leased' AND lease_until < $1) \
                     ORDER BY id LIMIT $2",
                    $claim_rows
                ))
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                if picked.is_empty() {
                    tx.commit().await?;
                    return Ok(Vec::new());
                }
                // 2. Per conversation, messages go out in order: keep a row only when
                //    every older unsent row of its conversation is ours too. This read
                //    is a new statement, so on PostgreSQL it also sees rows another
                //    claimer locked a moment ago (still unsent): their successors wait.
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, conversation_id FROM outbox WHERE status IN ('queued', 'leased') \
                     AND conversation_id IN (",
                );
                let mut convs: Vec<i64> = picked.iter().map(|(_, c)| *c).collect();
                convs.sort_unstable();
                convs.dedup();
                let mut sep = qb.separated(", ");
                for c in &convs {
                    sep.push_bind(*c);
                }
                qb.push(") ORDER BY id");
                let unsent: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
                let keep = $crate::sql::in_order(&picked, unsent);
                if keep.is_empty() {
                    tx.commit().await?;
                    return Ok(Vec::new());
                }
                // 3. Lease what we keep.
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "UPDATE outbox SET status = 'leased', lease_owner = ",
                );
                qb.push_bind(owner)
                    .push(", lease_until = ")
                    .push_bind($crate::sql::until(now, lease))
                    .push(", attempts = attempts + 1 WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in &keep {
                    sep.push_bind(*id);
                }
                qb.push(") ").push($crate::sql::LEASED_OUTBOX_ROWS);
                let rows = qb.build().fetch_all(&mut *tx).await?;
                tx.commit().await?;
                let mut items = rows.iter().map(outbox_from_row).collect::<$crate::Result<Vec<_>>>()?;
                items.sort_by_key(|item| item.id);
                Ok(items)
            }

            async fn shared_outbox_sending(
                &self,
                id: i64,
                owner: &str,
                now: jiff::Timestamp,
                hold_until: jiff::Timestamp,
            ) -> $crate::Result<()> {
                let done = sqlx::query(
                    "UPDATE outbox SET sending_at = $1, \
                     lease_until = CASE WHEN lease_until < $2 THEN $2 ELSE lease_until END \
                     WHERE id = $3 AND status = 'leased' AND lease_owner = $4",
                )
                .bind($crate::sql::ms(now))
                .bind($crate::sql::ms(hold_until))
                .bind(id)
                .bind(owner)
                .execute(&mut *self.write_conn().await?)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound);
                }
                Ok(())
            }

            async fn shared_outbox_sent_many(&self, ids: &[i64], now: jiff::Timestamp) -> $crate::Result<()> {
                if ids.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write_tx().await?;
                for id in ids {
                    let seq: Option<i64> = sqlx::query_scalar(
                        "UPDATE outbox SET status = 'sent', lease_owner = NULL, lease_until = NULL, \
                         sent_at = $1, sending_at = NULL WHERE id = $2 RETURNING message_seq",
                    )
                    .bind($crate::sql::ms(now))
                    .bind(*id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(seq) = seq {
                        sqlx::query(
                            "UPDATE messages SET error = NULL, status = CASE WHEN status IN \
                             ('delivered', 'read') THEN status ELSE 'sent' END WHERE seq = $1",
                        )
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn shared_outbox_sent(
                &self,
                id: i64,
                provider_message_id: Option<&str>,
                now: jiff::Timestamp,
            ) -> $crate::Result<()> {
                let mut tx = self.write_tx().await?;
                let seq: Option<i64> = sqlx::query_scalar(
                    "UPDATE outbox SET status = 'sent', lease_owner = NULL, lease_until = NULL, \
                     sent_at = $1, sending_at = NULL WHERE id = $2 RETURNING message_seq",
                )
                .bind($crate::sql::ms(now))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(seq) = seq else {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                };
                sqlx::query(
                    "UPDATE messages SET provider_id = COALESCE($1, provider_id), error = NULL, \
                     status = CASE WHEN status IN ('delivered', 'read') THEN status ELSE 'sent' END \
                     WHERE seq = $2",
                )
                .bind(provider_message_id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(&mut *self.read_conn().await?).await?;
                Ok(())
            }

            async fn upsert_tenant(&self, tenant: &$crate::TenantRecord) -> $crate::Result<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "INSERT INTO tenants (id, niche, name, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET niche = excluded.niche, name = excluded.name, \
                     updated_at = excluded.updated_at",
                )
                .bind(&tenant.id)
                .bind(&tenant.niche)
                .bind(&tenant.name)
                .bind($crate::sql::ms(jiff::Timestamp::now()))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn accept_inbound(
                &self,
                inbound: &channels::Inbound,
                now: jiff::Timestamp,
            ) -> $crate::Result<$crate::Accepted> {
                self.$accept_inbound(inbound, now).await
            }

            async fn enqueue_event(
                &self,
                tenant: &str,
                conversation: i64,
                event: &serde_json::Value,
                dedupe_key: &str,
                now: jiff::Timestamp,
            ) -> $crate::Result<bool> {
                let mut tx = self.write_tx().await?;
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM conversations WHERE id = $1 AND tenant = $2")
                        .bind(conversation)
                        .bind(tenant)
                        .fetch_optional(&mut *tx)
                        .await?;
                if found.is_none() {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                }
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO inbox (tenant, conversation_id, event, dedupe_key, status, created_at) \
                     VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING RETURNING id",
                )
                .bind(tenant)
                .bind(conversation)
                .bind(sqlx::types::Json(event))
                .bind(dedupe_key)
                .bind($crate::sql::ms(now))
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(id.is_some())
            }

            async fn claim_conversation(
                &self,
                owner: &str,
                lease: std::time::Duration,
                now: jiff::Timestamp,
            ) -> $crate::Result<Option<$crate::Claim>> {
                self.$claim_conversation(owner, lease, now).await
            }

            async fn renew_lease(
                &self,
                conversation: i64,
                owner: &str,
                lease: std::time::Duration,
                now: jiff::Timestamp,
            ) -> $crate::Result<()> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query(
                    "UPDATE conversations SET lease_until = $1 WHERE id = $2 AND lease_owner = $3",
                )
                .bind($crate::sql::until(now, lease))
                .bind(conversation)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return abandon(tx, Err($crate::StoreError::LeaseLost(conversation))).await;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn release_conversation(&self, conversation: i64, owner: &str) -> $crate::Result<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "UPDATE conversations SET lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2",
                )
                .bind(conversation)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn pending_inbox(
                &self,
                conversation: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::InboxItem>> {
                self.$pending_inbox(conversation, limit).await
            }

            async fn conversation(
                &self,
                tenant: &str,
                conversation: i64,
            ) -> $crate::Result<Option<$crate::ConversationRecord>> {
                self.$conversation(tenant, conversation).await
            }

            async fn find_conversation(
                &self,
                tenant: &str,
                channel: channels::Channel,
                handle: &str,
            ) -> $crate::Result<Option<$crate::ConversationRecord>> {
                let row = sqlx::query(&format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations c \
                     JOIN contacts k ON k.id = c.contact_id \
                     WHERE c.tenant = $1 AND c.channel = $2 AND k.tenant = $1 AND k.channel = $2 \
                     AND k.handle = $3"
                ))
                .bind(tenant)
                .bind(channel.as_str())
                .bind(handle)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
                row.as_ref().map(conversation_from_row).transpose()
            }

            async fn commit_turn(&self, turn: &$crate::Turn) -> $crate::Result<bool> {
                self.$commit_turn(turn).await
            }

            async fn claim_outbox(
                &self,
                owner: &str,
                limit: u32,
                lease: std::time::Duration,
                now: jiff::Timestamp,
            ) -> $crate::Result<Vec<$crate::OutboxItem>> {
                self.$claim_outbox(owner, limit, lease, now).await
            }

            async fn outbox_sent(
                &self,
                id: i64,
                provider_message_id: Option<&str>,
                now: jiff::Timestamp,
            ) -> $crate::Result<()> {
                self.$outbox_sent(id, provider_message_id, now).await
            }

            async fn outbox_sent_many(&self, ids: &[i64], now: jiff::Timestamp) -> $crate::Result<()> {
                self.$outbox_sent_many(ids, now).await
            }

            async fn append_outgoing(
                &self,
                tenant: &str,
                conversation: i64,
                outgoing: &$crate::NewOutgoing,
                idempotency_key: &str,
                now: jiff::Timestamp,
            ) -> $crate::Result<(i64, bool)> {
                let now_ms = $crate::sql::ms(now);
                let mut tx = self.write_tx().await?;
                let existing: Option<i64> = sqlx::query_scalar(
                    "SELECT message_seq FROM outbox WHERE idempotency_key = $1 AND tenant = $2",
                )
                .bind(idempotency_key)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(seq) = existing {
                    return abandon(tx, Ok((seq, false))).await;
                }
                // The conversation row lock orders `seq` within the conversation.
                let conv = sqlx::query(concat!(
                    "SELECT c.channel, k.handle FROM conversations c \
                     JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1 AND c.tenant = $2",
                    $lock_conv
                ))
                .bind(conversation)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(conv) = conv else {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                };
                let channel: String = get(&conv, "channel")?;
                let handle: String = get(&conv, "handle")?;
                // As in `commit_turn`: a web chat message is delivered by being stored;
                // its outbox row only keeps the request idempotent.
                let status = if channel == channels::Channel::Webchat.as_str() { "sent" } else { "queued" };
                let content = $crate::sql::to_json(&outgoing.content, "outgoing content")?;
                let seq: i64 = sqlx::query_scalar(
                    "INSERT INTO messages (tenant, conversation_id, channel, direction, sender, \
                     content, status, meta, created_at) \
                     VALUES ($1, $2, $3, 'out', $4, $5, $7, '{}', $6) RETURNING seq",
                )
                .bind(tenant)
                .bind(conversation)
                .bind(&channel)
                .bind(&outgoing.sender)
                .bind(sqlx::types::Json(&content))
                .bind(now_ms)
                .bind(status)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO outbox (tenant, conversation_id, message_seq, channel, recipient, \
                     content, idempotency_key, status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $9, 0, $8, $8)",
                )
                .bind(tenant)
                .bind(conversation)
                .bind(seq)
                .bind(&channel)
                .bind(&handle)
                .bind(sqlx::types::Json(&content))
                .bind(idempotency_key)
                .bind(now_ms)
                .bind(status)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE conversations SET last_message_at = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(conversation)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((seq, true))
            }

            async fn outbox_sending(
                &self,
                id: i64,
                owner: &str,
                now: jiff::Timestamp,
                hold_until: jiff::Timestamp,
            ) -> $crate::Result<()> {
                self.$outbox_sending(id, owner, now, hold_until).await
            }

            async fn outbox_confirm(
                &self,
                tenant: &str,
                idempotency_key: &str,
                provider_message_id: &str,
                now: jiff::Timestamp,
            ) -> $crate::Result<bool> {
                let mut tx = self.write_tx().await?;
                let seq: Option<i64> = sqlx::query_scalar(
                    "UPDATE outbox SET status = 'sent', sent_at = $1, sending_at = NULL, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE tenant = $2 AND idempotency_key = $3 AND status IN ('queued', 'leased') \
                     RETURNING message_seq",
                )
                .bind($crate::sql::ms(now))
                .bind(tenant)
                .bind(idempotency_key)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(seq) = seq else {
                    return abandon(tx, Ok(false)).await;
                };
                sqlx::query(
                    "UPDATE messages SET provider_id = COALESCE(provider_id, $1), error = NULL, \
                     status = CASE WHEN status IN ('delivered', 'read') THEN status ELSE 'sent' END \
                     WHERE seq = $2",
                )
                .bind(provider_message_id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn record_status(
                &self,
                tenant: &str,
                channel: channels::Channel,
                provider_message_id: &str,
                status: $crate::MessageStatus,
                error: Option<&str>,
            ) -> $crate::Result<bool> {
                use $crate::MessageStatus as S;
                // Which current statuses the new one may replace: never backwards.
                let from: &[&str] = match status {
                    S::Sent => &["queued"],
                    S::Delivered => &["queued", "sent", "failed"],
                    S::Read => &["queued", "sent", "delivered", "failed"],
                    S::Failed => &["queued", "sent"],
                    S::Received | S::Queued => return Ok(false),
                };
                let found: Option<String> = sqlx::query_scalar(
                    "SELECT status FROM messages WHERE tenant = $1 AND channel = $2 \
                     AND provider_id = $3 AND direction = 'out'",
                )
                .bind(tenant)
                .bind(channel.as_str())
                .bind(provider_message_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
                let Some(current) = found else {
                    return Ok(false);
                };
                if from.contains(&current.as_str()) {
                    sqlx::query(
                        "UPDATE messages SET status = $1, error = COALESCE($2, error) \
                         WHERE tenant = $3 AND channel = $4 AND provider_id = $5 AND direction = 'out' \
                         AND status = $6",
                    )
                    .bind(status.as_str())
                    .bind(error)
                    .bind(tenant)
                    .bind(channel.as_str())
                    .bind(provider_message_id)
                    .bind(&current)
                    .execute(&mut *self.write_conn().await?)
                    .await?;
                }
                Ok(true)
            }

            async fn add_dead_letter(&self, letter: &$crate::NewDeadLetter) -> $crate::Result<i64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO dead_letters (source, tenant, reason, body, headers, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&letter.source)
                .bind(&letter.tenant)
                .bind(&letter.reason)
                .bind(&letter.body)
                .bind(sqlx::types::Json(&letter.headers))
                .bind($crate::sql::ms(letter.received_at))
                .fetch_one(&mut *self.write_conn().await?)
                .await?;
                Ok(id)
            }

            async fn dead_letters(
                &self,
                limit: u32,
                include_redriven: bool,
            ) -> $crate::Result<Vec<$crate::DeadLetter>> {
                let rows = sqlx::query(
                    "SELECT id, source, tenant, reason, body, headers, received_at, redriven_at \
                     FROM dead_letters WHERE ($1 OR redriven_at IS NULL) ORDER BY id LIMIT $2",
                )
                .bind(include_redriven)
                .bind(i64::from(limit))
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::DeadLetter {
                            id: get(row, "id")?,
                            source: get(row, "source")?,
                            tenant: get(row, "tenant")?,
                            reason: get(row, "reason")?,
                            body: get(row, "body")?,
                            headers: get_json(row, "headers")?,
                            received_at: get_ts(row, "received_at")?,
                            redriven_at: get_ts_opt(row, "redriven_at")?,
                        })
                    })
                    .collect()
            }

            async fn mark_redriven(&self, id: i64, now: jiff::Timestamp) -> $crate::Result<()> {
                let done = sqlx::query("UPDATE dead_letters SET redriven_at = $1 WHERE id = $2")
                    .bind($crate::sql::ms(now))
                    .bind(id)
                    .execute(&mut *self.write_conn().await?)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound);
                }
                Ok(())
            }

            async fn outbox_failed(
                &self,
                id: i64,
                error: &str,
                retry_at: Option<jiff::Timestamp>,
            ) -> $crate::Result<()> {
                let mut tx = self.write_tx().await?;
                let status: Option<String> = sqlx::query_scalar(concat!(
                    "SELECT status FROM outbox WHERE id = $1",
                    $lock_row
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(status) = status else {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                };
                if status == "sent" || status == "failed" {
                    // Settled already: a late report does not reopen it.
                    return abandon(tx, Ok(())).await;
                }
                match retry_at {
                    Some(at) => {
                        sqlx::query(
                            "UPDATE outbox SET status = 'queued', next_attempt_at = $1, last_error = $2, \
                             lease_owner = NULL, lease_until = NULL, sending_at = NULL WHERE id = $3",
                        )
                        .bind($crate::sql::ms(at))
                        .bind(error)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        let seq: i64 = sqlx::query_scalar(
                            "UPDATE outbox SET status = 'failed', last_error = $1, \
                             lease_owner = NULL, lease_until = NULL, sending_at = NULL \
                             WHERE id = $2 RETURNING message_seq",
                        )
                        .bind(error)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE messages SET status = 'failed', error = $1 WHERE seq = $2")
                            .bind(error)
                            .bind(seq)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn fire_due_timers(&self, now: jiff::Timestamp, limit: u32) -> $crate::Result<u32> {
                let now_ms = $crate::sql::ms(now);
                let mut tx = self.write_tx().await?;
                let due = sqlx::query(concat!(
                    "SELECT id, tenant, conversation_id, key, due_at, payload FROM timers \
                     WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2",
                    $claim_rows
                ))
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let mut fired = 0u32;
                for row in &due {
                    let id: i64 = get(row, "id")?;
                    let key: String = get(row, "key")?;
                    let due_at: i64 = get(row, "due_at")?;
                    let payload: serde_json::Value = get_json(row, "payload")?;
                    let event = serde_json::json!({"kind": "timer", "key": key, "payload": payload});
                    sqlx::query(
                        "INSERT INTO inbox (tenant, conversation_id, event, dedupe_key, status, created_at) \
                         VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(get::<String>(row, "tenant")?)
                    .bind(get::<i64>(row, "conversation_id")?)
                    .bind(sqlx::types::Json(&event))
                    .bind($crate::sql::timer_dedupe_key(&key, due_at))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM timers WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    fired += 1;
                }
                tx.commit().await?;
                Ok(fired)
            }

            async fn list_conversations(
                &self,
                tenant: &str,
                limit: u32,
                offset: u32,
            ) -> $crate::Result<Vec<$crate::ConversationSummary>> {
                let rows = sqlx::query(
                    "SELECT c.id, c.channel, c.handoff, c.tags, c.created_at, c.last_message_at, \
                     k.handle, k.name, k.phone, k.opted_out_at, \
                     (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count \
                     FROM conversations c JOIN contacts k ON k.id = c.contact_id \
                     WHERE c.tenant = $1 ORDER BY c.last_message_at DESC, c.id DESC LIMIT $2 OFFSET $3",
                )
                .bind(tenant)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::ConversationSummary {
                            id: get(row, "id")?,
                            channel: $crate::sql::channel(&get::<String>(row, "channel")?)?,
                            contact: contact_from_row(row)?,
                            handoff: get(row, "handoff")?,
                            opted_out: get::<Option<i64>>(row, "opted_out_at")?.is_some(),
                            tags: get_json(row, "tags")?,
                            message_count: get(row, "message_count")?,
                            created_at: get_ts(row, "created_at")?,
                            last_message_at: get_ts(row, "last_message_at")?,
                        })
                    })
                    .collect()
            }

            async fn messages(
                &self,
                tenant: &str,
                conversation: i64,
                after: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::MessageRecord>> {
                self.$messages(tenant, conversation, after, limit).await
            }
        }

        $crate::clinic_sql::impl_sql_clinic!(
            $store, $db,
            lock_row = $lock_row,
            claim_rows = $claim_rows,
        );
    };
}

pub(crate) use impl_sql_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_merge_as_a_set_in_first_seen_order() {
        let merged = merge_tags(
            vec!["sıcak".into(), "vip".into()],
            &["yeni".into(), "vip".into(), "yeni".into(), "İade".into()],
        );
        assert_eq!(merged, ["sıcak", "vip", "yeni", "İade"]);
    }

    #[test]
    fn bad_stored_values_are_corrupt_not_panics() {
        assert!(matches!(ts(i64::MAX), Err(StoreError::Corrupt(_))));
        assert!(matches!(channel("sms"), Err(StoreError::Corrupt(_))));
        assert!(matches!(direction("sideways"), Err(StoreError::Corrupt(_))));
        assert!(matches!(status("lost"), Err(StoreError::Corrupt(_))));
        assert_eq!(
            until(Timestamp::MAX, Duration::from_secs(60)),
            Timestamp::MAX.as_millisecond() + 60_000
        );
    }
}
