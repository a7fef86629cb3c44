//! Runs the engine on a leased conversation: each pending inbox item becomes a flows
//! [`flows::Event`], the flow's actions become one [`store::Turn`] committed atomically
//! (state, replies into the outbox, timers, tags, appointments, lead changes). Business
//! rules stay in `flows`; this module reads what they need (the clinic calendar, the
//! conversation's bookings) and keeps the lead bookkeeping (creation, assignment, SLA).

use crate::metrics as m;
use crate::runtime::{Runtime, Tenant};
use channels::Inbound;
use flows::clinic::Slot;
use flows::{
    Action, AppointmentAction, Booking, ClinicCtx, ConversationState, Ctx, Event, LeadAction,
    SendWindow, Understanding,
};
use jiff::{SignedDuration, Timestamp};
use store::{
    AppointmentFilter, AppointmentOp, AppointmentStatus, Claim, ConversationRecord, InboxItem,
    LeadIdentity, LeadOp, NewOutgoing, Notice, StoreError, TimerOp, Turn,
};

/// The timer that checks a lead's first human answer came in time.
pub const TIMER_LEAD_SLA: &str = "lead:sla";
/// How often a turn whose booking lost a race is run again with a fresh calendar.
const BOOKING_RETRIES: usize = 3;

/// How many pending items are read at once.
const BATCH: u32 = 32;

/// Handles every pending inbox item of a leased conversation, in order, and gives the
/// lease back (with the last commit when possible). Returns how many items were handled.
pub async fn run_claim(rt: &Runtime, claim: &Claim) -> Result<usize, StoreError> {
    let result = drain(rt, claim).await;
    let released = matches!(result, Ok((_, true)));
    if !released
        && let Err(e) = rt
            .store
            .release_conversation(claim.conversation, &rt.owner)
            .await
    {
        tracing::warn!(conversation = claim.conversation, error = %e, "lease release failed; it will expire");
    }
    result.map(|(n, _)| n)
}

/// Returns (items handled, whether the last commit released the lease).
async fn drain(rt: &Runtime, claim: &Claim) -> Result<(usize, bool), StoreError> {
    let mut handled = 0;
    let mut first = true;
    loop {
        let items = rt.store.pending_inbox(claim.conversation, BATCH).await?;
        if items.is_empty() {
            return Ok((handled, false));
        }
        let Some(mut conversation) = rt
            .store
            .conversation(&claim.tenant, claim.conversation)
            .await?
        else {
            return Err(StoreError::NotFound);
        };
        // The claim itself set a fresh lease; later batches extend it.
        if !first {
            rt.store
                .renew_lease(
                    claim.conversation,
                    &rt.owner,
                    rt.lease(),
                    jiff::Timestamp::now(),
                )
                .await?;
        }
        first = false;
        let last = items.len() - 1;
        for (i, item) in items.iter().enumerate() {
            let started = std::time::Instant::now();
            let mut turn = decide(rt, &conversation, item, None).await;
            turn.release = i == last;
            let mut tries = 0;
            let released = loop {
                match rt.store.commit_turn(&turn).await {
                    // Another conversation took the slot first: run the event again,
                    // with a fresh calendar and that slot marked as gone.
                    Err(StoreError::Conflict(why)) if tries < BOOKING_RETRIES => {
                        tries += 1;
                        tracing::info!(conversation = claim.conversation, %why, "slot taken meanwhile; offering others");
                        let rejected = booked_slot(&turn);
                        turn = decide(rt, &conversation, item, rejected.as_ref()).await;
                        turn.release = i == last;
                    }
                    other => break other?,
                }
            };
            let replies = turn.outgoing.len();
            conversation.state = turn.state.clone();
            conversation.handoff = turn.handoff;
            // A freed slot may have been offered to another conversation's waitlist
            // entry (an inbox event written in the same transaction): wake the workers.
            if turn.appointments.iter().any(|op| {
                matches!(
                    op,
                    AppointmentOp::Cancel { .. } | AppointmentOp::Reschedule { .. }
                )
            }) {
                let _ = rt.hot.publish(&Notice::Inbox).await;
            }
            handled += 1;
            m::turn_handled(&claim.tenant, replies, started.elapsed());
            if replies > 0 {
                // Provider channels are sent by the outbox worker; web chat replies are
                // delivered as stored, so their sockets are woken now.
                let _ = rt.hot.publish(&Notice::Outbox).await;
                crate::inbox::wake_conversation(rt, &claim.tenant, claim.conversation).await;
            }
            if released {
                return Ok((handled, true));
            }
        }
    }
}

