//! The clinic part of the suite ([`crate::ClinicStore`] and the clinic ops of a turn):
//! holds and bookings, conflicts that undo a whole turn, expired holds, the waitlist,
//! reschedules, tenant scoping, leads across channels, their timeline and CRM deliveries,
//! and booking under concurrency.

use super::{LEASE, at, bot, inbound, turn};
use crate::{
    AppointmentFilter, AppointmentOp, AppointmentRecord, AppointmentStatus, LeadFilter,
    LeadIdentity, LeadOp, NewAppointment, Store, StoreError,
};
use channels::Channel;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Tomorrow (2025-06-02) at `h:m`, when the appointments of these checks are.
fn clock(h: i64, m: i64) -> Timestamp {
    at(86_400 + h * 3600 + m * 60)
}

/// A visit of `minutes` at `h:m` with no buffers.
fn visit(
    practitioner: &str,
    room: Option<&str>,
    (h, m): (i64, i64),
    minutes: i64,
) -> NewAppointment {
    let starts_at = clock(h, m);
    let ends_at = starts_at + SignedDuration::from_mins(minutes);
    NewAppointment {
        service: "muayene".into(),
        practitioner: practitioner.into(),
        room: room.map(Into::into),
        starts_at,
        ends_at,
        blocks_from: starts_at,
        blocks_until: ends_at,
        hold_until: None,
        customer_tz: None,
        note: None,
    }
}

fn of(service: &str, new: NewAppointment) -> NewAppointment {
    NewAppointment {
        service: service.into(),
        ..new
    }
}

fn held_until(until: Timestamp, new: NewAppointment) -> NewAppointment {
    NewAppointment {
        hold_until: Some(until),
        ..new
    }
}

fn identity(handle: &str, phone: Option<&str>, source: &str) -> LeadIdentity {
    LeadIdentity {
        handle: handle.into(),
        phone: phone.map(Into::into),
        source: Some(source.into()),
        ..LeadIdentity::default()
    }
}

fn touch(identity: LeadIdentity) -> LeadOp {
    LeadOp::Touch {
        identity,
        stage: "new".into(),
    }
}

static TURNS: AtomicUsize = AtomicUsize::new(0);

/// A customer on `handle` writes at `now`; one turn answers it with a reply, a new state
/// and the given clinic ops. Returns the conversation and what `commit_turn` said. Other
/// conversations claimed on the way (older pending items) are released untouched.
async fn clinic_turn(
    store: &dyn Store,
    tenant: &str,
    channel: Channel,
    handle: &str,
    now: Timestamp,
    lead: Vec<LeadOp>,
    appointments: Vec<AppointmentOp>,
) -> (i64, crate::Result<bool>) {
    let n = TURNS.fetch_add(1, Ordering::Relaxed);
    let message = inbound(tenant, channel, handle, &format!("clinic-{n}"), "randevu");
    let accepted = store.accept_inbound(&message, now).await.expect("accept");
    let owner = format!("clinic-{n}");
    let mut claimed = Vec::new();
    let claim = loop {
        let claim = store
            .claim_conversation(&owner, LEASE, now)
            .await
            .expect("claim")
            .expect("the conversation is claimable");
        claimed.push(claim.conversation);
        if claim.conversation == accepted.conversation {
            break claim;
        }
    };
    let item = store
        .pending_inbox(accepted.conversation, 100)
        .await
        .expect("pending")
        .into_iter()
        .find(|i| i.event["message"] == json!(accepted.message))
        .expect("the message's inbox item");
    let mut t = turn(&claim, &owner, item.id, now);
    t.state = json!({"turn": n});
    t.outgoing = vec![bot("tamam")];
    t.lead = lead;
    t.appointments = appointments;
    let result = store.commit_turn(&t).await;
    for conversation in claimed {
        store
            .release_conversation(conversation, &owner)
            .await
            .expect("release");
    }
    (accepted.conversation, result)
}

/// A turn that must commit.
async fn ok_turn(
    store: &dyn Store,
    tenant: &str,
    handle: &str,
    now: Timestamp,
    lead: Vec<LeadOp>,
    appointments: Vec<AppointmentOp>,
) -> i64 {
    let (conversation, result) = clinic_turn(
        store,
        tenant,
        Channel::Whatsapp,
        handle,
        now,
        lead,
        appointments,
    )
    .await;
    result.unwrap_or_else(|e| panic!("turn of {handle}: {e}"));
    conversation
}

/// A turn that must fail with `Conflict` (whose message is returned) and leave nothing.
async fn conflicting_turn(
    store: &dyn Store,
    tenant: &str,
    handle: &str,
    now: Timestamp,
    lead: Vec<LeadOp>,
    appointments: Vec<AppointmentOp>,
) -> String {
    let (conversation, result) = clinic_turn(
        store,
        tenant,
        Channel::Whatsapp,
        handle,
        now,
        lead,
        appointments,
    )
    .await;
    match result {
        Err(StoreError::Conflict(why)) => {
            assert_nothing_committed(store, tenant, conversation).await;
            why
        }
        other => panic!("turn of {handle}: expected a conflict, got {other:?}"),
    }
}

/// The conversation's last turn left no trace: its reply is not stored and its inbox
/// item is still pending (the callers check state, lead and appointments).
async fn assert_nothing_committed(store: &dyn Store, tenant: &str, conversation: i64) {
    let messages = store.messages(tenant, conversation, 0, 100).await.unwrap();
    let last = messages.last().expect("the customer's message");
    assert_eq!(
        last.direction,
        crate::Direction::In,
        "the failed turn's reply was not stored"
    );
    assert!(
        !store
            .pending_inbox(conversation, 100)
            .await
            .unwrap()
            .is_empty(),
        "the item stays pending for the re-run"
    );
}

async fn mine(store: &dyn Store, tenant: &str, conversation: i64) -> Vec<AppointmentRecord> {
    store
        .appointments(
            tenant,
            &AppointmentFilter {
                conversation: Some(conversation),
                ..AppointmentFilter::default()
            },
        )
        .await
        .unwrap()
}

async fn live(store: &dyn Store, tenant: &str, conversation: i64) -> Vec<AppointmentRecord> {
    mine(store, tenant, conversation)
        .await
        .into_iter()
        .filter(|a| a.status.occupies())
        .collect()
}

