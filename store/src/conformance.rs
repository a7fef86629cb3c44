//! One test suite for every backend: what any [`Store`] or [`Hot`] must do, written once
//! against the traits. Each check takes a fresh, empty backend and panics (like a test)
//! on the first broken promise; `store/tests/conformance.rs` runs every check against
//! SQLite, PostgreSQL, in-process and Redis. A new backend passes this suite first.
//!
//! Checks use fixed times (the store never reads the clock for them) and, for [`Hot`],
//! random keys, so they can run in parallel against one shared server.

use crate::{
    Claim, Direction, Hot, MessageStatus, NewOutgoing, Notice, Store, StoreError, TimerOp, Turn,
};
use channels::{Channel, Contact, Content, Inbound, OutContent, Referral};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod clinic;
pub use clinic::*;

/// A check of the store suite.
pub type StoreCheck = fn(Arc<dyn Store>) -> futures_util::future::BoxFuture<'static, ()>;

/// Calls macro `$callback` with the name of every store check (each a function of this
/// module), so a runner can write one test per check without repeating the list:
/// `store::conformance_checks!(my_tests);`.
#[macro_export]
macro_rules! conformance_checks {
    ($callback:ident) => {
        $callback! {
            ping_and_tenants,
            dedupe,
            first_touch_referral,
            tenant_isolation,
            claim_exclusive_under_concurrency,
            claim_order_and_expiry,
            lease_lost,
            commit_turn_effects,
            commit_idempotent,
            commit_releases_when_drained,
            outbox_lifecycle,
            outbox_sent_many,
            delivery_statuses_move_forward,
            outbox_keeps_order_per_conversation,
            ambiguous_sends_wait_for_confirmation,
            agent_messages_are_queued_once,
            dead_letters_keep_bodies_whole,
            outbox_expired_lease,
            timers,
            enqueue_event_dedupe,
            unicode_round_trip,
            list_and_page_messages,
            concurrent_load,
            clinic_holds_and_booking,
            clinic_booking_conflicts_roll_back_the_turn,
            clinic_expired_hold_is_taken_over,
            clinic_cancel_offers_the_waitlist,
            clinic_waitlist_fits_the_part_of_day,
            clinic_reschedule_is_atomic,
            clinic_tenant_scoping,
            lead_touch_merges_across_channels,
            lead_stage_score_assign_events,
            lead_filters_and_loads,
            crm_delivery_retry_and_give_up,
            clinic_concurrent_booking,
            lead_touch_under_concurrency,
        }
    };
}

/// Every store check, by name.
pub fn store_checks() -> Vec<(&'static str, StoreCheck)> {
    macro_rules! checks {
        ($($name:ident),* $(,)?) => {
            vec![$((
                stringify!($name),
                (|s| Box::pin($name(s)) as futures_util::future::BoxFuture<'static, ()>) as StoreCheck,
            )),*]
        };
    }
    crate::conformance_checks!(checks)
}

/// Runs every store check, each on a fresh store from `make`.
pub async fn run_store_suite<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    for (name, check) in store_checks() {
        tracing::info!(check = name, "store conformance");
        check(make().await).await;
    }
}

/// Runs every [`Hot`] check. `a` and `b` are two handles on the same backend (two
/// connections to one Redis, or the same in-process value twice).
pub async fn run_hot_suite(a: Arc<dyn Hot>, b: Arc<dyn Hot>) {
    hot_seen_remember(a.clone()).await;
    hot_locks(a.clone(), b.clone()).await;
    hot_publish_subscribe(a, b).await;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A fixed instant (2025-06-01T00:00:00Z) plus `secs`.
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_748_736_000).expect("valid base time")
        + SignedDuration::from_secs(secs)
}

/// A customer text message.
pub fn inbound(
    tenant: &str,
    channel: Channel,
    handle: &str,
    provider_id: &str,
    text: &str,
) -> Inbound {
    Inbound {
        tenant: tenant.to_string(),
        channel,
        contact: Contact {
            handle: handle.to_string(),
            name: None,
            phone: None,
        },
        content: Content::Text {
            body: text.to_string(),
        },
        referral: None,
        provider_id: provider_id.to_string(),
        sent_at_ms: None,
        reply_to: None,
        details: Default::default(),
    }
}

/// A turn that only marks `inbox_id` done.
pub fn turn(claim: &Claim, owner: &str, inbox_id: i64, now: Timestamp) -> Turn {
    Turn {
        tenant: claim.tenant.clone(),
        conversation: claim.conversation,
        owner: owner.to_string(),
        inbox_id,
        state: serde_json::Value::Null,
        handoff: false,
        opt_out: false,
        annotate: None,
        outgoing: Vec::new(),
        timers: Vec::new(),
        tags: Vec::new(),
        release: false,
        appointments: Vec::new(),
        lead: Vec::new(),
        now,
    }
}

fn bot(text: &str) -> NewOutgoing {
    NewOutgoing {
        sender: "bot".to_string(),
        content: OutContent::text(text),
    }
}

const LEASE: Duration = Duration::from_secs(30);

/// Claims as `owner` and expects the given conversation.
async fn claim_expect(store: &dyn Store, owner: &str, now: Timestamp, expected: i64) -> Claim {
    let claim = store
        .claim_conversation(owner, LEASE, now)
        .await
        .expect("claim")
        .expect("a claim");
    assert_eq!(
        claim.conversation, expected,
        "{owner} claimed the wrong conversation"
    );
    claim
}

/// Stores `message`, claims its conversation as "w" and commits a turn that sends
/// `replies` and gives the lease back: the usual way a test gets rows into the outbox.
async fn reply_to(store: &dyn Store, message: &Inbound, replies: &[&str], now: i64) -> Claim {
    store
        .accept_inbound(message, at(now))
        .await
        .expect("accept");
    let claim = store
        .claim_conversation("w", LEASE, at(now + 1))
        .await
        .expect("claim")
        .expect("a claim");
    let item = store
        .pending_inbox(claim.conversation, 1)
        .await
        .expect("pending")
        .remove(0);
    let mut t = turn(&claim, "w", item.id, at(now + 2));
    t.outgoing = replies.iter().map(|r| bot(r)).collect();
    t.release = true;
    store.commit_turn(&t).await.expect("commit");
    claim
}

// ---------------------------------------------------------------------------------------
// Store checks
// ---------------------------------------------------------------------------------------

/// A send that was under way when its process died is not handed out again before its
/// hold ends; a provider confirmation by idempotency key settles it as sent.
pub async fn ambiguous_sends_wait_for_confirmation(store: Arc<dyn Store>) {
    for (handle, pid) in [("905550000101", "wamid.A1"), ("905550000102", "wamid.A2")] {
        let m = inbound("t1", Channel::Whatsapp, handle, pid, "merhaba");
        reply_to(&*store, &m, &["hoş geldiniz"], 1).await;
    }
    let rows = store.claim_outbox("dead", 10, LEASE, at(4)).await.unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        store
            .outbox_sending(r.id, "dead", at(5), at(65))
            .await
            .unwrap();
    }
    assert!(
        store
            .outbox_sending(rows[0].id, "someone-else", at(5), at(65))
            .await
            .is_err(),
        "only the lease holder marks a send"
    );
    // The process died. Past the plain lease, still held.
    assert!(
        store
            .claim_outbox("next", 10, LEASE, at(40))
            .await
            .unwrap()
            .is_empty()
    );
    // Meta's status for the first one arrives with our key.
    assert!(
        store
            .outbox_confirm("t1", &rows[0].idempotency_key, "wamid.CONFIRMED", at(41))
            .await
            .unwrap()
    );
    assert!(
        !store
            .outbox_confirm("t1", &rows[0].idempotency_key, "wamid.CONFIRMED", at(42))
            .await
            .unwrap(),
        "settled once"
    );
    assert!(
        !store
            .outbox_confirm("t2", &rows[1].idempotency_key, "wamid.X", at(42))
            .await
            .unwrap(),
        "another tenant cannot confirm"
    );
    let msgs = store
        .messages("t1", rows[0].conversation, 0, 10)
        .await
        .unwrap();
    let out = msgs.iter().find(|m| m.direction == Direction::Out).unwrap();
    assert_eq!(
        (out.status, out.provider_id.as_deref()),
        (MessageStatus::Sent, Some("wamid.CONFIRMED"))
    );
    // The second was never confirmed: after the hold it goes out again.
    let again = store.claim_outbox("next", 10, LEASE, at(66)).await.unwrap();
    assert_eq!(
        again.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![rows[1].id]
    );
    assert_eq!(again[0].attempts, 2);
}