/// The slot a turn tried to book (or move to), for the re-run after a conflict.
fn booked_slot(turn: &Turn) -> Option<Slot> {
    turn.appointments.iter().find_map(|op| match op {
        AppointmentOp::Book(a) | AppointmentOp::Reschedule { to: a, .. } => Some(Slot {
            service: a.service.clone(),
            practitioner: a.practitioner.clone(),
            room: a.room.clone(),
            start: a.starts_at,
            end: a.ends_at,
            blocks_from: a.blocks_from,
            blocks_until: a.blocks_until,
        }),
        _ => None,
    })
}

/// Turns one inbox item into the turn to commit. Never fails: an item we cannot read
/// is committed with no actions (and logged), so it cannot block the conversation.
/// `rejected` is a slot the store just refused as taken (see [`BOOKING_RETRIES`]).
pub async fn decide(
    rt: &Runtime,
    conversation: &ConversationRecord,
    item: &InboxItem,
    rejected: Option<&Slot>,
) -> Turn {
    let now = rt.clock.now();
    let mut state = ConversationState::from_json(&conversation.state);
    let mut turn = Turn {
        tenant: conversation.tenant.clone(),
        conversation: conversation.id,
        owner: rt.owner.clone(),
        inbox_id: item.id,
        state: conversation.state.clone(),
        handoff: conversation.handoff,
        opt_out: false,
        annotate: None,
        outgoing: Vec::new(),
        timers: Vec::new(),
        tags: Vec::new(),
        appointments: Vec::new(),
        lead: Vec::new(),
        release: false,
        now,
    };
    let Some(tenant) = rt.tenant(&conversation.tenant) else {
        tracing::warn!(tenant = %conversation.tenant, inbox = item.id, "tenant no longer configured; event skipped");
        return turn;
    };
    let (event, message_seq, analysis) = match to_event(rt, tenant, now, item).await {
        Ok(x) => x,
        Err(why) => {
            tracing::warn!(tenant = %conversation.tenant, inbox = item.id, %why, "unreadable inbox event skipped");
            return turn;
        }
    };
    if let (Some(seq), Some((a, how))) = (message_seq, &analysis) {
        turn.annotate = Some((
            seq,
            serde_json::json!({
                "intent": a.intent,
                "confidence": a.confidence,
                "path": how.path.as_str(),
                "reason": how.path.reason(),
                "prompt": how.prompt,
                "tokens": how.tokens,
                "entities": a.entities,
                "language": a.language,
                "sentiment": a.sentiment,
            }),
        ));
    }
    if let Event::Timer { key, .. } = &event
        && key == TIMER_LEAD_SLA
    {
        sla_check(rt, tenant, conversation, &mut turn).await;
        return turn;
    }
    let mut ctx = Ctx::new(&tenant.profile, rt.clock.as_ref());
    ctx.window = send_window(conversation, now);
    let loaded = tenant.clinic.as_ref().map(|c| c.get());
    let customer_tz = crate::clinic::customer_tz(conversation.contact.phone.as_deref());
    let calendar = match &loaded {
        Some(l) => match calendar(rt, conversation, &l.clinic, now).await {
            Ok(c) => Some(c),
            Err(e) => {
                // Without the calendar the pipeline would offer taken slots; the
                // general flow still answers, and the next message tries again.
                tracing::warn!(tenant = %conversation.tenant, conversation = conversation.id, error = %e, "calendar unavailable");
                None
            }
        },
        None => None,
    };
    if let (Some(l), Some((busy, bookings))) = (&loaded, &calendar) {
        ctx.clinic = Some(ClinicCtx {
            clinic: &l.clinic,
            busy,
            appointments: bookings,
            rejected,
            customer_tz,
        });
    }
    if conversation.referral.is_some() {
        state.clinic.signals.from_ad = true;
    }
    let clinic_tenant = tenant.profile.niche != flows::Niche::Ecommerce;
    if clinic_tenant && let Event::Message { understanding, .. } = &event {
        touch_lead(
            rt,
            tenant,
            conversation,
            understanding.as_ref(),
            now,
            &mut turn,
        )
        .await;
    }
    let (next, actions) = flows::handle(&state, &event, &ctx);
    apply(&mut turn, actions, tenant, customer_tz);
    turn.handoff = next.handoff;
    turn.state = next.to_json();
    turn
}

