//! Booking throughput under contention: 8 concurrent bookers, each a chat committing
//! turns that book a slot (`AppointmentOp::Book`), on SQLite (a temp file) and
//! PostgreSQL (a fresh schema on `KOPRU_TEST_POSTGRES_URL`). Prints turns/s, bookings/s
//! and the conflict rate for two calendars:
//! - `spread`: each attempt picks a random 30-minute visit (8 practitioners, each in
//!   their own chair and sharing 2 more, 60 days of 09:00–18:00 on a 15-minute grid);
//! - `hot`: every round all bookers want the same next slot (one of 8 can win).
//!
//! `cargo bench -p store --bench booking` (add `-- sqlite` or `-- postgres` for one).

use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{AppointmentOp, NewAppointment, PostgresStore, SqliteStore, Store, StoreError, Turn};

const BOOKERS: usize = 8;
const ATTEMPTS: usize = 250;
const LEASE: Duration = Duration::from_secs(3600);

fn base() -> Timestamp {
    Timestamp::from_second(1_748_736_000).expect("valid base time")
}

/// A tiny xorshift: the bench needs spread, not quality, and no extra dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Calendar {
    Spread,
    Hot,
}

fn visit(practitioner: u64, room: u64, day: u64, quarter: u64) -> NewAppointment {
    let starts_at = base()
        + SignedDuration::from_hours(24 * (day as i64 + 1) + 9)
        + SignedDuration::from_mins(15 * quarter as i64);
    let ends_at = starts_at + SignedDuration::from_mins(30);
    NewAppointment {
        service: "muayene".into(),
        practitioner: format!("dr-{practitioner}"),
        room: Some(format!("koltuk-{room}")),
        starts_at,
        ends_at,
        blocks_from: starts_at,
        blocks_until: ends_at,
        hold_until: None,
        customer_tz: None,
        note: None,
    }
}

fn slot(calendar: Calendar, rng: &mut Rng, round: usize) -> NewAppointment {
    match calendar {
        // 36 starts a day leave 30 minutes before 18:00.
        Calendar::Spread => {
            let practitioner = rng.below(8);
            // Mostly their own chair; one visit in five in one of two shared ones.
            let room = match rng.below(5) {
                0 => 8 + rng.below(2),
                _ => practitioner,
            };
            visit(practitioner, room, rng.below(60), rng.below(35))
        }
        Calendar::Hot => {
            let round = round as u64;
            visit(0, 0, round / 18, 2 * (round % 18))
        }
    }
}

struct Outcome {
    booked: usize,
    conflicts: usize,
    elapsed: Duration,
}

async fn run(store: Arc<dyn Store>, tenant: &str, calendar: Calendar) -> Outcome {
    // Setup, untimed: one chat per booker with an inbox item per attempt, leased to it.
    let mut bookers = Vec::new();
    for b in 0..BOOKERS {
        let mut conversation = 0;
        for a in 0..ATTEMPTS {
            let msg = store::conformance::inbound(
                tenant,
                channels::Channel::Webchat,
                &format!("booker-{b}"),
                &format!("{b}-{a}"),
                "randevu",
            );
            conversation = store
                .accept_inbound(&msg, base())
                .await
                .unwrap()
                .conversation;
        }
        bookers.push(conversation);
    }
    let mut claimed = Vec::new();
    for b in 0..BOOKERS {
        let owner = format!("bench-{b}");
        let claim = store
            .claim_conversation(&owner, LEASE, base())
            .await
            .unwrap()
            .expect("a chat to lease");
        let items = store
            .pending_inbox(claim.conversation, ATTEMPTS as u32)
            .await
            .unwrap();
        claimed.push((owner, claim, items));
    }

    let started = Instant::now();
    let tasks: Vec<_> = claimed
        .into_iter()
        .enumerate()
        .map(|(b, (owner, claim, items))| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (b as u64 + 1));
                let (mut booked, mut conflicts) = (0, 0);
                for (round, item) in items.iter().enumerate() {
                    let mut turn = store::conformance::turn(&claim, &owner, item.id, base());
                    turn.appointments = vec![AppointmentOp::Book(slot(calendar, &mut rng, round))];
                    match store.commit_turn(&turn).await {
                        Ok(_) => booked += 1,
                        Err(StoreError::Conflict(_)) => {
                            conflicts += 1;
                            // The gateway re-runs the flow; here the item is closed empty.
                            let empty: Turn =
                                store::conformance::turn(&claim, &owner, item.id, base());
                            store.commit_turn(&empty).await.unwrap();
                        }
                        Err(e) => panic!("booking: {e}"),
                    }
                }
                (booked, conflicts)
            })
        })
        .collect();
    let (mut booked, mut conflicts) = (0, 0);
    for task in tasks {
        let (b, c) = task.await.unwrap();
        booked += b;
        conflicts += c;
    }
    Outcome {
        booked,
        conflicts,
        elapsed: started.elapsed(),
    }
}

fn report(backend: &str, calendar: Calendar, o: &Outcome) {
    let secs = o.elapsed.as_secs_f64();
    let attempts = o.booked + o.conflicts;
    println!(
        "{backend:<10} {:<6} {BOOKERS} bookers  {attempts} booking turns in {secs:.2} s: \
         {:.0} turns/s, {:.0} bookings/s, conflicts {:.1} % (a conflict costs a second, empty turn)",
        if calendar == Calendar::Spread {
            "spread"
        } else {
            "hot"
        },
        attempts as f64 / secs,
        o.booked as f64 / secs,
        100.0 * o.conflicts as f64 / attempts as f64,
    );
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for calendar in [Calendar::Spread, Calendar::Hot] {
            if wants("sqlite") {
                let store = SqliteStore::new_test().await.expect("sqlite");
                let outcome = run(Arc::new(store), "bench", calendar).await;
                report("sqlite", calendar, &outcome);
            }
            if wants("postgres") {
                let store = PostgresStore::new_test().await.expect("postgres reachable");
                let outcome = run(Arc::new(store.clone()), "bench", calendar).await;
                report("postgres", calendar, &outcome);
                store.drop_schema().await.unwrap();
            }
        }
    });
}
