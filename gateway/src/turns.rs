//! Runs the engine on a leased conversation: each pending inbox item becomes a flows
//! [`flows::Event`], the flow's actions become one [`store::Turn`] committed atomically
//! (state, replies into the outbox, timers, tags). Business rules stay in `flows`.

use crate::metrics as m;
use crate::runtime::Runtime;
use channels::Inbound;
use flows::{Action, ConversationState, Ctx, Event, Understanding};
use store::{Claim, ConversationRecord, InboxItem, NewOutgoing, Notice, StoreError, TimerOp, Turn};

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
            let mut turn = decide(rt, &conversation, item).await;
            turn.release = i == last;
            let replies = turn.outgoing.len();
            let released = rt.store.commit_turn(&turn).await?;
            conversation.state = turn.state.clone();
            conversation.handoff = turn.handoff;
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

/// Turns one inbox item into the turn to commit. Never fails: an item we cannot read
/// is committed with no actions (and logged), so it cannot block the conversation.
pub async fn decide(rt: &Runtime, conversation: &ConversationRecord, item: &InboxItem) -> Turn {
    let now = rt.clock.now();
    let state = ConversationState::from_json(&conversation.state);
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
    let ctx = Ctx {
        tenant: &tenant.profile,
        clock: rt.clock.as_ref(),
    };
    let (next, actions) = flows::handle(&state, &event, &ctx);
    apply(&mut turn, actions);
    turn.handoff = next.handoff;
    turn.state = next.to_json();
    turn
}

fn apply(turn: &mut Turn, actions: Vec<Action>) {
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