/// Whether a free-form message may go out now on the conversation's channel.
fn send_window(conversation: &ConversationRecord, now: Timestamp) -> SendWindow {
    let facts = flows::eligibility::WindowFacts {
        last_inbound_at: conversation.last_inbound_at,
        ..Default::default()
    };
    match flows::eligibility::check(
        conversation.channel,
        &channels::OutContent::text(""),
        &facts,
        now,
    ) {
        flows::eligibility::Eligibility::Send => SendWindow::Open,
        flows::eligibility::Eligibility::Refuse { .. } => SendWindow::Closed,
    }
}

/// What is taken from now to the search horizon, and the conversation's upcoming
/// bookings.
async fn calendar(
    rt: &Runtime,
    conversation: &ConversationRecord,
    clinic: &flows::clinic::Clinic,
    now: Timestamp,
) -> Result<(Vec<flows::clinic::Busy>, Vec<Booking>), StoreError> {
    let horizon =
        now + SignedDuration::from_hours(24 * (i64::from(clinic.settings.horizon_days) + 1));
    let blocks = rt
        .store
        .busy(&conversation.tenant, now, horizon, now)
        .await?;
    let busy = crate::clinic::busy_for(&blocks, conversation.id);
    let appointments = rt
        .store
        .appointments(
            &conversation.tenant,
            &AppointmentFilter {
                conversation: Some(conversation.id),
                statuses: vec![AppointmentStatus::Booked],
                from: Some(now),
                limit: 20,
                ..Default::default()
            },
        )
        .await?;
    let bookings = appointments
        .iter()
        .map(|a| Booking {
            id: a.id,
            slot: crate::clinic::slot_of(a),
        })
        .collect();
    Ok((busy, bookings))
}

