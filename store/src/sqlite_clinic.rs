//! The clinic ops of a turn (leads, appointments, the waitlist) on the SQLite file
//! through rusqlite, inside [`crate::sqlite_fast::commit_turn`]'s transaction.
//!
//! Why a second writing of `clinic_sql.rs`'s turn part: over sqlx every statement is a
//! hand-off to the connection's thread with the writer held, and a turn that touches a
//! lead runs ten of them, which capped a clinic's WhatsApp number at a few hundred
//! messages a second. Same statements, same order, same rules (the pure ones are
//! `clinic_sql`'s own); the conformance suite holds both writings to the same results.

use crate::clinic_sql::{self, Scope};
use crate::sql::ms;
use crate::sqlite_fast::{db, get, json, text, ts, ts_opt};
use crate::{
    AppointmentOp, AppointmentRecord, AppointmentStatus, LeadIdentity, LeadOp, LeadRecord,
    NewAppointment, Result, StoreError, Turn,
};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::{Value, json};

const APPOINTMENT_COLUMNS: &str = "id, tenant, conversation_id, lead_id, service, \
     practitioner, room, starts_at, ends_at, blocks_from, blocks_until, status, \
     hold_expires_at, customer_tz, note, created_at, updated_at";

const LEAD_COLUMNS: &str = "id, tenant, name, phone, email, stage, lost_reason, score, \
     score_reasons, assignee, source, language, treatment, value_try, first_response_due, \
     first_response_at, sla_breached, created_at, updated_at, last_activity_at";

