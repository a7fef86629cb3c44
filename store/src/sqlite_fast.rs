//! The message road's statements on the SQLite file, run in the calling thread through
//! rusqlite: a customer message's accept, the inbox claim, the turn's reads and its
//! commit (its clinic ops in [`crate::sqlite_clinic`]), a web chat socket's reads, the
//! outbox's look. The writes run inside a group commit ([`crate::sqlite_group`]), which
//! makes each one atomic.
//!
//! Why: sqlx runs each SQLite connection on a thread of its own, so every statement is a
//! hand-off to that thread and back, and the writer stays held across those hand-offs
//! while the caller waits for a busy runtime to poll it again. Here a whole operation
//! runs at once under the writer's lock (a few hundred microseconds of SQLite's own
//! work), and reads need no hand-off at all. Same statements, same checks, same stored
//! shapes as the shared SQL (`sql.rs`), which the conformance suite holds both to.

use crate::{
    Accepted, Claim, ConversationRecord, InboxItem, MessageRecord, OutboxItem, Result, StoreError,
    TimerOp, Turn,
};
use channels::Inbound;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Duration;

/// Prepared statements kept per connection (every statement here, with room).
const STATEMENT_CACHE: usize = 64;

/// Opens a connection to the (already migrated) database at `path`, with the same
/// settings as the sqlx connections (`sqlite.rs`).
pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(busy_timeout).map_err(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = -32768; PRAGMA temp_store = memory; \
         PRAGMA journal_size_limit = 67108864;",
    )
    .map_err(db)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A rusqlite error as the store's.
pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(e)))
}

pub(crate) fn json<T: DeserializeOwned>(row: &Row<'_>, col: &str) -> Result<T> {
    let text: String = row.get(col).map_err(|e| corrupt(col, e))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn json_opt<T: DeserializeOwned>(row: &Row<'_>, col: &str) -> Result<Option<T>> {
    let text: Option<String> = row.get(col).map_err(|e| corrupt(col, e))?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

pub(crate) fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, col: &str) -> Result<T> {
    row.get(col).map_err(|e| corrupt(col, e))
}

fn corrupt(col: &str, e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::InvalidColumnName(_)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            StoreError::Corrupt(format!("column {col}: {e}"))
        }
        other => db(other),
    }
}

pub(crate) fn text<T: serde::Serialize>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn ts(row: &Row<'_>, col: &str) -> Result<Timestamp> {
    crate::sql::ts(get(row, col)?)
}

pub(crate) fn ts_opt(row: &Row<'_>, col: &str) -> Result<Option<Timestamp>> {
    get::<Option<i64>>(row, col)?
        .map(crate::sql::ts)
        .transpose()
}

/// [`crate::Store::pending_inbox`].
pub(crate) fn pending_inbox(
    c: &Connection,
    conversation: i64,
    limit: u32,
) -> Result<Vec<InboxItem>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT id, tenant, conversation_id, event, created_at FROM inbox \
             WHERE conversation_id = ?1 AND status = 'pending' ORDER BY id LIMIT ?2",
        )
        .map_err(db)?;
    let mut rows = stmt
        .query(params![conversation, i64::from(limit)])
        .map_err(db)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        items.push(InboxItem {
            id: get(row, "id")?,
            tenant: get(row, "tenant")?,
            conversation: get(row, "conversation_id")?,
            event: json(row, "event")?,
            created_at: ts(row, "created_at")?,
        });
    }
    Ok(items)
}

