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
        AppointmentOp::Book(a) | AppointmentOp::Reschedule { to: a, .. } => {
            Some(crate::clinic::slot_of_new(a))
        }
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
                        // The flows name parts of the day at the clinic.
                        tz: Some(tenant.profile.timezone.clone()),
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

#[cfg(test)]
mod tests {
    //! The clinic pipeline through the real turn code on an embedded store with a
    //! manual clock: a forged tap on a slot held for another patient ends in fresh offers, a full calendar puts the
    //! patient on the waitlist, and a cancellation offers the freed slot to them.

    use super::*;
    use crate::config::{Config, Source};
    use channels::{Channel, Contact, Content, OutContent};
    use std::sync::Arc;

    /// One dentist, one chair, Monday 09:00–10:00: two examination slots a week.
    const CLINIC: &str = r#"
[settings]
slot_step_minutes = 30
min_notice_minutes = 0
hold_minutes = 15
horizon_days = 1
examination_service = "muayene"
observe_holidays = false

[hours]
mon = "09:00-10:00"
tue = "kapalı"
wed = "kapalı"
thu = "kapalı"
fri = "kapalı"
sat = "kapalı"
sun = "kapalı"

[[practitioners]]
id = "dr-ada"
name = "Dt. Ada Kaya"

[[rooms]]
id = "koltuk-1"

[[services]]
id = "muayene"
name = "Ücretsiz muayene"
duration_minutes = 30
"#;
    const PRICES: &str = "treatment,name,material,unit,min_try,max_try\nscaling,Diş taşı temizliği,,session,1500,2500\n";

    struct Clinic {
        rt: Arc<Runtime>,
        _dir: tempfile::TempDir,
        sent: u64,
    }

    impl Clinic {
        /// Monday 7 December 2026, 08:00 in Istanbul.
        async fn open() -> Clinic {
            let dir = tempfile::tempdir().unwrap();
            let clinic_dir = dir.path().join("clinic");
            std::fs::create_dir_all(&clinic_dir).unwrap();
            std::fs::write(clinic_dir.join("clinic.toml"), CLINIC).unwrap();
            std::fs::write(clinic_dir.join("prices.csv"), PRICES).unwrap();
            let (mut config, _) = Config::load(None, Vec::new()).unwrap();
            config.server.data_dir = dir.path().join("data");
            let dental = config
                .tenants
                .iter_mut()
                .find(|t| t.id == "demo-dental")
                .unwrap();
            dental.clinic_dir = Some(clinic_dir.display().to_string());
            let now: Timestamp = "2026-12-07T08:00:00+03:00".parse().unwrap();
            let parts = crate::runtime::Parts {
                nlu: None,
                clock: Some(Arc::new(flows::ManualClock::new(now))),
            };
            let rt = Runtime::build_with(config, Source::File("test".into()), true, parts)
                .await
                .unwrap();
            Clinic {
                rt,
                _dir: dir,
                sent: 0,
            }
        }

        /// Sends `content` from `who` and runs every pending turn; returns the bot's
        /// messages to `who` since `after` (seq) and the new cursor.
        async fn send(&mut self, who: &str, content: Content) -> Vec<OutContent> {
            self.sent += 1;
            let inbound = channels::Inbound {
                tenant: "demo-dental".into(),
                channel: Channel::Webchat,
                contact: Contact {
                    handle: who.into(),
                    phone: None,
                    name: None,
                },
                content,
                referral: None,
                provider_id: format!("t-{}", self.sent),
                sent_at_ms: None,
                reply_to: None,
                details: Default::default(),
            };
            let conversation = crate::inbox::ingest(&self.rt, &inbound)
                .await
                .unwrap()
                .conversation
                .unwrap();
            let before = self.last_seq(conversation).await;
            self.settle().await;
            self.replies(conversation, before).await
        }

        async fn say(&mut self, who: &str, text: &str) -> Vec<OutContent> {
            self.send(who, Content::Text { body: text.into() }).await
        }