/// Every customer message of a clinic tenant keeps the person's lead: found by handle,
/// phone or e-mail (merging channels), created as `new` the first time, and then given
/// to a consultant with a first-response deadline.
async fn touch_lead(
    rt: &Runtime,
    tenant: &Tenant,
    conversation: &ConversationRecord,
    understanding: Option<&Understanding>,
    now: Timestamp,
    turn: &mut Turn,
) {
    let entities = understanding.map(|u| &u.entities);
    let contact = &conversation.contact;
    let identity = LeadIdentity {
        handle: format!("{}:{}", conversation.channel.as_str(), contact.handle),
        phone: contact.phone.clone().or_else(|| {
            entities
                .and_then(|e| e.phone.first())
                .map(|p| p.value.clone())
        }),
        email: entities
            .and_then(|e| e.email.first())
            .map(|e| e.value.clone()),
        name: contact.name.clone(),
        source: Some(match &conversation.referral {
            Some(r) => format!("ad:{}", r.source_id.as_deref().unwrap_or("unknown")),
            None => conversation.channel.as_str().to_string(),
        }),
        language: understanding.and_then(|u| u.language.clone()),
    };
    turn.lead.push(LeadOp::Touch {
        identity,
        stage: "new".into(),
    });
    let existing = match rt
        .store
        .lead_for_conversation(&conversation.tenant, conversation.id)
        .await
    {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(conversation = conversation.id, error = %e, "lead lookup failed");
            return;
        }
    };
    if existing.is_some() {
        return;
    }
    let leads = &tenant.config.leads;
    if !leads.consultants.is_empty() {
        let loads = rt
            .store
            .assignee_loads(&conversation.tenant)
            .await
            .unwrap_or_default();
        let language = understanding.and_then(|u| u.language.as_deref());
        let pick =
            flows::leads::pick_assignee(&leads.consultants, leads.assignment, language, |id| {
                loads
                    .iter()
                    .find(|l| l.assignee == id)
                    .map(|l| flows::leads::Load {
                        open_leads: l.open_leads,
                        last_assigned_at: l.last_assigned_at,
                    })
                    .unwrap_or_default()
            });
        if let Some(c) = pick {
            turn.lead.push(LeadOp::Assign {
                assignee: Some(c.id.clone()),
            });
        }
    }
    if let Some(minutes) = leads.sla_first_response_minutes {
        let due = flows::leads::business_deadline(
            &tenant.profile.hours,
            &tenant.profile.tz(),
            now,
            minutes,
        );
        turn.lead.push(LeadOp::SlaDue { due: Some(due) });
        turn.timers.push(TimerOp::Set {
            key: TIMER_LEAD_SLA.into(),
            due_at: due,
            payload: serde_json::Value::Null,
        });
    }
}

/// The first-response deadline passed: unless a human answered (or the lead closed),
/// the lead is marked overdue and handed to the escalation consultant.
async fn sla_check(
    rt: &Runtime,
    tenant: &Tenant,
    conversation: &ConversationRecord,
    turn: &mut Turn,
) {
    let lead = match rt
        .store
        .lead_for_conversation(&conversation.tenant, conversation.id)
        .await
    {
        Ok(Some(l)) => l,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(conversation = conversation.id, error = %e, "lead lookup failed; SLA not checked");
            return;
        }
    };
    let closed = flows::leads::CLOSED_STAGES.contains(&lead.stage.as_str());
    if lead.first_response_at.is_some() || lead.sla_breached || closed {
        return;
    }
    turn.lead.push(LeadOp::SlaBreached);
    if let Some(to) = &tenant.config.leads.escalate_to
        && lead.assignee.as_deref() != Some(to)
    {
        turn.lead.push(LeadOp::Assign {
            assignee: Some(to.clone()),
        });
    }
    turn.tags.push("sla_breached".into());
    tracing::warn!(tenant = %conversation.tenant, lead = lead.id, "first response overdue; escalated");
}