/// [`crate::Store::conversation`].
pub(crate) fn conversation(
    c: &Connection,
    tenant: &str,
    conversation: i64,
) -> Result<Option<ConversationRecord>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT c.id, c.tenant, c.channel, c.state, c.handoff, c.tags, c.created_at, \
             c.last_inbound_at, k.handle, k.name, k.phone, k.referral, k.opted_out_at \
             FROM conversations c JOIN contacts k ON k.id = c.contact_id \
             WHERE c.tenant = ?1 AND c.id = ?2",
        )
        .map_err(db)?;
    let mut rows = stmt.query(params![tenant, conversation]).map_err(db)?;
    let Some(row) = rows.next().map_err(db)? else {
        return Ok(None);
    };
    Ok(Some(ConversationRecord {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        channel: crate::sql::channel(&get::<String>(row, "channel")?)?,
        contact: channels::Contact {
            handle: get(row, "handle")?,
            name: get(row, "name")?,
            phone: get(row, "phone")?,
        },
        referral: json_opt(row, "referral")?,
        state: json(row, "state")?,
        handoff: get(row, "handoff")?,
        opted_out: get::<Option<i64>>(row, "opted_out_at")?.is_some(),
        tags: json(row, "tags")?,
        created_at: ts(row, "created_at")?,
        last_inbound_at: ts_opt(row, "last_inbound_at")?,
    }))
}

/// [`crate::Store::messages`].
pub(crate) fn messages(
    c: &Connection,
    tenant: &str,
    conversation: i64,
    after: i64,
    limit: u32,
) -> Result<Vec<MessageRecord>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, conversation_id, direction, sender, content, status, provider_id, \
             error, meta, created_at FROM messages \
             WHERE tenant = ?1 AND conversation_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
        )
        .map_err(db)?;
    let mut rows = stmt
        .query(params![tenant, conversation, after, i64::from(limit)])
        .map_err(db)?;
    let mut messages = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        messages.push(MessageRecord {
            seq: get(row, "seq")?,
            conversation: get(row, "conversation_id")?,
            direction: crate::sql::direction(&get::<String>(row, "direction")?)?,
            sender: get(row, "sender")?,
            content: json(row, "content")?,
            status: crate::sql::status(&get::<String>(row, "status")?)?,
            provider_id: get(row, "provider_id")?,
            error: get(row, "error")?,
            meta: json(row, "meta")?,
            created_at: ts(row, "created_at")?,
        });
    }
    Ok(messages)
}

/// Whether any pending inbox item's conversation is free to claim.
///
/// `INDEXED BY inbox_pending` here and in the claim: left to itself, SQLite 3.46 reads
/// the pending items through the per-conversation index and sorts them all, so with a
/// backlog every claim read the whole backlog (a millisecond at 5,000 waiting messages),
/// and the slower claims made the backlog grow. In id order it stops at the first free one.
pub(crate) fn claimable(c: &Connection, now: Timestamp) -> Result<bool> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM inbox i INDEXED BY inbox_pending \
         JOIN conversations c ON c.id = i.conversation_id \
         WHERE i.status = 'pending' AND (c.lease_until IS NULL OR c.lease_until < ?1))",
    )
    .map_err(db)?
    .query_row(params![crate::sql::ms(now)], |row| row.get(0))
    .map_err(db)
}

/// Whether any outbox row is due (queued and due, or leased and expired).
pub(crate) fn outbox_due(c: &Connection, now: Timestamp) -> Result<bool> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?1) \
         OR EXISTS (SELECT 1 FROM outbox WHERE status = 'leased' AND lease_until < ?1)",
    )
    .map_err(db)?
    .query_row(params![crate::sql::ms(now)], |row| row.get(0))
    .map_err(db)
}

/// The write of [`crate::Store::claim_conversation`]: one statement.
pub(crate) fn claim_conversation(
    c: &Connection,
    owner: &str,
    lease: Duration,
    now: Timestamp,
) -> Result<Option<Claim>> {
    c.prepare_cached(
        "WITH pick AS MATERIALIZED (SELECT i.conversation_id AS id FROM inbox i INDEXED BY inbox_pending \
         JOIN conversations c ON c.id = i.conversation_id \
         WHERE i.status = 'pending' AND (c.lease_until IS NULL OR c.lease_until < ?3) \
         ORDER BY i.id LIMIT 1) \
         UPDATE conversations SET lease_owner = ?1, lease_until = ?2 \
         WHERE id IN (SELECT id FROM pick) AND (lease_until IS NULL OR lease_until < ?3) \
         RETURNING id, tenant",
    )
    .map_err(db)?
    .query_row(
        params![owner, crate::sql::until(now, lease), crate::sql::ms(now)],
        |row| {
            Ok(Claim {
                conversation: row.get("id")?,
                tenant: row.get("tenant")?,
            })
        },
    )
    .optional()
    .map_err(db)
}

