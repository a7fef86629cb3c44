//! The background workers of one process: inbox (one conversation at a time per
//! worker, many at once), outbox (delivery with retry), timers (due timers into the
//! inbox). They wake on [`store::Notice`]s and poll as a fallback, so a lost wake-up
//! (Redis down, another replica) costs only latency.

use crate::inbox::wake_conversation;
use crate::metrics as m;
use crate::runtime::Runtime;
use crate::senders::Outcome;
use channels::Channel;
use jiff::Timestamp;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Notice, OutboxItem};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Starts every worker; they stop when `shutdown` turns true.
pub fn spawn_all(rt: &Arc<Runtime>, shutdown: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    let wake = Arc::new(Notify::new());
    handles.push(tokio::spawn(forward_inbox_notices(
        rt.hot.subscribe(),
        wake.clone(),
        shutdown.clone(),
    )));
    for i in 0..rt.config.workers.inbox.max(1) {
        handles.push(tokio::spawn(inbox_worker(
            rt.clone(),
            shutdown.clone(),
            i,
            wake.clone(),
        )));
    }
    handles.push(tokio::spawn(outbox_worker(rt.clone(), shutdown.clone())));
    handles.push(tokio::spawn(timer_worker(rt.clone(), shutdown.clone())));
    handles
}

/// Waits for a wanted notice, the poll interval, or shutdown. Returns false on shutdown.
async fn wait(
    notices: &mut broadcast::Receiver<Notice>,
    shutdown: &mut watch::Receiver<bool>,
    poll: Duration,
    wanted: fn(&Notice) -> bool,
) -> bool {
    let deadline = tokio::time::sleep(poll);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return true,
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { return false; }
            }
            n = notices.recv() => match n {
                Ok(n) if wanted(&n) => return true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => {
                    (&mut deadline).await;
                    return true;
                }
            },
        }
    }
}