/// Per conversation, outbound messages are claimed in order: while an older message is
/// in flight or waiting for a retry, newer ones of that conversation are not handed out;
/// other conversations go on.
pub async fn outbox_keeps_order_per_conversation(store: Arc<dyn Store>) {
    let mut convs = Vec::new();
    for (handle, replies) in [("s-ord-a", 3), ("s-ord-b", 1)] {
        let texts: Vec<String> = (0..replies)
            .map(|n| format!("{handle} yanıt {n}"))
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let m = inbound(
            "t1",
            Channel::Telegram,
            handle,
            &format!("{handle}-1"),
            "selam",
        );
        convs.push(reply_to(&*store, &m, &texts, 1).await.conversation);
    }
    let (a, b) = (convs[0], convs[1]);
    let x = store.claim_outbox("x", 1, LEASE, at(4)).await.unwrap();
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].conversation, a);
    let y = store.claim_outbox("y", 10, LEASE, at(4)).await.unwrap();
    assert_eq!(
        y.iter().map(|i| i.conversation).collect::<Vec<_>>(),
        vec![b],
        "a's later replies wait while its first is in flight"
    );
    assert_eq!(y[0].sender, "bot");
    // The first reply fails and waits for a retry: the rest of a still waits.
    store
        .outbox_failed(x[0].id, "503", Some(at(60)))
        .await
        .unwrap();
    assert!(
        store
            .claim_outbox("z", 10, LEASE, at(5))
            .await
            .unwrap()
            .is_empty()
    );
    let later: Vec<_> = store
        .claim_outbox("z", 10, LEASE, at(61))
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.conversation == a)
        .collect();
    let ids: Vec<i64> = later.iter().map(|i| i.id).collect();
    assert_eq!(later.len(), 3, "all three of a, oldest first");
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(later[0].id, x[0].id);
}

/// An agent's message is queued with its outbox row; a retried request with the same
/// key stores it once; another tenant's conversation is not found.
pub async fn agent_messages_are_queued_once(store: Arc<dyn Store>) {
    let acc = store
        .accept_inbound(
            &inbound("t1", Channel::Telegram, "4242", "tg:1", "merhaba"),
            at(1),
        )
        .await
        .unwrap();
    let out = NewOutgoing {
        sender: "agent".into(),
        content: OutContent::text("Ben Ayşe, size yardımcı olacağım."),
    };
    let (seq, new) = store
        .append_outgoing("t1", acc.conversation, &out, "agent:k1", at(2))
        .await
        .unwrap();
    assert!(new);
    let (again, new) = store
        .append_outgoing("t1", acc.conversation, &out, "agent:k1", at(3))
        .await
        .unwrap();
    assert_eq!((again, new), (seq, false));
    assert!(matches!(
        store
            .append_outgoing("t2", acc.conversation, &out, "agent:k2", at(3))
            .await,
        Err(StoreError::NotFound)
    ));
    let items = store.claim_outbox("o", 10, LEASE, at(4)).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].sender.as_str(), items[0].to.as_str()),
        ("agent", "4242")
    );
    assert_eq!(items[0].last_inbound_at, Some(at(1)));
}