/// [`crate::Store::accept_inbound`]. A duplicate (the unique key on the
/// provider id) changes nothing.
pub(crate) fn accept_inbound(
    c: &Connection,
    inbound: &Inbound,
    now: Timestamp,
) -> Result<Accepted> {
    let now_ms = crate::sql::ms(now);
    let tenant = inbound.tenant.as_str();
    let channel = inbound.channel.as_str();
    let existing = find_inbound(c, tenant, channel, &inbound.provider_id)?;
    if let Some((seq, conversation)) = existing {
        return Ok(Accepted {
            conversation,
            message: seq,
            duplicate: true,
        });
    }
    let referral = inbound
        .referral
        .as_ref()
        .filter(|r| !r.is_empty())
        .map(|r| text(r, "referral"))
        .transpose()?;
    c.prepare_cached(
        "INSERT INTO contacts (tenant, channel, handle, name, phone, referral, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (tenant, channel, handle) DO UPDATE SET \
         name = COALESCE(excluded.name, contacts.name), \
         phone = COALESCE(excluded.phone, contacts.phone), \
         referral = COALESCE(contacts.referral, excluded.referral)",
    )
    .map_err(db)?
    .execute(params![
        tenant,
        channel,
        inbound.contact.handle,
        inbound.contact.name,
        inbound.contact.phone,
        referral,
        now_ms
    ])
    .map_err(db)?;
    let conversation: i64 = c
        .prepare_cached(
            "INSERT INTO conversations (tenant, channel, contact_id, state, handoff, tags, \
             created_at, last_inbound_at, last_message_at, last_referral_at) \
             SELECT ?1, ?2, k.id, 'null', FALSE, '[]', ?4, ?4, ?4, ?5 FROM contacts k \
             WHERE k.tenant = ?1 AND k.channel = ?2 AND k.handle = ?3 \
             ON CONFLICT (tenant, channel, contact_id) DO UPDATE SET \
             last_inbound_at = excluded.last_inbound_at, \
             last_message_at = excluded.last_message_at, \
             last_referral_at = COALESCE(excluded.last_referral_at, conversations.last_referral_at) \
             RETURNING id",
        )
        .map_err(db)?
        .query_row(
            params![
                tenant,
                channel,
                inbound.contact.handle,
                now_ms,
                referral.is_some().then_some(now_ms)
            ],
            |row| row.get(0),
        )
        .map_err(db)?;
    let content = text(&inbound.content, "inbound content")?;
    let seq: i64 = c
        .prepare_cached(
            "INSERT INTO messages (tenant, conversation_id, channel, direction, sender, \
             content, status, provider_id, meta, created_at) \
             VALUES (?1, ?2, ?3, 'in', 'customer', ?4, 'received', ?5, '{}', ?6) RETURNING seq",
        )
        .map_err(db)?
        .query_row(
            params![
                tenant,
                conversation,
                channel,
                content,
                inbound.provider_id,
                now_ms
            ],
            |row| row.get(0),
        )
        .map_err(db)?;
    let event = serde_json::json!({
        "kind": "message",
        "message": seq,
        "inbound": crate::sql::to_json(inbound, "inbound")?,
    });
    c.prepare_cached(
        "INSERT INTO inbox (tenant, conversation_id, event, dedupe_key, status, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
    )
    .map_err(db)?
    .execute(params![
        tenant,
        conversation,
        text(&event, "inbox event")?,
        crate::sql::message_dedupe_key(seq),
        now_ms
    ])
    .map_err(db)?;
    Ok(Accepted {
        conversation,
        message: seq,
        duplicate: false,
    })
}