/// Turns "new inbox items" notices into one worker's wake-up (not all of them: a claim
/// is a write, and every idle worker trying at once would queue on the writer).
async fn forward_inbox_notices(
    mut notices: broadcast::Receiver<Notice>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            n = notices.recv() => match n {
                Ok(Notice::Inbox) | Err(broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn inbox_worker(
    rt: Arc<Runtime>,
    mut shutdown: watch::Receiver<bool>,
    index: usize,
    wake: Arc<Notify>,
) {
    let mut backoff = Duration::from_millis(50);
    // One worker polls as a fallback for lost wake-ups; the others wait to be woken.
    let idle = if index == 0 {
        rt.poll()
    } else {
        Duration::from_secs(5)
    };
    while !*shutdown.borrow() {
        match rt
            .store
            .claim_conversation(&rt.owner, rt.lease(), Timestamp::now())
            .await
        {
            Ok(Some(claim)) => {
                backoff = Duration::from_millis(50);
                // There may be more: let a peer look while this one works.
                wake.notify_one();
                if let Err(e) = crate::turns::run_claim(&rt, &claim).await {
                    tracing::warn!(worker = index, tenant = %claim.tenant, conversation = claim.conversation, error = %e, "conversation turn failed; will retry");
                    m::worker_error("inbox");
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(idle) => {}
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() { break; }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(worker = index, error = %e, "inbox claim failed");
                m::worker_error("inbox");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Claims due outbox messages and sends them, each conversation's in order on a task of
/// its own, at most `limits.send_concurrency` conversations at once. Claims go on while
/// sends are under way, so a send that waits (a stalled upstream, a paced chat, a paused
/// number) holds up its own conversation only, never the next customers' replies.
async fn outbox_worker(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let mut notices = rt.hot.subscribe();
    let lease = Duration::from_secs(30);
    let slots = rt.config.limits.send_concurrency.max(1);
    let mut sending: JoinSet<()> = JoinSet::new();
    // The conversations with a task here: a claim can hand back a message of one of them
    // only if its lease ran out during a very long send; it stays with that task's turn
    // (its lease runs out again and it is claimed after).
    let busy: Conversations = Arc::default();
    while !*shutdown.borrow() {
        while sending.try_join_next().is_some() {}
        let free = slots.saturating_sub(sending.len());
        let claimed = match free {
            0 => Ok(Vec::new()),
            free => {
                rt.store
                    .claim_outbox(&rt.owner, free.min(128) as u32, lease, Timestamp::now())
                    .await
            }
        };
        match claimed {
            Ok(items) if !items.is_empty() => {
                for group in deliver_webchat(&rt, items).await {
                    let Some(mine) = Sending::start(&busy, &group[0]) else {
                        continue;
                    };
                    let rt = rt.clone();
                    sending.spawn(async move {
                        send_in_order(&rt, group).await;
                        drop(mine);
                    });
                }
            }
            Ok(_) if free == 0 => {
                // Every slot busy: a new message cannot be taken before a send finishes,
                // so only that (or shutdown) wakes the worker.
                tokio::select! {
                    _ = sending.join_next() => {}
                    changed = shutdown.changed() => if changed.is_err() { break },
                }
            }
            Ok(_) => {
                // Nothing claimable: wait for a new message, a send to finish (its slot,
                // and its conversation's next message), the poll, or shutdown.
                let wanted = wait(&mut notices, &mut shutdown, rt.poll(), |n| {
                    matches!(n, Notice::Outbox)
                });
                tokio::select! {
                    Some(_) = sending.join_next(), if !sending.is_empty() => {}
                    go_on = wanted => if !go_on { break },
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox claim failed");
                m::worker_error("outbox");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    // Sends under way finish (each ends within the upstream client's timeout).
    while sending.join_next().await.is_some() {}
}

type Conversations = Arc<Mutex<HashSet<(String, i64)>>>;

/// A conversation being sent by a task of the outbox worker; it is free again when this
/// is dropped, however the task ends (a panic too).
struct Sending {
    busy: Conversations,
    key: (String, i64),
}

impl Sending {
    /// `None` when the item's conversation is being sent already.
    fn start(busy: &Conversations, item: &OutboxItem) -> Option<Sending> {
        let key = (item.tenant.clone(), item.conversation);
        lock(busy).insert(key.clone()).then(|| Sending {
            busy: busy.clone(),
            key,
        })
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        lock(&self.busy).remove(&self.key);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records claimed web chat messages as delivered, in one transaction, and wakes their
/// sockets; returns the others grouped by conversation, each group in order.
async fn deliver_webchat(rt: &Runtime, items: Vec<OutboxItem>) -> Vec<Vec<OutboxItem>> {
    let now = Timestamp::now();
    // Web chat delivery is the socket reading the stored message: marking it sent and
    // waking the sockets of the conversation (in any replica) is the send, so a whole
    // batch is recorded in one transaction.
    let (webchat, others): (Vec<_>, Vec<_>) = items
        .into_iter()
        .partition(|i| i.channel == Channel::Webchat);
    if !webchat.is_empty() {
        let ids: Vec<i64> = webchat.iter().map(|i| i.id).collect();
        match rt.store.outbox_sent_many(&ids, now).await {
            Ok(()) => {
                let mut woken = std::collections::HashSet::new();
                for item in &webchat {
                    m::message_out(&item.tenant, item.channel.as_str());
                    if woken.insert((item.tenant.as_str(), item.conversation)) {
                        wake_conversation(rt, &item.tenant, item.conversation).await;
                    }
                }
            }
            Err(e) => {
                // The leases expire and the rows are claimed again; sockets read by seq,
                // so a message is never shown twice.
                tracing::warn!(error = %e, "recording web chat delivery failed");
                m::worker_error("outbox");
            }
        }
    }
    let mut groups: Vec<Vec<OutboxItem>> = Vec::new();
    for item in others {
        match groups
            .iter_mut()
            .find(|g| g[0].conversation == item.conversation && g[0].tenant == item.tenant)
        {
            Some(g) => g.push(item),
            None => groups.push(vec![item]),
        }
    }
    groups
}

async fn send_in_order(rt: &Runtime, group: Vec<OutboxItem>) {
    let mut held: Option<Timestamp> = None;
    for item in group {
        let outcome = match held {
            Some(at) => Outcome::Retry {
                at,
                error: "waiting for an earlier message of this conversation".into(),
            },
            None => {
                // Recorded before the call: if this process dies during it, the row is
                // held until the provider's status can confirm it (no second send).
                let now = Timestamp::now();
                let hold =
                    jiff::SignedDuration::from_millis(rt.config.workers.send_grace_ms as i64);
                let hold_until = now.checked_add(hold).unwrap_or(now);
                if let Err(e) = rt
                    .store
                    .outbox_sending(item.id, &rt.owner, now, hold_until)
                    .await
                {
                    tracing::warn!(outbox = item.id, error = %e, "lease lost before sending; skipped");
                    continue;
                }
                rt.senders.send(rt, &item).await
            }
        };
        let channel = item.channel.as_str();
        let recorded = match &outcome {
            Outcome::Sent(id) => {
                m::send_result(channel, "sent");
                m::message_out(&item.tenant, channel);
                rt.store
                    .outbox_sent(item.id, id.as_deref(), Timestamp::now())
                    .await
            }
            Outcome::Retry { at, error } => {
                m::send_result(channel, "retry");
                held = Some(*at);
                tracing::info!(tenant = %item.tenant, outbox = item.id, %channel, %error, "send will be retried");
                rt.store.outbox_failed(item.id, error, Some(*at)).await
            }
            Outcome::Final { error } => {
                m::send_result(channel, "failed");
                tracing::warn!(tenant = %item.tenant, outbox = item.id, %channel, %error, "message not sent");
                rt.store.outbox_failed(item.id, error, None).await
            }
        };
        if let Err(e) = recorded {
            // The lease expires and the row is claimed again. For a sent message the
            // provider dedupes nothing, so this is the one window where a crash or a
            // store failure could repeat a send; it is logged loudly.
            tracing::error!(outbox = item.id, error = %e, "recording a send outcome failed");
            m::worker_error("outbox");
        }
        wake_conversation(rt, &item.tenant, item.conversation).await;
    }
}

async fn timer_worker(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let tick = Duration::from_millis(500);
    while !*shutdown.borrow() {
        // Only one replica sweeps at a time; without Redis each sweeps, which is safe
        // because moving a timer into the inbox is one transaction.
        let token = rt
            .hot
            .try_lock("timers", Duration::from_secs(5))
            .await
            .ok()
            .flatten();
        match rt.store.fire_due_timers(Timestamp::now(), 200).await {
            Ok(n) if n > 0 => {
                let _ = rt.hot.publish(&Notice::Inbox).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "firing timers failed");
                m::worker_error("timers");
            }
        }
        if let Some(t) = token {
            let _ = rt.hot.unlock("timers", &t).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
}