fn appointment_from_row(row: &Row<'_>) -> Result<AppointmentRecord> {
    let status: String = get(row, "status")?;
    Ok(AppointmentRecord {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        conversation: get(row, "conversation_id")?,
        lead: get(row, "lead_id")?,
        service: get(row, "service")?,
        practitioner: get(row, "practitioner")?,
        room: get(row, "room")?,
        starts_at: ts(row, "starts_at")?,
        ends_at: ts(row, "ends_at")?,
        blocks_from: ts(row, "blocks_from")?,
        blocks_until: ts(row, "blocks_until")?,
        status: AppointmentStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown appointment status {status:?}")))?,
        hold_expires_at: ts_opt(row, "hold_expires_at")?,
        customer_tz: get(row, "customer_tz")?,
        note: get(row, "note")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// A lead without its handles, which the turn's ops never read.
fn lead_from_row(row: &Row<'_>) -> Result<LeadRecord> {
    Ok(LeadRecord {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        phone: get(row, "phone")?,
        email: get(row, "email")?,
        handles: Vec::new(),
        stage: get(row, "stage")?,
        lost_reason: get(row, "lost_reason")?,
        score: get(row, "score")?,
        score_reasons: json(row, "score_reasons")?,
        assignee: get(row, "assignee")?,
        source: get(row, "source")?,
        language: get(row, "language")?,
        treatment: get(row, "treatment")?,
        value_try: get(row, "value_try")?,
        first_response_due: ts_opt(row, "first_response_due")?,
        first_response_at: ts_opt(row, "first_response_at")?,
        sla_breached: get(row, "sla_breached")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        last_activity_at: ts(row, "last_activity_at")?,
    })
}

/// Runs `sql` (cached) with `params`, returning the rows it changed.
fn exec(c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    c.prepare_cached(sql)
        .map_err(db)?
        .execute(params)
        .map_err(db)
}

/// The first column of every row of `sql`.
fn column<T: rusqlite::types::FromSql>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let rows = stmt.query_map(params, |row| row.get(0)).map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db)
}

/// The first column of the first row of `sql`, if any.
fn scalar<T: rusqlite::types::FromSql>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>> {
    c.prepare_cached(sql)
        .map_err(db)?
        .query_row(params, |row| row.get(0))
        .optional()
        .map_err(db)
}

/// `?first, ?first+1, …` for `n` values.
fn numbered(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The clinic part of a turn, inside `commit_turn`'s transaction: the lead ops, then
/// the appointment ops. Any error rolls the whole turn back.
pub(crate) fn apply_clinic_ops(c: &Connection, turn: &Turn) -> Result<()> {
    if turn.lead.is_empty() && turn.appointments.is_empty() {
        return Ok(());
    }
    let tenant = turn.tenant.as_str();
    let conversation = turn.conversation;
    let lead = conversation_lead(c, tenant, conversation)?;
    let scope = Scope {
        tenant,
        conversation: Some(conversation),
        actor: "bot",
        now: turn.now,
    };
    let lead = apply_lead_ops(c, scope, lead, &turn.lead)?.map(|l| l.id);
    for op in &turn.appointments {
        apply_appointment_op(c, scope, lead, op)?;
    }
    Ok(())
}

// ---- leads ----

fn add_lead_event(
    c: &Connection,
    tenant: &str,
    lead: i64,
    kind: &str,
    actor: &str,
    data: &Value,
    now_ms: i64,
) -> Result<()> {
    exec(
        c,
        "INSERT INTO lead_events (tenant, lead_id, at, kind, actor, data, crm_status, \
         crm_attempts, crm_next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?3)",
        params![tenant, lead, now_ms, kind, actor, text(data, "lead event")?],
    )?;
    Ok(())
}

/// An appointment entry on a turn's lead, which counts as activity.
fn lead_appointment_event(
    c: &Connection,
    tenant: &str,
    lead: Option<i64>,
    kind: &str,
    data: &Value,
    now_ms: i64,
) -> Result<()> {
    let Some(lead) = lead else {
        return Ok(());
    };
    add_lead_event(c, tenant, lead, kind, "bot", data, now_ms)?;
    exec(
        c,
        "UPDATE leads SET last_activity_at = ?1, updated_at = ?1 WHERE id = ?2",
        params![now_ms, lead],
    )?;
    Ok(())
}

fn save_lead(c: &Connection, lead: &LeadRecord) -> Result<()> {
    exec(
        c,
        "UPDATE leads SET name = ?2, phone = ?3, email = ?4, stage = ?5, lost_reason = ?6, \
         score = ?7, score_reasons = ?8, assignee = ?9, source = ?10, language = ?11, \
         treatment = ?12, value_try = ?13, first_response_due = ?14, \
         first_response_at = ?15, sla_breached = ?16, created_at = ?17, updated_at = ?18, \
         last_activity_at = ?19 WHERE id = ?1",
        params![
            lead.id,
            lead.name,
            lead.phone,
            lead.email,
            lead.stage,
            lead.lost_reason,
            lead.score,
            text(&lead.score_reasons, "score reasons")?,
            lead.assignee,
            lead.source,
            lead.language,
            lead.treatment,
            lead.value_try,
            lead.first_response_due.map(ms),
            lead.first_response_at.map(ms),
            lead.sla_breached,
            ms(lead.created_at),
            ms(lead.updated_at),
            ms(lead.last_activity_at),
        ],
    )?;
    Ok(())
}

/// The tenant's leads with these ids that still exist, in id order (the writer is
/// the only one: no row locks to take).
fn read_leads(c: &Connection, tenant: &str, ids: &[i64]) -> Result<Vec<LeadRecord>> {
    let sql = format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE tenant = ?1 AND id IN ({}) ORDER BY id",
        numbered(2, ids.len())
    );
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let values = std::iter::once(rusqlite::types::Value::from(tenant.to_string()))
        .chain(ids.iter().map(|id| rusqlite::types::Value::from(*id)));
    let mut rows = stmt.query(params_from_iter(values)).map_err(db)?;
    let mut leads = Vec::with_capacity(ids.len());
    while let Some(row) = rows.next().map_err(db)? {
        leads.push(lead_from_row(row)?);
    }
    Ok(leads)
}

/// The conversation's lead, if it has one.
fn conversation_lead(
    c: &Connection,
    tenant: &str,
    conversation: i64,
) -> Result<Option<LeadRecord>> {
    let id: Option<i64> = scalar(
        c,
        "SELECT lead_id FROM lead_conversations WHERE conversation_id = ?1 AND tenant = ?2",
        params![conversation, tenant],
    )?;
    match id {
        Some(id) => Ok(read_leads(c, tenant, &[id])?.pop()),
        None => Ok(None),
    }
}

/// Moves everything of `absorbed` to `survivor` and deletes it; records `merged`.
fn absorb_lead(
    c: &Connection,
    survivor: &mut LeadRecord,
    absorbed: &LeadRecord,
    actor: &str,
    now_ms: i64,
) -> Result<()> {
    for sql in [
        "UPDATE appointments SET lead_id = ?1 WHERE lead_id = ?2",
        "UPDATE lead_events SET lead_id = ?1 WHERE lead_id = ?2",
        "UPDATE lead_links SET lead_id = ?1 WHERE lead_id = ?2",
        "UPDATE lead_conversations SET lead_id = ?1 WHERE lead_id = ?2",
    ] {
        exec(c, sql, params![survivor.id, absorbed.id])?;
    }
    exec(c, "DELETE FROM leads WHERE id = ?1", params![absorbed.id])?;
    clinic_sql::merge_into(survivor, absorbed);
    let data = json!({
        "absorbed": absorbed.id,
        "stage": absorbed.stage,
        "source": absorbed.source,
        "created_at": absorbed.created_at,
    });
    add_lead_event(
        c,
        &survivor.tenant,
        survivor.id,
        "merged",
        actor,
        &data,
        now_ms,
    )
}

fn create_lead(
    c: &Connection,
    tenant: &str,
    identity: &LeadIdentity,
    stage: &str,
    actor: &str,
    now: Timestamp,
) -> Result<LeadRecord> {
    let mut lead = clinic_sql::new_lead(tenant, identity, stage, now);
    let now_ms = ms(now);
    lead.id = c
        .prepare_cached(
            "INSERT INTO leads (tenant, name, phone, email, stage, score, score_reasons, source, \
             language, sla_breached, created_at, updated_at, last_activity_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, FALSE, ?9, ?9, ?9) RETURNING id",
        )
        .map_err(db)?
        .query_row(
            params![
                tenant,
                lead.name,
                lead.phone,
                lead.email,
                stage,
                text(&lead.score_reasons, "score reasons")?,
                lead.source,
                lead.language,
                now_ms
            ],
            |row| row.get(0),
        )
        .map_err(db)?;
    let data = json!({
        "stage": stage,
        "handle": identity.handle,
        "phone": lead.phone,
        "email": lead.email,
        "source": lead.source,
    });
    add_lead_event(c, tenant, lead.id, "created", actor, &data, now_ms)?;
    Ok(lead)
}

/// `LeadOp::Touch`: the lead of this person — found by any of its links (and
/// `current`, the conversation's lead), merged into the oldest when several, or
/// created — with what it lacked filled in, every link and the conversation linked.
/// Nothing else writes meanwhile (one writer), so one pass settles it.
fn touch_lead(
    c: &Connection,
    scope: Scope<'_>,
    current: Option<LeadRecord>,
    identity: &LeadIdentity,
    stage: &str,
) -> Result<LeadRecord> {
    let Scope {
        tenant,
        conversation,
        actor,
        now,
    } = scope;
    let now_ms = ms(now);
    let links = clinic_sql::identity_links(identity);

    // 1. Every lead this person already is.
    let mut ids: Vec<i64> = Vec::new();
    if !links.is_empty() {
        let wanted = (0..links.len())
            .map(|i| format!("(kind = ?{} AND value = ?{})", 2 + 2 * i, 3 + 2 * i))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql =
            format!("SELECT DISTINCT lead_id FROM lead_links WHERE tenant = ?1 AND ({wanted})");
        let values = std::iter::once(tenant.to_string())
            .chain(links.iter().flat_map(|(k, v)| [k.to_string(), v.clone()]));
        ids = column(c, &sql, params_from_iter(values))?;
    }
    ids.extend(current.as_ref().map(|l| l.id));
    ids.sort_unstable();
    ids.dedup();
    let created = ids.is_empty();
    let mut lead = if created {
        create_lead(c, tenant, identity, stage, actor, now)?
    } else {
        let mut found = read_leads(c, tenant, &ids)?;
        if found.len() != ids.len() {
            return Err(StoreError::Corrupt(format!(
                "lead links of {} name a lead that is gone",
                identity.handle
            )));
        }
        found.sort_by_key(|l| (l.created_at, l.id));
        let mut survivor = found.remove(0);
        for absorbed in &found {
            absorb_lead(c, &mut survivor, absorbed, actor, now_ms)?;
        }
        survivor
    };
    clinic_sql::fill_identity(&mut lead, identity);

    // 2. Every value linked; those not inserted were this lead's already (any other
    //    lead they named was merged into it above).
    let mut linked: Vec<Value> = Vec::new();
    for (kind, value) in &links {
        let inserted = exec(
            c,
            "INSERT INTO lead_links (tenant, kind, value, lead_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![tenant, kind, value, lead.id, now_ms],
        )?;
        if inserted > 0 {
            linked.push(json!({"kind": kind, "value": value}));
        }
    }
    // A lead created just now is stored as it stands.
    if !created {
        lead.last_activity_at = now;
        lead.updated_at = now;
        save_lead(c, &lead)?;
    }

    // 3. The conversation.
    let mut conversation_linked = None;
    if let Some(conv) = conversation {
        conversation_linked = scalar::<i64>(
            c,
            "INSERT INTO lead_conversations (conversation_id, tenant, lead_id, created_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (conversation_id) DO UPDATE SET \
             lead_id = excluded.lead_id WHERE lead_conversations.lead_id <> excluded.lead_id \
             RETURNING conversation_id",
            params![conv, tenant, lead.id, now_ms],
        )?;
    }
    if !created && (!linked.is_empty() || conversation_linked.is_some()) {
        let data = json!({"links": linked, "conversation": conversation_linked});
        add_lead_event(c, tenant, lead.id, "linked", actor, &data, now_ms)?;
    }
    Ok(lead)
}

/// Applies `ops` to `lead` (or, before any `Touch`, to no lead: skipped), each
/// recorded on the timeline with `actor`. Returns the lead as it ends up.
fn apply_lead_ops(
    c: &Connection,
    scope: Scope<'_>,
    mut lead: Option<LeadRecord>,
    ops: &[LeadOp],
) -> Result<Option<LeadRecord>> {
    let now_ms = ms(scope.now);
    // The ops between two touches change the lead in memory; it is saved once before
    // the next touch (which reads leads) and at the end.
    let mut unsaved: Option<Vec<(String, Value)>> = None;
    for op in ops {
        if let LeadOp::Touch { identity, stage } = op {
            if let (Some(current), Some(events)) = (lead.as_ref(), unsaved.take()) {
                save_lead_with_events(c, current, scope.actor, events, now_ms)?;
            }
            let current = lead.take();
            lead = Some(touch_lead(c, scope, current, identity, stage)?);
            continue;
        }
        let Some(current) = lead.as_mut() else {
            continue;
        };
        let change = clinic_sql::apply_op(current, op, scope.now);
        current.last_activity_at = scope.now;
        current.updated_at = scope.now;
        unsaved.get_or_insert_with(Vec::new).extend(change);
    }
    if let (Some(current), Some(events)) = (lead.as_ref(), unsaved) {
        save_lead_with_events(c, current, scope.actor, events, now_ms)?;
    }
    Ok(lead)
}

/// Saves `lead` and appends `events` (kind, data) to its timeline, in order.
fn save_lead_with_events(
    c: &Connection,
    lead: &LeadRecord,
    actor: &str,
    events: Vec<(String, Value)>,
    now_ms: i64,
) -> Result<()> {
    save_lead(c, lead)?;
    for (kind, data) in events {
        add_lead_event(c, &lead.tenant, lead.id, &kind, actor, &data, now_ms)?;
    }
    Ok(())
}

// ---- appointments ----

fn read_appointment(c: &Connection, id: i64) -> Result<AppointmentRecord> {
    find_appointment(
        c,
        &format!("SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE id = ?1"),
        params![id],
    )?
    .ok_or(StoreError::NotFound)
}

/// The tenant's appointment `id` of `conversation`.
fn conversation_appointment(
    c: &Connection,
    tenant: &str,
    id: i64,
    conversation: i64,
) -> Result<Option<AppointmentRecord>> {
    find_appointment(
        c,
        &format!(
            "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE id = ?1 AND tenant = ?2 \
             AND conversation_id = ?3"
        ),
        params![id, tenant, conversation],
    )
}

fn find_appointment(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<AppointmentRecord>> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => Ok(Some(appointment_from_row(row)?)),
        None => Ok(None),
    }
}