/// The first stored copy of an inbound message: (seq, conversation).
fn find_inbound(
    c: &Connection,
    tenant: &str,
    channel: &str,
    provider_id: &str,
) -> Result<Option<(i64, i64)>> {
    c.prepare_cached(
        "SELECT seq, conversation_id FROM messages \
         WHERE tenant = ?1 AND channel = ?2 AND provider_id = ?3 AND direction = 'in' \
         ORDER BY seq LIMIT 1",
    )
    .map_err(db)?
    .query_row(params![tenant, channel, provider_id], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })
    .optional()
    .map_err(db)
}

/// [`crate::Store::commit_turn`]: the lease and the inbox item are checked, then the
/// clinic ops and every write of the turn.
pub(crate) fn commit_turn(c: &Connection, turn: &Turn) -> Result<bool> {
    let now_ms = crate::sql::ms(turn.now);
    let conv = c
        .prepare_cached(
            "SELECT c.lease_owner, c.channel, c.contact_id, c.tags, k.handle, \
             i.status AS inbox_status \
             FROM conversations c JOIN contacts k ON k.id = c.contact_id \
             LEFT JOIN inbox i ON i.id = ?3 AND i.conversation_id = c.id \
             WHERE c.id = ?1 AND c.tenant = ?2",
        )
        .map_err(db)?
        .query_row(
            params![turn.conversation, turn.tenant, turn.inbox_id],
            |row| {
                Ok((
                    row.get::<_, Option<String>>("lease_owner")?,
                    row.get::<_, String>("channel")?,
                    row.get::<_, i64>("contact_id")?,
                    row.get::<_, String>("tags")?,
                    row.get::<_, String>("handle")?,
                    row.get::<_, Option<String>>("inbox_status")?,
                ))
            },
        )
        .optional()
        .map_err(db)?;
    // An error below undoes what the turn wrote (its savepoint, `sqlite_group`).
    let Some((owner, channel, contact, tags, handle, inbox_status)) = conv else {
        return Err(StoreError::NotFound);
    };
    if owner.as_deref() != Some(turn.owner.as_str()) {
        return Err(StoreError::LeaseLost(turn.conversation));
    }
    let Some(inbox_status) = inbox_status else {
        return Err(StoreError::NotFound);
    };
    if inbox_status == "done" {
        // Already applied (a retry after a lost acknowledgement): nothing to do.
        return Ok(false);
    }
    let tags: Vec<String> =
        serde_json::from_str(&tags).map_err(|e| StoreError::Corrupt(format!("tags: {e}")))?;
    let tags = crate::sql::merge_tags(tags, &turn.tags);

    // Leads and appointments first: a taken slot (`Conflict`) or another conversation's
    // appointment (`NotFound`) undoes the whole turn.
    crate::sqlite_clinic::apply_clinic_ops(c, turn)?;

    c.prepare_cached("UPDATE inbox SET status = 'done' WHERE id = ?1")
        .map_err(db)?
        .execute(params![turn.inbox_id])
        .map_err(db)?;
    if let Some((seq, meta)) = &turn.annotate {
        c.prepare_cached("UPDATE messages SET meta = ?1 WHERE seq = ?2 AND conversation_id = ?3")
            .map_err(db)?
            .execute(params![text(meta, "meta")?, seq, turn.conversation])
            .map_err(db)?;
    }
    // Web chat is delivered by its sockets reading the conversation: the stored message
    // is the delivery, so it needs no outbox row.
    let local = channel == channels::Channel::Webchat.as_str();
    let status = if local { "sent" } else { "queued" };
    for (index, out) in turn.outgoing.iter().enumerate() {
        let content = text(&out.content, "outgoing content")?;
        let seq: i64 = c
            .prepare_cached(
                "INSERT INTO messages (tenant, conversation_id, channel, direction, sender, \
                 content, status, meta, created_at) \
                 VALUES (?1, ?2, ?3, 'out', ?4, ?5, ?6, '{}', ?7) RETURNING seq",
            )
            .map_err(db)?
            .query_row(
                params![
                    turn.tenant,
                    turn.conversation,
                    channel,
                    out.sender,
                    content,
                    status,
                    now_ms
                ],
                |row| row.get(0),
            )
            .map_err(db)?;
        if local {
            continue;
        }
        c.prepare_cached(
            "INSERT INTO outbox (tenant, conversation_id, message_seq, channel, recipient, \
             content, idempotency_key, status, attempts, next_attempt_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 0, ?8, ?8)",
        )
        .map_err(db)?
        .execute(params![
            turn.tenant,
            turn.conversation,
            seq,
            channel,
            handle,
            content,
            format!("{}:{index}", turn.inbox_id),
            now_ms
        ])
        .map_err(db)?;
    }
    for op in &turn.timers {
        match op {
            TimerOp::Set {
                key,
                due_at,
                payload,
            } => {
                c.prepare_cached(
                    "INSERT INTO timers (tenant, conversation_id, key, due_at, payload) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (conversation_id, key) DO UPDATE SET \
                     due_at = excluded.due_at, payload = excluded.payload",
                )
                .map_err(db)?
                .execute(params![
                    turn.tenant,
                    turn.conversation,
                    key,
                    crate::sql::ms(*due_at),
                    text(payload, "timer payload")?
                ])
                .map_err(db)?;
            }
            TimerOp::Cancel { key } => {
                c.prepare_cached("DELETE FROM timers WHERE conversation_id = ?1 AND key = ?2")
                    .map_err(db)?
                    .execute(params![turn.conversation, key])
                    .map_err(db)?;
            }
        }
    }
    if turn.opt_out {
        c.prepare_cached(
            "UPDATE contacts SET opted_out_at = COALESCE(opted_out_at, ?1) WHERE id = ?2",
        )
        .map_err(db)?
        .execute(params![now_ms, contact])
        .map_err(db)?;
    }
    // State, tags, activity time and (when asked and drained) the lease, last.
    let released: bool = c
        .prepare_cached(
            "UPDATE conversations SET state = ?1, handoff = ?2, tags = ?3, \
             last_message_at = CASE WHEN ?4 THEN ?5 ELSE last_message_at END, \
             lease_until = CASE WHEN ?6 AND NOT EXISTS (SELECT 1 FROM inbox \
               WHERE conversation_id = conversations.id AND status = 'pending') \
               THEN NULL ELSE lease_until END, \
             lease_owner = CASE WHEN ?6 AND NOT EXISTS (SELECT 1 FROM inbox \
               WHERE conversation_id = conversations.id AND status = 'pending') \
               THEN NULL ELSE lease_owner END \
             WHERE id = ?7 RETURNING lease_owner IS NULL",
        )
        .map_err(db)?
        .query_row(
            params![
                text(&turn.state, "state")?,
                turn.handoff,
                text(&tags, "tags")?,
                !turn.outgoing.is_empty(),
                now_ms,
                turn.release,
                turn.conversation
            ],
            |row| row.get(0),
        )
        .map_err(db)?;
    Ok(released)
}

