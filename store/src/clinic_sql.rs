//! The SQL of [`crate::ClinicStore`] for both backends, as `sql` holds [`crate::Store`]'s:
//! appointments with their cell claims, the waitlist, leads with links and timeline, and
//! the clinic ops of a turn (applied inside `commit_turn`); plus the pure rules they apply.
//!
//! Locks (PostgreSQL) are taken in one order everywhere — conversation, leads by id,
//! appointments, claim cells by (resource, cell) — so contenders wait, not deadlock.

use crate::sql::ms;
use crate::{
    AppointmentRecord, CELL_MINUTES, LeadIdentity, LeadOp, LeadRecord, NewAppointment, Result,
    StoreError,
};
use jiff::Timestamp;
use serde_json::{Value, json};

/// One claim cell in milliseconds.
pub(crate) const CELL_MS: i64 = CELL_MINUTES * 60_000;
/// The longest span one appointment may claim. A day covers the longest visit (a hair
/// transplant); more is a caller's mistake and would insert a claim row per 5 minutes.
pub(crate) const MAX_BLOCK_MS: i64 = 24 * 60 * 60_000;
/// How long a `Hold` without `hold_until` lasts.
pub(crate) const DEFAULT_HOLD_MS: i64 = 15 * 60_000;
/// How long a claimed CRM delivery stays with its sender before it is handed out again.
pub(crate) const CRM_LEASE_MS: i64 = 60_000;
/// Page size when a filter's limit is 0.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
/// How often a lead touch looks again when a concurrent turn linked the same person.
pub(crate) const TOUCH_ATTEMPTS: usize = 4;

/// Who changes clinic records and when: the tenant, the chat (none for the admin API)
/// and the actor the lead timeline names.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) conversation: Option<i64>,
    pub(crate) actor: &'a str,
    pub(crate) now: Timestamp,
}

/// The cells `[first, end)` an interval claims: every 5-minute cell it touches.
pub(crate) fn cells(from_ms: i64, until_ms: i64) -> (i64, i64) {
    let end = until_ms.div_euclid(CELL_MS) + i64::from(until_ms.rem_euclid(CELL_MS) != 0);
    (from_ms.div_euclid(CELL_MS), end)
}

/// The claim keys of a practitioner and a room, prefixed so that a room and a
/// practitioner with the same id never collide. The practitioner's sorts first.
pub(crate) fn resource_keys(practitioner: &str, room: Option<&str>) -> (String, Option<String>) {
    (format!("p:{practitioner}"), room.map(|r| format!("r:{r}")))
}

/// What a taken claim cell means, for [`StoreError::Conflict`].
pub(crate) fn taken(key: &str, cell: i64) -> String {
    let what = match key.split_once(':') {
        Some(("p", id)) => format!("practitioner {id}"),
        Some(("r", id)) => format!("room {id}"),
        _ => key.to_string(),
    };
    let at = Timestamp::from_millisecond(cell.saturating_mul(CELL_MS))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("cell {cell}"));
    format!("slot taken: {what} at {at}")
}

/// Rejects an appointment that cannot be claimed: no practitioner, an empty or inverted
/// interval, or one longer than [`MAX_BLOCK_MS`].
pub(crate) fn validate(new: &NewAppointment) -> Result<()> {
    let (from, until) = (ms(new.blocks_from), ms(new.blocks_until));
    if new.practitioner.is_empty() || new.room.as_deref() == Some("") {
        return Err(StoreError::Invalid(
            "appointment with an empty practitioner or room".into(),
        ));
    }
    if until <= from || new.ends_at < new.starts_at {
        return Err(StoreError::Invalid(format!(
            "appointment blocks {}..{}, visit {}..{}: empty or inverted",
            new.blocks_from, new.blocks_until, new.starts_at, new.ends_at
        )));
    }
    if until - from > MAX_BLOCK_MS {
        return Err(StoreError::Invalid(format!(
            "appointment blocks {}..{}: longer than a day",
            new.blocks_from, new.blocks_until
        )));
    }
    Ok(())
}

/// An appointment's slot as a lead timeline entry shows it.
pub(crate) fn slot_json(a: &AppointmentRecord) -> Value {
    json!({
        "appointment": a.id,
        "service": a.service,
        "practitioner": a.practitioner,
        "room": a.room,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "customer_tz": a.customer_tz,
    })
}

/// The payload of the inbox event offering a freed slot to waitlist entry `entry`
/// (the shape [`crate::WAITLIST_TIMER_KEY`] documents).
/// Which of a conversation's holds (`$1` conversation, `$2` tenant) are slots its waitlist
/// offer gave it: `ReleaseHolds` passes them on to the next in line.
pub(crate) const WAITLIST_HELD_SLOTS: &str = "conversation_id = $1 AND tenant = $2 \
     AND status = 'held' AND EXISTS (SELECT 1 FROM waitlist w \
     WHERE w.conversation_id = appointments.conversation_id \
     AND w.service = appointments.service AND w.status = 'offered')";

/// Run by `ReleaseHolds` with `[now_ms, conversation]`: a waitlist offer the conversation
/// did not take goes back to waiting, keeping its place in line (its `created_at`),
/// unless the conversation has joined that waitlist again meanwhile; then it is done.
pub(crate) const WAITLIST_OFFER_NOT_TAKEN: [&str; 2] = [
    "UPDATE waitlist SET status = 'waiting', updated_at = $1 \
     WHERE conversation_id = $2 AND status = 'offered' \
     AND id = (SELECT MAX(w.id) FROM waitlist w WHERE w.conversation_id = waitlist.conversation_id \
               AND w.service = waitlist.service AND w.status = 'offered') \
     AND NOT EXISTS (SELECT 1 FROM waitlist w WHERE w.conversation_id = waitlist.conversation_id \
                     AND w.service = waitlist.service AND w.status = 'waiting')",
    "UPDATE waitlist SET status = 'done', updated_at = $1 \
     WHERE conversation_id = $2 AND status = 'offered'",
];

pub(crate) fn waitlist_offer(a: &AppointmentRecord, entry: i64) -> Value {
    json!({
        "kind": "timer",
        "key": crate::WAITLIST_TIMER_KEY,
        "payload": {
            "service": a.service,
            "practitioner": a.practitioner,
            "room": a.room,
            "starts_at": a.starts_at,
            "ends_at": a.ends_at,
            "blocks_from": a.blocks_from,
            "blocks_until": a.blocks_until,
            "waitlist": entry,
        },
    })
}

/// A value as stored in a link: trimmed, e-mail lowercased; `None` when empty.
fn link_value(kind: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some(if kind == "email" {
        value.to_lowercase()
    } else {
        value.to_string()
    })
}

/// The links an identity claims, always in this order (email, handle, phone): two
/// turns linking the same values then wait on each other instead of deadlocking.
pub(crate) fn identity_links(identity: &LeadIdentity) -> Vec<(&'static str, String)> {
    [
        ("email", identity.email.as_deref()),
        ("handle", Some(identity.handle.as_str())),
        ("phone", identity.phone.as_deref()),
    ]
    .into_iter()
    .filter_map(|(kind, value)| Some((kind, link_value(kind, value?)?)))
    .collect()
}