/// Holds are taken and shown as busy; a slot held by another conversation is skipped
/// without failing the turn; booking one's own hold turns it into the booking (same
/// id) and releases the other holds.
pub async fn clinic_holds_and_booking(store: Arc<dyn Store>) {
    let s = &*store;
    let now = at(0);
    let until = at(600);
    let ten = held_until(until, visit("dr-ayse", Some("koltuk-1"), (10, 0), 30));
    let eleven = held_until(until, visit("dr-ayse", Some("koltuk-1"), (11, 0), 30));
    let twelve = held_until(until, visit("dr-ayse", None, (12, 0), 45));
    let a = ok_turn(
        s,
        "t1",
        "a",
        now,
        vec![],
        vec![
            AppointmentOp::Hold(ten.clone()),
            AppointmentOp::Hold(eleven.clone()),
            AppointmentOp::Hold(twelve.clone()),
        ],
    )
    .await;
    let holds = mine(s, "t1", a).await;
    assert_eq!(holds.len(), 3);
    assert!(holds.iter().all(|h| h.status == AppointmentStatus::Held
        && h.hold_expires_at == Some(until)
        && h.conversation == Some(a)
        && h.tenant == "t1"));
    assert_eq!(holds[0].starts_at, clock(10, 0), "listed by start");

    let busy = s.busy("t1", clock(0, 0), clock(23, 0), now).await.unwrap();
    assert_eq!(
        busy.len(),
        5,
        "practitioner and room of two, practitioner of one"
    );
    assert!(busy.iter().all(|b| b.held && b.conversation == Some(a)));
    let resources: HashSet<&str> = busy.iter().map(|b| b.resource.as_str()).collect();
    assert_eq!(
        resources,
        HashSet::from(["dr-ayse", "koltuk-1"]),
        "ids without prefixes"
    );
    assert_eq!(
        s.busy("t1", clock(10, 30), clock(11, 0), now)
            .await
            .unwrap()
            .len(),
        0,
        "the window is half-open on both sides"
    );

    // Another conversation's hold on a held slot is skipped; its turn commits.
    let b = ok_turn(
        s,
        "t1",
        "b",
        at(1),
        vec![],
        vec![
            AppointmentOp::Hold(ten.clone()),
            AppointmentOp::Hold(held_until(at(0), visit("dr-ayse", None, (15, 0), 30))),
            AppointmentOp::Hold(held_until(until, visit("dr-ayse", None, (16, 0), 30))),
        ],
    )
    .await;
    let b_holds = mine(s, "t1", b).await;
    assert_eq!(
        b_holds.iter().map(|h| h.starts_at).collect::<Vec<_>>(),
        [clock(16, 0)],
        "the taken slot and the lapsed hold are skipped"
    );
    assert_eq!(
        s.messages("t1", b, 0, 10).await.unwrap().len(),
        2,
        "the rest of the turn committed"
    );

    // A books its 11:00 hold: it becomes the booking; its other holds are released.
    let booked = NewAppointment {
        hold_until: None,
        note: Some("ilk muayene".into()),
        ..eleven.clone()
    };
    ok_turn(
        s,
        "t1",
        "a",
        at(2),
        vec![],
        vec![AppointmentOp::Book(booked)],
    )
    .await;
    let after = mine(s, "t1", a).await;
    let eleven_id = holds[1].id;
    let by_id = |id: i64| after.iter().find(|x| x.id == id).unwrap().clone();
    let b11 = by_id(eleven_id);
    assert_eq!(
        (b11.status, b11.hold_expires_at, b11.note.as_deref()),
        (AppointmentStatus::Booked, None, Some("ilk muayene"))
    );
    assert_eq!(by_id(holds[0].id).status, AppointmentStatus::Cancelled);
    assert_eq!(by_id(holds[2].id).status, AppointmentStatus::Cancelled);
    assert_eq!(after.len(), 3, "no new row: the hold became the booking");
    let busy = s
        .busy("t1", clock(0, 0), clock(23, 0), at(2))
        .await
        .unwrap();
    let a_busy: Vec<_> = busy.iter().filter(|x| x.conversation == Some(a)).collect();
    assert_eq!(a_busy.len(), 2);
    assert!(a_busy.iter().all(|x| !x.held && x.appointment == eleven_id));

    // The released 10:00 is free again: B can hold it now.
    ok_turn(s, "t1", "b", at(3), vec![], vec![AppointmentOp::Hold(ten)]).await;
    assert_eq!(live(s, "t1", b).await.len(), 2);
    // ReleaseHolds drops them all.
    ok_turn(
        s,
        "t1",
        "b",
        at(4),
        vec![],
        vec![AppointmentOp::ReleaseHolds],
    )
    .await;
    assert!(live(s, "t1", b).await.is_empty());
    assert_eq!(
        s.appointment("t1", eleven_id)
            .await
            .unwrap()
            .map(|x| x.status),
        Some(AppointmentStatus::Booked)
    );
}