/// The write of [`crate::Store::claim_outbox`] (its read, [`outbox_due`], said something
/// is due): leases due rows, oldest first, keeping per conversation only rows whose
/// every older unsent row is leased here too, so messages go out in order.
pub(crate) fn claim_outbox(
    c: &Connection,
    owner: &str,
    limit: u32,
    lease: Duration,
    now: Timestamp,
) -> Result<Vec<OutboxItem>> {
    let now_ms = crate::sql::ms(now);
    // Each half of the condition reads its own partial index; an OR over both would scan
    // the whole (ever-growing) table.
    let picked: Vec<(i64, i64)> = c
        .prepare_cached(
            "SELECT id, conversation_id FROM outbox WHERE id IN ( \
             SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?1 \
             UNION ALL \
             SELECT id FROM outbox WHERE status = 'leased' AND lease_until < ?1) \
             ORDER BY id LIMIT ?2",
        )
        .map_err(db)?
        .query_map(params![now_ms, i64::from(limit)], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let mut convs: Vec<i64> = picked.iter().map(|(_, c)| *c).collect();
    convs.sort_unstable();
    convs.dedup();
    let unsent: Vec<(i64, i64)> = c
        .prepare(&format!(
            "SELECT id, conversation_id FROM outbox WHERE status IN ('queued', 'leased') \
             AND conversation_id IN ({}) ORDER BY id",
            placeholders(convs.len())
        ))
        .map_err(db)?
        .query_map(rusqlite::params_from_iter(&convs), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let keep = crate::sql::in_order(&picked, unsent);
    if keep.is_empty() {
        return Ok(Vec::new());
    }
    let mut values: Vec<rusqlite::types::Value> = vec![
        owner.to_string().into(),
        crate::sql::until(now, lease).into(),
    ];
    values.extend(keep.iter().map(|id| rusqlite::types::Value::from(*id)));
    let mut stmt = c
        .prepare(&format!(
            "UPDATE outbox SET status = 'leased', lease_owner = ?1, lease_until = ?2, \
             attempts = attempts + 1 WHERE id IN ({}) {}",
            (3..3 + keep.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            crate::sql::LEASED_OUTBOX_ROWS
        ))
        .map_err(db)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(&values))
        .map_err(db)?;
    let mut items = Vec::with_capacity(keep.len());
    while let Some(row) = rows.next().map_err(db)? {
        items.push(OutboxItem {
            id: get(row, "id")?,
            tenant: get(row, "tenant")?,
            conversation: get(row, "conversation_id")?,
            message: get(row, "message_seq")?,
            channel: crate::sql::channel(&get::<String>(row, "channel")?)?,
            to: get(row, "recipient")?,
            content: json(row, "content")?,
            attempts: get(row, "attempts")?,
            idempotency_key: get(row, "idempotency_key")?,
            sender: get::<Option<String>>(row, "sender")?.unwrap_or_else(|| "bot".into()),
            last_inbound_at: ts_opt(row, "last_inbound_at")?,
            last_referral_at: ts_opt(row, "last_referral_at")?,
        });
    }
    drop(rows);
    drop(stmt);
    items.sort_by_key(|item| item.id);
    Ok(items)
}

/// `?1, ?2, …, ?n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// [`crate::Store::outbox_sending`]: one statement (committed before the send it
/// announces).
pub(crate) fn outbox_sending(
    c: &Connection,
    id: i64,
    owner: &str,
    now: Timestamp,
    hold_until: Timestamp,
) -> Result<()> {
    let done = c
        .prepare_cached(
            "UPDATE outbox SET sending_at = ?1, \
             lease_until = CASE WHEN lease_until < ?2 THEN ?2 ELSE lease_until END \
             WHERE id = ?3 AND status = 'leased' AND lease_owner = ?4",
        )
        .map_err(db)?
        .execute(params![
            crate::sql::ms(now),
            crate::sql::ms(hold_until),
            id,
            owner
        ])
        .map_err(db)?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// [`crate::Store::outbox_sent`] (one row, with the provider's id) and
/// [`crate::Store::outbox_sent_many`] (`provider_id` none): each row and its message
/// settled together. `NotFound` for a single unknown row.
pub(crate) fn outbox_sent(
    c: &Connection,
    ids: &[i64],
    provider_id: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    for id in ids {
        let seq: Option<i64> = c
            .prepare_cached(
                "UPDATE outbox SET status = 'sent', lease_owner = NULL, lease_until = NULL, \
                 sent_at = ?1, sending_at = NULL WHERE id = ?2 RETURNING message_seq",
            )
            .map_err(db)?
            .query_row(params![crate::sql::ms(now), id], |row| row.get(0))
            .optional()
            .map_err(db)?;
        let Some(seq) = seq else {
            if ids.len() == 1 {
                return Err(StoreError::NotFound);
            }
            continue;
        };
        c.prepare_cached(
            "UPDATE messages SET provider_id = COALESCE(?1, provider_id), error = NULL, \
             status = CASE WHEN status IN ('delivered', 'read') THEN status ELSE 'sent' END \
             WHERE seq = ?2",
        )
        .map_err(db)?
        .execute(params![provider_id, seq])
        .map_err(db)?;
    }
    Ok(())
}