/// Gives `lead` what it lacks from `identity` (known values are never overwritten).
pub(crate) fn fill_identity(lead: &mut LeadRecord, identity: &LeadIdentity) {
    let fill = |field: &mut Option<String>, value: Option<String>| {
        if field.is_none() {
            *field = value;
        }
    };
    fn clean(v: &Option<String>) -> Option<String> {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
    fill(&mut lead.name, clean(&identity.name));
    fill(
        &mut lead.phone,
        identity
            .phone
            .as_deref()
            .and_then(|p| link_value("phone", p)),
    );
    fill(
        &mut lead.email,
        identity
            .email
            .as_deref()
            .and_then(|e| link_value("email", e)),
    );
    fill(&mut lead.source, clean(&identity.source));
    fill(&mut lead.language, clean(&identity.language));
}

/// Folds `absorbed` into `survivor` (the older lead of one person): what the survivor
/// lacks it takes; its stage stays (stages are configurable, so "further" is not known
/// here); the higher score wins with its reasons; the earliest response and due times,
/// the latest activity.
pub(crate) fn merge_into(survivor: &mut LeadRecord, absorbed: &LeadRecord) {
    fn fill<T: Clone>(field: &mut Option<T>, other: &Option<T>) {
        if field.is_none() {
            field.clone_from(other);
        }
    }
    fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fill(&mut survivor.name, &absorbed.name);
    fill(&mut survivor.phone, &absorbed.phone);
    fill(&mut survivor.email, &absorbed.email);
    fill(&mut survivor.assignee, &absorbed.assignee);
    fill(&mut survivor.source, &absorbed.source);
    fill(&mut survivor.language, &absorbed.language);
    fill(&mut survivor.treatment, &absorbed.treatment);
    fill(&mut survivor.value_try, &absorbed.value_try);
    if absorbed.score > survivor.score {
        survivor.score = absorbed.score;
        survivor.score_reasons.clone_from(&absorbed.score_reasons);
    }
    survivor.first_response_at = earliest(survivor.first_response_at, absorbed.first_response_at);
    survivor.first_response_due = if survivor.first_response_at.is_some() {
        None
    } else {
        earliest(survivor.first_response_due, absorbed.first_response_due)
    };
    survivor.sla_breached |= absorbed.sla_breached;
    survivor.created_at = survivor.created_at.min(absorbed.created_at);
    survivor.last_activity_at = survivor.last_activity_at.max(absorbed.last_activity_at);
}

/// What one op changes on `lead` (any op but `Touch`, which the SQL side does): the
/// timeline entry to write, or `None` when nothing changed (a repeated stage, score or
/// assignee, a second human response, a breach already recorded). `Event` always writes.
pub(crate) fn apply_op(
    lead: &mut LeadRecord,
    op: &LeadOp,
    now: Timestamp,
) -> Option<(String, Value)> {
    let entry = |kind: &str, data: Value| Some((kind.to_string(), data));
    match op {
        LeadOp::Touch { .. } => None,
        LeadOp::Stage { stage, lost_reason } => {
            if lead.stage == *stage && lead.lost_reason == *lost_reason {
                return None;
            }
            let from = std::mem::replace(&mut lead.stage, stage.clone());
            lead.lost_reason.clone_from(lost_reason);
            entry(
                "stage_changed",
                json!({"from": from, "to": stage, "lost_reason": lost_reason}),
            )
        }
        LeadOp::Interest {
            treatment,
            value_try,
        } => {
            let before = (lead.treatment.clone(), lead.value_try);
            if treatment.is_some() {
                lead.treatment.clone_from(treatment);
            }
            if value_try.is_some() {
                lead.value_try = *value_try;
            }
            if (lead.treatment.clone(), lead.value_try) == before {
                return None;
            }
            entry(
                "interest",
                json!({"treatment": lead.treatment, "value_try": lead.value_try}),
            )
        }
        LeadOp::Score { score, reasons } => {
            if lead.score == *score && lead.score_reasons == *reasons {
                return None;
            }
            lead.score = *score;
            lead.score_reasons.clone_from(reasons);
            entry("scored", json!({"score": score, "reasons": reasons}))
        }
        LeadOp::Assign { assignee } => {
            if lead.assignee == *assignee {
                return None;
            }
            let from = std::mem::replace(&mut lead.assignee, assignee.clone());
            entry("assigned", json!({"from": from, "to": assignee}))
        }
        LeadOp::SlaDue { due } => {
            if lead.first_response_due == *due {
                return None;
            }
            lead.first_response_due = *due;
            entry("sla_set", json!({"due": due}))
        }
        LeadOp::HumanResponded => {
            if lead.first_response_at.is_some() {
                return None;
            }
            lead.first_response_at = Some(now);
            let due = lead.first_response_due.take();
            entry("first_response", json!({"at": now, "due": due}))
        }
        LeadOp::SlaBreached => {
            if lead.sla_breached {
                return None;
            }
            lead.sla_breached = true;
            entry("sla_breached", json!({"due": lead.first_response_due}))
        }
        LeadOp::Event { kind, data } => Some((kind.clone(), data.clone())),
    }
}

/// A lead not stored yet (id 0): `stage`, created `now`, with what `identity` tells.
pub(crate) fn new_lead(
    tenant: &str,
    identity: &LeadIdentity,
    stage: &str,
    now: Timestamp,
) -> LeadRecord {
    let mut lead = LeadRecord {
        id: 0,
        tenant: tenant.to_string(),
        name: None,
        phone: None,
        email: None,
        handles: Vec::new(),
        stage: stage.to_string(),
        lost_reason: None,
        score: 0,
        score_reasons: Vec::new(),
        assignee: None,
        source: None,
        language: None,
        treatment: None,
        value_try: None,
        first_response_due: None,
        first_response_at: None,
        sla_breached: false,
        created_at: now,
        updated_at: now,
        last_activity_at: now,
    };
    fill_identity(&mut lead, identity);
    lead
}

/// A PostgreSQL deadlock or serialization failure inside clinic ops (two turns of one
/// person merging their leads at the same instant) is a conflict: re-run the turn.
pub(crate) fn contention(error: StoreError) -> StoreError {
    if let StoreError::Database(sqlx::Error::Database(db)) = &error
        && matches!(db.code().as_deref(), Some("40P01" | "40001"))
    {
        return StoreError::Conflict(format!("changed concurrently: {db}"));
    }
    error
}

/// Implements [`crate::ClinicStore`] for `$store` over `$db`, next to (and using the
/// helpers of) [`crate::sql::impl_sql_store`], which invokes it; also defines
/// `apply_clinic_ops`, which `commit_turn` calls inside its transaction. The literals
/// are the row-lock clauses of that macro (empty for SQLite).
macro_rules! impl_sql_clinic {
    (
        $store:ty, $db:ty,
        lock_row = $lock_row:literal,
        claim_rows = $claim_rows:literal $(,)?
    ) => {
        type DbConn = <$db as sqlx::Database>::Connection;

        const APPOINTMENT_COLUMNS: &str = "id, tenant, conversation_id, lead_id, service, \
             practitioner, room, starts_at, ends_at, blocks_from, blocks_until, status, \
             hold_expires_at, customer_tz, note, created_at, updated_at";

        const LEAD_COLUMNS: &str = "id, tenant, name, phone, email, stage, lost_reason, score, \
             score_reasons, assignee, source, language, treatment, value_try, first_response_due, \
             first_response_at, sla_breached, created_at, updated_at, last_activity_at";

        fn appointment_from_row(row: &DbRow) -> $crate::Result<$crate::AppointmentRecord> {
            let status: String = get(row, "status")?;
            Ok($crate::AppointmentRecord {
                id: get(row, "id")?,
                tenant: get(row, "tenant")?,
                conversation: get(row, "conversation_id")?,
                lead: get(row, "lead_id")?,
                service: get(row, "service")?,
                practitioner: get(row, "practitioner")?,
                room: get(row, "room")?,
                starts_at: get_ts(row, "starts_at")?,
                ends_at: get_ts(row, "ends_at")?,
                blocks_from: get_ts(row, "blocks_from")?,
                blocks_until: get_ts(row, "blocks_until")?,
                status: $crate::AppointmentStatus::parse(&status).ok_or_else(|| {
                    $crate::StoreError::Corrupt(format!("unknown appointment status {status:?}"))
                })?,
                hold_expires_at: get_ts_opt(row, "hold_expires_at")?,
                customer_tz: get(row, "customer_tz")?,
                note: get(row, "note")?,
                created_at: get_ts(row, "created_at")?,
                updated_at: get_ts(row, "updated_at")?,
            })
        }

        /// A lead without its handles (see `with_handles`).
        fn lead_from_row(row: &DbRow) -> $crate::Result<$crate::LeadRecord> {
            Ok($crate::LeadRecord {
                id: get(row, "id")?,
                tenant: get(row, "tenant")?,
                name: get(row, "name")?,
                phone: get(row, "phone")?,
                email: get(row, "email")?,
                handles: Vec::new(),
                stage: get(row, "stage")?,
                lost_reason: get(row, "lost_reason")?,
                score: get(row, "score")?,
                score_reasons: get_json(row, "score_reasons")?,
                assignee: get(row, "assignee")?,
                source: get(row, "source")?,
                language: get(row, "language")?,
                treatment: get(row, "treatment")?,
                value_try: get(row, "value_try")?,
                first_response_due: get_ts_opt(row, "first_response_due")?,
                first_response_at: get_ts_opt(row, "first_response_at")?,
                sla_breached: get(row, "sla_breached")?,
                created_at: get_ts(row, "created_at")?,
                updated_at: get_ts(row, "updated_at")?,
                last_activity_at: get_ts(row, "last_activity_at")?,
            })
        }

        fn lead_event_from_row(row: &DbRow) -> $crate::Result<$crate::LeadEvent> {
            Ok($crate::LeadEvent {
                id: get(row, "id")?,
                lead: get(row, "lead_id")?,
                at: get_ts(row, "at")?,
                kind: get(row, "kind")?,
                actor: get(row, "actor")?,
                data: get_json(row, "data")?,
            })
        }

        /// Fills `handles` of each lead: its `handle` links, in the order they were made.
        async fn with_handles<'e, E>(
            executor: E,
            mut leads: Vec<$crate::LeadRecord>,
        ) -> $crate::Result<Vec<$crate::LeadRecord>>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            if leads.is_empty() {
                return Ok(leads);
            }
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "SELECT lead_id, value FROM lead_links WHERE kind = 'handle' AND lead_id IN (",
            );
            let mut sep = qb.separated(", ");
            for lead in &leads {
                sep.push_bind(lead.id);
            }
            qb.push(") ORDER BY created_at, value");
            let rows: Vec<(i64, String)> = qb.build_query_as().fetch_all(executor).await?;
            for lead in &mut leads {
                lead.handles = rows
                    .iter()
                    .filter(|(id, _)| *id == lead.id)
                    .map(|(_, value)| value.clone())
                    .collect();
            }
            Ok(leads)
        }

        async fn read_appointment(
            conn: &mut DbConn,
            id: i64,
        ) -> $crate::Result<$crate::AppointmentRecord> {
            let row = sqlx::query(&format!(
                "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
            appointment_from_row(&row)
        }

        /// The tenant's appointment `id` (of `conversation`, when given), locked.
        async fn lock_appointment(
            conn: &mut DbConn,
            tenant: &str,
            id: i64,
            conversation: Option<i64>,
        ) -> $crate::Result<Option<$crate::AppointmentRecord>> {
            let row = sqlx::query(&format!(
                "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE id = $1 AND tenant = $2 \
                 AND ($3 IS NULL OR conversation_id = $3){}",
                $lock_row
            ))
            .bind(id)
            .bind(tenant)
            .bind(conversation)
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(appointment_from_row).transpose()
        }

        async fn insert_appointment(
            conn: &mut DbConn,
            scope: $crate::clinic_sql::Scope<'_>,
            lead: Option<i64>,
            new: &$crate::NewAppointment,
            status: $crate::AppointmentStatus,
            hold_expires_at: Option<i64>,
        ) -> $crate::Result<i64> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO appointments (tenant, conversation_id, lead_id, service, practitioner, \
                 room, starts_at, ends_at, blocks_from, blocks_until, status, hold_expires_at, \
                 customer_tz, note, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
                 RETURNING id",
            )
            .bind(scope.tenant)
            .bind(scope.conversation)
            .bind(lead)
            .bind(&new.service)
            .bind(&new.practitioner)
            .bind(&new.room)
            .bind($crate::sql::ms(new.starts_at))
            .bind($crate::sql::ms(new.ends_at))
            .bind($crate::sql::ms(new.blocks_from))
            .bind($crate::sql::ms(new.blocks_until))
            .bind(status.as_str())
            .bind(hold_expires_at)
            .bind(&new.customer_tz)
            .bind(&new.note)
            .bind($crate::sql::ms(scope.now))
            .fetch_one(&mut *conn)
            .await?;
            Ok(id)
        }

        /// Claims the cells of `blocks` on the practitioner and the room for appointment
        /// `id`. `None` when every cell is now ours; otherwise what was taken (the cells
        /// that were free are ours too: the caller rolls back or deletes them).
        ///
        /// Expired holds on the wanted cells give them up first (and are cancelled). The
        /// insert then lets the primary key decide: a cell another transaction holds,
        /// committed or not, is not inserted (PostgreSQL waits for that transaction).
        /// Cells go in in (resource, cell) order, the same in every transaction.
        async fn claim_cells(
            conn: &mut DbConn,
            tenant: &str,
            id: i64,
            practitioner: &str,
            room: Option<&str>,
            blocks: (i64, i64),
            now_ms: i64,
        ) -> $crate::Result<Option<String>> {
            let (first, end) = $crate::clinic_sql::cells(blocks.0, blocks.1);
            let (p, r) = $crate::clinic_sql::resource_keys(practitioner, room);
            let expired: Vec<i64> = sqlx::query_scalar(
                "SELECT DISTINCT a.id FROM appointment_claims c \
                 JOIN appointments a ON a.id = c.appointment_id \
                 WHERE c.tenant = $1 AND c.resource IN ($2, $3) AND c.cell >= $4 AND c.cell < $5 \
                 AND a.status = 'held' AND a.hold_expires_at <= $6 ORDER BY a.id",
            )
            .bind(tenant)
            .bind(&p)
            .bind(&r)
            .bind(first)
            .bind(end)
            .bind(now_ms)
            .fetch_all(&mut *conn)
            .await?;
            for hold in expired {
                let lapsed = sqlx::query(
                    "UPDATE appointments SET status = 'cancelled', updated_at = $2 \
                     WHERE id = $1 AND status = 'held' AND hold_expires_at <= $2",
                )
                .bind(hold)
                .bind(now_ms)
                .execute(&mut *conn)
                .await?;
                if lapsed.rows_affected() > 0 {
                    release_claims(conn, hold).await?;
                }
            }
            let got: Vec<(String, i64)> = sqlx::query_as(
                "WITH RECURSIVE span (cell) AS ( \
                   SELECT CAST($3 AS BIGINT) UNION ALL SELECT cell + 1 FROM span WHERE cell + 1 < $4) \
                 INSERT INTO appointment_claims (tenant, resource, cell, appointment_id) \
                 SELECT $1, r.resource, span.cell, $2 FROM span \
                 CROSS JOIN (SELECT $5 AS resource UNION ALL SELECT $6 WHERE $6 IS NOT NULL) r \
                 WHERE TRUE ORDER BY r.resource, span.cell \
                 ON CONFLICT DO NOTHING RETURNING resource, cell",
            )
            .bind(tenant)
            .bind(id)
            .bind(first)
            .bind(end)
            .bind(&p)
            .bind(&r)
            .fetch_all(&mut *conn)
            .await?;
            let per_resource = usize::try_from(end - first).unwrap_or(0);
            if got.len() == per_resource * (1 + usize::from(r.is_some())) {
                return Ok(None);
            }
            let got: std::collections::HashSet<(String, i64)> = got.into_iter().collect();
            for key in std::iter::once(p).chain(r) {
                for cell in first..end {
                    if !got.contains(&(key.clone(), cell)) {
                        return Ok(Some($crate::clinic_sql::taken(&key, cell)));
                    }
                }
            }
            Err($crate::StoreError::Corrupt(format!(
                "appointment {id}: claims missing but none taken"
            )))
        }

        async fn release_claims(conn: &mut DbConn, id: i64) -> $crate::Result<()> {
            sqlx::query("DELETE FROM appointment_claims WHERE appointment_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// Cancels the conversation's holds (all, or all but `keep`), freeing their cells.
        async fn release_holds(
            conn: &mut DbConn,
            tenant: &str,
            conversation: i64,
            keep: Option<i64>,
            now_ms: i64,
        ) -> $crate::Result<()> {
            sqlx::query(
                "DELETE FROM appointment_claims WHERE appointment_id IN (SELECT id FROM appointments \
                 WHERE conversation_id = $1 AND tenant = $2 AND status = 'held' \
                 AND ($3 IS NULL OR id <> $3))",
            )
            .bind(conversation)
            .bind(tenant)
            .bind(keep)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE appointments SET status = 'cancelled', updated_at = $4 \
                 WHERE conversation_id = $1 AND tenant = $2 AND status = 'held' \
                 AND ($3 IS NULL OR id <> $3)",
            )
            .bind(conversation)
            .bind(tenant)
            .bind(keep)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// Offers a freed slot to the oldest waiting entry of the tenant for that service
        /// (any practitioner or this one), not of `exclude`: marks it offered and queues
        /// the offer as an inbox event of its conversation, which makes it claimable.
        async fn offer_waitlist(
            conn: &mut DbConn,
            slot: &$crate::AppointmentRecord,
            exclude: Option<i64>,
            now_ms: i64,
        ) -> $crate::Result<()> {
            // Oldest first, the first whose wish the slot meets; taken with SKIP LOCKED,
            // so two slots freed at once go to two entries, not one twice.
            let waiting: Vec<(i64, i64, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT id, conversation_id, part, tz FROM waitlist WHERE tenant = $1 \
                 AND service = $2 AND status = 'waiting' \
                 AND (practitioner IS NULL OR practitioner = $3) \
                 AND ($4 IS NULL OR conversation_id <> $4) ORDER BY created_at, id",
            )
            .bind(&slot.tenant)
            .bind(&slot.service)
            .bind(&slot.practitioner)
            .bind(exclude)
            .fetch_all(&mut *conn)
            .await?;
            let mut next = None;
            for (entry, conversation, part, tz) in waiting {
                if !$crate::clinic::waitlist_takes(part.as_deref(), tz.as_deref(), slot.starts_at) {
                    continue;
                }
                let mine: Option<i64> = sqlx::query_scalar(concat!(
                    "SELECT id FROM waitlist WHERE id = $1 AND status = 'waiting'",
                    $claim_rows
                ))
                .bind(entry)
                .fetch_optional(&mut *conn)
                .await?;
                if mine.is_some() {
                    next = Some((entry, conversation));
                    break;
                }
            }
            let Some((entry, conversation)) = next else {
                return Ok(());
            };
            sqlx::query("UPDATE waitlist SET status = 'offered', updated_at = $2 WHERE id = $1")
                .bind(entry)
                .bind(now_ms)
                .execute(&mut *conn)
                .await?;
            let event = $crate::clinic_sql::waitlist_offer(slot, entry);
            sqlx::query(
                "INSERT INTO inbox (tenant, conversation_id, event, dedupe_key, status, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
            )
            .bind(&slot.tenant)
            .bind(conversation)
            .bind(sqlx::types::Json(&event))
            .bind(format!("{}:{entry}", $crate::WAITLIST_TIMER_KEY))
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            tracing::debug!(tenant = %slot.tenant, conversation, waitlist = entry, "freed slot offered");
            Ok(())
        }

        /// Sets `a`'s status, releasing its cells when it no longer occupies them (and
        /// offering a cancelled booking to the waitlist), or claiming them again when it
        /// does (`Conflict` when taken meanwhile).
        async fn change_status(
            conn: &mut DbConn,
            a: &$crate::AppointmentRecord,
            status: $crate::AppointmentStatus,
            exclude: Option<i64>,
            now_ms: i64,
        ) -> $crate::Result<()> {
            use $crate::AppointmentStatus as S;
            if a.status.occupies() && !status.occupies() {
                release_claims(conn, a.id).await?;
            } else if !a.status.occupies() && status.occupies() {
                let blocks = ($crate::sql::ms(a.blocks_from), $crate::sql::ms(a.blocks_until));
                if let Some(taken) = claim_cells(
                    conn, &a.tenant, a.id, &a.practitioner, a.room.as_deref(), blocks, now_ms,
                )
                .await?
                {
                    return Err($crate::StoreError::Conflict(taken));
                }
            }
            sqlx::query(
                "UPDATE appointments SET status = $2, \
                 hold_expires_at = CASE WHEN $2 = 'held' THEN hold_expires_at ELSE NULL END, \
                 updated_at = $3 WHERE id = $1",
            )
            .bind(a.id)
            .bind(status.as_str())
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            if a.status == S::Booked && status == S::Cancelled {
                offer_waitlist(conn, a, exclude, now_ms).await?;
            }
            Ok(())
        }

        /// Appends a timeline entry (queued for the CRM webhook).
        async fn add_lead_event(
            conn: &mut DbConn,
            tenant: &str,
            lead: i64,
            kind: &str,
            actor: &str,
            data: &serde_json::Value,
            now_ms: i64,
        ) -> $crate::Result<i64> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO lead_events (tenant, lead_id, at, kind, actor, data, crm_status, \
                 crm_attempts, crm_next_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $3) \
                 RETURNING id",
            )
            .bind(tenant)
            .bind(lead)
            .bind(now_ms)
            .bind(kind)
            .bind(actor)
            .bind(sqlx::types::Json(data))
            .fetch_one(&mut *conn)
            .await?;
            Ok(id)
        }

        /// An appointment entry on a turn's lead, which counts as activity.
        async fn lead_appointment_event(
            conn: &mut DbConn,
            tenant: &str,
            lead: Option<i64>,
            kind: &str,
            data: &serde_json::Value,
            now_ms: i64,
        ) -> $crate::Result<()> {
            let Some(lead) = lead else {
                return Ok(());
            };
            add_lead_event(conn, tenant, lead, kind, "bot", data, now_ms).await?;
            sqlx::query("UPDATE leads SET last_activity_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(lead)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        async fn save_lead(conn: &mut DbConn, lead: &$crate::LeadRecord) -> $crate::Result<()> {
            sqlx::query(
                "UPDATE leads SET name = $2, phone = $3, email = $4, stage = $5, lost_reason = $6, \
                 score = $7, score_reasons = $8, assignee = $9, source = $10, language = $11, \
                 treatment = $12, value_try = $13, first_response_due = $14, \
                 first_response_at = $15, sla_breached = $16, created_at = $17, updated_at = $18, \
                 last_activity_at = $19 WHERE id = $1",
            )
            .bind(lead.id)
            .bind(&lead.name)
            .bind(&lead.phone)
            .bind(&lead.email)
            .bind(&lead.stage)
            .bind(&lead.lost_reason)
            .bind(lead.score)
            .bind(sqlx::types::Json(&lead.score_reasons))
            .bind(&lead.assignee)
            .bind(&lead.source)
            .bind(&lead.language)
            .bind(&lead.treatment)
            .bind(lead.value_try)
            .bind(lead.first_response_due.map($crate::sql::ms))
            .bind(lead.first_response_at.map($crate::sql::ms))
            .bind(lead.sla_breached)
            .bind($crate::sql::ms(lead.created_at))
            .bind($crate::sql::ms(lead.updated_at))
            .bind($crate::sql::ms(lead.last_activity_at))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// The tenant's leads with these ids that still exist, locked in id order.
        async fn lock_leads(
            conn: &mut DbConn,
            tenant: &str,
            ids: &[i64],
        ) -> $crate::Result<Vec<$crate::LeadRecord>> {
            let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                "SELECT {LEAD_COLUMNS} FROM leads WHERE tenant = "
            ));
            qb.push_bind(tenant.to_string()).push(" AND id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            qb.push(concat!(") ORDER BY id", $lock_row));
            let rows = qb.build().fetch_all(&mut *conn).await?;
            rows.iter().map(lead_from_row).collect()
        }

        /// The conversation's lead, locked. A lead merged away by a concurrent turn
        /// (PostgreSQL) is gone when its lock is granted: the link is read again.
        async fn conversation_lead(
            conn: &mut DbConn,
            tenant: &str,
            conversation: i64,
        ) -> $crate::Result<Option<$crate::LeadRecord>> {
            for _ in 0..$crate::clinic_sql::TOUCH_ATTEMPTS {
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT lead_id FROM lead_conversations WHERE conversation_id = $1 AND tenant = $2",
                )
                .bind(conversation)
                .bind(tenant)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(id) = id else {
                    return Ok(None);
                };
                if let Some(lead) = lock_leads(conn, tenant, &[id]).await?.pop() {
                    return Ok(Some(lead));
                }
            }
            Err($crate::StoreError::Conflict(format!(
                "lead of conversation {conversation} changed concurrently"
            )))
        }

        /// Moves everything of `absorbed` to `survivor` and deletes it; records `merged`.
        /// Appointments move first: the only children another transaction may be adding
        /// without holding the lead's lock (an agent's status change) hang off them.
        async fn absorb_lead(
            conn: &mut DbConn,
            survivor: &mut $crate::LeadRecord,
            absorbed: &$crate::LeadRecord,
            actor: &str,
            now_ms: i64,
        ) -> $crate::Result<()> {
            for sql in [
                "UPDATE appointments SET lead_id = $1 WHERE lead_id = $2",
                "UPDATE lead_events SET lead_id = $1 WHERE lead_id = $2",
                "UPDATE lead_links SET lead_id = $1 WHERE lead_id = $2",
                "UPDATE lead_conversations SET lead_id = $1 WHERE lead_id = $2",
            ] {
                sqlx::query(sql)
                    .bind(survivor.id)
                    .bind(absorbed.id)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("DELETE FROM leads WHERE id = $1")
                .bind(absorbed.id)
                .execute(&mut *conn)
                .await?;
            $crate::clinic_sql::merge_into(survivor, absorbed);
            let data = serde_json::json!({
                "absorbed": absorbed.id,
                "stage": absorbed.stage,
                "source": absorbed.source,
                "created_at": absorbed.created_at,
            });
            add_lead_event(conn, &survivor.tenant, survivor.id, "merged", actor, &data, now_ms).await?;
            Ok(())
        }

        async fn create_lead(
            conn: &mut DbConn,
            tenant: &str,
            identity: &$crate::LeadIdentity,
            stage: &str,
            actor: &str,
            now: jiff::Timestamp,
        ) -> $crate::Result<$crate::LeadRecord> {
            let mut lead = $crate::clinic_sql::new_lead(tenant, identity, stage, now);
            let now_ms = $crate::sql::ms(now);
            lead.id = sqlx::query_scalar(
                "INSERT INTO leads (tenant, name, phone, email, stage, score, score_reasons, source, \
                 language, sla_breached, created_at, updated_at, last_activity_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, FALSE, $9, $9, $9) RETURNING id",
            )
            .bind(tenant)
            .bind(&lead.name)
            .bind(&lead.phone)
            .bind(&lead.email)
            .bind(stage)
            .bind(sqlx::types::Json(&lead.score_reasons))
            .bind(&lead.source)
            .bind(&lead.language)
            .bind(now_ms)
            .fetch_one(&mut *conn)
            .await?;
            let data = serde_json::json!({
                "stage": stage,
                "handle": identity.handle,
                "phone": lead.phone,
                "email": lead.email,
                "source": lead.source,
            });
            add_lead_event(conn, tenant, lead.id, "created", actor, &data, now_ms).await?;
            Ok(lead)
        }

        /// `LeadOp::Touch`: the lead of this person — found by any of its links (and
        /// `current`, the conversation's lead), merged into the oldest when several, or
        /// created — with what it lacked filled in, every link and the conversation linked.
        async fn touch_lead(
            conn: &mut DbConn,
            scope: $crate::clinic_sql::Scope<'_>,
            mut current: Option<$crate::LeadRecord>,
            identity: &$crate::LeadIdentity,
            stage: &str,
        ) -> $crate::Result<$crate::LeadRecord> {
            let $crate::clinic_sql::Scope { tenant, conversation, actor, now } = scope;
            let now_ms = $crate::sql::ms(now);
            let links = $crate::clinic_sql::identity_links(identity);
            let mut created = false;
            let mut linked: Vec<serde_json::Value> = Vec::new();
            for _ in 0..$crate::clinic_sql::TOUCH_ATTEMPTS {
                // 1. Every lead this person already is.
                let mut ids: Vec<i64> = Vec::new();
                if !links.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "SELECT DISTINCT lead_id FROM lead_links WHERE tenant = ",
                    );
                    qb.push_bind(tenant.to_string()).push(" AND (");
                    for (i, (kind, value)) in links.iter().enumerate() {
                        if i > 0 {
                            qb.push(" OR ");
                        }
                        qb.push("(kind = ")
                            .push_bind(*kind)
                            .push(" AND value = ")
                            .push_bind(value.clone())
                            .push(")");
                    }
                    qb.push(")");
                    ids = qb.build_query_scalar().fetch_all(&mut *conn).await?;
                }
                ids.extend(current.as_ref().map(|l| l.id));
                ids.sort_unstable();
                ids.dedup();
                let fresh = ids.is_empty();
                let mut lead = if fresh {
                    created = true;
                    create_lead(conn, tenant, identity, stage, actor, now).await?
                } else {
                    let mut found = lock_leads(conn, tenant, &ids).await?;
                    if found.len() != ids.len() {
                        // One was merged away by a concurrent turn before we got its lock.
                        current = match (conversation, current) {
                            (Some(c), _) => conversation_lead(conn, tenant, c).await?,
                            (None, Some(c)) if !found.iter().any(|l| l.id == c.id) => {
                                return Err($crate::StoreError::NotFound);
                            }
                            (None, c) => c,
                        };
                        continue;
                    }
                    found.sort_by_key(|l| (l.created_at, l.id));
                    let mut survivor = found.remove(0);
                    for absorbed in &found {
                        absorb_lead(conn, &mut survivor, absorbed, actor, now_ms).await?;
                    }
                    survivor
                };
                $crate::clinic_sql::fill_identity(&mut lead, identity);

                // 2. Link every value. One linked meanwhile to another lead (the same
                //    person writing on another channel at this instant) is one more merge.
                let mut contended = false;
                // One statement for every link; those it did not insert exist already.
                let mut inserted: Vec<(String, String)> = Vec::new();
                if !links.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO lead_links (tenant, kind, value, lead_id, created_at) ",
                    );
                    qb.push_values(&links, |mut row, (kind, value)| {
                        row.push_bind(tenant.to_string())
                            .push_bind(*kind)
                            .push_bind(value.clone())
                            .push_bind(lead.id)
                            .push_bind(now_ms);
                    });
                    qb.push(" ON CONFLICT DO NOTHING RETURNING kind, value");
                    inserted = qb.build_query_as().fetch_all(&mut *conn).await?;
                }
                for (kind, value) in &links {
                    if inserted.iter().any(|(k, v)| k == kind && v == value) {
                        linked.push(serde_json::json!({"kind": kind, "value": value}));
                        continue;
                    }
                    let owner: Option<i64> = sqlx::query_scalar(
                        "SELECT lead_id FROM lead_links WHERE tenant = $1 AND kind = $2 AND value = $3",
                    )
                    .bind(tenant)
                    .bind(*kind)
                    .bind(value)
                    .fetch_optional(&mut *conn)
                    .await?;
                    contended |= owner != Some(lead.id);
                }
                // A lead created just now is stored as it stands.
                if !fresh {
                    lead.last_activity_at = now;
                    lead.updated_at = now;
                    save_lead(conn, &lead).await?;
                }
                if contended {
                    current = Some(lead);
                    continue;
                }

                // 3. The conversation.
                let mut conversation_linked = None;
                if let Some(c) = conversation {
                    conversation_linked = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO lead_conversations (conversation_id, tenant, lead_id, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id) DO UPDATE SET \
                         lead_id = excluded.lead_id WHERE lead_conversations.lead_id <> excluded.lead_id \
                         RETURNING conversation_id",
                    )
                    .bind(c)
                    .bind(tenant)
                    .bind(lead.id)
                    .bind(now_ms)
                    .fetch_optional(&mut *conn)
                    .await?;
                }
                if !created && (!linked.is_empty() || conversation_linked.is_some()) {
                    let data = serde_json::json!({
                        "links": linked,
                        "conversation": conversation_linked,
                    });
                    add_lead_event(conn, tenant, lead.id, "linked", actor, &data, now_ms).await?;
                }
                return Ok(lead);
            }
            Err($crate::StoreError::Conflict(format!(
                "lead of {} changed concurrently",
                identity.handle
            )))
        }

        /// Applies `ops` to `lead` (or, before any `Touch`, to no lead: skipped), each
        /// recorded on the timeline with `actor`. Returns the lead as it ends up.
        async fn apply_lead_ops(
            conn: &mut DbConn,
            scope: $crate::clinic_sql::Scope<'_>,
            mut lead: Option<$crate::LeadRecord>,
            ops: &[$crate::LeadOp],
        ) -> $crate::Result<Option<$crate::LeadRecord>> {
            let $crate::clinic_sql::Scope { actor, now, .. } = scope;
            let now_ms = $crate::sql::ms(now);
            // The ops between two touches change the lead in memory; it is saved once,
            // with their timeline entries in one statement, before the next touch
            // (which reads leads) and at the end.
            let mut unsaved: Option<Vec<(String, serde_json::Value)>> = None;
            for op in ops {
                if let $crate::LeadOp::Touch { identity, stage } = op {
                    if let (Some(current), Some(events)) = (lead.as_ref(), unsaved.take()) {
                        save_lead_with_events(conn, current, actor, events, now_ms).await?;
                    }
                    let current = lead.take();
                    lead = Some(touch_lead(conn, scope, current, identity, stage).await?);
                    continue;
                }
                let Some(current) = lead.as_mut() else {
                    continue;
                };
                let change = $crate::clinic_sql::apply_op(current, op, now);
                current.last_activity_at = now;
                current.updated_at = now;
                unsaved.get_or_insert_with(Vec::new).extend(change);
            }
            if let (Some(current), Some(events)) = (lead.as_ref(), unsaved) {
                save_lead_with_events(conn, current, actor, events, now_ms).await?;
            }
            Ok(lead)
        }

        /// Saves `lead` and appends `events` (kind, data) to its timeline, in order.
        async fn save_lead_with_events(
            conn: &mut DbConn,
            lead: &$crate::LeadRecord,
            actor: &str,
            events: Vec<(String, serde_json::Value)>,
            now_ms: i64,
        ) -> $crate::Result<()> {
            save_lead(conn, lead).await?;
            if events.is_empty() {
                return Ok(());
            }
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO lead_events (tenant, lead_id, at, kind, actor, data, crm_status, \
                 crm_attempts, crm_next_at) ",
            );
            qb.push_values(events, |mut row, (kind, data)| {
                row.push_bind(lead.tenant.clone())
                    .push_bind(lead.id)
                    .push_bind(now_ms)
                    .push_bind(kind)
                    .push_bind(actor.to_string())
                    .push_bind(sqlx::types::Json(data))
                    .push("'pending'")
                    .push("0")
                    .push_bind(now_ms);
            });
            qb.build().execute(&mut *conn).await?;
            Ok(())
        }

        /// The clinic part of a turn, inside `commit_turn`'s transaction (the conversation
        /// row locked): the lead ops, then the appointment ops. Any error rolls the whole
        /// turn back.
        async fn apply_clinic_ops(conn: &mut DbConn, turn: &$crate::Turn) -> $crate::Result<()> {
            if turn.lead.is_empty() && turn.appointments.is_empty() {
                return Ok(());
            }
            let tenant = turn.tenant.as_str();
            let conversation = turn.conversation;
            // The lead before any appointment row: the lock order of every path.
            let lead = conversation_lead(conn, tenant, conversation).await?;
            let scope = $crate::clinic_sql::Scope {
                tenant,
                conversation: Some(conversation),
                actor: "bot",
                now: turn.now,
            };
            let lead = apply_lead_ops(conn, scope, lead, &turn.lead).await?;
            let lead = lead.map(|l| l.id);
            for op in &turn.appointments {
                apply_appointment_op(conn, tenant, conversation, lead, op, turn.now).await?;
            }
            Ok(())
        }

        async fn apply_appointment_op(
            conn: &mut DbConn,
            tenant: &str,
            conversation: i64,
            lead: Option<i64>,
            op: &$crate::AppointmentOp,
            now: jiff::Timestamp,
        ) -> $crate::Result<()> {
            use $crate::AppointmentOp as Op;
            use $crate::AppointmentStatus as S;
            let now_ms = $crate::sql::ms(now);
            let scope = $crate::clinic_sql::Scope {
                tenant,
                conversation: Some(conversation),
                actor: "bot",
                now,
            };
            match op {
                Op::Hold(new) => {
                    // Best effort: a hold that cannot be had is skipped, never an error.
                    if let Err(why) = $crate::clinic_sql::validate(new) {
                        tracing::warn!(tenant, conversation, %why, "hold skipped");
                        return Ok(());
                    }
                    let expires = new
                        .hold_until
                        .map($crate::sql::ms)
                        .unwrap_or(now_ms + $crate::clinic_sql::DEFAULT_HOLD_MS);
                    if expires <= now_ms {
                        return Ok(());
                    }
                    let id = insert_appointment(conn, scope, lead, new, S::Held, Some(expires)).await?;
                    let blocks = ($crate::sql::ms(new.blocks_from), $crate::sql::ms(new.blocks_until));
                    if let Some(taken) = claim_cells(
                        conn, tenant, id, &new.practitioner, new.room.as_deref(), blocks, now_ms,
                    )
                    .await?
                    {
                        tracing::debug!(tenant, conversation, %taken, "hold skipped");
                        release_claims(conn, id).await?;
                        sqlx::query("DELETE FROM appointments WHERE id = $1")
                            .bind(id)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                Op::Book(new) => {
                    $crate::clinic_sql::validate(new)?;
                    let own: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM appointments WHERE conversation_id = $1 AND tenant = $2 \
                         AND status = 'held' AND hold_expires_at > $3 AND service = $4 \
                         AND practitioner = $5 AND COALESCE(room, '') = COALESCE($6, '') \
                         AND starts_at = $7 AND blocks_from = $8 AND blocks_until = $9 \
                         ORDER BY id LIMIT 1",
                    )
                    .bind(conversation)
                    .bind(tenant)
                    .bind(now_ms)
                    .bind(&new.service)
                    .bind(&new.practitioner)
                    .bind(&new.room)
                    .bind($crate::sql::ms(new.starts_at))
                    .bind($crate::sql::ms(new.blocks_from))
                    .bind($crate::sql::ms(new.blocks_until))
                    .fetch_optional(&mut *conn)
                    .await?;
                    release_holds(conn, tenant, conversation, own, now_ms).await?;
                    let id = match own {
                        Some(id) => {
                            sqlx::query(
                                "UPDATE appointments SET status = 'booked', hold_expires_at = NULL, \
                                 ends_at = $2, customer_tz = $3, note = $4, \
                                 lead_id = COALESCE(lead_id, $5), updated_at = $6 WHERE id = $1",
                            )
                            .bind(id)
                            .bind($crate::sql::ms(new.ends_at))
                            .bind(&new.customer_tz)
                            .bind(&new.note)
                            .bind(lead)
                            .bind(now_ms)
                            .execute(&mut *conn)
                            .await?;
                            id
                        }
                        None => {
                            let id = insert_appointment(conn, scope, lead, new, S::Booked, None).await?;
                            let blocks =
                                ($crate::sql::ms(new.blocks_from), $crate::sql::ms(new.blocks_until));
                            if let Some(taken) = claim_cells(
                                conn, tenant, id, &new.practitioner, new.room.as_deref(), blocks,
                                now_ms,
                            )
                            .await?
                            {
                                return Err($crate::StoreError::Conflict(taken));
                            }
                            id
                        }
                    };
                    // Booked what it waited for: off the waitlist for that service.
                    sqlx::query(
                        "UPDATE waitlist SET status = 'done', updated_at = $3 WHERE conversation_id = $1 \
                         AND service = $2 AND status IN ('waiting', 'offered')",
                    )
                    .bind(conversation)
                    .bind(&new.service)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                    let booked = read_appointment(conn, id).await?;
                    let data = $crate::clinic_sql::slot_json(&booked);
                    lead_appointment_event(conn, tenant, lead, "appointment_booked", &data, now_ms)
                        .await?;
                }
                Op::Cancel { id } => {
                    let Some(a) = lock_appointment(conn, tenant, *id, Some(conversation)).await? else {
                        return Err($crate::StoreError::NotFound);
                    };
                    if !matches!(a.status, S::Held | S::Booked) {
                        return Ok(());
                    }
                    change_status(conn, &a, S::Cancelled, Some(conversation), now_ms).await?;
                    if a.status == S::Booked {
                        let data = $crate::clinic_sql::slot_json(&a);
                        lead_appointment_event(conn, tenant, lead, "appointment_cancelled", &data, now_ms)
                            .await?;
                    }
                }
                Op::Reschedule { id, to } => {
                    $crate::clinic_sql::validate(to)?;
                    let Some(old) = lock_appointment(conn, tenant, *id, Some(conversation)).await? else {
                        return Err($crate::StoreError::NotFound);
                    };
                    if old.status != S::Booked {
                        return Err($crate::StoreError::Invalid(format!(
                            "appointment {id} is {}, not booked",
                            old.status.as_str()
                        )));
                    }
                    // The conversation's own holds (the new slot among them, usually)
                    // and the old slot's cells give way; a conflict undoes all of it.
                    release_holds(conn, tenant, conversation, None, now_ms).await?;
                    release_claims(conn, old.id).await?;
                    let blocks = ($crate::sql::ms(to.blocks_from), $crate::sql::ms(to.blocks_until));
                    if let Some(taken) = claim_cells(
                        conn, tenant, old.id, &to.practitioner, to.room.as_deref(), blocks, now_ms,
                    )
                    .await?
                    {
                        return Err($crate::StoreError::Conflict(taken));
                    }
                    sqlx::query(
                        "UPDATE appointments SET service = $2, practitioner = $3, room = $4, \
                         starts_at = $5, ends_at = $6, blocks_from = $7, blocks_until = $8, \
                         customer_tz = COALESCE($9, customer_tz), note = COALESCE($10, note), \
                         lead_id = COALESCE(lead_id, $11), updated_at = $12 WHERE id = $1",
                    )
                    .bind(old.id)
                    .bind(&to.service)
                    .bind(&to.practitioner)
                    .bind(&to.room)
                    .bind($crate::sql::ms(to.starts_at))
                    .bind($crate::sql::ms(to.ends_at))
                    .bind(blocks.0)
                    .bind(blocks.1)
                    .bind(&to.customer_tz)
                    .bind(&to.note)
                    .bind(lead)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                    // The old slot is free for someone else, unless the move kept part of it.
                    let overlaps = to.practitioner == old.practitioner
                        && to.blocks_from < old.blocks_until
                        && old.blocks_from < to.blocks_until;
                    if !overlaps {
                        offer_waitlist(conn, &old, Some(conversation), now_ms).await?;
                    }
                    let moved = read_appointment(conn, old.id).await?;
                    let data = serde_json::json!({
                        "appointment": old.id,
                        "from": $crate::clinic_sql::slot_json(&old),
                        "to": $crate::clinic_sql::slot_json(&moved),
                    });
                    lead_appointment_event(conn, tenant, lead, "appointment_rescheduled", &data, now_ms)
                        .await?;
                }
                Op::ReleaseHolds => {
                    let passed = sqlx::query(&format!(
                        "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE {}",
                        $crate::clinic_sql::WAITLIST_HELD_SLOTS
                    ))
                    .bind(conversation)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                    release_holds(conn, tenant, conversation, None, now_ms).await?;
                    for sql in $crate::clinic_sql::WAITLIST_OFFER_NOT_TAKEN {
                        sqlx::query(sql).bind(now_ms).bind(conversation).execute(&mut *conn).await?;
                    }
                    for row in &passed {
                        offer_waitlist(conn, &appointment_from_row(row)?, Some(conversation), now_ms).await?;
                    }
                }
                Op::JoinWaitlist {
                    service,
                    practitioner,
                    part,
                    tz,
                } => {
                    // One waiting entry per conversation and service; joining again
                    // updates the wish and keeps the place in line.
                    let updated = sqlx::query(
                        "UPDATE waitlist SET practitioner = $3, part = $4, tz = $5, updated_at = $6 \
                         WHERE conversation_id = $1 AND service = $2 AND status = 'waiting'",
                    )
                    .bind(conversation)
                    .bind(service)
                    .bind(practitioner)
                    .bind(part)
                    .bind(tz)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                    if updated.rows_affected() == 0 {
                        sqlx::query(
                            "INSERT INTO waitlist (tenant, conversation_id, service, practitioner, \
                             part, tz, status, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $7)",
                        )
                        .bind(tenant)
                        .bind(conversation)
                        .bind(service)
                        .bind(practitioner)
                        .bind(part)
                        .bind(tz)
                        .bind(now_ms)
                        .execute(&mut *conn)
                        .await?;
                    }
                }
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::ClinicStore for $store {
            async fn busy(
                &self,
                tenant: &str,
                from: jiff::Timestamp,
                to: jiff::Timestamp,
                now: jiff::Timestamp,
            ) -> $crate::Result<Vec<$crate::BusyBlock>> {
                let rows = sqlx::query(
                    "SELECT id, conversation_id, practitioner, room, blocks_from, blocks_until, status \
                     FROM appointments WHERE tenant = $1 AND blocks_until > $2 AND blocks_from < $3 \
                     AND (status IN ('booked', 'showed') OR (status = 'held' AND hold_expires_at > $4)) \
                     ORDER BY blocks_from, id",
                )
                .bind(tenant)
                .bind($crate::sql::ms(from))
                .bind($crate::sql::ms(to))
                .bind($crate::sql::ms(now))
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                let mut blocks = Vec::with_capacity(rows.len() * 2);
                for row in &rows {
                    let practitioner: String = get(row, "practitioner")?;
                    let room: Option<String> = get(row, "room")?;
                    for resource in std::iter::once(practitioner).chain(room) {
                        blocks.push($crate::BusyBlock {
                            resource,
                            from: get_ts(row, "blocks_from")?,
                            until: get_ts(row, "blocks_until")?,
                            appointment: get(row, "id")?,
                            conversation: get(row, "conversation_id")?,
                            held: get::<String>(row, "status")? == "held",
                        });
                    }
                }
                Ok(blocks)
            }

            async fn appointment(
                &self,
                tenant: &str,
                id: i64,
            ) -> $crate::Result<Option<$crate::AppointmentRecord>> {
                let row = sqlx::query(&format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant = $1 AND id = $2"
                ))
                .bind(tenant)
                .bind(id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
                row.as_ref().map(appointment_from_row).transpose()
            }

            async fn appointments(
                &self,
                tenant: &str,
                filter: &$crate::AppointmentFilter,
            ) -> $crate::Result<Vec<$crate::AppointmentRecord>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant = "
                ));
                qb.push_bind(tenant.to_string());
                if let Some(conversation) = filter.conversation {
                    qb.push(" AND conversation_id = ").push_bind(conversation);
                }
                if let Some(practitioner) = &filter.practitioner {
                    qb.push(" AND practitioner = ").push_bind(practitioner.clone());
                }
                if !filter.statuses.is_empty() {
                    qb.push(" AND status IN (");
                    let mut sep = qb.separated(", ");
                    for status in &filter.statuses {
                        sep.push_bind(status.as_str());
                    }
                    qb.push(")");
                }
                if let Some(from) = filter.from {
                    qb.push(" AND starts_at >= ").push_bind($crate::sql::ms(from));
                }
                if let Some(to) = filter.to {
                    qb.push(" AND starts_at < ").push_bind($crate::sql::ms(to));
                }
                let limit = match filter.limit {
                    0 => $crate::clinic_sql::DEFAULT_LIMIT,
                    n => n,
                };
                qb.push(" ORDER BY starts_at, id LIMIT ").push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&mut *self.read_conn().await?).await?;
                rows.iter().map(appointment_from_row).collect()
            }

            async fn book(
                &self,
                tenant: &str,
                new: &$crate::NewAppointment,
                now: jiff::Timestamp,
            ) -> $crate::Result<$crate::AppointmentRecord> {
                $crate::clinic_sql::validate(new)?;
                let now_ms = $crate::sql::ms(now);
                let mut tx = self.write_tx().await?;
                let scope = $crate::clinic_sql::Scope {
                    tenant,
                    conversation: None,
                    actor: "system",
                    now,
                };
                let booked = $crate::AppointmentStatus::Booked;
                let id = insert_appointment(&mut tx, scope, None, new, booked, None).await?;
                let blocks = ($crate::sql::ms(new.blocks_from), $crate::sql::ms(new.blocks_until));
                match claim_cells(&mut tx, tenant, id, &new.practitioner, new.room.as_deref(), blocks, now_ms)
                    .await
                {
                    Ok(None) => {}
                    Ok(Some(taken)) => return abandon(tx, Err($crate::StoreError::Conflict(taken))).await,
                    Err(e) => return abandon(tx, Err(e)).await,
                }
                let booked = read_appointment(&mut tx, id).await?;
                tx.commit().await?;
                Ok(booked)
            }

            async fn set_appointment_status(
                &self,
                tenant: &str,
                id: i64,
                status: $crate::AppointmentStatus,
                now: jiff::Timestamp,
            ) -> $crate::Result<$crate::AppointmentRecord> {
                use $crate::AppointmentStatus as S;
                if !matches!(status, S::Cancelled | S::Showed | S::NoShow) {
                    return Err($crate::StoreError::Invalid(format!(
                        "status {} is set by booking, not by hand",
                        status.as_str()
                    )));
                }
                let now_ms = $crate::sql::ms(now);
                let mut tx = self.write_tx().await?;
                let Some(a) = lock_appointment(&mut tx, tenant, id, None).await? else {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                };
                if a.status == status {
                    return abandon(tx, Ok(a)).await;
                }
                if a.status == S::Cancelled {
                    let why = format!("appointment {id} is cancelled");
                    return abandon(tx, Err($crate::StoreError::Invalid(why))).await;
                }
                if let Err(e) = change_status(&mut tx, &a, status, a.conversation, now_ms).await {
                    return abandon(tx, Err(e)).await;
                }
                if let Some(lead) = a.lead {
                    // Only the entry, not the lead row: an agent's change must not wait
                    // on (or deadlock with) a turn that holds the lead.
                    let kind = format!("appointment_{}", status.as_str());
                    let data = $crate::clinic_sql::slot_json(&a);
                    add_lead_event(&mut tx, tenant, lead, &kind, "system", &data, now_ms).await?;
                }
                let changed = read_appointment(&mut tx, id).await?;
                tx.commit().await?;
                Ok(changed)
            }

            async fn waitlist(&self, tenant: &str) -> $crate::Result<Vec<$crate::WaitlistEntry>> {
                let rows = sqlx::query(
                    "SELECT id, tenant, conversation_id, service, practitioner, part, status, created_at \
                     FROM waitlist WHERE tenant = $1 ORDER BY created_at, id",
                )
                .bind(tenant)
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::WaitlistEntry {
                            id: get(row, "id")?,
                            tenant: get(row, "tenant")?,
                            conversation: get(row, "conversation_id")?,
                            service: get(row, "service")?,
                            practitioner: get(row, "practitioner")?,
                            part: get(row, "part")?,
                            status: get(row, "status")?,
                            created_at: get_ts(row, "created_at")?,
                        })
                    })
                    .collect()
            }

            async fn lead_for_conversation(
                &self,
                tenant: &str,
                conversation: i64,
            ) -> $crate::Result<Option<$crate::LeadRecord>> {
                let row = sqlx::query(&format!(
                    "SELECT {LEAD_COLUMNS} FROM leads WHERE tenant = $1 AND id = \
                     (SELECT lead_id FROM lead_conversations WHERE conversation_id = $2 AND tenant = $1)"
                ))
                .bind(tenant)
                .bind(conversation)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
                let leads = row.as_ref().map(lead_from_row).transpose()?.into_iter().collect();
                Ok(with_handles(&mut *self.read_conn().await?, leads).await?.pop())
            }

            async fn lead(&self, tenant: &str, id: i64) -> $crate::Result<Option<$crate::LeadRecord>> {
                let row = sqlx::query(&format!(
                    "SELECT {LEAD_COLUMNS} FROM leads WHERE tenant = $1 AND id = $2"
                ))
                .bind(tenant)
                .bind(id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
                let leads = row.as_ref().map(lead_from_row).transpose()?.into_iter().collect();
                Ok(with_handles(&mut *self.read_conn().await?, leads).await?.pop())
            }

            async fn leads(
                &self,
                tenant: &str,
                filter: &$crate::LeadFilter,
            ) -> $crate::Result<Vec<$crate::LeadRecord>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {LEAD_COLUMNS} FROM leads WHERE tenant = "
                ));
                qb.push_bind(tenant.to_string());
                if let Some(stage) = &filter.stage {
                    qb.push(" AND stage = ").push_bind(stage.clone());
                }
                if let Some(source) = &filter.source {
                    qb.push(" AND source = ").push_bind(source.clone());
                }
                if let Some(assignee) = &filter.assignee {
                    qb.push(" AND assignee = ").push_bind(assignee.clone());
                }
                if let Some(min) = filter.min_score {
                    qb.push(" AND score >= ").push_bind(min);
                }
                if let Some(from) = filter.from {
                    qb.push(" AND created_at >= ").push_bind($crate::sql::ms(from));
                }
                if let Some(to) = filter.to {
                    qb.push(" AND created_at < ").push_bind($crate::sql::ms(to));
                }
                let limit = match filter.limit {
                    0 => $crate::clinic_sql::DEFAULT_LIMIT,
                    n => n,
                };
                qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(filter.offset));
                let rows = qb.build().fetch_all(&mut *self.read_conn().await?).await?;
                let leads = rows.iter().map(lead_from_row).collect::<$crate::Result<Vec<_>>>()?;
                with_handles(&mut *self.read_conn().await?, leads).await
            }

            async fn lead_events(
                &self,
                tenant: &str,
                lead: i64,
            ) -> $crate::Result<Vec<$crate::LeadEvent>> {
                let rows = sqlx::query(
                    "SELECT id, lead_id, at, kind, actor, data FROM lead_events \
                     WHERE tenant = $1 AND lead_id = $2 ORDER BY at, id",
                )
                .bind(tenant)
                .bind(lead)
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                rows.iter().map(lead_event_from_row).collect()
            }

            async fn update_lead(
                &self,
                tenant: &str,
                lead: i64,
                ops: &[$crate::LeadOp],
                actor: &str,
                now: jiff::Timestamp,
            ) -> $crate::Result<$crate::LeadRecord> {
                let mut tx = self.write_tx().await?;
                let Some(current) = lock_leads(&mut tx, tenant, &[lead]).await?.pop() else {
                    return abandon(tx, Err($crate::StoreError::NotFound)).await;
                };
                let scope = $crate::clinic_sql::Scope {
                    tenant,
                    conversation: None,
                    actor,
                    now,
                };
                let applied = apply_lead_ops(&mut tx, scope, Some(current), ops).await;
                let updated = match applied {
                    Ok(Some(updated)) => updated,
                    Ok(None) => {
                        let why = format!("lead {lead} vanished");
                        return abandon(tx, Err($crate::StoreError::Corrupt(why))).await;
                    }
                    Err(e) => return abandon(tx, Err($crate::clinic_sql::contention(e))).await,
                };
                let updated = with_handles(&mut *tx, vec![updated]).await?.pop();
                tx.commit().await?;
                updated.ok_or($crate::StoreError::NotFound)
            }

            /// From the counts triggers keep (migrations `0006_lead_loads.sql`): a few
            /// rows, however many leads the tenant has.
            async fn assignee_loads(&self, tenant: &str) -> $crate::Result<Vec<$crate::AssigneeLoad>> {
                let rows = sqlx::query(
                    "SELECT assignee, open_leads, last_assigned_at FROM lead_loads \
                     WHERE tenant = $1 AND (open_leads > 0 OR last_assigned_at IS NOT NULL) \
                     ORDER BY assignee",
                )
                .bind(tenant)
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::AssigneeLoad {
                            assignee: get(row, "assignee")?,
                            open_leads: get(row, "open_leads")?,
                            last_assigned_at: get_ts_opt(row, "last_assigned_at")?,
                        })
                    })
                    .collect()
            }

            async fn claim_crm_deliveries(
                &self,
                tenants: &[String],
                limit: u32,
                now: jiff::Timestamp,
            ) -> $crate::Result<Vec<$crate::CrmDelivery>> {
                if tenants.is_empty() || limit == 0 {
                    return Ok(Vec::new());
                }
                let now_ms = $crate::sql::ms(now);
                let mut tx = self.write_tx().await?;
                // 1. Due events, oldest first, skipping rows another claimer holds.
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, lead_id FROM lead_events WHERE crm_status IN ('pending', 'failed') \
                     AND crm_next_at <= ",
                );
                qb.push_bind(now_ms)
                    .push(" AND (crm_lease_until IS NULL OR crm_lease_until < ")
                    .push_bind(now_ms)
                    .push(") AND tenant IN (");
                let mut sep = qb.separated(", ");
                for tenant in tenants {
                    sep.push_bind(tenant.clone());
                }
                qb.push(") ORDER BY id LIMIT ")
                    .push_bind(i64::from(limit))
                    .push($claim_rows);
                let picked: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
                if picked.is_empty() {
                    tx.commit().await?;
                    return Ok(Vec::new());
                }
                // 2. Per lead, in order: an event goes only when every older undelivered
                //    event of its lead goes with it (one waiting for a retry, or leased to
                //    another sender, holds the later ones back), as the outbox does.
                let mut leads: Vec<i64> = picked.iter().map(|(_, lead)| *lead).collect();
                leads.sort_unstable();
                leads.dedup();
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, lead_id FROM lead_events WHERE crm_status IN ('pending', 'failed') \
                     AND lead_id IN (",
                );
                let mut sep = qb.separated(", ");
                for lead in &leads {
                    sep.push_bind(*lead);
                }
                qb.push(") ORDER BY id");
                let undelivered: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
                let mine: std::collections::HashSet<i64> = picked.iter().map(|(id, _)| *id).collect();
                let mut blocked = std::collections::HashSet::new();
                let mut keep = Vec::new();
                for (id, lead) in undelivered {
                    if blocked.contains(&lead) {
                        continue;
                    }
                    if mine.contains(&id) {
                        keep.push(id);
                    } else {
                        blocked.insert(lead);
                    }
                }
                if keep.is_empty() {
                    tx.commit().await?;
                    return Ok(Vec::new());
                }
                // 3. Lease what we keep.
                let mut qb = sqlx::QueryBuilder::<$db>::new("UPDATE lead_events SET crm_lease_until = ");
                qb.push_bind(now_ms.saturating_add($crate::clinic_sql::CRM_LEASE_MS))
                    .push(", crm_attempts = crm_attempts + 1 WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in &keep {
                    sep.push_bind(*id);
                }
                qb.push(") RETURNING id, tenant, lead_id, at, kind, actor, data, crm_attempts");
                let rows = qb.build().fetch_all(&mut *tx).await?;
                tx.commit().await?;
                let mut deliveries = rows
                    .iter()
                    .map(|row| {
                        Ok($crate::CrmDelivery {
                            event: lead_event_from_row(row)?,
                            tenant: get(row, "tenant")?,
                            attempts: get(row, "crm_attempts")?,
                        })
                    })
                    .collect::<$crate::Result<Vec<_>>>()?;
                deliveries.sort_by_key(|d| d.event.id);
                Ok(deliveries)
            }

            async fn crm_delivered(
                &self,
                event: i64,
                error: Option<&str>,
                retry_at: Option<jiff::Timestamp>,
            ) -> $crate::Result<()> {
                let status = match (error, retry_at) {
                    (None, None) => "sent",
                    (_, Some(_)) => "failed",
                    (Some(_), None) => "gave_up",
                };
                // A settled event (sent, given up) is not reopened by a late report.
                let done = sqlx::query(
                    "UPDATE lead_events SET crm_status = $2, crm_error = $3, \
                     crm_next_at = COALESCE($4, crm_next_at), crm_lease_until = NULL \
                     WHERE id = $1 AND crm_status IN ('pending', 'failed')",
                )
                .bind(event)
                .bind(status)
                .bind(error)
                .bind(retry_at.map($crate::sql::ms))
                .execute(&mut *self.write_conn().await?)
                .await?;
                if done.rows_affected() == 0 {
                    let found: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM lead_events WHERE id = $1")
                            .bind(event)
                            .fetch_optional(&mut *self.read_conn().await?)
                            .await?;
                    if found.is_none() {
                        return Err($crate::StoreError::NotFound);
                    }
                }
                Ok(())
            }
        }
    };
}