fn apply(turn: &mut Turn, actions: Vec<Action>, tenant: &Tenant, customer_tz: Option<&str>) {
    let stages = tenant.config.leads.stages();
    for action in actions {
        match action {
            Action::Reply { content } => turn.outgoing.push(NewOutgoing {
                sender: "bot".into(),
                content,
            }),
            Action::Tag { tag } => {
                if !turn.tags.contains(&tag) {
                    turn.tags.push(tag);
                }
            }
            Action::Handoff { reason } => {
                turn.handoff = true;
                tracing::info!(tenant = %turn.tenant, conversation = turn.conversation, %reason, "handoff");
                m::handoff(&turn.tenant, &reason);
            }
            Action::OptOut => turn.opt_out = true,
            Action::Schedule { key, at, payload } => turn.timers.push(TimerOp::Set {
                key,
                due_at: at,
                payload,
            }),
            Action::Cancel { key } => turn.timers.push(TimerOp::Cancel { key }),
            Action::Appointment(a) => {
                let new = |slot: &Slot, hold| crate::clinic::new_appointment(slot, hold, customer_tz);
                turn.appointments.push(match a {
                    AppointmentAction::Hold { slot, until } => AppointmentOp::Hold(new(&slot, Some(until))),
                    AppointmentAction::Book { slot } => AppointmentOp::Book(new(&slot, None)),
                    AppointmentAction::Cancel { id } => AppointmentOp::Cancel { id },
                    AppointmentAction::Reschedule { id, to } => AppointmentOp::Reschedule {
                        id,
                        to: new(&to, None),
                    },
                    AppointmentAction::ReleaseHolds => AppointmentOp::ReleaseHolds,
                    AppointmentAction::JoinWaitlist {
                        service,
                        practitioner,
                        part,
                    } => AppointmentOp::JoinWaitlist {
                        service,
                        practitioner,
                        part,
                    },
                });
            }
            Action::Lead(l) => turn.lead.push(match l {
                // A tenant with its own stages may not have the flow's: then the lead
                // stays where it is rather than entering a stage nobody watches.
                LeadAction::Stage { stage, lost_reason } => {
                    if !stages.contains(&stage) {
                        tracing::debug!(tenant = %turn.tenant, %stage, "stage not configured; lead not moved");
                        continue;
                    }
                    LeadOp::Stage { stage, lost_reason }
                }
                LeadAction::Interest {
                    treatment,
                    value_try,
                } => LeadOp::Interest {
                    treatment,
                    value_try,
                },
                LeadAction::Score { score, reasons } => LeadOp::Score { score, reasons },
                LeadAction::Event { kind, data } => LeadOp::Event { kind, data },
            }),
        }
    }
}

/// How a message was understood: which path answered, with which prompt, at what cost.
struct How {
    path: intents::cascade::Path,
    prompt: Option<prompts::PromptId>,
    tokens: u32,
}

/// Reads an inbox item as an engine event; for customer messages also the message seq
/// and what the NLU made of it (local model first, the LLM when it is unsure).
async fn to_event(
    rt: &Runtime,
    tenant: &crate::runtime::Tenant,
    now: jiff::Timestamp,
    item: &InboxItem,
) -> Result<(Event, Option<i64>, Option<(intents::Analysis, How)>), String> {
    let profile = &tenant.profile;
    let kind = item
        .event
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("");
    match kind {
        "message" => {
            let inbound: Inbound = serde_json::from_value(item.event["inbound"].clone())
                .map_err(|e| format!("inbound: {e}"))?;
            let seq = item.event.get("message").and_then(|s| s.as_i64());
            let niche = profile.niche.as_str();
            let analysis = match inbound.content.text() {
                Some(text) => {
                    let mut a =
                        rt.nlu
                            .analyze_tenant(&profile.id, niche, text, &profile.timezone, now);
                    let llm_allowed = tenant
                        .config
                        .llm
                        .unwrap_or_else(|| intents::cascade::llm_allowed_by_default(niche));
                    let input = intents::cascade::CascadeInput::new(&profile.id, niche, text)
                        .threshold(profile.confidence_threshold)
                        .llm_allowed(llm_allowed)
                        .business(&profile.name);
                    let out = rt.cascade.understand(&input).await;
                    a.intent = out.prediction.intent.clone();
                    a.confidence = out.prediction.confidence;
                    Some((
                        a,
                        How {
                            path: out.path,
                            prompt: out.prompt,
                            tokens: out.tokens,
                        },
                    ))
                }
                None => None,
            };
            let understanding = analysis.as_ref().map(|(a, _)| Understanding {
                intent: a.intent.clone(),
                confidence: a.confidence,
                language: Some(a.language.to_string()),
                entities: Box::new(a.entities.clone()),
            });
            Ok((
                Event::Message {
                    content: inbound.content,
                    understanding,
                },
                seq,
                analysis,
            ))
        }
        "timer" => Ok((
            Event::Timer {
                key: item.event["key"].as_str().unwrap_or_default().to_string(),
                payload: item.event.get("payload").cloned().unwrap_or_default(),
            },
            None,
            None,
        )),
        "agent_release" => Ok((Event::AgentRelease, None, None)),
        other => Err(format!("unknown event kind {other:?}")),
    }
}
