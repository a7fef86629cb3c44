//! Business hours: parsing, validation, open/closed and next opening in the tenant's
//! time zone, and the Turkish description.

use crate::istanbul;
use flows::{BusinessHours, ProfileError, TenantProfile};
use jiff::civil::{Time, time};
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

fn t(h: i8, m: i8) -> Time {
    time(h, m, 0, 0)
}

fn tz() -> TimeZone {
    TimeZone::get("Europe/Istanbul").unwrap()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn day_of(err: ProfileError) -> String {
    match err {
        ProfileError::Hours { day, .. } => day,
        other => panic!("expected an hours error, got {other:?}"),
    }
}

#[test]
fn parses_single_split_and_closed_days() {
    assert_eq!(
        BusinessHours::parse_day("mon", "09:00-19:00").unwrap(),
        vec![(t(9, 0), t(19, 0))]
    );
    assert_eq!(
        BusinessHours::parse_day("mon", " 13:30 - 19:00 ,09:00-12:30").unwrap(),
        vec![(t(9, 0), t(12, 30)), (t(13, 30), t(19, 0))],
        "ranges come back sorted"
    );
    assert_eq!(
        BusinessHours::parse_day("mon", "9.00–18.00").unwrap(),
        vec![(t(9, 0), t(18, 0))]
    );
    assert_eq!(
        BusinessHours::parse_day("sat", "18:00-24:00").unwrap(),
        vec![(t(18, 0), Time::MAX)]
    );
    for closed in ["closed", "kapalı", "KAPALI", "Kapalı", "", "   "] {
        assert_eq!(
            BusinessHours::parse_day("sun", closed).unwrap(),
            vec![],
            "{closed:?}"
        );
    }
}

#[test]
fn parse_errors_name_the_day() {
    for bad in [
        "19:00-09:00",
        "09:00-09:00",
        "09:00-13:00, 12:00-18:00",
        "sabah",
        "09:00",
        "25:00-26:00",
        "09:60-10:00",
        "24:00-24:00",
        "9-",
        "0900-1800",
        "09:00-12:00,",
    ] {
        let err = BusinessHours::parse_day("wed", bad).unwrap_err();
        assert!(err.to_string().contains("wed"), "{bad:?}: {err}");
        assert_eq!(day_of(err), "wed", "{bad:?}");
    }
    // Touching ranges are allowed: a break that ends when the next range starts.
    assert!(BusinessHours::parse_day("wed", "09:00-12:00, 12:00-18:00").is_ok());
}

#[test]
fn from_map_reads_english_and_turkish_keys() {
    let hours = BusinessHours::from_map(&map(&[
        ("mon", "09:00-19:00"),
        ("Sal", "09:00-19:00"),
        ("çar", "09:00-12:00, 13:00-19:00"),
        ("per", "kapalı"),
        ("cum", "09:00-19:00"),
        ("cmt", "10:00-14:00"),
    ]))
    .unwrap();
    assert_eq!(hours.days[0], vec![(t(9, 0), t(19, 0))]);
    assert_eq!(hours.days[1], vec![(t(9, 0), t(19, 0))]);
    assert_eq!(hours.days[2].len(), 2);
    assert!(hours.days[3].is_empty());
    assert_eq!(hours.days[5], vec![(t(10, 0), t(14, 0))]);
    assert!(hours.days[6].is_empty(), "a day left out is closed");
}

#[test]
fn from_map_refuses_unknown_and_repeated_days() {
    let err = BusinessHours::from_map(&map(&[("mo", "09:00-19:00")])).unwrap_err();
    assert_eq!(err, ProfileError::UnknownDay("mo".into()));
    assert!(err.to_string().contains("\"mo\""));

    let err = BusinessHours::from_map(&map(&[("mon", "09:00-19:00"), ("pzt", "10:00-11:00")]))
        .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");

    let err = BusinessHours::from_map(&map(&[("fri", "09:00-19:00"), ("sat", "14:00-10:00")]))
        .unwrap_err();
    assert_eq!(day_of(err), "sat");
}

#[test]
fn open_and_closed_at_the_edges_of_a_range() {
    let hours = TenantProfile::new_test().hours;
    let tz = tz();
    assert!(!hours.is_open(&tz, istanbul("2025-06-02T08:59")));
    assert!(hours.is_open(&tz, istanbul("2025-06-02T09:00")));
    assert!(hours.is_open(&tz, istanbul("2025-06-02T18:59")));
    assert!(
        !hours.is_open(&tz, istanbul("2025-06-02T19:00")),
        "closing time is exclusive"
    );
    assert!(
        hours.is_open(&tz, istanbul("2025-06-07T11:00")),
        "Saturday morning"
    );
    assert!(!hours.is_open(&tz, istanbul("2025-06-08T11:00")), "Sunday");
}

#[test]
fn open_or_closed_is_decided_in_the_tenants_time_zone() {
    // Monday 00:30 in Istanbul is still Sunday 21:30 in UTC.
    let hours = BusinessHours::from_map(&map(&[("mon", "00:00-02:00")])).unwrap();
    let at = istanbul("2025-06-02T00:30");
    assert!(hours.is_open(&tz(), at));
    assert!(!hours.is_open(&TimeZone::UTC, at));
}

#[test]
fn hours_across_midnight_and_the_week_wrap() {
    // A bar open Saturday evening into Sunday night: written as two days.
    let hours =
        BusinessHours::from_map(&map(&[("sat", "18:00-24:00"), ("sun", "00:00-02:00")])).unwrap();
    let tz = tz();
    assert!(hours.is_open(&tz, istanbul("2025-06-07T23:59")));
    assert!(hours.is_open(&tz, istanbul("2025-06-08T00:00")));
    assert!(hours.is_open(&tz, istanbul("2025-06-08T01:59")));
    assert!(!hours.is_open(&tz, istanbul("2025-06-08T02:00")));
    // Sunday 03:00 → the next opening is six days later, across the Monday week start.
    let next = hours
        .next_opening(&tz, istanbul("2025-06-08T03:00"))
        .unwrap();
    assert_eq!(next.timestamp(), istanbul("2025-06-14T18:00"));
    // Saturday 20:00, open: the next *opening* is Sunday 00:00 (a new range starts).
    let next = hours
        .next_opening(&tz, istanbul("2025-06-07T20:00"))
        .unwrap();
    assert_eq!(next.timestamp(), istanbul("2025-06-08T00:00"));
}

#[test]
fn next_opening_from_the_test_shop() {
    let hours = TenantProfile::new_test().hours;
    let tz = tz();
    let next = |local| {
        hours
            .next_opening(&tz, istanbul(local))
            .unwrap()
            .timestamp()
    };
    assert_eq!(
        next("2025-06-02T07:00"),
        istanbul("2025-06-02T09:00"),
        "later today"
    );
    assert_eq!(
        next("2025-06-02T09:00"),
        istanbul("2025-06-02T09:00"),
        "at the opening itself"
    );
    assert_eq!(
        next("2025-06-02T12:00"),
        istanbul("2025-06-03T09:00"),
        "open now: the next day's"
    );
    assert_eq!(
        next("2025-06-06T20:00"),
        istanbul("2025-06-07T10:00"),
        "Friday night → Saturday"
    );
    assert_eq!(
        next("2025-06-07T15:00"),
        istanbul("2025-06-09T09:00"),
        "skips the closed Sunday"
    );
    assert_eq!(next("2025-06-08T23:59"), istanbul("2025-06-09T09:00"));
    let zoned = hours
        .next_opening(&tz, istanbul("2025-06-07T15:00"))
        .unwrap();
    assert_eq!(zoned.time_zone().iana_name(), Some("Europe/Istanbul"));
}

#[test]
fn next_opening_a_full_week_ahead_or_never() {
    let only_monday = BusinessHours::from_map(&map(&[("mon", "09:00-12:00")])).unwrap();
    let next = only_monday
        .next_opening(&tz(), istanbul("2025-06-02T10:00"))
        .unwrap();
    assert_eq!(next.timestamp(), istanbul("2025-06-09T09:00"));
    assert_eq!(
        BusinessHours::default().next_opening(&tz(), istanbul("2025-06-02T10:00")),
        None
    );
    assert!(BusinessHours::default().is_empty());
}

#[test]
fn next_opening_across_a_dst_change() {
    // Berlin springs forward on 2025-03-30 02:00 → 03:00; an opening at 02:30 that
    // day does not exist and moves forward, still after "now".
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let hours = BusinessHours::from_map(&map(&[("sun", "02:30-05:00")])).unwrap();
    let now: jiff::Timestamp = "2025-03-30T00:00:00Z".parse().unwrap();
    let next = hours.next_opening(&berlin, now).unwrap();
    assert!(next.timestamp() >= now);
    assert_eq!(next.time(), t(3, 30));
}

#[test]
fn describes_the_week_in_turkish() {
    assert_eq!(
        TenantProfile::new_test().hours.describe_tr(),
        "Pazartesi–Cuma 09:00–19:00, Cumartesi 10:00–14:00, Pazar kapalı"
    );
    let every_day = BusinessHours {
        days: std::array::from_fn(|_| vec![(t(9, 0), t(19, 0))]),
    };
    assert_eq!(every_day.describe_tr(), "Her gün 09:00–19:00");
    let mixed = BusinessHours::from_map(&map(&[
        ("mon", "09:00-12:30, 13:30-19:00"),
        ("tue", "09:00-12:30, 13:30-19:00"),
        ("wed", "09:00-19:00"),
        ("sat", "18:00-24:00"),
    ]))
    .unwrap();
    assert_eq!(
        mixed.describe_tr(),
        "Pazartesi–Salı 09:00–12:30 ve 13:30–19:00, Çarşamba 09:00–19:00, \
         Perşembe–Cuma kapalı, Cumartesi 18:00–24:00, Pazar kapalı"
    );
}

#[test]
fn validate_checks_time_zone_threshold_name_and_hours() {
    assert_eq!(TenantProfile::new_test().validate(), Ok(()));

    let mut p = TenantProfile::new_test();
    p.timezone = "Europe/Istanbull".into();
    assert_eq!(
        p.validate(),
        Err(ProfileError::TimeZone("Europe/Istanbull".into()))
    );

    for bad in [-0.1, 1.01, f32::NAN] {
        let mut p = TenantProfile::new_test();
        p.confidence_threshold = bad;
        assert!(
            matches!(p.validate(), Err(ProfileError::Threshold(_))),
            "{bad}"
        );
    }
    for fine in [0.0, 1.0] {
        let mut p = TenantProfile::new_test();
        p.confidence_threshold = fine;
        assert_eq!(p.validate(), Ok(()));
    }

    let mut p = TenantProfile::new_test();
    p.name = "  ".into();
    assert_eq!(p.validate(), Err(ProfileError::Empty("name")));

    // Hours that bypassed the parser (e.g. deserialised) are checked too.
    let mut p = TenantProfile::new_test();
    p.hours.days[4] = vec![(t(19, 0), t(9, 0))];
    assert_eq!(day_of(p.validate().unwrap_err()), "fri");
}

#[test]
fn profile_round_trips_through_json() {
    let p = TenantProfile::new_test();
    let back: TenantProfile = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}
