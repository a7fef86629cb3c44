//! The clinic part of the admin API (`docs/clinic.md`, "Admin API"): leads (list with
//! filters, CSV export, detail with the timeline, stage, assignment, notes),
//! appointments (list, an agent's booking, showed / no-show / cancelled), the clinic's
//! data (read it, replace the price list or `clinic.toml`) and each practitioner's iCal
//! feed. Bearer key per tenant as in [`crate::api`]; the feeds, which calendar apps
//! fetch without headers, carry a per-practitioner token instead ([`ical_token`]).

use crate::api::{ApiError, TenantAuth};
use crate::runtime::{Runtime, Tenant};
use crate::server::AppState;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use std::sync::Arc;
use store::{
    AppointmentFilter, AppointmentRecord, AppointmentStatus, LeadFilter, LeadOp, LeadRecord,
    NewAppointment, StoreError,
};

/// Largest `clinic.toml` or `prices.csv` accepted.
pub const MAX_CLINIC_FILE_BYTES: usize = 1024 * 1024;
/// Longest note on a lead, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;
/// Rows of one page of a list; the CSV export pages through everything.
const MAX_PAGE: u32 = 500;
const DEFAULT_PAGE: u32 = 100;
/// The CSV export stops here (a spreadsheet would not open more anyway).
const MAX_CSV_ROWS: usize = 100_000;
/// How far back a calendar feed goes, and how long a cancelled visit stays in it (as
/// cancelled, so subscribed calendars drop it).
const ICAL_DAYS: i64 = 30;
const ICAL_MAX_EVENTS: u32 = 5000;
/// The inbox event that starts a no-show's recovery message in its conversation.
pub const NO_SHOW_TIMER_KEY: &str = "clinic:no_show";

/// The routes of this module, merged into [`crate::server::app`].
pub fn routes() -> Router<AppState> {
    let file_limit = DefaultBodyLimit::max(MAX_CLINIC_FILE_BYTES);
    Router::new()
        .route("/api/v1/leads", get(list_leads))
        .route("/api/v1/leads.csv", get(leads_csv))
        .route("/api/v1/leads/{id}", get(get_lead))
        .route("/api/v1/leads/{id}/stage", post(set_stage))
        .route("/api/v1/leads/{id}/assign", post(assign))
        .route("/api/v1/leads/{id}/notes", post(add_note))
        .route(
            "/api/v1/appointments",
            get(list_appointments).post(book_appointment),
        )
        .route(
            "/api/v1/appointments/{id}/status",
            post(set_appointment_status),
        )
        .route("/api/v1/clinic", get(get_clinic))
        .route(
            "/api/v1/clinic/prices.csv",
            get(get_prices).put(put_prices).layer(file_limit),
        )
        .route(
            "/api/v1/clinic/clinic.toml",
            get(get_clinic_toml).put(put_clinic_toml).layer(file_limit),
        )
        .route("/api/v1/practitioners", get(list_practitioners))
        .route(
            "/api/v1/practitioners/{id}/calendar.ics",
            get(practitioner_calendar),
        )
}

// ---------------------------------------------------------------- helpers

fn lead_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("lead {raw:?} not found")))
}

fn appointment_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("appointment {raw:?} not found")))
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// An empty query value (`?stage=`) means "not given".
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A time in a query: RFC 3339 (`2026-03-01T09:00:00+03:00`) or a date (`2026-03-01`,
/// the start of that day in the tenant's zone).
fn parse_time(name: &str, raw: &str, tz: &TimeZone) -> Result<Timestamp, ApiError> {
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    // An unencoded "+03:00" arrives as " 03:00".
    if raw.contains(' ')
        && let Ok(t) = raw.replace(' ', "+").parse::<Timestamp>()
    {
        return Ok(t);
    }
    if let Ok(d) = raw.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned(tz.clone())
    {
        return Ok(z.timestamp());
    }
    Err(ApiError::BadRequest(format!(
        "{name} must be an RFC 3339 time (2026-03-01T09:00:00+03:00) or a date (2026-03-01), got {raw:?}"
    )))
}

fn parse_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_PAGE),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit must be 1-{MAX_PAGE}, got {s:?}"))),
    }
}

/// `agent:<name>` for the timeline; `agent:api` without a name.
fn actor(name: Option<&str>) -> Result<String, ApiError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok("agent:api".into()),
        Some(n) if n.chars().count() <= 100 && !n.chars().any(char::is_control) => {
            Ok(format!("agent:{n}"))
        }
        Some(_) => Err(ApiError::BadRequest(
            "the agent's name must be 1-100 characters without control characters".into(),
        )),
    }
}