/// Provider statuses find the outbound message by provider id and never move backwards;
/// the outbox row carries the window facts (last inbound, last ad referral).
pub async fn delivery_statuses_move_forward(store: Arc<dyn Store>) {
    let mut first = inbound(
        "t1",
        Channel::Whatsapp,
        "+905551112233",
        "wamid.IN1",
        "merhaba",
    );
    first.referral = Some(Referral {
        source_type: Some("ad".into()),
        ctwa_clid: Some("clid-1".into()),
        ..Referral::default()
    });
    store.accept_inbound(&first, at(10)).await.unwrap();
    let claim = store
        .claim_conversation("w", LEASE, at(11))
        .await
        .unwrap()
        .expect("claim");
    let item = store
        .pending_inbox(claim.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t = turn(&claim, "w", item.id, at(12));
    t.outgoing.push(bot("hoş geldiniz"));
    store.commit_turn(&t).await.unwrap();
    let out = store
        .claim_outbox("o", 10, LEASE, at(13))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(out.last_inbound_at, Some(at(10)));
    assert_eq!(out.last_referral_at, Some(at(10)));
    store
        .outbox_sent(out.id, Some("wamid.OUT-S"), at(14))
        .await
        .unwrap();

    let seen = |store: Arc<dyn Store>| async move {
        store
            .messages("t1", claim.conversation, 0, 10)
            .await
            .unwrap()[1]
            .status
    };
    let rs = |status, error| {
        let store = store.clone();
        async move {
            store
                .record_status("t1", Channel::Whatsapp, "wamid.OUT-S", status, error)
                .await
                .unwrap()
        }
    };
    assert!(rs(MessageStatus::Delivered, None).await);
    assert_eq!(seen(store.clone()).await, MessageStatus::Delivered);
    assert!(
        rs(MessageStatus::Sent, None).await,
        "found, but not moved back"
    );
    assert_eq!(seen(store.clone()).await, MessageStatus::Delivered);
    assert!(rs(MessageStatus::Failed, Some("131026")).await);
    assert_eq!(
        seen(store.clone()).await,
        MessageStatus::Delivered,
        "a delivered message does not fail later"
    );
    assert!(rs(MessageStatus::Read, None).await);
    assert_eq!(seen(store.clone()).await, MessageStatus::Read);
    assert!(
        !store
            .record_status(
                "t1",
                Channel::Whatsapp,
                "wamid.NOPE",
                MessageStatus::Read,
                None
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_status(
                "t2",
                Channel::Whatsapp,
                "wamid.OUT-S",
                MessageStatus::Read,
                None
            )
            .await
            .unwrap(),
        "another tenant's status does not touch this message"
    );
}

/// Dead letters keep the raw body byte for byte (even invalid UTF-8) and can be marked
/// re-driven once.
pub async fn dead_letters_keep_bodies_whole(store: Arc<dyn Store>) {
    let body = vec![0x7b, 0xff, 0xfe, b'"', 0xc4, 0xb1, 0x00, b'}'];
    let id = store
        .add_dead_letter(&crate::NewDeadLetter {
            source: "meta".into(),
            tenant: None,
            reason: "not an envelope: İ ı 🙂".into(),
            body: body.clone(),
            headers: json!({"x-hub-signature-256": "sha256=ab"}),
            received_at: at(1),
        })
        .await
        .unwrap();
    let open = store.dead_letters(10, false).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, id);
    assert_eq!(open[0].body, body);
    assert_eq!(open[0].reason, "not an envelope: İ ı 🙂");
    assert_eq!(open[0].headers["x-hub-signature-256"], "sha256=ab");
    store.mark_redriven(id, at(2)).await.unwrap();
    assert!(store.dead_letters(10, false).await.unwrap().is_empty());
    assert_eq!(
        store.dead_letters(10, true).await.unwrap()[0].redriven_at,
        Some(at(2))
    );
    assert!(matches!(
        store.mark_redriven(id + 1000, at(3)).await,
        Err(StoreError::NotFound)
    ));
}

/// A turn that asks to release drops the lease only when nothing else is pending, in
/// the same transaction: another owner can claim at once, with no wait for expiry.
pub async fn commit_releases_when_drained(store: Arc<dyn Store>) {
    for (n, text) in ["bir", "iki"].iter().enumerate() {
        store
            .accept_inbound(
                &inbound("t1", Channel::Webchat, "s-rel", &format!("rel-{n}"), text),
                at(1),
            )
            .await
            .expect("accept");
    }
    let conv = store
        .find_conversation("t1", Channel::Webchat, "s-rel")
        .await
        .unwrap()
        .expect("conversation")
        .id;
    let claim = claim_expect(&*store, "w1", at(2), conv).await;
    let pending = store.pending_inbox(conv, 10).await.unwrap();
    assert_eq!(pending.len(), 2);
    let mut first = turn(&claim, "w1", pending[0].id, at(3));
    first.release = true;
    assert!(
        !store.commit_turn(&first).await.unwrap(),
        "one item still pending: kept"
    );
    let mut second = turn(&claim, "w1", pending[1].id, at(3));
    second.release = true;
    assert!(
        store.commit_turn(&second).await.unwrap(),
        "drained: released"
    );
    store
        .accept_inbound(
            &inbound("t1", Channel::Webchat, "s-rel", "rel-2", "üç"),
            at(4),
        )
        .await
        .unwrap();
    // Well within the old lease: only a release lets w2 in now.
    claim_expect(&*store, "w2", at(4), conv).await;
}

/// Several outbox rows marked sent at once; unknown ids are skipped.
pub async fn outbox_sent_many(store: Arc<dyn Store>) {
    store
        .accept_inbound(
            &inbound("t1", Channel::Telegram, "s-many", "many-1", "selam"),
            at(1),
        )
        .await
        .unwrap();
    let claim = store
        .claim_conversation("w", LEASE, at(2))
        .await
        .unwrap()
        .expect("claim");
    let item = store
        .pending_inbox(claim.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t = turn(&claim, "w", item.id, at(3));
    t.outgoing.push(bot("bir"));
    t.outgoing.push(bot("iki"));
    store.commit_turn(&t).await.unwrap();
    let rows = store.claim_outbox("o", 10, LEASE, at(4)).await.unwrap();
    assert_eq!(rows.len(), 2);
    let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ids.push(987_654_321);
    store
        .outbox_sent_many(&ids, at(5))
        .await
        .expect("batch sent");
    let msgs = store
        .messages("t1", claim.conversation, 0, 10)
        .await
        .unwrap();
    let statuses: Vec<_> = msgs.iter().map(|m| m.status).collect();
    assert_eq!(
        statuses,
        [
            MessageStatus::Received,
            MessageStatus::Sent,
            MessageStatus::Sent
        ]
    );
    assert!(
        store
            .claim_outbox("o", 10, LEASE, at(100))
            .await
            .unwrap()
            .is_empty()
    );
}

/// The backend names itself, answers, and stores tenants repeatedly.
pub async fn ping_and_tenants(store: Arc<dyn Store>) {
    assert!(!store.backend().is_empty());
    store.ping().await.expect("ping");
    let mut tenant = crate::TenantRecord {
        id: "demo".into(),
        niche: "clinic".into(),
        name: "Demo Klinik".into(),
    };
    store.upsert_tenant(&tenant).await.expect("insert tenant");
    tenant.name = "Demo Diş Kliniği".into();
    store.upsert_tenant(&tenant).await.expect("update tenant");
}

/// The same (tenant, channel, provider id) is stored once; the copy reports the first.
pub async fn dedupe(store: Arc<dyn Store>) {
    let msg = inbound(
        "t1",
        Channel::Whatsapp,
        "905551112233",
        "wamid.A",
        "merhaba",
    );
    let first = store.accept_inbound(&msg, at(0)).await.expect("first");
    assert!(!first.duplicate);
    let again = store.accept_inbound(&msg, at(5)).await.expect("again");
    assert!(again.duplicate, "second copy must be a duplicate");
    assert_eq!(
        (again.conversation, again.message),
        (first.conversation, first.message)
    );
    assert_eq!(
        store
            .messages("t1", first.conversation, 0, 100)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .pending_inbox(first.conversation, 100)
            .await
            .unwrap()
            .len(),
        1
    );

    // Concurrent copies: exactly one is new.
    let msg = inbound(
        "t1",
        Channel::Whatsapp,
        "905551112233",
        "wamid.B",
        "orada mısınız",
    );
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, msg) = (store.clone(), msg.clone());
            tokio::spawn(async move {
                store
                    .accept_inbound(&msg, at(10))
                    .await
                    .expect("concurrent accept")
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    assert_eq!(
        results.iter().filter(|a| !a.duplicate).count(),
        1,
        "one copy stored: {results:?}"
    );
    assert!(results.iter().all(|a| a.message == results[0].message));

    // The key is per tenant and channel.
    let other_channel = inbound(
        "t1",
        Channel::Telegram,
        "905551112233",
        "wamid.A",
        "merhaba",
    );
    assert!(
        !store
            .accept_inbound(&other_channel, at(20))
            .await
            .unwrap()
            .duplicate
    );
    let other_tenant = inbound(
        "t2",
        Channel::Whatsapp,
        "905551112233",
        "wamid.A",
        "merhaba",
    );
    assert!(
        !store
            .accept_inbound(&other_tenant, at(20))
            .await
            .unwrap()
            .duplicate
    );
    assert_eq!(
        store
            .messages("t1", first.conversation, 0, 100)
            .await
            .unwrap()
            .len(),
        2
    );

    let pending = store.pending_inbox(first.conversation, 100).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].event["kind"], "message");
    assert_eq!(pending[0].event["message"], first.message);
    assert_eq!(
        pending[0].event["inbound"],
        serde_json::to_value(inbound(
            "t1",
            Channel::Whatsapp,
            "905551112233",
            "wamid.A",
            "merhaba"
        ))
        .unwrap()
    );
    assert_eq!(pending[0].created_at, at(0));
}

/// The first referral stays on the contact; names and phones follow the latest message.
pub async fn first_touch_referral(store: Arc<dyn Store>) {
    let ad = Referral {
        source_type: Some("ad".into()),
        source_id: Some("120".into()),
        ctwa_clid: Some("clid-1".into()),
        ..Default::default()
    };
    let later = Referral {
        utm_source: Some("google".into()),
        ..Default::default()
    };

    let mut m = inbound("t1", Channel::Whatsapp, "905550000001", "m1", "fiyat?");
    m.contact.name = Some("Ayşe".into());
    m.contact.phone = Some("+905550000001".into());
    m.referral = Some(ad.clone());
    let a = store.accept_inbound(&m, at(0)).await.unwrap();

    let mut m2 = inbound("t1", Channel::Whatsapp, "905550000001", "m2", "?");
    m2.referral = Some(later.clone());
    m2.contact.name = None;
    store.accept_inbound(&m2, at(1)).await.unwrap();
    let conv = store
        .conversation("t1", a.conversation)
        .await
        .unwrap()
        .expect("conversation");
    assert_eq!(conv.referral.as_ref(), Some(&ad), "first touch kept");
    assert_eq!(
        conv.contact.name.as_deref(),
        Some("Ayşe"),
        "name kept when not given"
    );
    assert_eq!(conv.contact.phone.as_deref(), Some("+905550000001"));
    assert_eq!(conv.last_inbound_at, Some(at(1)));
    assert_eq!(conv.created_at, at(0));
    assert_eq!(conv.state, serde_json::Value::Null);

    let mut m3 = inbound("t1", Channel::Whatsapp, "905550000001", "m3", "?");
    m3.contact.name = Some("Ayşe Yılmaz".into());
    store.accept_inbound(&m3, at(2)).await.unwrap();
    let conv = store
        .conversation("t1", a.conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        conv.contact.name.as_deref(),
        Some("Ayşe Yılmaz"),
        "name updated when given"
    );
    assert_eq!(conv.referral.as_ref(), Some(&ad));

    // No referral first (or an empty one): the first real one is the first touch.
    let mut n = inbound("t1", Channel::Instagram, "igsid-9", "i1", "selam");
    n.referral = Some(Referral::default());
    let b = store.accept_inbound(&n, at(3)).await.unwrap();
    assert_eq!(
        store
            .conversation("t1", b.conversation)
            .await
            .unwrap()
            .unwrap()
            .referral,
        None
    );
    let mut n2 = inbound("t1", Channel::Instagram, "igsid-9", "i2", "selam");
    n2.referral = Some(later.clone());
    store.accept_inbound(&n2, at(4)).await.unwrap();
    let mut n3 = inbound("t1", Channel::Instagram, "igsid-9", "i3", "selam");
    n3.referral = Some(ad);
    store.accept_inbound(&n3, at(5)).await.unwrap();
    assert_eq!(
        store
            .conversation("t1", b.conversation)
            .await
            .unwrap()
            .unwrap()
            .referral,
        Some(later)
    );
}

/// No read or write reaches another tenant's records.
pub async fn tenant_isolation(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(
            &inbound("acme", Channel::Whatsapp, "905551", "p1", "a"),
            at(0),
        )
        .await
        .unwrap();
    let b = store
        .accept_inbound(
            &inbound("beta", Channel::Whatsapp, "905551", "p1", "b"),
            at(1),
        )
        .await
        .unwrap();
    assert_ne!(
        a.conversation, b.conversation,
        "same handle, different tenants: two conversations"
    );

    assert!(
        store
            .conversation("beta", a.conversation)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .conversation("acme", a.conversation)
            .await
            .unwrap()
            .is_some()
    );
    let found = store
        .find_conversation("beta", Channel::Whatsapp, "905551")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, b.conversation);
    assert_eq!(found.tenant, "beta");
    assert!(
        store
            .find_conversation("gamma", Channel::Whatsapp, "905551")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_conversation("acme", Channel::Telegram, "905551")
            .await
            .unwrap()
            .is_none()
    );

    let listed = store.list_conversations("acme", 10, 0).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        [a.conversation]
    );
    assert!(
        store
            .list_conversations("gamma", 10, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .messages("beta", a.conversation, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .messages("acme", a.conversation, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let err = store
        .enqueue_event(
            "beta",
            a.conversation,
            &json!({"kind": "release"}),
            "r1",
            at(2),
        )
        .await;
    assert!(
        matches!(err, Err(StoreError::NotFound)),
        "enqueue into another tenant: {err:?}"
    );

    // A turn naming the wrong tenant changes nothing.
    let claim = claim_expect(&*store, "w", at(3), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut wrong = turn(&claim, "w", item.id, at(3));
    wrong.tenant = "beta".into();
    wrong.outgoing.push(bot("sızdı"));
    assert!(
        store.commit_turn(&wrong).await.is_err(),
        "commit under another tenant must fail"
    );
    assert_eq!(
        store.pending_inbox(a.conversation, 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        store
            .messages("acme", a.conversation, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Many workers claiming at once never hold one conversation together, and every
/// item is handled once.
pub async fn claim_exclusive_under_concurrency(store: Arc<dyn Store>) {
    const CONVERSATIONS: usize = 50;
    const WORKERS: usize = 8;
    for i in 0..CONVERSATIONS {
        for j in 0..2 {
            let msg = inbound(
                "t1",
                Channel::Webchat,
                &format!("session-{i}"),
                &format!("c{i}-{j}"),
                "selam",
            );
            store.accept_inbound(&msg, at(i as i64)).await.unwrap();
        }
    }
    let held: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let handled: Arc<Mutex<Vec<i64>>> = Arc::default();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (store, held, handled) = (store.clone(), held.clone(), handled.clone());
            tokio::spawn(async move {
                let owner = format!("worker-{w}");
                let now = at(1000);
                while let Some(claim) = store
                    .claim_conversation(&owner, LEASE, now)
                    .await
                    .expect("claim")
                {
                    assert!(
                        held.lock().unwrap().insert(claim.conversation),
                        "conversation {} leased twice at once",
                        claim.conversation
                    );
                    tokio::task::yield_now().await;
                    for item in store
                        .pending_inbox(claim.conversation, 100)
                        .await
                        .expect("pending")
                    {
                        store
                            .commit_turn(&turn(&claim, &owner, item.id, now))
                            .await
                            .expect("commit");
                        handled.lock().unwrap().push(item.id);
                    }
                    held.lock().unwrap().remove(&claim.conversation);
                    store
                        .release_conversation(claim.conversation, &owner)
                        .await
                        .expect("release");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let handled = handled.lock().unwrap().clone();
    let unique: HashSet<i64> = handled.iter().copied().collect();
    assert_eq!(
        handled.len(),
        CONVERSATIONS * 2,
        "every item handled exactly once"
    );
    assert_eq!(unique.len(), CONVERSATIONS * 2);
    assert!(
        store
            .claim_conversation("late", LEASE, at(2000))
            .await
            .unwrap()
            .is_none()
    );
}

/// Claims go to the oldest pending item first; a held lease blocks others until it
/// expires or is released; pending items come in arrival order.
pub async fn claim_order_and_expiry(store: Arc<dyn Store>) {
    assert!(
        store
            .claim_conversation("w1", LEASE, at(0))
            .await
            .unwrap()
            .is_none(),
        "nothing pending yet"
    );
    let a1 = store
        .accept_inbound(&inbound("t1", Channel::Whatsapp, "a", "a1", "bir"), at(0))
        .await
        .unwrap();
    let b1 = store
        .accept_inbound(&inbound("t1", Channel::Whatsapp, "b", "b1", "iki"), at(1))
        .await
        .unwrap();
    let a2 = store
        .accept_inbound(&inbound("t1", Channel::Whatsapp, "a", "a2", "üç"), at(2))
        .await
        .unwrap();

    let claim = claim_expect(&*store, "w1", at(3), a1.conversation).await;
    assert_eq!(claim.tenant, "t1");
    let pending = store.pending_inbox(a1.conversation, 10).await.unwrap();
    let seqs: Vec<_> = pending
        .iter()
        .map(|i| i.event["message"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [a1.message, a2.message], "arrival order");
    assert!(
        pending
            .iter()
            .all(|i| i.tenant == "t1" && i.conversation == a1.conversation)
    );
    assert_eq!(
        store.pending_inbox(a1.conversation, 1).await.unwrap().len(),
        1,
        "limit applies"
    );

    claim_expect(&*store, "w2", at(4), b1.conversation).await;
    assert!(
        store
            .claim_conversation("w3", LEASE, at(5))
            .await
            .unwrap()
            .is_none(),
        "both leased"
    );

    // w1's lease (until at(33)) expires; w3 takes the conversation over.
    store
        .renew_lease(b1.conversation, "w2", LEASE, at(20))
        .await
        .expect("renew");
    claim_expect(&*store, "w3", at(34), a1.conversation).await;
    assert!(
        store
            .claim_conversation("w4", LEASE, at(40))
            .await
            .unwrap()
            .is_none(),
        "b renewed until 50"
    );

    // Releasing by a non-owner does nothing; by the owner frees it.
    store
        .release_conversation(a1.conversation, "w1")
        .await
        .unwrap();
    assert!(
        store
            .claim_conversation("w4", LEASE, at(41))
            .await
            .unwrap()
            .is_none()
    );
    store
        .release_conversation(a1.conversation, "w3")
        .await
        .unwrap();
    claim_expect(&*store, "w4", at(42), a1.conversation).await;
}

/// Only the lease holder commits or renews.
pub async fn lease_lost(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(
            &inbound("t1", Channel::Telegram, "42", "u1", "selam"),
            at(0),
        )
        .await
        .unwrap();
    let claim = claim_expect(&*store, "x", at(1), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);

    let mut by_y = turn(&claim, "y", item.id, at(2));
    by_y.outgoing.push(bot("merhaba"));
    let err = store.commit_turn(&by_y).await;
    assert!(
        matches!(err, Err(StoreError::LeaseLost(c)) if c == a.conversation),
        "non-owner commit: {err:?}"
    );
    let err = store.renew_lease(a.conversation, "y", LEASE, at(2)).await;
    assert!(
        matches!(err, Err(StoreError::LeaseLost(_))),
        "non-owner renew: {err:?}"
    );

    // x's lease expires and z takes over: x has lost it.
    let z = claim_expect(&*store, "z", at(100), a.conversation).await;
    let mut by_x = turn(&claim, "x", item.id, at(101));
    by_x.outgoing.push(bot("geç kaldım"));
    assert!(matches!(
        store.commit_turn(&by_x).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(matches!(
        store.renew_lease(a.conversation, "x", LEASE, at(101)).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert_eq!(
        store
            .messages("t1", a.conversation, 0, 10)
            .await
            .unwrap()
            .len(),
        1,
        "nothing written"
    );
    assert_eq!(
        store.pending_inbox(a.conversation, 10).await.unwrap().len(),
        1,
        "item still pending"
    );

    store
        .commit_turn(&turn(&z, "z", item.id, at(102)))
        .await
        .expect("owner commits");
    assert!(
        store
            .pending_inbox(a.conversation, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown inbox item or conversation.
    assert!(matches!(
        store
            .commit_turn(&turn(&z, "z", item.id + 999, at(103)))
            .await,
        Err(StoreError::NotFound)
    ));
    let ghost = Claim {
        tenant: "t1".into(),
        conversation: a.conversation + 999,
    };
    assert!(matches!(
        store
            .commit_turn(&turn(&ghost, "z", item.id, at(103)))
            .await,
        Err(StoreError::NotFound)
    ));
}

/// A turn saves state, handoff, tags (as a set), the annotation, bot messages with
/// their outbox rows, and the opt-out.
pub async fn commit_turn_effects(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(
            &inbound("t1", Channel::Whatsapp, "905", "w1", "randevu"),
            at(0),
        )
        .await
        .unwrap();
    let claim = claim_expect(&*store, "w", at(1), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);

    let mut t = turn(&claim, "w", item.id, at(2));
    t.state = json!({"flow": "booking", "slots": {"service": "dolgu"}});
    t.tags = vec!["randevu".into(), "yeni".into(), "randevu".into()];
    t.annotate = Some((a.message, json!({"intent": "book", "confidence": 0.93})));
    t.outgoing = vec![
        bot("Hangi gün uygun?"),
        NewOutgoing {
            sender: "bot".into(),
            content: OutContent::Buttons {
                body: "Seçin".into(),
                buttons: vec![channels::Button {
                    id: "mon".into(),
                    title: "Pazartesi".into(),
                }],
            },
        },
    ];
    store.commit_turn(&t).await.expect("commit");

    let conv = store
        .conversation("t1", a.conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.state, t.state);
    assert_eq!(conv.tags, ["randevu", "yeni"]);
    assert!(!conv.handoff && !conv.opted_out);

    let messages = store.messages("t1", a.conversation, 0, 10).await.unwrap();
    assert_eq!(messages.len(), 3);
    let customer = &messages[0];
    assert_eq!(
        (customer.direction, customer.status),
        (Direction::In, MessageStatus::Received)
    );
    assert_eq!(customer.sender, "customer");
    assert_eq!(customer.provider_id.as_deref(), Some("w1"));
    assert_eq!(customer.content, json!({"type": "text", "body": "randevu"}));
    assert_eq!(customer.meta, json!({"intent": "book", "confidence": 0.93}));
    for (m, out) in messages[1..].iter().zip(&t.outgoing) {
        assert_eq!(
            (m.direction, m.status),
            (Direction::Out, MessageStatus::Queued)
        );
        assert_eq!(m.sender, "bot");
        assert_eq!(m.content, serde_json::to_value(&out.content).unwrap());
        assert_eq!(m.created_at, at(2));
    }
    assert!(messages.windows(2).all(|w| w[0].seq < w[1].seq));

    // A second turn: handoff, more tags, opt-out.
    store
        .enqueue_event("t1", a.conversation, &json!({"kind": "agent"}), "e1", at(3))
        .await
        .unwrap();
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(item.event, json!({"kind": "agent"}));
    let mut t2 = turn(&claim, "w", item.id, at(4));
    t2.state = json!({"flow": "handoff"});
    t2.handoff = true;
    t2.opt_out = true;
    t2.tags = vec!["yeni".into(), "şikayet".into()];
    store.commit_turn(&t2).await.unwrap();
    let conv = store
        .conversation("t1", a.conversation)
        .await
        .unwrap()
        .unwrap();
    assert!(conv.handoff && conv.opted_out);
    assert_eq!(conv.tags, ["randevu", "yeni", "şikayet"]);
    assert_eq!(conv.state, json!({"flow": "handoff"}));
    let summary = store
        .list_conversations("t1", 10, 0)
        .await
        .unwrap()
        .remove(0);
    assert!(summary.handoff && summary.opted_out);
    assert_eq!(summary.message_count, 3);
    assert_eq!(
        summary.last_message_at,
        at(2),
        "the last message was the bot's at 2"
    );
}

/// Committing the same inbox item twice applies it once.
pub async fn commit_idempotent(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(
            &inbound("t1", Channel::Whatsapp, "905", "w1", "selam"),
            at(0),
        )
        .await
        .unwrap();
    let claim = claim_expect(&*store, "w", at(1), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t = turn(&claim, "w", item.id, at(2));
    t.outgoing = vec![bot("Merhaba!"), bot("Size nasıl yardımcı olabilirim?")];
    t.state = json!({"step": 1});
    store.commit_turn(&t).await.unwrap();
    let mut again = t.clone();
    again.state = json!({"step": 2});
    store
        .commit_turn(&again)
        .await
        .expect("second commit is fine");
    assert_eq!(
        store
            .messages("t1", a.conversation, 0, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .conversation("t1", a.conversation)
            .await
            .unwrap()
            .unwrap()
            .state,
        json!({"step": 1})
    );
    let out = store.claim_outbox("s", 10, LEASE, at(3)).await.unwrap();
    assert_eq!(out.len(), 2, "one outbox row per message");
}

/// queued → leased → sent; retry later; final failure.
pub async fn outbox_lifecycle(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(
            &inbound("t1", Channel::Whatsapp, "905321", "w1", "selam"),
            at(0),
        )
        .await
        .unwrap();
    let claim = claim_expect(&*store, "w", at(1), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t = turn(&claim, "w", item.id, at(2));
    t.outgoing = vec![bot("bir"), bot("iki"), bot("üç")];
    store.commit_turn(&t).await.unwrap();
    assert!(
        store
            .claim_outbox("s1", 10, LEASE, at(1))
            .await
            .unwrap()
            .is_empty(),
        "not due before it was queued"
    );

    let batch = store.claim_outbox("s1", 2, LEASE, at(3)).await.unwrap();
    assert_eq!(batch.len(), 2, "limit");
    // The third waits: its conversation's older messages are in flight (in order
    // per conversation). Once they are out of the way, it is handed out.
    assert!(
        store
            .claim_outbox("s2", 10, LEASE, at(3))
            .await
            .unwrap()
            .is_empty()
    );
    let lease_end = at(3 + LEASE.as_secs() as i64 + 1);
    let retaken = store
        .claim_outbox("s2", 10, LEASE, lease_end)
        .await
        .unwrap();
    assert_eq!(
        retaken.len(),
        3,
        "expired leases are taken over, with the third, in order"
    );
    let rest = vec![retaken[2].clone()];
    let batch: Vec<_> = retaken[..2].to_vec();
    let at = |secs: i64| at(secs + 3 + LEASE.as_secs() as i64);
    assert!(
        store
            .claim_outbox("s3", 10, LEASE, at(4))
            .await
            .unwrap()
            .is_empty(),
        "all leased"
    );
    let all: Vec<_> = batch.iter().chain(&rest).collect();
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    for (i, o) in all.iter().enumerate() {
        assert_eq!(o.idempotency_key, format!("{}:{i}", item.id));
        assert_eq!(o.to, "905321");
        assert_eq!(o.channel, Channel::Whatsapp);
        assert_eq!((o.tenant.as_str(), o.conversation), ("t1", a.conversation));
        // The first two were claimed twice (their first lease expired).
        assert_eq!(o.attempts, if i < 2 { 2 } else { 1 });
        assert_eq!(o.content, t.outgoing[i].content);
    }

    // Sent.
    store
        .outbox_sent(all[0].id, Some("wamid.OUT1"), at(5))
        .await
        .unwrap();
    let m = store
        .messages("t1", a.conversation, all[0].message - 1, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (m.seq, m.status, m.provider_id.as_deref()),
        (all[0].message, MessageStatus::Sent, Some("wamid.OUT1"))
    );

    // Final failure.
    store
        .outbox_failed(all[2].id, "400 invalid recipient", None)
        .await
        .unwrap();
    let m = store
        .messages("t1", a.conversation, all[2].message - 1, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.status, MessageStatus::Failed);
    assert_eq!(m.error.as_deref(), Some("400 invalid recipient"));
    // Retry later.
    store
        .outbox_failed(all[1].id, "429 too many requests", Some(at(60)))
        .await
        .unwrap();
    assert!(
        store
            .claim_outbox("s1", 10, LEASE, at(59))
            .await
            .unwrap()
            .is_empty(),
        "not before retry time"
    );
    let retried = store.claim_outbox("s1", 10, LEASE, at(60)).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (all[1].id, 3));
    assert_eq!(
        retried[0].idempotency_key, all[1].idempotency_key,
        "stable across retries"
    );
    let m = store
        .messages("t1", a.conversation, all[1].message - 1, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        m.status,
        MessageStatus::Queued,
        "still queued while retrying"
    );
    store
        .outbox_sent(retried[0].id, Some("wamid.OUT2"), at(61))
        .await
        .unwrap();

    assert!(
        store
            .claim_outbox("s1", 10, LEASE, at(10_000))
            .await
            .unwrap()
            .is_empty(),
        "settled rows stay settled"
    );

    // Late reports do not reopen settled rows.
    store
        .outbox_failed(all[0].id, "late", Some(at(100)))
        .await
        .unwrap();
    assert!(
        store
            .claim_outbox("s1", 10, LEASE, at(10_000))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.outbox_sent(999_999, None, at(5)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.outbox_failed(999_999, "x", None).await,
        Err(StoreError::NotFound)
    ));
}

/// A row leased by a sender that died is claimed again once its lease runs out.
pub async fn outbox_expired_lease(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(
            &inbound("t1", Channel::Instagram, "igsid", "i1", "selam"),
            at(0),
        )
        .await
        .unwrap();
    let claim = claim_expect(&*store, "w", at(1), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t = turn(&claim, "w", item.id, at(2));
    t.outgoing = vec![bot("merhaba")];
    store.commit_turn(&t).await.unwrap();

    let first = store
        .claim_outbox("dead", 10, Duration::from_secs(10), at(3))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        store
            .claim_outbox("live", 10, LEASE, at(12))
            .await
            .unwrap()
            .is_empty(),
        "lease until 13"
    );
    let again = store.claim_outbox("live", 10, LEASE, at(14)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (first[0].id, 2));
    store.outbox_sent(again[0].id, None, at(15)).await.unwrap();
    let m = store
        .messages("t1", a.conversation, 0, 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((m.status, m.provider_id), (MessageStatus::Sent, None));
}

/// Timers are set, replaced, cancelled, and fire once when due.
pub async fn timers(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(
            &inbound("t1", Channel::Whatsapp, "905", "w1", "selam"),
            at(0),
        )
        .await
        .unwrap();
    let claim = claim_expect(&*store, "w", at(1), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t = turn(&claim, "w", item.id, at(1));
    t.timers = vec![
        TimerOp::Set {
            key: "hatırlat".into(),
            due_at: at(60),
            payload: json!({"n": 1}),
        },
        TimerOp::Set {
            key: "kapat".into(),
            due_at: at(120),
            payload: json!(null),
        },
        TimerOp::Set {
            key: "hatırlat".into(),
            due_at: at(30),
            payload: json!({"n": 2}),
        },
    ];
    store.commit_turn(&t).await.unwrap();
    store
        .enqueue_event("t1", a.conversation, &json!({"kind": "x"}), "x", at(2))
        .await
        .unwrap();
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t2 = turn(&claim, "w", item.id, at(2));
    t2.timers = vec![
        TimerOp::Cancel {
            key: "kapat".into(),
        },
        TimerOp::Cancel { key: "yok".into() },
    ];
    store.commit_turn(&t2).await.unwrap();
    store
        .release_conversation(a.conversation, "w")
        .await
        .unwrap();

    assert_eq!(
        store.fire_due_timers(at(29), 10).await.unwrap(),
        0,
        "not yet due"
    );
    assert_eq!(store.fire_due_timers(at(30), 10).await.unwrap(), 1);
    assert_eq!(
        store.fire_due_timers(at(500), 10).await.unwrap(),
        0,
        "replaced and cancelled timers are gone"
    );
    let pending = store.pending_inbox(a.conversation, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].event,
        json!({"kind": "timer", "key": "hatırlat", "payload": {"n": 2}})
    );
    assert_eq!(pending[0].created_at, at(30));

    // A fired timer makes the conversation claimable.
    let claim = claim_expect(&*store, "w", at(31), a.conversation).await;
    store
        .commit_turn(&turn(&claim, "w", pending[0].id, at(31)))
        .await
        .unwrap();
    store
        .release_conversation(a.conversation, "w")
        .await
        .unwrap();

    // The limit caps one batch; the rest fire in the next.
    let b = store
        .accept_inbound(
            &inbound("t1", Channel::Whatsapp, "906", "w2", "selam"),
            at(3),
        )
        .await
        .unwrap();
    let claim_b = claim_expect(&*store, "w", at(4), b.conversation).await;
    let item = store
        .pending_inbox(b.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    let mut t3 = turn(&claim_b, "w", item.id, at(4));
    t3.timers = (0..3)
        .map(|i| TimerOp::Set {
            key: format!("k{i}"),
            due_at: at(40 + i),
            payload: json!(i),
        })
        .collect();
    store.commit_turn(&t3).await.unwrap();
    store
        .release_conversation(b.conversation, "w")
        .await
        .unwrap();
    assert_eq!(store.fire_due_timers(at(100), 2).await.unwrap(), 2);
    assert_eq!(store.fire_due_timers(at(100), 2).await.unwrap(), 1);
    let keys: Vec<_> = store
        .pending_inbox(b.conversation, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.event["key"].clone())
        .collect();
    assert_eq!(keys, [json!("k0"), json!("k1"), json!("k2")]);
}

/// `enqueue_event` is idempotent per conversation and dedupe key.
pub async fn enqueue_event_dedupe(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(&inbound("t1", Channel::Webchat, "s1", "c1", "selam"), at(0))
        .await
        .unwrap();
    let b = store
        .accept_inbound(&inbound("t1", Channel::Webchat, "s2", "c2", "selam"), at(0))
        .await
        .unwrap();
    let event = json!({"kind": "release", "agent": "Zeynep"});
    assert!(
        store
            .enqueue_event("t1", a.conversation, &event, "release-1", at(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_event("t1", a.conversation, &event, "release-1", at(2))
            .await
            .unwrap()
    );
    assert!(
        store
            .enqueue_event("t1", b.conversation, &event, "release-1", at(2))
            .await
            .unwrap()
    );
    assert!(matches!(
        store.enqueue_event("t1", 987_654, &event, "x", at(2)).await,
        Err(StoreError::NotFound)
    ));
    let pending = store.pending_inbox(a.conversation, 10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[1].event, event);
}

/// Turkish letters, emoji, zero-width and right-to-left text come back unchanged.
pub async fn unicode_round_trip(store: Arc<dyn Store>) {
    let text = "İyi akşamlar, ışık ILIK ılık — İstanbul'da 🌙🇹🇷👩🏽‍💻 sıfır\u{200B}genişlik\u{200D} مرحبا بالعالم \u{202E}ters";
    let handle = "kullanıcı-İ-ı-🙂";
    let mut m = inbound("kuaför-ayşe", Channel::Webchat, handle, "ğüşiöç-1", text);
    m.contact.name = Some("Işıl Öztürk 💇‍♀️ فاطمة".into());
    m.referral = Some(Referral {
        utm_campaign: Some("yaz-indirimi-%İ".into()),
        headline: Some("Saç bakımı ✂️".into()),
        ..Default::default()
    });
    let a = store.accept_inbound(&m, at(0)).await.unwrap();
    assert!(
        store.accept_inbound(&m, at(1)).await.unwrap().duplicate,
        "unicode provider id dedupes"
    );

    let conv = store
        .find_conversation("kuaför-ayşe", Channel::Webchat, handle)
        .await
        .unwrap()
        .expect("found by unicode handle");
    assert_eq!(conv.id, a.conversation);
    assert_eq!(conv.contact.name, m.contact.name);
    assert_eq!(conv.referral, m.referral);
    // Case folding must not leak in: the dotted/dotless I's are distinct handles.
    assert!(
        store
            .find_conversation("kuaför-ayşe", Channel::Webchat, "kullanici-i-i-🙂")
            .await
            .unwrap()
            .is_none()
    );

    let claim = claim_expect(&*store, "w", at(2), a.conversation).await;
    let item = store
        .pending_inbox(a.conversation, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(item.event["inbound"]["content"]["body"], text);
    let mut t = turn(&claim, "w", item.id, at(3));
    t.state = json!({"not": text, "ad": "Işıl"});
    t.tags = vec!["müşteri-İ".into(), "💎".into()];
    t.outgoing = vec![bot(text)];
    t.annotate = Some((a.message, json!({"normalized": "iyi aksamlar"})));
    store.commit_turn(&t).await.unwrap();

    let conv = store
        .conversation("kuaför-ayşe", a.conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.state, t.state);
    assert_eq!(conv.tags, t.tags);
    let messages = store
        .messages("kuaför-ayşe", a.conversation, 0, 10)
        .await
        .unwrap();
    assert_eq!(messages[0].content["body"], text);
    assert_eq!(messages[1].content["body"], text);
    // A web chat reply is delivered by being stored: sent at once, never in the outbox.
    assert_eq!(messages[1].status, MessageStatus::Sent);
    assert!(
        store
            .claim_outbox("s", 10, LEASE, at(4))
            .await
            .unwrap()
            .is_empty()
    );
    let listed = store
        .list_conversations("kuaför-ayşe", 10, 0)
        .await
        .unwrap();
    assert_eq!(listed[0].contact.name, m.contact.name);
}

/// Lists are newest activity first with counts; messages page by `seq`.
pub async fn list_and_page_messages(store: Arc<dyn Store>) {
    let a = store
        .accept_inbound(&inbound("t1", Channel::Whatsapp, "a", "a1", "1"), at(0))
        .await
        .unwrap();
    let b = store
        .accept_inbound(&inbound("t1", Channel::Whatsapp, "b", "b1", "1"), at(10))
        .await
        .unwrap();
    let c = store
        .accept_inbound(&inbound("t1", Channel::Telegram, "c", "c1", "1"), at(20))
        .await
        .unwrap();
    for i in 2..=5 {
        store
            .accept_inbound(
                &inbound(
                    "t1",
                    Channel::Whatsapp,
                    "a",
                    &format!("a{i}"),
                    &i.to_string(),
                ),
                at(30 + i),
            )
            .await
            .unwrap();
    }
    let list = store.list_conversations("t1", 10, 0).await.unwrap();
    let ids: Vec<_> = list.iter().map(|s| s.id).collect();
    assert_eq!(ids, [a.conversation, c.conversation, b.conversation]);
    assert_eq!(list[0].message_count, 5);
    assert_eq!(list[0].last_message_at, at(35));
    assert_eq!(list[0].created_at, at(0));
    assert_eq!(list[0].contact.handle, "a");
    assert_eq!(list[1].channel, Channel::Telegram);
    assert_eq!(list[2].message_count, 1);
    let page: Vec<_> = store
        .list_conversations("t1", 1, 1)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(page, [c.conversation]);
    assert!(
        store
            .list_conversations("t1", 10, 3)
            .await
            .unwrap()
            .is_empty()
    );

    let first = store.messages("t1", a.conversation, 0, 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|m| m.content["body"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    let next = store
        .messages("t1", a.conversation, first[1].seq, 10)
        .await
        .unwrap();
    assert_eq!(
        next.iter()
            .map(|m| m.content["body"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["3", "4", "5"]
    );
    assert!(
        next.iter()
            .all(|m| m.conversation == a.conversation && m.created_at >= at(33))
    );
    assert!(
        store
            .messages("t1", a.conversation, next[2].seq, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// Hot checks
// ---------------------------------------------------------------------------------------

fn unique(name: &str) -> String {
    format!("conformance:{name}:{}", uuid::Uuid::new_v4().simple())
}

/// Remembered keys are seen until they expire.
pub async fn hot_seen_remember(hot: Arc<dyn Hot>) {
    assert!(!hot.backend().is_empty());
    hot.ping().await.expect("ping");
    let key = unique("seen");
    assert!(!hot.seen(&key).await.unwrap());
    hot.remember(&key, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(hot.seen(&key).await.unwrap());
    let long = unique("seen-İ-🙂");
    hot.remember(&long, Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!hot.seen(&key).await.unwrap(), "expired");
    assert!(hot.seen(&long).await.unwrap());
}

/// A lock has one holder; only its token unlocks it; it expires.
pub async fn hot_locks(a: Arc<dyn Hot>, b: Arc<dyn Hot>) {
    let key = unique("lock");
    let token = a
        .try_lock(&key, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("free lock");
    assert!(
        b.try_lock(&key, Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "held"
    );
    assert!(
        a.try_lock(&key, Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "held, even for the holder"
    );
    b.unlock(&key, "not-the-token").await.unwrap();
    assert!(
        b.try_lock(&key, Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "wrong token does not unlock"
    );
    b.unlock(&key, &token).await.unwrap();
    let second = b
        .try_lock(&key, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("free after unlock");
    assert_ne!(second, token);
    a.unlock(&key, &token).await.unwrap();
    assert!(
        a.try_lock(&key, Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "stale token does not unlock"
    );

    let short = unique("lock-short");
    assert!(
        a.try_lock(&short, Duration::from_millis(200))
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        b.try_lock(&short, Duration::from_secs(1))
            .await
            .unwrap()
            .is_some(),
        "expired lock is free"
    );

    // Racing for one key: exactly one winner.
    let race = unique("lock-race");
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let hot = if i % 2 == 0 { a.clone() } else { b.clone() };
            let race = race.clone();
            tokio::spawn(async move { hot.try_lock(&race, Duration::from_secs(30)).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
}

/// Waits for `want` on `rx`, skipping other notices (other users of a shared server).
async fn receive(rx: &mut tokio::sync::broadcast::Receiver<Notice>, want: &Notice) -> usize {
    let mut copies = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // After the first copy, wait briefly for an unwanted second one.
        let wait = if copies > 0 {
            left.min(Duration::from_millis(300))
        } else {
            left
        };
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Ok(notice)) if notice == *want => copies += 1,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => return copies,
        }
    }
}

/// A notice reaches subscribers of the publisher and of the other handle, once each.
pub async fn hot_publish_subscribe(a: Arc<dyn Hot>, b: Arc<dyn Hot>) {
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();
    let notice = Notice::Messages {
        tenant: unique("tenant"),
        conversation: 42,
    };
    a.publish(&notice).await.expect("publish");
    assert_eq!(
        receive(&mut on_a, &notice).await,
        1,
        "the publisher's own subscribers, once (no echo)"
    );
    assert_eq!(
        receive(&mut on_b, &notice).await,
        1,
        "the other handle receives it once"
    );
    b.publish(&Notice::Outbox).await.unwrap();
    assert!(receive(&mut on_a, &Notice::Outbox).await >= 1);
}

/// A busy gateway's mix at once: customers writing (with provider retries), workers
/// committing turns, senders draining the outbox, timers firing, dashboards reading.
/// No call may fail (no "database is locked", no deadlock) and everything is handled once.
pub async fn concurrent_load(store: Arc<dyn Store>) {
    const PRODUCERS: usize = 12;
    const PER_PRODUCER: usize = 12;
    const CONTACTS: usize = 9;
    let stop = Arc::new(AtomicBool::new(false));
    let handled = Arc::new(AtomicUsize::new(0));
    let now = at(1000);

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..PER_PRODUCER {
                    let handle = format!("müşteri-{}", (p + i) % CONTACTS);
                    let msg = inbound(
                        "yük",
                        Channel::Whatsapp,
                        &handle,
                        &format!("p{p}-{i}"),
                        "yoğun saat",
                    );
                    assert!(
                        !store
                            .accept_inbound(&msg, at(i as i64))
                            .await
                            .expect("accept")
                            .duplicate
                    );
                    if i % 4 == 0 {
                        assert!(
                            store
                                .accept_inbound(&msg, at(i as i64))
                                .await
                                .expect("accept copy")
                                .duplicate
                        );
                    }
                }
            })
        })
        .collect();

    let mut background = Vec::new();
    for w in 0..4 {
        let (store, stop, handled) = (store.clone(), stop.clone(), handled.clone());
        background.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            while !stop.load(Ordering::Relaxed) {
                if !work_once(&*store, &owner, now, &handled).await {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }));
    }
    for s in 0..2 {
        let (store, stop) = (store.clone(), stop.clone());
        background.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if !send_once(&*store, &format!("sender-{s}"), now).await {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }));
    }
    {
        let (store, stop) = (store.clone(), stop.clone());
        background.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                store.fire_due_timers(now, 5).await.expect("fire timers");
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }));
    }
    for _ in 0..2 {
        let (store, stop) = (store.clone(), stop.clone());
        background.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for summary in store.list_conversations("yük", 50, 0).await.expect("list") {
                    store
                        .messages("yük", summary.id, 0, 100)
                        .await
                        .expect("messages");
                    store
                        .conversation("yük", summary.id)
                        .await
                        .expect("conversation");
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for producer in producers {
        producer.await.expect("producer");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for task in background {
        task.await.expect("background task");
    }

    // Finish what is left, one step at a time, until nothing moves.
    loop {
        let fired = store.fire_due_timers(now, 100).await.expect("fire");
        let worked = work_once(&*store, "finisher", now, &handled).await;
        let sent = send_once(&*store, "finisher", now).await;
        if fired == 0 && !worked && !sent {
            break;
        }
    }

    let list = store.list_conversations("yük", 100, 0).await.unwrap();
    assert_eq!(list.len(), CONTACTS);
    let mut inbound_count = 0;
    let mut outbound_count = 0;
    for summary in &list {
        for m in store.messages("yük", summary.id, 0, 1000).await.unwrap() {
            match m.direction {
                Direction::In => inbound_count += 1,
                Direction::Out => {
                    outbound_count += 1;
                    assert_eq!(m.status, MessageStatus::Sent, "every reply sent");
                }
            }
        }
        assert!(
            store
                .pending_inbox(summary.id, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(
        inbound_count,
        PRODUCERS * PER_PRODUCER,
        "each message stored once"
    );
    // One reply per customer message and per fired timer.
    assert_eq!(outbound_count, handled.load(Ordering::Relaxed));
    assert!(outbound_count >= PRODUCERS * PER_PRODUCER + CONTACTS);
}

/// One worker step: claim a conversation, answer its pending items, release. A
/// customer message sets a due follow-up timer; a timer event does not.
async fn work_once(store: &dyn Store, owner: &str, now: Timestamp, handled: &AtomicUsize) -> bool {
    let Some(claim) = store
        .claim_conversation(owner, LEASE, now)
        .await
        .expect("claim")
    else {
        return false;
    };
    for item in store
        .pending_inbox(claim.conversation, 10)
        .await
        .expect("pending")
    {
        let mut t = turn(&claim, owner, item.id, now);
        t.outgoing = vec![bot("tamam")];
        t.tags = vec![format!("etiket-{}", item.id % 3)];
        t.opt_out = item.id % 11 == 0;
        if item.event["kind"] == "message" {
            t.annotate = item.event["message"]
                .as_i64()
                .map(|seq| (seq, json!({"seen": true})));
            t.timers = vec![TimerOp::Set {
                key: "takip".into(),
                due_at: at(0),
                payload: json!({"from": item.id}),
            }];
        }
        store.commit_turn(&t).await.expect("commit");
        handled.fetch_add(1, Ordering::Relaxed);
    }
    store
        .release_conversation(claim.conversation, owner)
        .await
        .expect("release");
    true
}

/// One sender step: lease a few due outbox rows and report them sent.
async fn send_once(store: &dyn Store, owner: &str, now: Timestamp) -> bool {
    let batch = store
        .claim_outbox(owner, 5, LEASE, now)
        .await
        .expect("claim outbox");
    for item in &batch {
        store
            .outbox_sent(item.id, Some(&format!("out-{}", item.id)), now)
            .await
            .expect("sent");
    }
    !batch.is_empty()
}