/// A booking on a slot another conversation holds or booked fails the whole turn with
/// `Conflict` naming the resource and time; overlaps on the room alone count; slots that
/// only touch do not. Outside a chat, `book` behaves the same.
pub async fn clinic_booking_conflicts_roll_back_the_turn(store: Arc<dyn Store>) {
    let s = &*store;
    let ten = visit("dr-ayse", Some("koltuk-1"), (10, 0), 30);
    ok_turn(
        s,
        "t1",
        "a",
        at(0),
        vec![],
        vec![AppointmentOp::Hold(held_until(at(600), ten.clone()))],
    )
    .await;

    // B books what A holds: nothing of B's turn stays (reply, state, lead).
    let why = conflicting_turn(
        s,
        "t1",
        "b",
        at(1),
        vec![touch(identity(
            "whatsapp:b",
            Some("+905550000001"),
            "whatsapp",
        ))],
        vec![AppointmentOp::Book(ten.clone())],
    )
    .await;
    assert_eq!(
        why,
        format!("slot taken: practitioner dr-ayse at {}", clock(10, 0))
    );
    let b = s
        .find_conversation("t1", Channel::Whatsapp, "b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.state, json!(null), "state not saved");
    assert!(s.lead_for_conversation("t1", b.id).await.unwrap().is_none());
    assert!(mine(s, "t1", b.id).await.is_empty());

    // A books it.
    let a = ok_turn(
        s,
        "t1",
        "a",
        at(2),
        vec![],
        vec![AppointmentOp::Book(ten.clone())],
    )
    .await;
    // Partly overlapping, same practitioner.
    let why = conflicting_turn(
        s,
        "t1",
        "c",
        at(3),
        vec![],
        vec![AppointmentOp::Book(visit("dr-ayse", None, (10, 15), 30))],
    )
    .await;
    assert!(why.contains("practitioner dr-ayse"), "{why}");
    // Another practitioner in the same chair.
    let why = conflicting_turn(
        s,
        "t1",
        "c",
        at(4),
        vec![],
        vec![AppointmentOp::Book(visit(
            "dr-mehmet",
            Some("koltuk-1"),
            (10, 25),
            30,
        ))],
    )
    .await;
    assert_eq!(
        why,
        format!("slot taken: room koltuk-1 at {}", clock(10, 25))
    );
    // A room named like a practitioner is another resource.
    let c = ok_turn(
        s,
        "t1",
        "c",
        at(5),
        vec![],
        vec![AppointmentOp::Book(visit(
            "dr-mehmet",
            Some("dr-ayse"),
            (10, 0),
            30,
        ))],
    )
    .await;
    assert_eq!(live(s, "t1", c).await.len(), 1);
    // Buffers count: a visit at 11:00 whose block starts 10:25 collides with A's chair.
    let buffered = NewAppointment {
        blocks_from: clock(10, 25),
        ..visit("dr-zeynep", Some("koltuk-1"), (10, 30), 30)
    };
    assert!(matches!(
        s.book("t1", &buffered, at(6)).await,
        Err(StoreError::Conflict(_))
    ));
    // Touching ends are fine, through the API too.
    let adjacent = s
        .book(
            "t1",
            &visit("dr-ayse", Some("koltuk-1"), (10, 30), 30),
            at(6),
        )
        .await
        .unwrap();
    assert_eq!(
        (adjacent.status, adjacent.conversation, adjacent.lead),
        (AppointmentStatus::Booked, None, None)
    );
    assert!(matches!(
        s.book("t1", &ten, at(7)).await,
        Err(StoreError::Conflict(why)) if why.starts_with("slot taken: ")
    ));
    // An empty interval is refused, not stored.
    let empty = NewAppointment {
        blocks_until: clock(10, 0),
        ..visit("dr-x", None, (10, 0), 30)
    };
    assert!(matches!(
        s.book("t1", &empty, at(8)).await,
        Err(StoreError::Invalid(_))
    ));
    let (_, result) = clinic_turn(
        s,
        "t1",
        Channel::Whatsapp,
        "d",
        at(9),
        vec![],
        vec![AppointmentOp::Book(empty)],
    )
    .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))));

    let booked = s
        .appointments(
            "t1",
            &AppointmentFilter {
                statuses: vec![AppointmentStatus::Booked],
                ..AppointmentFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(booked.len(), 3);
    assert_eq!(booked[0].conversation, Some(a));
    let dr_ayse = s
        .appointments(
            "t1",
            &AppointmentFilter {
                practitioner: Some("dr-ayse".into()),
                from: Some(clock(10, 0)),
                to: Some(clock(10, 30)),
                limit: 10,
                ..AppointmentFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        dr_ayse.iter().map(|x| x.id).collect::<Vec<_>>(),
        [booked[0].id],
        "A's hold became its booking; the failed turns left no rows"
    );
}

/// A hold past its expiry no longer shows as busy, and whoever wants its cells takes
/// them over (the hold is cancelled); its owner cannot book it any more if taken.
pub async fn clinic_expired_hold_is_taken_over(store: Arc<dyn Store>) {
    let s = &*store;
    let ten = visit("dr-ayse", Some("koltuk-1"), (10, 0), 30);
    let a = ok_turn(
        s,
        "t1",
        "a",
        at(0),
        vec![],
        vec![AppointmentOp::Hold(held_until(at(60), ten.clone()))],
    )
    .await;
    let hold = mine(s, "t1", a).await.remove(0);
    // Still live: B cannot have it.
    conflicting_turn(
        s,
        "t1",
        "b",
        at(30),
        vec![],
        vec![AppointmentOp::Book(ten.clone())],
    )
    .await;
    assert_eq!(
        s.busy("t1", clock(0, 0), clock(23, 0), at(59))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        s.busy("t1", clock(0, 0), clock(23, 0), at(60))
            .await
            .unwrap()
            .is_empty(),
        "lapsed at hold_until"
    );
    // B books an overlapping visit after the expiry: the hold gives its cells up.
    let b = ok_turn(
        s,
        "t1",
        "b",
        at(61),
        vec![],
        vec![AppointmentOp::Book(visit("dr-ayse", None, (10, 15), 30))],
    )
    .await;
    assert_eq!(live(s, "t1", b).await.len(), 1);
    assert_eq!(
        s.appointment("t1", hold.id).await.unwrap().unwrap().status,
        AppointmentStatus::Cancelled
    );
    // The room half of the old hold is free too.
    s.book(
        "t1",
        &visit("dr-mehmet", Some("koltuk-1"), (10, 0), 30),
        at(62),
    )
    .await
    .expect("the lapsed hold released the chair");
    // A's own lapsed hold no longer gets it the slot.
    conflicting_turn(s, "t1", "a", at(63), vec![], vec![AppointmentOp::Book(ten)]).await;
}

/// A waitlist wish for a part of the day (in the clinic's zone) gets only slots then,
/// the oldest fitting entry first; an offer not taken goes back to waiting in its old
/// place (or is done when the conversation has joined again meanwhile), and the slot it
/// held goes to the next fitting entry.
pub async fn clinic_waitlist_fits_the_part_of_day(store: Arc<dyn Store>) {
    let s = &*store;
    let join = |part: Option<&str>| AppointmentOp::JoinWaitlist {
        service: "muayene".into(),
        practitioner: None,
        part: part.map(Into::into),
        tz: Some("Europe/Istanbul".into()),
    };
    // 07:00 UTC is 10:00 in Istanbul (morning), 11:00 UTC is 14:00 (afternoon).
    let morning = visit("dr-ayse", None, (7, 0), 30);
    let afternoon = visit("dr-ayse", None, (11, 0), 30);
    let afternoons = ok_turn(
        s,
        "t1",
        "w-afternoon",
        at(1),
        vec![],
        vec![join(Some("afternoon"))],
    )
    .await;
    let mornings = ok_turn(
        s,
        "t1",
        "w-morning",
        at(2),
        vec![],
        vec![join(Some("morning"))],
    )
    .await;
    let anytime = ok_turn(s, "t1", "w-any", at(3), vec![], vec![join(None)]).await;
    let status = |list: &[crate::WaitlistEntry], c: i64| {
        list.iter()
            .filter(|e| e.conversation == c)
            .map(|e| e.status.clone())
            .collect::<Vec<_>>()
    };
    let book_and_cancel = |handle: &'static str, slot: NewAppointment, t: i64| async move {
        let c = ok_turn(
            s,
            "t1",
            handle,
            at(t),
            vec![],
            vec![AppointmentOp::Book(slot)],
        )
        .await;
        let id = live(s, "t1", c).await.remove(0).id;
        ok_turn(
            s,
            "t1",
            handle,
            at(t + 1),
            vec![],
            vec![AppointmentOp::Cancel { id }],
        )
        .await;
    };

    book_and_cancel("a", morning.clone(), 10).await;
    let list = s.waitlist("t1").await.unwrap();
    assert_eq!(
        status(&list, afternoons),
        ["waiting"],
        "10:00 is no afternoon"
    );
    assert_eq!(status(&list, mornings), ["offered"]);
    assert_eq!(status(&list, anytime), ["waiting"]);
    let placed = list
        .iter()
        .find(|e| e.conversation == mornings)
        .unwrap()
        .created_at;

    book_and_cancel("b", afternoon.clone(), 20).await;
    let list = s.waitlist("t1").await.unwrap();
    assert_eq!(status(&list, afternoons), ["offered"]);
    assert_eq!(status(&list, anytime), ["waiting"]);

    // The afternoon patient holds the slot, then lets it go: back in line, and the slot
    // passes to the next entry it fits (the patient who takes any time).
    ok_turn(
        s,
        "t1",
        "w-afternoon",
        at(22),
        vec![],
        vec![AppointmentOp::Hold(afternoon.clone())],
    )
    .await;
    assert_eq!(live(s, "t1", afternoons).await.len(), 1);
    ok_turn(
        s,
        "t1",
        "w-afternoon",
        at(23),
        vec![],
        vec![AppointmentOp::ReleaseHolds],
    )
    .await;
    assert!(live(s, "t1", afternoons).await.is_empty());
    let list = s.waitlist("t1").await.unwrap();
    assert_eq!(status(&list, afternoons), ["waiting"]);
    assert_eq!(status(&list, anytime), ["offered"]);
    let offer = s.pending_inbox(anytime, 10).await.unwrap();
    assert_eq!(offer.len(), 1);
    assert_eq!(
        offer[0].event["payload"]["starts_at"],
        json!(afternoon.starts_at.to_string())
    );

    // The morning patient lets the offer go: back in line, in the same place, and the
    // next freed morning is theirs again (before the patient who takes any time).
    ok_turn(
        s,
        "t1",
        "w-morning",
        at(30),
        vec![],
        vec![AppointmentOp::ReleaseHolds],
    )
    .await;
    let list = s.waitlist("t1").await.unwrap();
    let entry = list.iter().find(|e| e.conversation == mornings).unwrap();
    assert_eq!(
        (entry.status.as_str(), entry.created_at),
        ("waiting", placed)
    );
    book_and_cancel("c", morning.clone(), 40).await;
    assert_eq!(
        status(&s.waitlist("t1").await.unwrap(), mornings),
        ["offered"]
    );

    // Joined again while an offer was out: the offer not taken is done, the new wish stays.
    ok_turn(s, "t1", "w-morning", at(50), vec![], vec![join(None)]).await;
    ok_turn(
        s,
        "t1",
        "w-morning",
        at(51),
        vec![],
        vec![AppointmentOp::ReleaseHolds],
    )
    .await;
    let mut mine = status(&s.waitlist("t1").await.unwrap(), mornings);
    mine.sort();
    assert_eq!(mine, ["done", "waiting"]);

    // An evening (18:00 in Istanbul) goes to the next entry that takes any time: the
    // morning patient's new wish (the afternoon one waits on).
    book_and_cancel("d", visit("dr-ayse", None, (15, 0), 30), 60).await;
    let list = s.waitlist("t1").await.unwrap();
    let mut mine = status(&list, mornings);
    mine.sort();
    assert_eq!(mine, ["done", "offered"]);
    assert_eq!(status(&list, afternoons), ["waiting"]);
}

#[test]
fn the_part_of_day_is_the_clinics() {
    let istanbul = |h, m| crate::part_of_day(clock(h, m), "Europe/Istanbul");
    assert_eq!(istanbul(8, 59), Some("morning"), "11:59");
    assert_eq!(istanbul(9, 0), Some("afternoon"), "12:00");
    assert_eq!(istanbul(13, 59), Some("afternoon"), "16:59");
    assert_eq!(istanbul(14, 0), Some("evening"), "17:00");
    assert_eq!(crate::part_of_day(clock(9, 0), "UTC"), Some("morning"));
    assert_eq!(crate::part_of_day(clock(9, 0), "Mars/Olympus"), None);
}

/// Cancelling a booking frees its cells and offers the slot to the oldest waiting
/// conversation for that service whose practitioner wish fits (not the cancelling one),
/// as a timer event in its inbox that makes it claimable. A second join updates the
/// entry; booking takes the conversation off the waitlist.
pub async fn clinic_cancel_offers_the_waitlist(store: Arc<dyn Store>) {
    let s = &*store;
    let join = |practitioner: Option<&str>| AppointmentOp::JoinWaitlist {
        service: "implant".into(),
        practitioner: practitioner.map(Into::into),
        part: Some("morning".into()),
        tz: None,
    };
    let other_service = AppointmentOp::JoinWaitlist {
        service: "dolgu".into(),
        practitioner: None,
        part: None,
        tz: None,
    };
    let slot = of("implant", visit("dr-ayse", Some("koltuk-1"), (10, 0), 60));
    let a = ok_turn(
        s,
        "t1",
        "a",
        at(0),
        vec![],
        vec![AppointmentOp::Book(slot.clone())],
    )
    .await;
    let booking = live(s, "t1", a).await.remove(0);
    // A would like an earlier slot too; others wait, in this order.
    ok_turn(s, "t1", "a", at(1), vec![], vec![join(None)]).await;
    let mehmet_fan = ok_turn(
        s,
        "t1",
        "w-mehmet",
        at(2),
        vec![],
        vec![join(Some("dr-mehmet"))],
    )
    .await;
    let filler = ok_turn(s, "t1", "w-dolgu", at(3), vec![], vec![other_service]).await;
    let w = ok_turn(s, "t1", "w", at(4), vec![], vec![join(None)]).await;
    ok_turn(s, "t1", "w", at(5), vec![], vec![join(Some("dr-ayse"))]).await;
    let later = ok_turn(s, "t1", "w-later", at(6), vec![], vec![join(None)]).await;
    let list = s.waitlist("t1").await.unwrap();
    assert_eq!(
        list.len(),
        5,
        "one waiting entry per conversation and service"
    );
    let entry = list.iter().find(|e| e.conversation == w).unwrap().clone();
    assert_eq!(
        (entry.practitioner.as_deref(), entry.created_at),
        (Some("dr-ayse"), at(4)),
        "joining again updates the wish and keeps the place"
    );

    ok_turn(
        s,
        "t1",
        "a",
        at(10),
        vec![],
        vec![AppointmentOp::Cancel { id: booking.id }],
    )
    .await;
    assert_eq!(
        s.appointment("t1", booking.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Cancelled
    );
    assert!(
        s.busy("t1", clock(0, 0), clock(23, 0), at(10))
            .await
            .unwrap()
            .is_empty()
    );
    let status = |list: &[crate::WaitlistEntry], c: i64| {
        list.iter()
            .find(|e| e.conversation == c)
            .unwrap()
            .status
            .clone()
    };
    let list = s.waitlist("t1").await.unwrap();
    assert_eq!(status(&list, w), "offered");
    for c in [a, mehmet_fan, filler, later] {
        assert_eq!(status(&list, c), "waiting", "conversation {c}");
    }
    let pending = s.pending_inbox(w, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].event,
        json!({
            "kind": "timer",
            "key": crate::WAITLIST_TIMER_KEY,
            "payload": {
                "service": "implant",
                "practitioner": "dr-ayse",
                "room": "koltuk-1",
                "starts_at": "2025-06-02T10:00:00Z",
                "ends_at": "2025-06-02T11:00:00Z",
                "blocks_from": "2025-06-02T10:00:00Z",
                "blocks_until": "2025-06-02T11:00:00Z",
                "waitlist": entry.id,
            }
        })
    );
    assert_eq!(pending[0].created_at, at(10));
    let claim = s
        .claim_conversation("worker", LEASE, at(11))
        .await
        .unwrap()
        .expect("the offered conversation is claimable");
    assert_eq!((claim.conversation, claim.tenant.as_str()), (w, "t1"));
    s.release_conversation(w, "worker").await.unwrap();

    // W takes it: booked, off the waitlist.
    ok_turn(
        s,
        "t1",
        "w",
        at(12),
        vec![],
        vec![AppointmentOp::Book(slot.clone())],
    )
    .await;
    assert_eq!(status(&s.waitlist("t1").await.unwrap(), w), "done");
    // An agent cancels W's booking: the next fitting entry is A's (not W's own).
    let w_booking = live(s, "t1", w).await.remove(0);
    let cancelled = s
        .set_appointment_status("t1", w_booking.id, AppointmentStatus::Cancelled, at(13))
        .await
        .unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!(status(&s.waitlist("t1").await.unwrap(), a), "offered");
    assert_eq!(
        s.pending_inbox(a, 10).await.unwrap()[0].event["key"],
        json!("waitlist:offer")
    );
    // A no-show frees the cells but offers nothing (the time is gone).
    let api = s.book("t1", &slot, at(14)).await.unwrap();
    let no_show = s
        .set_appointment_status("t1", api.id, AppointmentStatus::NoShow, at(15))
        .await
        .unwrap();
    assert_eq!(no_show.status, AppointmentStatus::NoShow);
    assert_eq!(status(&s.waitlist("t1").await.unwrap(), later), "waiting");
    assert!(
        s.busy("t1", clock(0, 0), clock(23, 0), at(15))
            .await
            .unwrap()
            .is_empty()
    );
    // Showed occupies again; a cancelled appointment stays cancelled.
    let showed = s
        .set_appointment_status("t1", api.id, AppointmentStatus::Showed, at(16))
        .await
        .unwrap();
    assert_eq!(showed.status, AppointmentStatus::Showed);
    assert!(matches!(
        s.book("t1", &slot, at(17)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.set_appointment_status("t1", booking.id, AppointmentStatus::Showed, at(18))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.set_appointment_status("t1", api.id, AppointmentStatus::Booked, at(18))
            .await,
        Err(StoreError::Invalid(_))
    ));
}

/// A reschedule moves a booking atomically: on a conflict the old booking stays whole;
/// the conversation's own hold on the new slot gives way; the old slot goes to the
/// waitlist; another conversation's appointment is not found (nothing committed).
pub async fn clinic_reschedule_is_atomic(store: Arc<dyn Store>) {
    let s = &*store;
    let ten = visit("dr-ayse", Some("koltuk-1"), (10, 0), 30);
    let eleven = visit("dr-ayse", Some("koltuk-1"), (11, 0), 30);
    let twelve = visit("dr-ayse", Some("koltuk-1"), (12, 0), 30);
    let a = ok_turn(
        s,
        "t1",
        "a",
        at(0),
        vec![],
        vec![AppointmentOp::Book(ten.clone())],
    )
    .await;
    let b = ok_turn(
        s,
        "t1",
        "b",
        at(1),
        vec![],
        vec![AppointmentOp::Book(eleven.clone())],
    )
    .await;
    let w = ok_turn(
        s,
        "t1",
        "w",
        at(2),
        vec![],
        vec![AppointmentOp::JoinWaitlist {
            service: "muayene".into(),
            practitioner: None,
            part: None,
            tz: None,
        }],
    )
    .await;
    let a_booking = live(s, "t1", a).await.remove(0);
    let b_booking = live(s, "t1", b).await.remove(0);

    let why = conflicting_turn(
        s,
        "t1",
        "a",
        at(3),
        vec![],
        vec![AppointmentOp::Reschedule {
            id: a_booking.id,
            to: eleven.clone(),
        }],
    )
    .await;
    assert!(why.starts_with("slot taken: "), "{why}");
    assert_eq!(
        s.appointment("t1", a_booking.id).await.unwrap().unwrap(),
        a_booking
    );
    conflicting_turn(
        s,
        "t1",
        "c",
        at(4),
        vec![],
        vec![AppointmentOp::Book(ten.clone())],
    )
    .await;
    assert_eq!(s.waitlist("t1").await.unwrap()[0].status, "waiting");

    // Another conversation's appointment: not found, and A's reply is not stored.
    let (_, result) = clinic_turn(
        s,
        "t1",
        Channel::Whatsapp,
        "a",
        at(5),
        vec![],
        vec![
            AppointmentOp::Hold(held_until(at(600), visit("dr-x", None, (9, 0), 30))),
            AppointmentOp::Reschedule {
                id: b_booking.id,
                to: twelve.clone(),
            },
        ],
    )
    .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_nothing_committed(s, "t1", a).await;
    assert!(
        s.busy("t1", clock(9, 0), clock(9, 30), at(5))
            .await
            .unwrap()
            .is_empty(),
        "the hold before it was undone too"
    );

    // A holds 12:00 (offered in chat), then moves there: its own hold gives way.
    ok_turn(
        s,
        "t1",
        "a",
        at(6),
        vec![],
        vec![AppointmentOp::Hold(held_until(at(600), twelve.clone()))],
    )
    .await;
    ok_turn(
        s,
        "t1",
        "a",
        at(7),
        vec![],
        vec![AppointmentOp::Reschedule {
            id: a_booking.id,
            to: twelve.clone(),
        }],
    )
    .await;
    let moved = s.appointment("t1", a_booking.id).await.unwrap().unwrap();
    assert_eq!(
        (moved.status, moved.starts_at, moved.blocks_until),
        (AppointmentStatus::Booked, clock(12, 0), clock(12, 30))
    );
    assert_eq!(live(s, "t1", a).await.len(), 1, "the hold is gone");
    // The old slot is free and was offered to the waitlist.
    let w_item = s.pending_inbox(w, 10).await.unwrap().remove(0);
    assert_eq!(
        w_item.event["payload"]["starts_at"],
        json!("2025-06-02T10:00:00Z")
    );
    s.book("t1", &ten, at(8))
        .await
        .expect("10:00 is free again");
    // A move that overlaps its own old slot is fine.
    ok_turn(
        s,
        "t1",
        "a",
        at(9),
        vec![],
        vec![AppointmentOp::Reschedule {
            id: a_booking.id,
            to: visit("dr-ayse", Some("koltuk-1"), (12, 15), 30),
        }],
    )
    .await;
    let moved = s.appointment("t1", a_booking.id).await.unwrap().unwrap();
    assert_eq!(moved.starts_at, clock(12, 15));
    assert!(matches!(
        s.book("t1", &twelve, at(10)).await,
        Err(StoreError::Conflict(_))
    ));
    s.book(
        "t1",
        &visit("dr-ayse", Some("koltuk-1"), (12, 0), 15),
        at(10),
    )
    .await
    .expect("the part of the old slot the move left is free");
}

/// Every clinic read and write is scoped by tenant: another tenant's ids are not found,
/// the same practitioner id in another tenant is another calendar, the same phone
/// another lead.
pub async fn clinic_tenant_scoping(store: Arc<dyn Store>) {
    let s = &*store;
    let ten = visit("dr-ayse", Some("koltuk-1"), (10, 0), 30);
    let phone = Some("+905551112233");
    let a = ok_turn(
        s,
        "t1",
        "a",
        at(0),
        vec![touch(identity("whatsapp:a", phone, "whatsapp"))],
        vec![
            AppointmentOp::Book(ten.clone()),
            AppointmentOp::JoinWaitlist {
                service: "implant".into(),
                practitioner: None,
                part: None,
                tz: None,
            },
        ],
    )
    .await;
    let booking = live(s, "t1", a).await.remove(0);
    let lead = s.lead_for_conversation("t1", a).await.unwrap().unwrap();

    assert!(s.appointment("t2", booking.id).await.unwrap().is_none());
    assert!(
        s.appointments("t2", &AppointmentFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.busy("t2", clock(0, 0), clock(23, 0), at(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.set_appointment_status("t2", booking.id, AppointmentStatus::Cancelled, at(1))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(s.waitlist("t2").await.unwrap().is_empty());
    assert!(s.lead("t2", lead.id).await.unwrap().is_none());
    assert!(s.lead_for_conversation("t2", a).await.unwrap().is_none());
    assert!(s.lead_events("t2", lead.id).await.unwrap().is_empty());
    assert!(
        s.leads("t2", &LeadFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.update_lead("t2", lead.id, &[LeadOp::SlaBreached], "agent:x", at(1))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(s.assignee_loads("t2").await.unwrap().is_empty());

    // The same practitioner id and phone in t2: its own calendar, its own lead.
    let other = ok_turn(
        s,
        "t2",
        "a",
        at(2),
        vec![touch(identity("whatsapp:a", phone, "whatsapp"))],
        vec![AppointmentOp::Book(ten.clone())],
    )
    .await;
    let other_lead = s.lead_for_conversation("t2", other).await.unwrap().unwrap();
    assert_ne!(other_lead.id, lead.id);
    assert_eq!(
        s.lead("t1", lead.id).await.unwrap().unwrap().handles,
        ["whatsapp:a"]
    );
    // A t1 conversation cannot cancel t1's other conversation's booking either.
    let (b, result) = clinic_turn(
        s,
        "t1",
        Channel::Telegram,
        "b",
        at(3),
        vec![],
        vec![AppointmentOp::Cancel { id: booking.id }],
    )
    .await;
    assert!(matches!(result, Err(StoreError::NotFound)));
    assert!(
        s.conversation("t1", b)
            .await
            .unwrap()
            .unwrap()
            .state
            .is_null()
    );
    assert_eq!(
        s.appointment("t1", booking.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Booked
    );
    // …nor can t2's conversation cancel t1's booking by id.
    let (_, result) = clinic_turn(
        s,
        "t2",
        Channel::Whatsapp,
        "a",
        at(4),
        vec![],
        vec![AppointmentOp::Cancel { id: booking.id }],
    )
    .await;
    assert!(matches!(result, Err(StoreError::NotFound)));
}

/// One person on WhatsApp and then Instagram is two leads until the phone shows they
/// are one: then the younger merges into the older (its stage kept), both timelines on
/// one lead, both conversations and handles linked. Ops before any lead are skipped; a
/// booking is on the lead's timeline.
pub async fn lead_touch_merges_across_channels(store: Arc<dyn Store>) {
    let s = &*store;
    let phone = "+905551112233";
    // Ops before a Touch, with no lead yet: skipped.
    let (wa, result) = clinic_turn(
        s,
        "t1",
        Channel::Whatsapp,
        "905551112233",
        at(0),
        vec![LeadOp::Stage {
            stage: "quoted".into(),
            lost_reason: None,
        }],
        vec![],
    )
    .await;
    result.unwrap();
    assert!(s.lead_for_conversation("t1", wa).await.unwrap().is_none());

    let wa_identity = LeadIdentity {
        name: Some("Ayşe Kaya".into()),
        language: Some("tr".into()),
        ..identity("whatsapp:905551112233", Some(phone), "whatsapp")
    };
    ok_turn(
        s,
        "t1",
        "905551112233",
        at(10),
        vec![
            touch(wa_identity.clone()),
            LeadOp::Interest {
                treatment: Some("implant".into()),
                value_try: Some(40_000),
            },
            LeadOp::Score {
                score: 30,
                reasons: vec!["fiyat sordu".into()],
            },
        ],
        vec![],
    )
    .await;
    let first = s.lead_for_conversation("t1", wa).await.unwrap().unwrap();
    assert_eq!(
        (
            first.name.as_deref(),
            first.phone.as_deref(),
            first.source.as_deref()
        ),
        (Some("Ayşe Kaya"), Some(phone), Some("whatsapp"))
    );
    assert_eq!((first.stage.as_str(), first.score), ("new", 30));
    assert_eq!(
        (first.treatment.as_deref(), first.value_try),
        (Some("implant"), Some(40_000))
    );
    assert_eq!(first.handles, ["whatsapp:905551112233"]);
    // The same Touch again changes nothing and writes nothing.
    ok_turn(
        s,
        "t1",
        "905551112233",
        at(15),
        vec![touch(wa_identity)],
        vec![],
    )
    .await;
    let kinds =
        |events: Vec<crate::LeadEvent>| events.into_iter().map(|e| e.kind).collect::<Vec<_>>();
    assert_eq!(
        kinds(s.lead_events("t1", first.id).await.unwrap()),
        ["created", "interest", "scored"]
    );
    assert_eq!(
        s.lead("t1", first.id)
            .await
            .unwrap()
            .unwrap()
            .last_activity_at,
        at(15)
    );

    // Instagram, from an ad, no phone yet: a second lead.
    let (ig, result) = clinic_turn(
        s,
        "t1",
        Channel::Instagram,
        "ayse.k",
        at(20),
        vec![
            touch(identity("instagram:ayse.k", None, "ad:120210")),
            LeadOp::Stage {
                stage: "quoted".into(),
                lost_reason: None,
            },
            LeadOp::Score {
                score: 55,
                reasons: vec!["reklamdan".into()],
            },
        ],
        vec![],
    )
    .await;
    result.unwrap();
    let second = s.lead_for_conversation("t1", ig).await.unwrap().unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        s.leads("t1", &LeadFilter::default()).await.unwrap().len(),
        2
    );

    // On Instagram she gives her phone: one person, one lead (the older).
    let (_, result) = clinic_turn(
        s,
        "t1",
        Channel::Instagram,
        "ayse.k",
        at(30),
        vec![touch(LeadIdentity {
            email: Some("Ayse@Example.com".into()),
            ..identity("instagram:ayse.k", Some(phone), "ad:120210")
        })],
        vec![AppointmentOp::Book(of(
            "implant",
            visit("dr-ayse", None, (10, 0), 60),
        ))],
    )
    .await;
    result.unwrap();
    assert!(s.lead("t1", second.id).await.unwrap().is_none(), "absorbed");
    let merged = s.lead_for_conversation("t1", ig).await.unwrap().unwrap();
    assert_eq!(merged.id, first.id);
    assert_eq!(
        s.lead_for_conversation("t1", wa).await.unwrap().unwrap().id,
        first.id
    );
    assert_eq!(
        merged.handles,
        ["whatsapp:905551112233", "instagram:ayse.k"]
    );
    assert_eq!(merged.stage, "new", "the older lead's stage stays");
    assert_eq!(
        merged.source.as_deref(),
        Some("whatsapp"),
        "first touch stays"
    );
    assert_eq!(merged.email.as_deref(), Some("ayse@example.com"));
    assert_eq!(
        (merged.score, merged.score_reasons.clone()),
        (55, vec!["reklamdan".to_string()]),
        "the higher score"
    );
    assert_eq!(merged.created_at, at(10));
    assert_eq!(merged.last_activity_at, at(30));

    let events = s.lead_events("t1", first.id).await.unwrap();
    assert_eq!(
        kinds(events.clone()),
        [
            "created",
            "interest",
            "scored",
            "created",
            "stage_changed",
            "scored",
            "merged",
            "linked",
            "appointment_booked"
        ],
        "both timelines, oldest first"
    );
    assert!(
        events
            .iter()
            .all(|e| e.actor == "bot" && e.lead == first.id)
    );
    let merged_event = &events[6];
    assert_eq!(merged_event.data["absorbed"], json!(second.id));
    assert_eq!(merged_event.data["stage"], json!("quoted"));
    assert_eq!(events[8].data["starts_at"], json!("2025-06-02T10:00:00Z"));
    assert_eq!(events[8].data["service"], json!("implant"));
    let booking = live(s, "t1", ig).await.remove(0);
    assert_eq!(booking.lead, Some(first.id));

    // Found again by e-mail alone, from a third channel.
    let tg = ok_turn(
        s,
        "t1",
        "tg-42",
        at(40),
        vec![touch(LeadIdentity {
            handle: "telegram:42".into(),
            email: Some("ayse@example.com ".into()),
            ..LeadIdentity::default()
        })],
        vec![],
    )
    .await;
    assert_eq!(
        s.lead_for_conversation("t1", tg).await.unwrap().unwrap().id,
        first.id
    );
    assert_eq!(
        s.leads("t1", &LeadFilter::default()).await.unwrap().len(),
        1
    );
}

/// Lead ops through the admin API: each change is one timeline entry with the actor and
/// the before/after; repeats write nothing; the record follows.
pub async fn lead_stage_score_assign_events(store: Arc<dyn Store>) {
    let s = &*store;
    let conversation = ok_turn(
        s,
        "t1",
        "905550000001",
        at(0),
        vec![touch(identity("whatsapp:905550000001", None, "whatsapp"))],
        vec![],
    )
    .await;
    let lead = s
        .lead_for_conversation("t1", conversation)
        .await
        .unwrap()
        .unwrap();
    let due = at(3600);
    let ops = [
        LeadOp::Stage {
            stage: "quoted".into(),
            lost_reason: None,
        },
        LeadOp::Score {
            score: 70,
            reasons: vec!["bütçe belli".into(), "tarih yakın".into()],
        },
        LeadOp::Assign {
            assignee: Some("zeynep".into()),
        },
        LeadOp::Assign {
            assignee: Some("zeynep".into()),
        },
        LeadOp::SlaDue { due: Some(due) },
        LeadOp::HumanResponded,
        LeadOp::HumanResponded,
        LeadOp::SlaBreached,
        LeadOp::Event {
            kind: "note".into(),
            data: json!({"text": "Perşembe arayacak"}),
        },
        LeadOp::Stage {
            stage: "lost".into(),
            lost_reason: Some("fiyat".into()),
        },
    ];
    let updated = s
        .update_lead("t1", lead.id, &ops, "agent:zeynep", at(100))
        .await
        .unwrap();
    assert_eq!(
        (updated.stage.as_str(), updated.lost_reason.as_deref()),
        ("lost", Some("fiyat"))
    );
    assert_eq!(
        (updated.score, updated.assignee.as_deref()),
        (70, Some("zeynep"))
    );
    assert_eq!(
        (
            updated.first_response_at,
            updated.first_response_due,
            updated.sla_breached
        ),
        (Some(at(100)), None, true)
    );
    assert_eq!(updated.handles, ["whatsapp:905550000001"]);
    assert_eq!(
        (updated.updated_at, updated.last_activity_at),
        (at(100), at(100))
    );
    assert_eq!(s.lead("t1", lead.id).await.unwrap().unwrap(), updated);

    let events: Vec<_> = s
        .lead_events("t1", lead.id)
        .await
        .unwrap()
        .into_iter()
        .skip(1)
        .collect();
    let summary: Vec<(&str, &str, serde_json::Value)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_str(), e.data.clone()))
        .collect();
    let z = "agent:zeynep";
    assert_eq!(
        summary,
        [
            (
                "stage_changed",
                z,
                json!({"from": "new", "to": "quoted", "lost_reason": null})
            ),
            (
                "scored",
                z,
                json!({"score": 70, "reasons": ["bütçe belli", "tarih yakın"]})
            ),
            ("assigned", z, json!({"from": null, "to": "zeynep"})),
            ("sla_set", z, json!({"due": "2025-06-01T01:00:00Z"})),
            (
                "first_response",
                z,
                json!({"at": "2025-06-01T00:01:40Z", "due": "2025-06-01T01:00:00Z"})
            ),
            ("sla_breached", z, json!({"due": null})),
            ("note", z, json!({"text": "Perşembe arayacak"})),
            (
                "stage_changed",
                z,
                json!({"from": "quoted", "to": "lost", "lost_reason": "fiyat"})
            ),
        ]
    );
    assert!(events.iter().all(|e| e.at == at(100)));

    // In a turn the actor is the bot, and an unknown lead is not found.
    ok_turn(
        s,
        "t1",
        "905550000001",
        at(200),
        vec![LeadOp::Assign {
            assignee: Some("ali".into()),
        }],
        vec![],
    )
    .await;
    let last = s.lead_events("t1", lead.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.actor.as_str(), last.data),
        ("assigned", "bot", json!({"from": "zeynep", "to": "ali"}))
    );
    assert!(matches!(
        s.update_lead("t1", 987_654, &[LeadOp::SlaBreached], "agent:x", at(300))
            .await,
        Err(StoreError::NotFound)
    ));
}

/// `leads` filters by stage, source, assignee, score and creation time, newest first,
/// paged; `assignee_loads` counts open leads and the last assignment per person.
pub async fn lead_filters_and_loads(store: Arc<dyn Store>) {
    let s = &*store;
    let people = [
        ("p0", "whatsapp", "new", 10, Some("zeynep")),
        ("p1", "ad:77", "quoted", 60, Some("zeynep")),
        ("p2", "ad:77", "won", 90, Some("zeynep")),
        ("p3", "instagram", "lost", 20, Some("ali")),
        ("p4", "whatsapp", "quoted", 50, Some("ali")),
        ("p5", "whatsapp", "new", 0, None),
    ];
    let mut ids = Vec::new();
    for (i, (handle, source, stage, score, assignee)) in people.iter().enumerate() {
        let now = at(100 * i as i64);
        let conversation = ok_turn(
            s,
            "t1",
            handle,
            now,
            vec![touch(identity(&format!("whatsapp:{handle}"), None, source))],
            vec![],
        )
        .await;
        let lead = s
            .lead_for_conversation("t1", conversation)
            .await
            .unwrap()
            .unwrap();
        let ops = [
            LeadOp::Stage {
                stage: (*stage).into(),
                lost_reason: None,
            },
            LeadOp::Score {
                score: *score,
                reasons: vec![],
            },
            LeadOp::Assign {
                assignee: assignee.map(Into::into),
            },
        ];
        s.update_lead(
            "t1",
            lead.id,
            &ops,
            "system",
            now + SignedDuration::from_secs(10),
        )
        .await
        .unwrap();
        ids.push(lead.id);
    }
    let list = |filter: LeadFilter| async move {
        s.leads("t1", &filter)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.id)
            .collect::<Vec<_>>()
    };
    let pick = |is: &[usize]| is.iter().map(|i| ids[*i]).collect::<Vec<_>>();
    assert_eq!(
        list(LeadFilter::default()).await,
        pick(&[5, 4, 3, 2, 1, 0]),
        "newest first"
    );
    let stage = LeadFilter {
        stage: Some("quoted".into()),
        ..LeadFilter::default()
    };
    assert_eq!(list(stage).await, pick(&[4, 1]));
    let source = LeadFilter {
        source: Some("ad:77".into()),
        ..LeadFilter::default()
    };
    assert_eq!(list(source).await, pick(&[2, 1]));
    let assignee = LeadFilter {
        assignee: Some("ali".into()),
        ..LeadFilter::default()
    };
    assert_eq!(list(assignee).await, pick(&[4, 3]));
    let hot = LeadFilter {
        min_score: Some(50),
        ..LeadFilter::default()
    };
    assert_eq!(list(hot).await, pick(&[4, 2, 1]));
    let window = LeadFilter {
        from: Some(at(100)),
        to: Some(at(400)),
        ..LeadFilter::default()
    };
    assert_eq!(list(window).await, pick(&[3, 2, 1]));
    let page = LeadFilter {
        limit: 2,
        offset: 1,
        ..LeadFilter::default()
    };
    assert_eq!(list(page).await, pick(&[4, 3]));
    let combined = LeadFilter {
        source: Some("whatsapp".into()),
        min_score: Some(5),
        ..LeadFilter::default()
    };
    assert_eq!(list(combined).await, pick(&[4, 0]));

    // Ali's lead 4 goes to Zeynep later.
    s.update_lead(
        "t1",
        ids[4],
        &[LeadOp::Assign {
            assignee: Some("zeynep".into()),
        }],
        "system",
        at(1000),
    )
    .await
    .unwrap();
    let loads = s.assignee_loads("t1").await.unwrap();
    let summary: Vec<_> = loads
        .iter()
        .map(|l| (l.assignee.as_str(), l.open_leads, l.last_assigned_at))
        .collect();
    assert_eq!(
        summary,
        [("ali", 0, Some(at(410))), ("zeynep", 3, Some(at(1000))),],
        "won and lost leads are not open"
    );

    // Closing a lead and reopening another move the counts, and so do merges.
    let stage = |stage: &str| LeadOp::Stage {
        stage: stage.into(),
        lost_reason: None,
    };
    s.update_lead("t1", ids[0], &[stage("won")], "system", at(1100))
        .await
        .unwrap();
    s.update_lead("t1", ids[3], &[stage("quoted")], "system", at(1200))
        .await
        .unwrap();
    let open = |loads: Vec<crate::AssigneeLoad>| {
        loads
            .into_iter()
            .map(|l| (l.assignee, l.open_leads))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        open(s.assignee_loads("t1").await.unwrap()),
        [("ali".to_string(), 1), ("zeynep".to_string(), 2)]
    );
    assert!(s.assignee_loads("t2").await.unwrap().is_empty());
}

/// Timeline events go to the CRM webhook once each, per lead in order: leased on claim,
/// sent, retried at the given time, or given up; other tenants' events stay.
pub async fn crm_delivery_retry_and_give_up(store: Arc<dyn Store>) {
    let s = &*store;
    let a_conv = ok_turn(
        s,
        "t1",
        "a",
        at(0),
        vec![
            touch(identity("whatsapp:a", None, "whatsapp")),
            LeadOp::Stage {
                stage: "quoted".into(),
                lost_reason: None,
            },
            LeadOp::Score {
                score: 10,
                reasons: vec![],
            },
        ],
        vec![],
    )
    .await;
    ok_turn(
        s,
        "t2",
        "b",
        at(1),
        vec![touch(identity("whatsapp:b", None, "whatsapp"))],
        vec![],
    )
    .await;
    ok_turn(
        s,
        "t3",
        "c",
        at(2),
        vec![touch(identity("whatsapp:c", None, "whatsapp"))],
        vec![],
    )
    .await;
    let lead_a = s
        .lead_for_conversation("t1", a_conv)
        .await
        .unwrap()
        .unwrap();
    let tenants = ["t1".to_string(), "t2".to_string()];

    assert!(
        s.claim_crm_deliveries(&[], 10, at(10))
            .await
            .unwrap()
            .is_empty()
    );
    let first = s.claim_crm_deliveries(&tenants, 10, at(10)).await.unwrap();
    let seen: Vec<_> = first
        .iter()
        .map(|d| (d.tenant.as_str(), d.event.kind.as_str(), d.attempts))
        .collect();
    assert_eq!(
        seen,
        [
            ("t1", "created", 1),
            ("t1", "stage_changed", 1),
            ("t1", "scored", 1),
            ("t2", "created", 1)
        ]
    );
    assert_eq!(first[0].event.lead, lead_a.id);
    assert_eq!(first[1].event.data["to"], json!("quoted"));
    assert!(
        s.claim_crm_deliveries(&tenants, 10, at(11))
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let (a1, a2, a3, b1) = (
        first[0].event.id,
        first[1].event.id,
        first[2].event.id,
        first[3].event.id,
    );
    s.crm_delivered(a1, None, None).await.unwrap();
    s.crm_delivered(a2, Some("503"), Some(at(300)))
        .await
        .unwrap();
    s.crm_delivered(b1, Some("410 gone"), None).await.unwrap();
    // a3's sender died: its lease ends, but a2 (older, same lead) waits for its retry.
    assert!(
        s.claim_crm_deliveries(&tenants, 10, at(71))
            .await
            .unwrap()
            .is_empty()
    );
    let retry = s.claim_crm_deliveries(&tenants, 1, at(300)).await.unwrap();
    assert_eq!(
        retry
            .iter()
            .map(|d| (d.event.id, d.attempts))
            .collect::<Vec<_>>(),
        [(a2, 2)],
        "the limit applies"
    );
    assert!(
        s.claim_crm_deliveries(&tenants, 10, at(301))
            .await
            .unwrap()
            .is_empty()
    );
    s.crm_delivered(a2, None, None).await.unwrap();
    let rest = s.claim_crm_deliveries(&tenants, 10, at(302)).await.unwrap();
    assert_eq!(
        rest.iter()
            .map(|d| (d.event.id, d.attempts))
            .collect::<Vec<_>>(),
        [(a3, 2)]
    );
    s.crm_delivered(a3, None, None).await.unwrap();
    // A late failure report does not reopen a sent event.
    s.crm_delivered(a1, Some("timeout"), Some(at(400)))
        .await
        .unwrap();
    assert!(
        s.claim_crm_deliveries(&tenants, 10, at(10_000))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.crm_delivered(987_654, None, None).await,
        Err(StoreError::NotFound)
    ));
    // t3 was never asked for; its event is still there for whoever is.
    let t3 = s
        .claim_crm_deliveries(&["t3".to_string()], 10, at(10_000))
        .await
        .unwrap();
    assert_eq!(t3.len(), 1);
    // New events of a lead come after the delivered ones.
    ok_turn(
        s,
        "t1",
        "a",
        at(10_001),
        vec![LeadOp::Event {
            kind: "note".into(),
            data: json!({"n": 1}),
        }],
        vec![],
    )
    .await;
    let next = s
        .claim_crm_deliveries(&tenants, 10, at(10_002))
        .await
        .unwrap();
    assert_eq!(
        next.iter()
            .map(|d| d.event.kind.as_str())
            .collect::<Vec<_>>(),
        ["note"]
    );
}

/// No two occupying appointments of a tenant overlap on a practitioner or a room.
fn assert_no_double_booking(all: &[AppointmentRecord]) {
    let occupying: Vec<_> = all.iter().filter(|a| a.status.occupies()).collect();
    for (i, x) in occupying.iter().enumerate() {
        for y in &occupying[i + 1..] {
            let shared = x.practitioner == y.practitioner || (x.room.is_some() && x.room == y.room);
            let overlap = x.blocks_from < y.blocks_until && y.blocks_from < x.blocks_until;
            assert!(
                !(shared && overlap),
                "double booking: {} and {} ({:?} {:?})",
                x.id,
                y.id,
                (&x.practitioner, &x.room, x.blocks_from),
                (&y.practitioner, &y.room, y.blocks_from)
            );
        }
    }
}

/// Booking under contention, each task on its own connection from the store's pool:
/// 16 turns booking the same last free slot (one wins, the rest get `Conflict` and
/// commit nothing); 16 turns holding one slot (one hold, no failed turn); 16 agents
/// booking partly overlapping visits of different practitioners in one shared room,
/// and of one practitioner across rooms (no two overlap; every loser overlapped a winner).
pub async fn clinic_concurrent_booking(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    let s = &*store;
    let mut claims = Vec::new();
    for i in 0..TASKS {
        let message = inbound(
            "t1",
            Channel::Whatsapp,
            &format!("yarış-{i}"),
            &format!("y{i}"),
            "randevu",
        );
        s.accept_inbound(&message, at(i as i64)).await.unwrap();
    }
    for i in 0..TASKS {
        let owner = format!("worker-{i}");
        let claim = s
            .claim_conversation(&owner, LEASE, at(100))
            .await
            .unwrap()
            .unwrap();
        claims.push((owner, claim));
    }

    // 1. The last free slot, from 16 chats at once.
    let last = visit("dr-ayse", Some("koltuk-1"), (17, 0), 30);
    let outcomes: Vec<_> = claims
        .iter()
        .map(|(owner, claim)| {
            let store = store.clone();
            let (owner, claim, last) = (owner.clone(), claim.clone(), last.clone());
            tokio::spawn(async move {
                let item = store
                    .pending_inbox(claim.conversation, 1)
                    .await
                    .unwrap()
                    .remove(0);
                let mut t = turn(&claim, &owner, item.id, at(101));
                t.outgoing = vec![bot("randevunuz alındı")];
                t.appointments = vec![AppointmentOp::Book(last)];
                (claim.conversation, store.commit_turn(&t).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in outcomes {
        let (conversation, result) = task.await.expect("task");
        match result {
            Ok(_) => winners.push(conversation),
            Err(StoreError::Conflict(why)) => {
                assert!(why.starts_with("slot taken: "), "{why}");
                let msgs = s.messages("t1", conversation, 0, 10).await.unwrap();
                assert_eq!(msgs.len(), 1, "a losing turn stores no reply");
            }
            Err(e) => panic!("booking race: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one booking of the last slot");
    let booked = s
        .appointments(
            "t1",
            &AppointmentFilter {
                limit: 1000,
                ..AppointmentFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].conversation, Some(winners[0]));

    // 2. One slot held from 16 chats at once: one hold, and no turn fails.
    for (i, (_, claim)) in claims.iter().enumerate() {
        let message = inbound(
            "t1",
            Channel::Whatsapp,
            &format!("yarış-{i}"),
            &format!("h{i}"),
            "olur",
        );
        let accepted = s.accept_inbound(&message, at(200)).await.unwrap();
        assert_eq!(accepted.conversation, claim.conversation);
    }
    let hold = held_until(at(900), visit("dr-mehmet", Some("koltuk-2"), (9, 0), 30));
    let outcomes: Vec<_> = claims
        .iter()
        .map(|(owner, claim)| {
            let store = store.clone();
            let (owner, claim, hold) = (owner.clone(), claim.clone(), hold.clone());
            tokio::spawn(async move {
                let item = store
                    .pending_inbox(claim.conversation, 10)
                    .await
                    .unwrap()
                    .pop()
                    .unwrap();
                let mut t = turn(&claim, &owner, item.id, at(201));
                t.appointments = vec![AppointmentOp::Hold(hold)];
                store.commit_turn(&t).await
            })
        })
        .collect();
    for task in outcomes {
        task.await
            .expect("task")
            .expect("a hold never fails the turn");
    }
    let busy = s
        .busy("t1", clock(9, 0), clock(9, 30), at(202))
        .await
        .unwrap();
    assert_eq!(busy.len(), 2, "one hold: practitioner and chair");

    // 3. Partly overlapping visits: 16 practitioners in one chair, then one
    //    practitioner in 16 chairs, each 30 minutes, starting 10 minutes apart.
    let mut requests = Vec::new();
    for i in 0..TASKS as i64 {
        let start = (11 + (i * 10) / 60, (i * 10) % 60);
        requests.push(visit(&format!("dr-{i}"), Some("koltuk-ortak"), start, 30));
        let start = (14 + (i * 10) / 60, (i * 10) % 60);
        requests.push(visit("dr-tek", Some(&format!("koltuk-{i}")), start, 30));
    }
    let outcomes: Vec<_> = requests
        .into_iter()
        .map(|new| {
            let store = store.clone();
            tokio::spawn(async move {
                let result = store.book("t1", &new, at(300)).await;
                (new, result)
            })
        })
        .collect();
    let mut lost = Vec::new();
    let mut won = 0;
    for task in outcomes {
        let (new, result) = task.await.expect("task");
        match result {
            Ok(a) => {
                assert_eq!(a.status, AppointmentStatus::Booked);
                won += 1;
            }
            Err(StoreError::Conflict(_)) => lost.push(new),
            Err(e) => panic!("booking race: {e}"),
        }
    }
    let all = s
        .appointments(
            "t1",
            &AppointmentFilter {
                limit: 1000,
                ..AppointmentFilter::default()
            },
        )
        .await
        .unwrap();
    assert_no_double_booking(&all);
    let booked: Vec<_> = all
        .iter()
        .filter(|a| a.status == AppointmentStatus::Booked)
        .collect();
    assert_eq!(booked.len(), won + 1);
    // A chain of 30-minute visits 10 minutes apart: each winner shuts out at most the
    // two before and the two after it.
    assert!(won >= 2 * TASKS.div_ceil(5), "won {won}");
    for new in &lost {
        assert!(
            booked.iter().any(|b| {
                (b.practitioner == new.practitioner || b.room == new.room)
                    && b.blocks_from < new.blocks_until
                    && new.blocks_from < b.blocks_until
            }),
            "{new:?} lost to nobody"
        );
    }
    assert_eq!(won + lost.len(), 2 * TASKS);
}

/// The same people writing on WhatsApp and Instagram at the same instant, each turn
/// revealing the shared phone: one lead per person in the end, both conversations on
/// it. A turn may be told `Conflict` (re-run, as the gateway does), never fail otherwise.
pub async fn lead_touch_under_concurrency(store: Arc<dyn Store>) {
    const PEOPLE: usize = 8;
    let s = &*store;
    let mut claims = Vec::new();
    for p in 0..PEOPLE {
        for channel in [Channel::Whatsapp, Channel::Instagram] {
            let handle = format!("kişi-{p}");
            let message = inbound("t1", channel, &handle, &format!("{channel}-{p}"), "fiyat?");
            s.accept_inbound(&message, at(p as i64)).await.unwrap();
        }
    }
    for i in 0..2 * PEOPLE {
        let owner = format!("worker-{i}");
        let claim = s
            .claim_conversation(&owner, LEASE, at(100))
            .await
            .unwrap()
            .unwrap();
        claims.push((owner, claim));
    }
    let tasks: Vec<_> = claims
        .into_iter()
        .map(|(owner, claim)| {
            let store = store.clone();
            tokio::spawn(async move {
                let conversation = store
                    .conversation("t1", claim.conversation)
                    .await
                    .unwrap()
                    .unwrap();
                let p = conversation
                    .contact
                    .handle
                    .trim_start_matches("kişi-")
                    .to_string();
                let handle = format!("{}:{}", conversation.channel, conversation.contact.handle);
                let item = store
                    .pending_inbox(claim.conversation, 1)
                    .await
                    .unwrap()
                    .remove(0);
                let mut t = turn(&claim, &owner, item.id, at(101));
                t.lead = vec![
                    touch(identity(
                        &handle,
                        Some(&format!("+90555000000{p}")),
                        "whatsapp",
                    )),
                    LeadOp::Event {
                        kind: "asked_price".into(),
                        data: json!({"from": handle}),
                    },
                ];
                let mut conflicts = 0;
                loop {
                    match store.commit_turn(&t).await {
                        Ok(_) => return (p, claim.conversation, conflicts),
                        Err(StoreError::Conflict(_)) if conflicts < 5 => conflicts += 1,
                        Err(e) => panic!("touch race: {e}"),
                    }
                }
            })
        })
        .collect();
    let mut by_person: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for task in tasks {
        let (p, conversation, _conflicts) = task.await.expect("task");
        by_person.entry(p).or_default().push(conversation);
    }
    let leads = s.leads("t1", &LeadFilter::default()).await.unwrap();
    assert_eq!(leads.len(), PEOPLE, "one lead per person");
    for conversations in by_person.values() {
        let a = s
            .lead_for_conversation("t1", conversations[0])
            .await
            .unwrap()
            .unwrap();
        let b = s
            .lead_for_conversation("t1", conversations[1])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.handles.len(), 2);
        let events = s.lead_events("t1", a.id).await.unwrap();
        assert_eq!(
            events.iter().filter(|e| e.kind == "asked_price").count(),
            2,
            "both timelines kept: {events:?}"
        );
    }
}