fn clinic_of(tenant: &Tenant) -> Result<&Arc<crate::clinic::ClinicData>, ApiError> {
    tenant
        .clinic
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no clinic data: this tenant has no clinic_dir".into()))
}

/// `Some(None)` for an explicit `null`, `None` when the key is absent.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

// ---------------------------------------------------------------- leads

/// The filters of the lead list and its CSV export; every value is optional and an
/// empty one is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadQuery {
    stage: Option<String>,
    source: Option<String>,
    assignee: Option<String>,
    min_score: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn lead_filter(tenant: &Tenant, q: &LeadQuery) -> Result<LeadFilter, ApiError> {
    let tz = tenant.profile.tz();
    let stage = match given(&q.stage) {
        Some(s) => {
            let stages = tenant.config.leads.stages();
            if !stages.iter().any(|x| x == s) {
                return Err(ApiError::BadRequest(format!(
                    "unknown stage {s:?}; this tenant's stages are: {}",
                    stages.join(", ")
                )));
            }
            Some(s.to_string())
        }
        None => None,
    };
    let min_score = given(&q.min_score)
        .map(|s| {
            s.parse::<i32>().map_err(|_| {
                ApiError::BadRequest(format!("min_score must be a whole number, got {s:?}"))
            })
        })
        .transpose()?;
    let from = given(&q.from)
        .map(|s| parse_time("from", s, &tz))
        .transpose()?;
    let to = given(&q.to).map(|s| parse_time("to", s, &tz)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    let offset = given(&q.offset)
        .map(|s| {
            s.parse::<u32>().map_err(|_| {
                ApiError::BadRequest(format!("offset must be a whole number, got {s:?}"))
            })
        })
        .transpose()?
        .unwrap_or(0);
    Ok(LeadFilter {
        stage,
        source: given(&q.source).map(str::to_string),
        assignee: given(&q.assignee).map(str::to_string),
        min_score,
        from,
        to,
        limit: parse_limit(given(&q.limit))?,
        offset,
    })
}

/// `GET /api/v1/leads?stage=&source=&assignee=&min_score=&from=&to=&limit=&offset=`
pub async fn list_leads(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    q: Result<Query<LeadQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let filter = lead_filter(&tenant, &query(q)?)?;
    let leads = state.rt.store.leads(&tenant.config.id, &filter).await?;
    Ok(Json(json!({"leads": leads})))
}

/// `GET /api/v1/leads.csv` (the same filters): every matching lead, or one page when
/// `limit` is given.
pub async fn leads_csv(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    q: Result<Query<LeadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let mut filter = lead_filter(&tenant, &q)?;
    let one_page = given(&q.limit).is_some();
    if !one_page {
        filter.limit = MAX_PAGE;
    }
    let mut leads = Vec::new();
    loop {
        let page = state.rt.store.leads(&tenant.config.id, &filter).await?;
        let n = page.len();
        leads.extend(page);
        if one_page || n < filter.limit as usize || leads.len() >= MAX_CSV_ROWS {
            break;
        }
        filter.offset = filter.offset.saturating_add(filter.limit);
    }
    leads.truncate(MAX_CSV_ROWS);
    let body = leads_to_csv(&leads, &tenant.profile.tz());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leads.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The CSV export's columns.
pub const LEAD_CSV_COLUMNS: [&str; 16] = [
    "id",
    "created_at",
    "stage",
    "lost_reason",
    "score",
    "score_reasons",
    "assignee",
    "source",
    "name",
    "phone",
    "email",
    "language",
    "treatment",
    "value_try",
    "first_response_at",
    "sla_breached",
];

/// Leads as CSV for a spreadsheet: UTF-8 with a BOM (so Excel shows ç, ğ, ı, ö, ş, ü),
/// CRLF, RFC 4180 quoting, text cells that a spreadsheet would run as a formula
/// defused, times in the tenant's zone.
pub fn leads_to_csv(leads: &[LeadRecord], tz: &TimeZone) -> String {
    let time = |t: Timestamp| {
        t.to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    let mut out = String::from("\u{feff}");
    push_row(&mut out, LEAD_CSV_COLUMNS.iter().map(|c| c.to_string()));
    for l in leads {
        let text = |v: &Option<String>| v.as_deref().map(csv_text).unwrap_or_default();
        push_row(
            &mut out,
            [
                l.id.to_string(),
                time(l.created_at),
                csv_text(&l.stage),
                text(&l.lost_reason),
                l.score.to_string(),
                csv_text(&l.score_reasons.join(" | ")),
                text(&l.assignee),
                text(&l.source),
                text(&l.name),
                text(&l.phone),
                text(&l.email),
                text(&l.language),
                text(&l.treatment),
                l.value_try.map(|v| v.to_string()).unwrap_or_default(),
                l.first_response_at.map(time).unwrap_or_default(),
                l.sla_breached.to_string(),
            ],
        );
    }
    out
}

/// A text cell a spreadsheet must show as text: one starting with `=`, `+`, `-`, `@`
/// (or a tab or carriage return) would be run as a formula (CSV injection), so it gets
/// a leading `'`.
pub fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// One CSV record, RFC 4180: a field with a comma, quote, semicolon (Turkish Excel's
/// separator) or line break is quoted, quotes doubled.
fn push_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', ';', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push_str("\r\n");
}

async fn find_lead(rt: &Runtime, tenant: &Tenant, id: i64) -> Result<LeadRecord, ApiError> {
    rt.store
        .lead(&tenant.config.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("lead {id} not found")))
}

/// `update_lead` with "not found" naming the lead.
async fn update_lead(
    rt: &Runtime,
    tenant: &Tenant,
    id: i64,
    ops: &[LeadOp],
    actor: &str,
) -> Result<LeadRecord, ApiError> {
    rt.store
        .update_lead(&tenant.config.id, id, ops, actor, Timestamp::now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound(format!("lead {id} not found")),
            other => ApiError::from(other),
        })
}