pub(crate) use impl_sql_clinic;

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_748_736_000).unwrap() + SignedDuration::from_secs(secs)
    }

    fn lead(id: i64, created: i64) -> LeadRecord {
        LeadRecord {
            id,
            ..new_lead("t", &LeadIdentity::default(), "new", t(created))
        }
    }

    #[test]
    fn cells_cover_every_touched_five_minutes() {
        let m = 60_000;
        assert_eq!(cells(0, 30 * m), (0, 6));
        assert_eq!(
            cells(m, 30 * m + 1),
            (0, 7),
            "partial cells at both ends count"
        );
        assert_eq!(cells(10 * m, 15 * m), (2, 3));
        assert_eq!(cells(-m, m), (-1, 1), "before 1970 still floors");
    }

    #[test]
    fn resource_keys_never_collide_and_sort_practitioner_first() {
        let (p, r) = resource_keys("koltuk-1", Some("koltuk-1"));
        assert_ne!(Some(&p), r.as_ref());
        assert!(p < r.unwrap());
        assert_eq!(resource_keys("dr-ayse", None), ("p:dr-ayse".into(), None));
    }

    #[test]
    fn taken_names_resource_and_time() {
        let cell = t(3600).as_millisecond() / CELL_MS;
        assert_eq!(
            taken("p:dr-ayse", cell),
            "slot taken: practitioner dr-ayse at 2025-06-01T01:00:00Z"
        );
        assert!(taken("r:koltuk-1", cell).starts_with("slot taken: room koltuk-1 at "));
    }

    #[test]
    fn invalid_appointments_are_refused() {
        let ok = NewAppointment {
            service: "muayene".into(),
            practitioner: "dr".into(),
            room: None,
            starts_at: t(0),
            ends_at: t(1800),
            blocks_from: t(0),
            blocks_until: t(1800),
            hold_until: None,
            customer_tz: None,
            note: None,
        };
        assert!(validate(&ok).is_ok());
        let empty = NewAppointment {
            blocks_until: t(0),
            ..ok.clone()
        };
        let long = NewAppointment {
            blocks_until: t(2 * 86_400),
            ..ok.clone()
        };
        let nobody = NewAppointment {
            practitioner: String::new(),
            ..ok.clone()
        };
        for bad in [empty, long, nobody] {
            assert!(
                matches!(validate(&bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn identity_links_are_clean_and_ordered() {
        let identity = LeadIdentity {
            handle: " instagram:ayse ".into(),
            phone: Some("+905551112233".into()),
            email: Some(" Ayse@Example.COM".into()),
            ..Default::default()
        };
        assert_eq!(
            identity_links(&identity),
            [
                ("email", "ayse@example.com".to_string()),
                ("handle", "instagram:ayse".to_string()),
                ("phone", "+905551112233".to_string()),
            ]
        );
        let bare = LeadIdentity {
            handle: String::new(),
            phone: Some("  ".into()),
            ..Default::default()
        };
        assert!(identity_links(&bare).is_empty());
    }

    #[test]
    fn merge_keeps_the_survivors_stage_and_takes_what_it_lacks() {
        let mut old = lead(1, 0);
        old.phone = Some("+90555".into());
        old.score = 10;
        old.first_response_due = Some(t(100));
        let mut young = lead(2, 50);
        young.stage = "quoted".into();
        young.name = Some("Ayşe".into());
        young.phone = Some("+90666".into());
        young.score = 40;
        young.score_reasons = vec!["bütçe".into()];
        young.first_response_at = Some(t(60));
        young.sla_breached = true;
        young.last_activity_at = t(90);
        merge_into(&mut old, &young);
        assert_eq!(old.stage, "new");
        assert_eq!(old.name.as_deref(), Some("Ayşe"));
        assert_eq!(old.phone.as_deref(), Some("+90555"), "known values stay");
        assert_eq!(
            (old.score, old.score_reasons.clone()),
            (40, vec!["bütçe".to_string()])
        );
        assert_eq!(old.first_response_at, Some(t(60)));
        assert_eq!(old.first_response_due, None, "answered: nothing is due");
        assert!(old.sla_breached);
        assert_eq!((old.created_at, old.last_activity_at), (t(0), t(90)));
    }

    #[test]
    fn ops_write_entries_only_when_they_change_something() {
        let mut l = lead(1, 0);
        let stage = LeadOp::Stage {
            stage: "lost".into(),
            lost_reason: Some("fiyat".into()),
        };
        let (kind, data) = apply_op(&mut l, &stage, t(1)).unwrap();
        assert_eq!(kind, "stage_changed");
        assert_eq!(
            data,
            json!({"from": "new", "to": "lost", "lost_reason": "fiyat"})
        );
        assert_eq!(apply_op(&mut l, &stage, t(2)), None);

        let assign = LeadOp::Assign {
            assignee: Some("zeynep".into()),
        };
        assert_eq!(
            apply_op(&mut l, &assign, t(3)).unwrap().1,
            json!({"from": null, "to": "zeynep"})
        );
        assert_eq!(apply_op(&mut l, &assign, t(4)), None);

        l.first_response_due = Some(t(10));
        let (kind, _) = apply_op(&mut l, &LeadOp::HumanResponded, t(5)).unwrap();
        assert_eq!(kind, "first_response");
        assert_eq!(
            (l.first_response_at, l.first_response_due),
            (Some(t(5)), None)
        );
        assert_eq!(
            apply_op(&mut l, &LeadOp::HumanResponded, t(6)),
            None,
            "only the first"
        );

        assert!(apply_op(&mut l, &LeadOp::SlaBreached, t(7)).is_some());
        assert_eq!(apply_op(&mut l, &LeadOp::SlaBreached, t(8)), None);

        let interest = LeadOp::Interest {
            treatment: Some("implant".into()),
            value_try: None,
        };
        assert_eq!(apply_op(&mut l, &interest, t(9)).unwrap().0, "interest");
        assert_eq!(apply_op(&mut l, &interest, t(9)), None);

        let note = LeadOp::Event {
            kind: "note".into(),
            data: json!({"text": "aradı"}),
        };
        assert_eq!(apply_op(&mut l, &note, t(10)).unwrap().0, "note");
        assert_eq!(apply_op(&mut l, &note, t(11)).unwrap().0, "note", "always");
    }
}