        async fn tap(&mut self, who: &str, id: &str) -> Vec<OutContent> {
            self.send(
                who,
                Content::Interactive {
                    id: id.into(),
                    title: "…".into(),
                },
            )
            .await
        }

        async fn settle(&self) {
            let rt = &self.rt;
            while let Some(claim) = rt
                .store
                .claim_conversation(&rt.owner, rt.lease(), Timestamp::now())
                .await
                .unwrap()
            {
                run_claim(rt, &claim).await.unwrap();
            }
        }

        async fn conversation_of(&self, who: &str) -> i64 {
            self.rt
                .store
                .find_conversation("demo-dental", Channel::Webchat, who)
                .await
                .unwrap()
                .unwrap()
                .id
        }

        async fn last_seq(&self, conversation: i64) -> i64 {
            let all = self
                .rt
                .store
                .messages("demo-dental", conversation, 0, 10_000)
                .await
                .unwrap();
            all.last().map_or(0, |m| m.seq)
        }

        async fn replies(&self, conversation: i64, after: i64) -> Vec<OutContent> {
            self.rt
                .store
                .messages("demo-dental", conversation, after, 10_000)
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.direction == store::Direction::Out)
                .map(|m| serde_json::from_value(m.content).unwrap())
                .collect()
        }
    }

    fn text(replies: &[OutContent]) -> String {
        replies
            .iter()
            .map(|r| r.body().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn slot_ids(replies: &[OutContent]) -> Vec<String> {
        replies
            .iter()
            .flat_map(|r| match r {
                OutContent::Buttons { buttons, .. } => buttons.clone(),
                _ => Vec::new(),
            })
            .map(|b| b.id)
            .filter(|id| id.starts_with("slot:"))
            .collect()
    }

    #[tokio::test]
    async fn races_the_waitlist_and_a_freed_slot_through_real_turns() {
        let mut c = Clinic::open().await;

        // Ayşe is offered 09:00, held for her; she books it.
        let offer = c.say("ayse", "randevu almak istiyorum").await;
        let ayse_slots = slot_ids(&offer);
        assert_eq!(ayse_slots.len(), 1, "{}", text(&offer));
        assert!(text(&offer).contains("09:00"), "{}", text(&offer));

        // Burak is offered only what is not held: 09:30. A forged tap on Ayşe's held
        // 09:00 books nothing; he is offered what is free instead.
        let offer = c.say("burak", "randevu almak istiyorum").await;
        let burak_slots = slot_ids(&offer);
        assert_eq!(burak_slots.len(), 1);
        assert!(text(&offer).contains("09:30"), "{}", text(&offer));
        let forged = c.tap("burak", &ayse_slots[0]).await;
        assert!(text(&forged).contains("az önce doldu"), "{}", text(&forged));
        assert!(!text(&forged).contains("Randevunuz oluşturuldu"));

        let done = c.tap("ayse", &ayse_slots[0]).await;
        assert!(
            text(&done).contains("Randevunuz oluşturuldu"),
            "{}",
            text(&done)
        );
        let done = c.tap("burak", &burak_slots[0]).await;
        assert!(
            text(&done).contains("Randevunuz oluşturuldu"),
            "{}",
            text(&done)
        );

        // Cem finds the week full and joins the waitlist.
        let full = c.say("cem", "randevu almak istiyorum").await;
        assert!(
            text(&full).contains("haber vermemi ister misiniz"),
            "{}",
            text(&full)
        );
        let joined = c.tap("cem", "waitlist:join").await;
        assert!(
            text(&joined).contains("bekleme listesine"),
            "{}",
            text(&joined)
        );

        // Ayşe cancels; the freed 09:00 goes to Cem, held for him, and he takes it.
        let ask = c.say("ayse", "randevumu iptal etmek istiyorum").await;
        assert!(
            text(&ask).contains("iptal etmek istediğinize emin misiniz"),
            "{}",
            text(&ask)
        );
        let cancelled = c.say("ayse", "evet").await;
        assert!(
            text(&cancelled).contains("iptal edildi"),
            "{}",
            text(&cancelled)
        );
        let cem = c.conversation_of("cem").await;
        let offered = c.replies(cem, 0).await;
        assert!(text(&offered).contains("yer açıldı"), "{}", text(&offered));
        let freed = slot_ids(&offered)
            .pop()
            .expect("the freed slot as a button");
        assert_eq!(freed, ayse_slots[0]);
        let done = c.tap("cem", &freed).await;
        assert!(
            text(&done).contains("Randevunuz oluşturuldu"),
            "{}",
            text(&done)
        );

        // The calendar: Burak 09:30, Cem 09:00, Ayşe's cancelled; never two at once.
        let booked =
            c.rt.store
                .appointments(
                    "demo-dental",
                    &store::AppointmentFilter {
                        statuses: vec![AppointmentStatus::Booked],
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        let mut times: Vec<String> = booked
            .iter()
            .map(|a| {
                a.starts_at
                    .to_zoned(jiff::tz::TimeZone::get("Europe/Istanbul").unwrap())
                    .strftime("%H:%M")
                    .to_string()
            })
            .collect();
        times.sort();
        assert_eq!(times, ["09:00", "09:30"]);
        // Each person is one lead; Ayşe's lead keeps the cancellation on its timeline.
        let ayse = c.conversation_of("ayse").await;
        let lead =
            c.rt.store
                .lead_for_conversation("demo-dental", ayse)
                .await
                .unwrap()
                .unwrap();
        let kinds: Vec<String> =
            c.rt.store
                .lead_events("demo-dental", lead.id)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect();
        assert!(
            kinds.contains(&"appointment_cancelled".to_string()),
            "{kinds:?}"
        );
    }

    #[tokio::test]
    async fn leads_are_assigned_by_language_and_escalated_when_nobody_answers() {
        let mut c = Clinic::open().await;
        c.say("ayse", "merhaba").await;
        c.say("burak", "merhaba").await;
        let lead = |who: &'static str| {
            let rt = c.rt.clone();
            async move {
                let conversation = rt
                    .store
                    .find_conversation("demo-dental", Channel::Webchat, who)
                    .await
                    .unwrap()
                    .unwrap()
                    .id;
                rt.store
                    .lead_for_conversation("demo-dental", conversation)
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        // Both consultants speak Turkish: the one who got a lead least recently.
        let (a, b) = (lead("ayse").await, lead("burak").await);
        assert_eq!(a.assignee.as_deref(), Some("selin"));
        assert_eq!(b.assignee.as_deref(), Some("deniz"));
        // 30 business minutes from Monday 08:00, before the 09:00 opening: 09:30.
        let due: Timestamp = "2026-12-07T09:30:00+03:00".parse().unwrap();
        assert_eq!(b.first_response_due, Some(due));

        // An agent answers Ayşe in time; nobody answers Burak.
        c.rt.store
            .update_lead(
                "demo-dental",
                a.id,
                &[LeadOp::HumanResponded],
                "agent:selin",
                Timestamp::now(),
            )
            .await
            .unwrap();
        let later = due + SignedDuration::from_mins(1);
        while c.rt.store.fire_due_timers(later, 100).await.unwrap() > 0 {}
        c.settle().await;
        let (a, b) = (lead("ayse").await, lead("burak").await);
        assert!(!a.sla_breached, "{a:?}");
        assert!(b.sla_breached, "{b:?}");
        assert_eq!(b.assignee.as_deref(), Some("selin"), "escalated");
        let burak = c.conversation_of("burak").await;
        let conv =
            c.rt.store
                .conversation("demo-dental", burak)
                .await
                .unwrap()
                .unwrap();
        assert!(
            conv.tags.contains(&"sla_breached".to_string()),
            "{:?}",
            conv.tags
        );
    }
}