/// `GET /api/v1/leads/{id}`: the lead and its timeline, oldest first.
pub async fn get_lead(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = lead_id(&id)?;
    let lead = find_lead(&state.rt, &tenant, id).await?;
    let timeline = state.rt.store.lead_events(&tenant.config.id, id).await?;
    Ok(Json(json!({"lead": lead, "timeline": timeline})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    stage: String,
    #[serde(default)]
    lost_reason: Option<String>,
    /// Who made the change, for the timeline.
    #[serde(default)]
    agent: Option<String>,
}

/// `POST /api/v1/leads/{id}/stage` `{"stage", "lost_reason"?}`: any of the tenant's
/// stages, backwards too (an agent corrects the bot); `lost` needs a reason.
pub async fn set_stage(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
    body: Result<Json<StageBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = lead_id(&id)?;
    let b = json_body(body)?;
    let stages = tenant.config.leads.stages();
    let stage = b.stage.trim();
    if !stages.iter().any(|s| s == stage) {
        return Err(ApiError::BadRequest(format!(
            "stage {stage:?} is not one of this tenant's stages: {}",
            stages.join(", ")
        )));
    }
    let reason = b
        .lost_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let lost_reason = match (stage, reason) {
        ("lost", None) => {
            return Err(ApiError::BadRequest(
                "stage lost needs a lost_reason".into(),
            ));
        }
        ("lost", Some(r)) if r.chars().count() > 500 => {
            return Err(ApiError::BadRequest(
                "lost_reason must be at most 500 characters".into(),
            ));
        }
        ("lost", Some(r)) => Some(r.to_string()),
        (_, Some(_)) => {
            return Err(ApiError::BadRequest(
                "lost_reason goes with stage lost only".into(),
            ));
        }
        (_, None) => None,
    };
    let actor = actor(b.agent.as_deref())?;
    let lead = find_lead(&state.rt, &tenant, id).await?;
    if lead.stage == stage && lead.lost_reason == lost_reason {
        return Ok(Json(json!({"lead": lead, "changed": false})));
    }
    let op = LeadOp::Stage {
        stage: stage.to_string(),
        lost_reason,
    };
    let lead = update_lead(&state.rt, &tenant, id, &[op], &actor).await?;
    Ok(Json(json!({"lead": lead, "changed": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    #[serde(default, deserialize_with = "present")]
    assignee: Option<Option<String>>,
    #[serde(default)]
    agent: Option<String>,
}

/// `POST /api/v1/leads/{id}/assign` `{"assignee": "<consultant id>" | null}`.
pub async fn assign(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
    body: Result<Json<AssignBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = lead_id(&id)?;
    let b = json_body(body)?;
    let Some(assignee) = b.assignee else {
        return Err(ApiError::BadRequest(
            "assignee is required: a consultant id, or null to unassign".into(),
        ));
    };
    let consultants = &tenant.config.leads.consultants;
    if let Some(a) = &assignee
        && !consultants.iter().any(|c| &c.id == a)
    {
        let ids: Vec<&str> = consultants.iter().map(|c| c.id.as_str()).collect();
        return Err(ApiError::BadRequest(if ids.is_empty() {
            format!("assignee {a:?}: this tenant has no consultants configured")
        } else {
            format!(
                "assignee {a:?} is not one of this tenant's consultants: {}",
                ids.join(", ")
            )
        }));
    }
    let actor = actor(b.agent.as_deref())?;
    let lead = find_lead(&state.rt, &tenant, id).await?;
    if lead.assignee == assignee {
        return Ok(Json(json!({"lead": lead, "changed": false})));
    }
    let lead = update_lead(
        &state.rt,
        &tenant,
        id,
        &[LeadOp::Assign { assignee }],
        &actor,
    )
    .await?;
    Ok(Json(json!({"lead": lead, "changed": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
    #[serde(default)]
    author: Option<String>,
}

/// `POST /api/v1/leads/{id}/notes` `{"text", "author"?}`: a `note` on the timeline.
pub async fn add_note(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = lead_id(&id)?;
    let b = json_body(body)?;
    let text = b.text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::BadRequest(format!(
            "text must be 1-{MAX_NOTE_CHARS} characters"
        )));
    }
    let actor = actor(b.author.as_deref())?;
    let author = b.author.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let op = LeadOp::Event {
        kind: "note".into(),
        data: json!({"text": text, "author": author}),
    };
    let lead = update_lead(&state.rt, &tenant, id, &[op], &actor).await?;
    Ok((StatusCode::CREATED, Json(json!({"lead": lead}))))
}

// ---------------------------------------------------------------- appointments

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentQuery {
    practitioner: Option<String>,
    /// One status or several, comma-separated.
    status: Option<String>,
    conversation: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

fn parse_status(s: &str) -> Result<AppointmentStatus, ApiError> {
    AppointmentStatus::parse(s.trim()).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown status {s:?}; statuses are: held, booked, cancelled, showed, no_show"
        ))
    })
}

/// `GET /api/v1/appointments?practitioner=&status=&conversation=&from=&to=&limit=`
pub async fn list_appointments(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    q: Result<Query<AppointmentQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let tz = tenant.profile.tz();
    let statuses = match given(&q.status) {
        Some(s) => s
            .split(',')
            .filter(|x| !x.trim().is_empty())
            .map(parse_status)
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let conversation = given(&q.conversation)
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("conversation must be an id, got {s:?}")))
        })
        .transpose()?;
    let from = given(&q.from)
        .map(|s| parse_time("from", s, &tz))
        .transpose()?;
    let to = given(&q.to).map(|s| parse_time("to", s, &tz)).transpose()?;
    let filter = AppointmentFilter {
        conversation,
        practitioner: given(&q.practitioner).map(str::to_string),
        statuses,
        from,
        to,
        limit: parse_limit(given(&q.limit))?,
    };
    let list = state
        .rt
        .store
        .appointments(&tenant.config.id, &filter)
        .await?;
    Ok(Json(json!({"appointments": list})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    service: String,
    practitioner: String,
    /// A room the service may use; the first free one of them when absent.
    #[serde(default)]
    room: Option<String>,
    /// RFC 3339 with an offset.
    starts_at: String,
    /// The patient's IANA zone, when it differs from the clinic's.
    #[serde(default)]
    customer_tz: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/appointments` `{"service", "practitioner", "room"?, "starts_at"}`: an
/// agent books (a phone call, a walk-in). The visit's length and buffers come from the
/// service; 409 when the practitioner or the room is taken.
pub async fn book_appointment(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    body: Result<Json<BookBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let b = json_body(body)?;
    let data = clinic_of(&tenant)?.get();
    let clinic = &data.clinic;
    let service = clinic.service(b.service.trim()).ok_or_else(|| {
        let ids: Vec<&str> = clinic.services.iter().map(|s| s.id.as_str()).collect();
        ApiError::BadRequest(format!(
            "unknown service {:?}; services are: {}",
            b.service,
            ids.join(", ")
        ))
    })?;
    let practitioner = clinic.practitioner(b.practitioner.trim()).ok_or_else(|| {
        let ids: Vec<&str> = clinic.practitioners.iter().map(|p| p.id.as_str()).collect();
        ApiError::BadRequest(format!(
            "unknown practitioner {:?}; practitioners are: {}",
            b.practitioner,
            ids.join(", ")
        ))
    })?;
    if !service.practitioners.iter().any(|p| p == &practitioner.id) {
        return Err(ApiError::BadRequest(format!(
            "practitioner {:?} does not do service {:?}; who does: {}",
            practitioner.id,
            service.id,
            service.practitioners.join(", ")
        )));
    }
    let rooms: Vec<Option<String>> = match given(&b.room) {
        Some(r) => {
            if clinic.room(r).is_none() {
                let ids: Vec<&str> = clinic.rooms.iter().map(|r| r.id.as_str()).collect();
                return Err(ApiError::BadRequest(format!(
                    "unknown room {r:?}; rooms are: {}",
                    ids.join(", ")
                )));
            }
            if !service.needs_room {
                return Err(ApiError::BadRequest(format!(
                    "service {:?} needs no room",
                    service.id
                )));
            }
            if !service.rooms.iter().any(|x| x == r) {
                return Err(ApiError::BadRequest(format!(
                    "service {:?} cannot use room {r:?}; it uses: {}",
                    service.id,
                    service.rooms.join(", ")
                )));
            }
            vec![Some(r.to_string())]
        }
        None if service.needs_room => service.rooms.iter().cloned().map(Some).collect(),
        None => vec![None],
    };
    let starts_at = b.starts_at.trim().parse::<Timestamp>().map_err(|_| {
        ApiError::BadRequest(format!(
            "starts_at must be an RFC 3339 time with an offset (2026-03-02T10:00:00+03:00), got {:?}",
            b.starts_at
        ))
    })?;
    let customer_tz = match given(&b.customer_tz) {
        Some(z) => {
            TimeZone::get(z).map_err(|_| {
                ApiError::BadRequest(format!("customer_tz {z:?} is not an IANA time zone"))
            })?;
            Some(z.to_string())
        }
        None => None,
    };
    let note = given(&b.note).map(str::to_string);
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::BadRequest(
            "note must be at most 500 characters".into(),
        ));
    }
    let minutes = |m: u32| SignedDuration::from_mins(i64::from(m));
    let span = (|| {
        let ends_at = starts_at
            .checked_add(minutes(service.duration_minutes))
            .ok()?;
        let blocks_from = starts_at
            .checked_sub(minutes(service.buffer_before_minutes))
            .ok()?;
        let blocks_until = ends_at
            .checked_add(minutes(service.buffer_after_minutes))
            .ok()?;
        Some((ends_at, blocks_from, blocks_until))
    })();
    let Some((ends_at, blocks_from, blocks_until)) = span else {
        return Err(ApiError::BadRequest("starts_at is out of range".into()));
    };
    let mut taken = String::from("slot taken");
    for room in rooms {
        let new = NewAppointment {
            service: service.id.clone(),
            practitioner: practitioner.id.clone(),
            room,
            starts_at,
            ends_at,
            blocks_from,
            blocks_until,
            hold_until: None,
            customer_tz: customer_tz.clone(),
            note: note.clone(),
        };
        match state
            .rt
            .store
            .book(&tenant.config.id, &new, Timestamp::now())
            .await
        {
            Ok(a) => {
                tracing::info!(tenant = %tenant.config.id, appointment = a.id, "appointment booked by an agent");
                return Ok((StatusCode::CREATED, Json(json!({"appointment": a}))));
            }
            // This room is taken (or the practitioner is): try the next room.
            Err(StoreError::Conflict(m)) => taken = m,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(taken))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
    #[serde(default)]
    agent: Option<String>,
}

/// `POST /api/v1/appointments/{id}/status` `{"status": "showed" | "no_show" |
/// "cancelled"}`. `showed` moves the lead on to `showed`; `no_show` puts the recovery
/// event in the conversation's inbox (the patient gets the flow's message); every
/// status is recorded on the lead's timeline as `appointment_<status>`. Repeating a
/// status changes nothing.
pub async fn set_appointment_status(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = appointment_id(&id)?;
    let b = json_body(body)?;
    let status = match b.status.trim() {
        "showed" => AppointmentStatus::Showed,
        "no_show" => AppointmentStatus::NoShow,
        "cancelled" => AppointmentStatus::Cancelled,
        other => {
            return Err(ApiError::BadRequest(format!(
                "status {other:?}: an agent sets showed, no_show or cancelled"
            )));
        }
    };
    let actor = actor(b.agent.as_deref())?;
    let rt = &state.rt;
    let t = &tenant.config.id;
    let not_found = || ApiError::NotFound(format!("appointment {id} not found"));
    let before = rt.store.appointment(t, id).await?.ok_or_else(not_found)?;
    let changed = before.status != status;
    let now = Timestamp::now();
    let appointment = if changed {
        rt.store
            .set_appointment_status(t, id, status, now)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found(),
                // E.g. a cancelled visit cannot be marked as showed.
                StoreError::Invalid(m) => ApiError::Conflict(m),
                other => ApiError::from(other),
            })?
    } else {
        before
    };
    if status == AppointmentStatus::NoShow
        && let Some(conversation) = appointment.conversation
    {
        // Idempotent (keyed by the appointment), so a retried request after a failure
        // here still starts the recovery once.
        let event =
            json!({"kind": "timer", "key": NO_SHOW_TIMER_KEY, "payload": {"appointment": id}});
        rt.store
            .enqueue_event(t, conversation, &event, &format!("no_show:{id}"), now)
            .await?;
        let _ = rt.hot.publish(&store::Notice::Inbox).await;
    }
    if changed {
        lead_follows_appointment(rt, &tenant, &appointment, &actor).await?;
    }
    Ok(Json(
        json!({"appointment": appointment, "changed": changed}),
    ))
}

/// The lead side of a status an agent set. The store already puts
/// `appointment_<status>` on the timeline of the appointment's own lead; a chat
/// appointment linked to its lead only through the conversation gets the entry here.
async fn lead_follows_appointment(
    rt: &Runtime,
    tenant: &Tenant,
    a: &AppointmentRecord,
    actor: &str,
) -> Result<(), ApiError> {
    let t = &tenant.config.id;
    let (lead, recorded) = match (a.lead, a.conversation) {
        (Some(id), _) => (rt.store.lead(t, id).await?, true),
        (None, Some(c)) => (rt.store.lead_for_conversation(t, c).await?, false),
        (None, None) => (None, false),
    };
    let Some(lead) = lead else {
        return Ok(());
    };
    let mut ops = Vec::new();
    if !recorded {
        ops.push(LeadOp::Event {
            kind: format!("appointment_{}", a.status.as_str()),
            data: json!({
                "appointment": a.id,
                "service": a.service,
                "practitioner": a.practitioner,
                "room": a.room,
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
            }),
        });
    }
    let stages = tenant.config.leads.stages();
    if a.status == AppointmentStatus::Showed
        && stages.iter().any(|s| s == "showed")
        && flows::leads::is_forward(&stages, &lead.stage, "showed")
    {
        ops.push(LeadOp::Stage {
            stage: "showed".into(),
            lost_reason: None,
        });
    }
    if !ops.is_empty() {
        update_lead(rt, tenant, lead.id, &ops, actor).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- clinic data

/// `GET /api/v1/clinic`: the clinic as parsed (practitioners, rooms, services, hours,
/// prices, settings).
pub async fn get_clinic(TenantAuth(tenant): TenantAuth) -> Result<Json<Value>, ApiError> {
    let data = clinic_of(&tenant)?.get();
    Ok(Json(json!({"clinic": data.clinic})))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClinicFile {
    Toml,
    Prices,
}

impl ClinicFile {
    fn name(self) -> &'static str {
        match self {
            ClinicFile::Toml => crate::clinic::CLINIC_FILE,
            ClinicFile::Prices => crate::clinic::PRICES_FILE,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            ClinicFile::Toml => "application/toml; charset=utf-8",
            ClinicFile::Prices => "text/csv; charset=utf-8",
        }
    }
}

fn clinic_text(tenant: &Tenant, file: ClinicFile) -> Result<Response, ApiError> {
    let data = clinic_of(tenant)?.get();
    let text = match file {
        ClinicFile::Toml => data.clinic_toml.clone(),
        ClinicFile::Prices => data.prices_csv.clone(),
    };
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type()),
    );
    Ok(resp)
}

async fn replace_clinic_file(
    tenant: &Tenant,
    file: ClinicFile,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let data = clinic_of(tenant)?.clone();
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "{} must be at most {} bytes",
                file.name(),
                MAX_CLINIC_FILE_BYTES
            ))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    if body.len() > MAX_CLINIC_FILE_BYTES {
        return Err(ApiError::TooLarge(format!(
            "{} must be at most {MAX_CLINIC_FILE_BYTES} bytes",
            file.name()
        )));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::BadRequest(format!("{} must be UTF-8 text", file.name())))?;
    // Parsing and writing the files is blocking work.
    let replaced = tokio::task::spawn_blocking(move || match file {
        ClinicFile::Toml => data.replace(Some(&text), None),
        ClinicFile::Prices => data.replace(None, Some(&text)),
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "replacing clinic data panicked");
        ApiError::Internal
    })?;
    match replaced {
        Ok(loaded) => {
            tracing::info!(tenant = %tenant.config.id, file = file.name(), "clinic data replaced");
            let c = &loaded.clinic;
            Ok(Json(json!({
                "replaced": file.name(),
                "practitioners": c.practitioners.len(),
                "rooms": c.rooms.len(),
                "services": c.services.len(),
                "prices": c.prices.len(),
            })))
        }
        Err(crate::clinic::ReplaceError::Invalid(m)) => Err(ApiError::Unprocessable(m)),
        Err(e @ crate::clinic::ReplaceError::Io(_)) => {
            tracing::error!(tenant = %tenant.config.id, error = %e, "keeping clinic data failed");
            Err(ApiError::Unavailable(
                "the clinic data could not be saved; nothing changed, try again".into(),
            ))
        }
    }
}

/// `GET /api/v1/clinic/prices.csv`
pub async fn get_prices(TenantAuth(tenant): TenantAuth) -> Result<Response, ApiError> {
    clinic_text(&tenant, ClinicFile::Prices)
}

/// `PUT /api/v1/clinic/prices.csv`: a new price list, in effect for the next message
/// when valid; 422 naming the row and column otherwise (the old list stays).
pub async fn put_prices(
    TenantAuth(tenant): TenantAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    replace_clinic_file(&tenant, ClinicFile::Prices, body).await
}

/// `GET /api/v1/clinic/clinic.toml`
pub async fn get_clinic_toml(TenantAuth(tenant): TenantAuth) -> Result<Response, ApiError> {
    clinic_text(&tenant, ClinicFile::Toml)
}

/// `PUT /api/v1/clinic/clinic.toml`: as for the price list; 422 names the key or line.
pub async fn put_clinic_toml(
    TenantAuth(tenant): TenantAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    replace_clinic_file(&tenant, ClinicFile::Toml, body).await
}

// ---------------------------------------------------------------- calendars

/// The token of a practitioner's calendar feed:
/// `hex(HMAC-SHA256(tenant API key, "ical:<tenant>:<practitioner>"))`. It changes when
/// the tenant's key does; it opens that one feed only.
pub fn ical_token(api_key: &str, tenant: &str, practitioner: &str) -> String {
    crate::crm::hmac_hex(
        api_key.as_bytes(),
        format!("ical:{tenant}:{practitioner}").as_bytes(),
    )
}

fn calendar_path(tenant: &Tenant, practitioner: &str) -> Option<String> {
    let key = tenant.api_key.as_deref()?;
    Some(format!(
        "/api/v1/practitioners/{practitioner}/calendar.ics?token={}",
        ical_token(key, &tenant.config.id, practitioner)
    ))
}

/// `GET /api/v1/practitioners`: who works here, with each calendar feed's URL path.
pub async fn list_practitioners(TenantAuth(tenant): TenantAuth) -> Result<Json<Value>, ApiError> {
    let data = clinic_of(&tenant)?.get();
    let list: Vec<Value> = data
        .clinic
        .practitioners
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "languages": p.languages,
                "calendar_url": calendar_path(&tenant, &p.id),
            })
        })
        .collect();
    Ok(Json(json!({"practitioners": list})))
}