fn insert_appointment(
    c: &Connection,
    scope: Scope<'_>,
    lead: Option<i64>,
    new: &NewAppointment,
    status: AppointmentStatus,
    hold_expires_at: Option<i64>,
) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO appointments (tenant, conversation_id, lead_id, service, practitioner, \
         room, starts_at, ends_at, blocks_from, blocks_until, status, hold_expires_at, \
         customer_tz, note, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15) \
         RETURNING id",
    )
    .map_err(db)?
    .query_row(
        params![
            scope.tenant,
            scope.conversation,
            lead,
            new.service,
            new.practitioner,
            new.room,
            ms(new.starts_at),
            ms(new.ends_at),
            ms(new.blocks_from),
            ms(new.blocks_until),
            status.as_str(),
            hold_expires_at,
            new.customer_tz,
            new.note,
            ms(scope.now)
        ],
        |row| row.get(0),
    )
    .map_err(db)
}

/// Claims the cells of `blocks` on the practitioner and the room for appointment
/// `id`: `None` when every cell is now ours, otherwise the first one taken (the caller
/// rolls back or deletes what it got). Expired holds on the wanted cells give them up
/// first (and are cancelled).
fn claim_cells(
    c: &Connection,
    tenant: &str,
    id: i64,
    practitioner: &str,
    room: Option<&str>,
    blocks: (i64, i64),
    now_ms: i64,
) -> Result<Option<String>> {
    let (first, end) = clinic_sql::cells(blocks.0, blocks.1);
    let (p, r) = clinic_sql::resource_keys(practitioner, room);
    let expired: Vec<i64> = column(
        c,
        "SELECT DISTINCT a.id FROM appointment_claims c \
         JOIN appointments a ON a.id = c.appointment_id \
         WHERE c.tenant = ?1 AND c.resource IN (?2, ?3) AND c.cell >= ?4 AND c.cell < ?5 \
         AND a.status = 'held' AND a.hold_expires_at <= ?6 ORDER BY a.id",
        params![tenant, p, r, first, end, now_ms],
    )?;
    for hold in expired {
        let lapsed = exec(
            c,
            "UPDATE appointments SET status = 'cancelled', updated_at = ?2 \
             WHERE id = ?1 AND status = 'held' AND hold_expires_at <= ?2",
            params![hold, now_ms],
        )?;
        if lapsed > 0 {
            release_claims(c, hold)?;
        }
    }
    let mut insert = c
        .prepare_cached(
            "INSERT INTO appointment_claims (tenant, resource, cell, appointment_id) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )
        .map_err(db)?;
    let mut taken = None;
    for key in std::iter::once(&p).chain(r.as_ref()) {
        for cell in first..end {
            let got = insert.execute(params![tenant, key, cell, id]).map_err(db)?;
            if got == 0 && taken.is_none() {
                taken = Some(clinic_sql::taken(key, cell));
            }
        }
    }
    Ok(taken)
}

fn release_claims(c: &Connection, id: i64) -> Result<()> {
    exec(
        c,
        "DELETE FROM appointment_claims WHERE appointment_id = ?1",
        params![id],
    )?;
    Ok(())
}

/// Cancels the conversation's holds (all, or all but `keep`), freeing their cells.
fn release_holds(
    c: &Connection,
    tenant: &str,
    conversation: i64,
    keep: Option<i64>,
    now_ms: i64,
) -> Result<()> {
    exec(
        c,
        "DELETE FROM appointment_claims WHERE appointment_id IN (SELECT id FROM appointments \
         WHERE conversation_id = ?1 AND tenant = ?2 AND status = 'held' \
         AND (?3 IS NULL OR id <> ?3))",
        params![conversation, tenant, keep],
    )?;
    exec(
        c,
        "UPDATE appointments SET status = 'cancelled', updated_at = ?4 \
         WHERE conversation_id = ?1 AND tenant = ?2 AND status = 'held' \
         AND (?3 IS NULL OR id <> ?3)",
        params![conversation, tenant, keep, now_ms],
    )?;
    Ok(())
}

/// Offers a freed slot to the oldest waiting entry of the tenant for that service
/// (any practitioner or this one), not of `exclude`: marks it offered and queues the
/// offer as an inbox event of its conversation, which makes it claimable.
fn offer_waitlist(
    c: &Connection,
    slot: &AppointmentRecord,
    exclude: Option<i64>,
    now_ms: i64,
) -> Result<()> {
    let mut waiting = c
        .prepare_cached(
            "SELECT id, conversation_id, part, tz FROM waitlist WHERE tenant = ?1 \
             AND service = ?2 AND status = 'waiting' \
             AND (practitioner IS NULL OR practitioner = ?3) \
             AND (?4 IS NULL OR conversation_id <> ?4) ORDER BY created_at, id",
        )
        .map_err(db)?;
    let mut rows = waiting
        .query(params![
            slot.tenant,
            slot.service,
            slot.practitioner,
            exclude
        ])
        .map_err(db)?;
    let mut next = None;
    while let Some(row) = rows.next().map_err(db)? {
        let (part, tz): (Option<String>, Option<String>) = (get(row, "part")?, get(row, "tz")?);
        if crate::clinic::waitlist_takes(part.as_deref(), tz.as_deref(), slot.starts_at) {
            next = Some((get::<i64>(row, "id")?, get::<i64>(row, "conversation_id")?));
            break;
        }
    }
    drop(rows);
    drop(waiting);
    let Some((entry, conversation)) = next else {
        return Ok(());
    };
    exec(
        c,
        "UPDATE waitlist SET status = 'offered', updated_at = ?2 WHERE id = ?1",
        params![entry, now_ms],
    )?;
    let event = clinic_sql::waitlist_offer(slot, entry);
    exec(
        c,
        "INSERT INTO inbox (tenant, conversation_id, event, dedupe_key, status, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5) ON CONFLICT DO NOTHING",
        params![
            slot.tenant,
            conversation,
            text(&event, "waitlist offer")?,
            format!("{}:{entry}", crate::WAITLIST_TIMER_KEY),
            now_ms
        ],
    )?;
    tracing::debug!(tenant = %slot.tenant, conversation, waitlist = entry, "freed slot offered");
    Ok(())
}

/// Cancels `a` (held or booked), releasing its cells and offering a cancelled booking
/// to the waitlist.
fn cancel(c: &Connection, a: &AppointmentRecord, exclude: Option<i64>, now_ms: i64) -> Result<()> {
    release_claims(c, a.id)?;
    exec(
        c,
        "UPDATE appointments SET status = 'cancelled', hold_expires_at = NULL, updated_at = ?2 \
         WHERE id = ?1",
        params![a.id, now_ms],
    )?;
    if a.status == AppointmentStatus::Booked {
        offer_waitlist(c, a, exclude, now_ms)?;
    }
    Ok(())
}

fn apply_appointment_op(
    c: &Connection,
    scope: Scope<'_>,
    lead: Option<i64>,
    op: &AppointmentOp,
) -> Result<()> {
    use AppointmentStatus as S;
    let tenant = scope.tenant;
    let Some(conversation) = scope.conversation else {
        return Err(StoreError::Invalid(
            "a turn's appointment without its chat".into(),
        ));
    };
    let now_ms = ms(scope.now);
    let blocks_of = |new: &NewAppointment| (ms(new.blocks_from), ms(new.blocks_until));
    // Appointment `id`'s cells at the practitioner and room `new` names.
    let claim_as = |id: i64, new: &NewAppointment| {
        let room = new.room.as_deref();
        claim_cells(
            c,
            tenant,
            id,
            &new.practitioner,
            room,
            blocks_of(new),
            now_ms,
        )
    };
    match op {
        AppointmentOp::Hold(new) => {
            // Best effort: a hold that cannot be had is skipped, never an error.
            if let Err(why) = clinic_sql::validate(new) {
                tracing::warn!(tenant, conversation, %why, "hold skipped");
                return Ok(());
            }
            let expires = new
                .hold_until
                .map(ms)
                .unwrap_or(now_ms + clinic_sql::DEFAULT_HOLD_MS);
            if expires <= now_ms {
                return Ok(());
            }
            let id = insert_appointment(c, scope, lead, new, S::Held, Some(expires))?;
            if let Some(taken) = claim_as(id, new)? {
                tracing::debug!(tenant, conversation, %taken, "hold skipped");
                release_claims(c, id)?;
                exec(c, "DELETE FROM appointments WHERE id = ?1", params![id])?;
            }
        }
        AppointmentOp::Book(new) => {
            clinic_sql::validate(new)?;
            let own: Option<i64> = scalar(
                c,
                "SELECT id FROM appointments WHERE conversation_id = ?1 AND tenant = ?2 \
                 AND status = 'held' AND hold_expires_at > ?3 AND service = ?4 \
                 AND practitioner = ?5 AND COALESCE(room, '') = COALESCE(?6, '') \
                 AND starts_at = ?7 AND blocks_from = ?8 AND blocks_until = ?9 \
                 ORDER BY id LIMIT 1",
                params![
                    conversation,
                    tenant,
                    now_ms,
                    new.service,
                    new.practitioner,
                    new.room,
                    ms(new.starts_at),
                    ms(new.blocks_from),
                    ms(new.blocks_until)
                ],
            )?;
            release_holds(c, tenant, conversation, own, now_ms)?;
            let id = match own {
                Some(id) => {
                    exec(
                        c,
                        "UPDATE appointments SET status = 'booked', hold_expires_at = NULL, \
                         ends_at = ?2, customer_tz = ?3, note = ?4, \
                         lead_id = COALESCE(lead_id, ?5), updated_at = ?6 WHERE id = ?1",
                        params![id, ms(new.ends_at), new.customer_tz, new.note, lead, now_ms],
                    )?;
                    id
                }
                None => {
                    let id = insert_appointment(c, scope, lead, new, S::Booked, None)?;
                    if let Some(taken) = claim_as(id, new)? {
                        return Err(StoreError::Conflict(taken));
                    }
                    id
                }
            };
            // Booked what it waited for: off the waitlist for that service.
            exec(
                c,
                "UPDATE waitlist SET status = 'done', updated_at = ?3 WHERE conversation_id = ?1 \
                 AND service = ?2 AND status IN ('waiting', 'offered')",
                params![conversation, new.service, now_ms],
            )?;
            let booked = read_appointment(c, id)?;
            let data = clinic_sql::slot_json(&booked);
            lead_appointment_event(c, tenant, lead, "appointment_booked", &data, now_ms)?;
        }
        AppointmentOp::Cancel { id } => {
            let Some(a) = conversation_appointment(c, tenant, *id, conversation)? else {
                return Err(StoreError::NotFound);
            };
            if !matches!(a.status, S::Held | S::Booked) {
                return Ok(());
            }
            cancel(c, &a, Some(conversation), now_ms)?;
            if a.status == S::Booked {
                let data = clinic_sql::slot_json(&a);
                lead_appointment_event(c, tenant, lead, "appointment_cancelled", &data, now_ms)?;
            }
        }
        AppointmentOp::Reschedule { id, to } => {
            clinic_sql::validate(to)?;
            let Some(old) = conversation_appointment(c, tenant, *id, conversation)? else {
                return Err(StoreError::NotFound);
            };
            if old.status != S::Booked {
                return Err(StoreError::Invalid(format!(
                    "appointment {id} is {}, not booked",
                    old.status.as_str()
                )));
            }
            // The conversation's own holds (the new slot among them, usually) and the
            // old slot's cells give way; a conflict undoes all of it.
            release_holds(c, tenant, conversation, None, now_ms)?;
            release_claims(c, old.id)?;
            let blocks = blocks_of(to);
            if let Some(taken) = claim_as(old.id, to)? {
                return Err(StoreError::Conflict(taken));
            }
            exec(
                c,
                "UPDATE appointments SET service = ?2, practitioner = ?3, room = ?4, \
                 starts_at = ?5, ends_at = ?6, blocks_from = ?7, blocks_until = ?8, \
                 customer_tz = COALESCE(?9, customer_tz), note = COALESCE(?10, note), \
                 lead_id = COALESCE(lead_id, ?11), updated_at = ?12 WHERE id = ?1",
                params![
                    old.id,
                    to.service,
                    to.practitioner,
                    to.room,
                    ms(to.starts_at),
                    ms(to.ends_at),
                    blocks.0,
                    blocks.1,
                    to.customer_tz,
                    to.note,
                    lead,
                    now_ms
                ],
            )?;
            // The old slot is free for someone else, unless the move kept part of it.
            let overlaps = to.practitioner == old.practitioner
                && to.blocks_from < old.blocks_until
                && old.blocks_from < to.blocks_until;
            if !overlaps {
                offer_waitlist(c, &old, Some(conversation), now_ms)?;
            }
            let moved = read_appointment(c, old.id)?;
            let data = json!({
                "appointment": old.id,
                "from": clinic_sql::slot_json(&old),
                "to": clinic_sql::slot_json(&moved),
            });
            lead_appointment_event(c, tenant, lead, "appointment_rescheduled", &data, now_ms)?;
        }
        AppointmentOp::ReleaseHolds => {
            let passed = c
                .prepare_cached(&format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE {}",
                    clinic_sql::WAITLIST_HELD_SLOTS
                ))
                .map_err(db)?
                .query_map(params![conversation, tenant], |row| {
                    Ok(appointment_from_row(row))
                })
                .map_err(db)?
                .collect::<rusqlite::Result<Result<Vec<_>>>>()
                .map_err(db)??;
            release_holds(c, tenant, conversation, None, now_ms)?;
            for sql in clinic_sql::WAITLIST_OFFER_NOT_TAKEN {
                exec(c, sql, params![now_ms, conversation])?;
            }
            for slot in &passed {
                offer_waitlist(c, slot, Some(conversation), now_ms)?;
            }
        }
        AppointmentOp::JoinWaitlist {
            service,
            practitioner,
            part,
            tz,
        } => {
            // One waiting entry per conversation and service; joining again updates the
            // wish and keeps the place in line.
            let updated = exec(
                c,
                "UPDATE waitlist SET practitioner = ?3, part = ?4, tz = ?5, updated_at = ?6 \
                 WHERE conversation_id = ?1 AND service = ?2 AND status = 'waiting'",
                params![conversation, service, practitioner, part, tz, now_ms],
            )?;
            if updated == 0 {
                exec(
                    c,
                    "INSERT INTO waitlist (tenant, conversation_id, service, practitioner, \
                     part, tz, status, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'waiting', ?7, ?7)",
                    params![
                        tenant,
                        conversation,
                        service,
                        practitioner,
                        part,
                        tz,
                        now_ms
                    ],
                )?;
            }
        }
    }
    Ok(())
}
