//! Slot search over a month for a five-doctor, five-chair clinic with ~300 busy blocks:
//! every free slot (what a dashboard's calendar asks), and three spread offers (what a
//! chat turn asks). `cargo bench -p flows --bench slots`.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use flows::clinic::{Busy, Clinic, Preferences, SlotQuery};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

fn clinic() -> Clinic {
    let mut toml = String::from(
        r#"
[settings]
slot_step_minutes = 15
min_notice_minutes = 120
horizon_days = 30

[hours]
mon = "09:00-19:00"
tue = "09:00-19:00"
wed = "09:00-19:00"
thu = "09:00-19:00"
fri = "09:00-19:00"
sat = "10:00-16:00"

[[breaks]]
days = ["mon", "tue", "wed", "thu", "fri"]
from = "12:30"
to = "13:30"

[[services]]
id = "muayene"
name = "Muayene"
duration_minutes = 30
buffer_after_minutes = 10

[[services]]
id = "implant"
name = "İmplant"
duration_minutes = 90
buffer_before_minutes = 15
buffer_after_minutes = 20
"#,
    );
    for i in 1..=5 {
        toml.push_str(&format!(
            "\n[[practitioners]]\nid = \"dr-{i}\"\nname = \"Dt. {i}\"\n\n[[rooms]]\nid = \"koltuk-{i}\"\n"
        ));
    }
    Clinic::parse(&toml, "treatment,name,unit,min_try,max_try\n").expect("bench clinic")
}

/// ~300 blocks of 30–120 minutes over the month, spread over the ten resources, from a
/// fixed-seed generator so every run measures the same calendar.
fn busy(start: Timestamp) -> Vec<Busy> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    (0..300)
        .map(|_| {
            let resource = match next(10) {
                i @ 0..5 => format!("dr-{}", i + 1),
                i => format!("koltuk-{}", i - 4),
            };
            let day = next(30) as i64;
            let minute = 9 * 60 + 5 * next(108) as i64;
            let length = 30 + 5 * next(19) as i64;
            let from = start + (day * 24 * 60 + minute).minutes();
            Busy {
                resource,
                from,
                until: from + length.minutes(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let clinic = clinic();
    let tz = TimeZone::get("Europe/Istanbul").unwrap();
    // Monday 1 June 2026, 00:00 Istanbul.
    let now: Timestamp = "2026-05-31T21:00:00Z".parse().unwrap();
    let busy = busy(now);
    let month = SlotQuery {
        service: "muayene",
        now,
        prefs: Preferences::default(),
        limit: usize::MAX,
        spread: false,
    };
    let found = clinic.find_slots(&tz, &busy, &month).unwrap().len();
    // One slot per start time (the first free doctor): ~33 a weekday, ~22 a Saturday.
    assert!(found > 700, "{found} slots");
    c.bench_function("find_slots month, 5 doctors, 5 chairs, 300 busy", |b| {
        b.iter(|| clinic.find_slots(&tz, black_box(&busy), black_box(&month)))
    });
    let implant = SlotQuery {
        service: "implant",
        ..month.clone()
    };
    c.bench_function("find_slots month, implant (90 min + buffers)", |b| {
        b.iter(|| clinic.find_slots(&tz, black_box(&busy), black_box(&implant)))
    });
    let offers = SlotQuery {
        limit: 3,
        spread: true,
        ..month.clone()
    };
    c.bench_function("find_slots three spread offers", |b| {
        b.iter(|| clinic.find_slots(&tz, black_box(&busy), black_box(&offers)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