#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    #[serde(default)]
    token: Option<String>,
}

/// `GET /api/v1/practitioners/{id}/calendar.ics?token=…`: the practitioner's visits
/// from 30 days ago on; visits cancelled in the last 30 days as `STATUS:CANCELLED`, so
/// subscribed calendars drop them. No patient data: service, room and appointment id.
pub async fn practitioner_calendar(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<CalendarQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let token = q
        .ok()
        .and_then(|Query(q)| q.token)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized(
            "calendar feeds need ?token=… (see GET /api/v1/practitioners)",
        ))?;
    // The token names no tenant: try each (a handful), in constant time per tenant.
    let tenant = state
        .rt
        .tenants
        .values()
        .find(|t| {
            t.clinic.is_some()
                && t.api_key.as_deref().is_some_and(|key| {
                    let expected = ical_token(key, &t.config.id, &id);
                    crate::auth::constant_time_eq(expected.as_bytes(), token.as_bytes())
                })
        })
        .cloned()
        .ok_or(ApiError::Unauthorized("unknown calendar token"))?;
    let data = clinic_of(&tenant)?.get();
    let clinic = &data.clinic;
    let practitioner = clinic
        .practitioner(&id)
        .ok_or_else(|| ApiError::NotFound(format!("practitioner {id:?} not found")))?;
    let now = Timestamp::now();
    let since = now
        .checked_sub(SignedDuration::from_hours(24 * ICAL_DAYS))
        .unwrap_or(now);
    let filter = AppointmentFilter {
        practitioner: Some(practitioner.id.clone()),
        statuses: vec![
            AppointmentStatus::Booked,
            AppointmentStatus::Showed,
            AppointmentStatus::NoShow,
            AppointmentStatus::Cancelled,
        ],
        from: Some(since),
        limit: ICAL_MAX_EVENTS,
        ..AppointmentFilter::default()
    };
    let list = state
        .rt
        .store
        .appointments(&tenant.config.id, &filter)
        .await?;
    let events: Vec<flows::clinic::IcalEvent> = list
        .iter()
        .filter(|a| a.status != AppointmentStatus::Cancelled || a.updated_at >= since)
        .map(|a| ical_event(&tenant.config.id, clinic, a))
        .collect();
    let name = format!("{} — {}", tenant.config.name, practitioner.name);
    let body = flows::clinic::ical_feed(&name, &events);
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response())
}

fn ical_event(
    tenant: &str,
    clinic: &flows::clinic::Clinic,
    a: &AppointmentRecord,
) -> flows::clinic::IcalEvent {
    let service = clinic
        .service(&a.service)
        .map(|s| s.name.clone())
        .unwrap_or_else(|| a.service.clone());
    let room = a.room.as_deref().map(|r| {
        clinic
            .room(r)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| r.to_string())
    });
    let mut summary = match &room {
        Some(r) => format!("{service} ({r})"),
        None => service,
    };
    if a.status == AppointmentStatus::NoShow {
        summary.push_str(" — gelmedi");
    }
    flows::clinic::IcalEvent {
        uid: format!("appointment-{}-{tenant}@kopru", a.id),
        start: a.starts_at,
        end: a.ends_at,
        stamp: a.updated_at,
        summary,
        description: Some(format!("Köprü randevu #{}", a.id)),
        status_cancelled: a.status == AppointmentStatus::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(name: &str, reason: Option<&str>) -> LeadRecord {
        let at: Timestamp = "2026-03-02T07:05:00Z".parse().unwrap();
        LeadRecord {
            id: 7,
            tenant: "t".into(),
            name: Some(name.into()),
            phone: Some("+905551112233".into()),
            email: None,
            handles: vec!["webchat:s1".into()],
            stage: "lost".into(),
            lost_reason: reason.map(str::to_string),
            score: 35,
            score_reasons: vec!["Fiyat sordu (+15)".into(), "Randevu istedi (+20)".into()],
            assignee: Some("selin".into()),
            source: Some("webchat".into()),
            language: Some("tr".into()),
            treatment: Some("implant".into()),
            value_try: Some(45_000),
            first_response_due: None,
            first_response_at: None,
            sla_breached: false,
            created_at: at,
            updated_at: at,
            last_activity_at: at,
        }
    }

    #[test]
    fn csv_has_a_bom_quotes_and_no_formulas() {
        let tz = TimeZone::get("Europe/Istanbul").unwrap();
        let csv = leads_to_csv(
            &[lead(
                "=HYPERLINK(\"http://x\")",
                Some("pahalı, \"çok\"\nbuldu"),
            )],
            &tz,
        );
        assert!(csv.starts_with("\u{feff}id,created_at,stage,lost_reason,score,"));
        let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(rows.len(), 3, "header, one row, the final CRLF: {csv:?}");
        assert!(
            rows[1].starts_with("7,2026-03-02T10:05:00+03:00,lost,\"pahalı, \"\"çok\"\"\nbuldu\",35,Fiyat sordu (+15) | Randevu istedi (+20),selin,webchat,\"'=HYPERLINK(\"\"http://x\"\")\",'+905551112233,"),
            "{:?}",
            rows[1]
        );
        assert!(rows[1].ends_with(",implant,45000,,false"), "{:?}", rows[1]);
    }

    #[test]
    fn formula_starts_are_defused_and_plain_text_kept() {
        for s in ["=1+1", "+90", "-2", "@SUM(A1)", "\tx"] {
            assert_eq!(csv_text(s), format!("'{s}"));
        }
        assert_eq!(csv_text("Ayşe Çelik"), "Ayşe Çelik");
        assert_eq!(csv_text(""), "");
    }

    #[test]
    fn query_times_take_rfc3339_dates_and_unencoded_plus() {
        let tz = TimeZone::get("Europe/Istanbul").unwrap();
        let want: Timestamp = "2026-02-28T21:00:00Z".parse().unwrap();
        assert_eq!(parse_time("from", "2026-03-01", &tz).unwrap(), want);
        assert_eq!(
            parse_time("from", "2026-03-01T00:00:00+03:00", &tz).unwrap(),
            want
        );
        assert_eq!(
            parse_time("from", "2026-03-01T00:00:00 03:00", &tz).unwrap(),
            want
        );
        assert!(matches!(
            parse_time("from", "dün", &tz),
            Err(ApiError::BadRequest(m)) if m.contains("from must be an RFC 3339")
        ));
    }

    #[test]
    fn calendar_tokens_differ_per_practitioner_and_key() {
        let a = ical_token("key-1", "klinik", "dr-a");
        assert_eq!(a.len(), 64);
        assert_ne!(a, ical_token("key-1", "klinik", "dr-b"));
        assert_ne!(a, ical_token("key-2", "klinik", "dr-a"));
        assert_eq!(a, ical_token("key-1", "klinik", "dr-a"));
    }
}
