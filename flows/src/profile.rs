//! A tenant as flows see it: niche, name, tone, time zone, business hours, address and
//! payment options. Built by the gateway from configuration; validated here.
//!
//! Business hours are written the way a shop owner would type them ("09:00-12:30,
//! 13:30-19:00", "kapalı") and answered in the tenant's own time zone, never the server's.

use crate::tr;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The business a tenant is in; picks the intents and flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Niche {
    Ecommerce,
    Dental,
    Aesthetic,
    Health,
}

impl Niche {
    pub const ALL: [Niche; 4] = [
        Niche::Ecommerce,
        Niche::Dental,
        Niche::Aesthetic,
        Niche::Health,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Niche::Ecommerce => "ecommerce",
            Niche::Dental => "dental",
            Niche::Aesthetic => "aesthetic",
            Niche::Health => "health",
        }
    }

    pub fn parse(s: &str) -> Option<Niche> {
        Niche::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// How the bot addresses customers: `siz` (formal, the default) or `sen` (casual).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    #[default]
    Siz,
    Sen,
}

/// Why a profile value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("hours for {day}: {message}")]
    Hours { day: String, message: String },
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    /// A key of the hours map that is no weekday.
    #[error(
        "unknown day {0:?} in business hours (expected mon, tue, wed, thu, fri, sat, sun or pzt, sal, çar, per, cum, cmt, paz)"
    )]
    UnknownDay(String),
    /// The confidence threshold, as written, is not within 0..=1.
    #[error("confidence_threshold must be within 0..=1, got {0}")]
    Threshold(String),
    /// A field that must not be empty is.
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// Opening hours per weekday: zero or more [open, close) ranges in local time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// Monday first; an empty list is a closed day.
    pub days: [Vec<(Time, Time)>; 7],
}

/// A tenant's facts that flows answer from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantProfile {
    pub id: String,
    pub niche: Niche,
    pub name: String,
    pub tone: Tone,
    /// IANA name, e.g. "Europe/Istanbul".
    pub timezone: String,
    pub hours: BusinessHours,
    pub address: String,
    /// Parking, transport, landmarks.
    pub directions: Option<String>,
    pub maps_url: Option<String>,
    pub payment_options: Vec<String>,
    /// Below this confidence a message counts as not understood.
    pub confidence_threshold: f32,
    /// A greeting of the tenant's own; the built-in one otherwise.
    pub greeting: Option<String>,
}

/// Weekday index, Monday = 0.
pub fn weekday_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

/// Config keys of the weekdays, Monday first: what error messages name a day by.
const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The weekday (Monday = 0) a key of the hours map names: English or Turkish,
/// abbreviated or in full, with or without Turkish letters.
fn day_from_key(key: &str) -> Option<usize> {
    let index = match key.trim().to_lowercase().as_str() {
        "mon" | "monday" | "pzt" | "pazartesi" => 0,
        "tue" | "tuesday" | "sal" | "salı" | "sali" => 1,
        "wed" | "wednesday" | "çar" | "car" | "çarşamba" | "carsamba" => 2,
        "thu" | "thursday" | "per" | "perşembe" | "persembe" => 3,
        "fri" | "friday" | "cum" | "cuma" => 4,
        "sat" | "saturday" | "cmt" | "cumartesi" => 5,
        "sun" | "sunday" | "paz" | "pazar" => 6,
        _ => return None,
    };
    Some(index)
}

/// "9:00", "09:00", "09.00" (Turkish often writes a dot) or a bare hour "9" (as in
/// "9-18"); "24:00" is the end of the day and reads as [`Time::MAX`], so a range can
/// run to midnight.
fn parse_time(s: &str) -> Result<Time, String> {
    let bad = || format!("{s:?} is not a time like 09:00");
    let (h, m) = s.split_once([':', '.']).unwrap_or((s, "00"));
    let digits = |p: &str, max_len: usize| {
        !p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || m.len() != 2 || !digits(m, 2) {
        return Err(bad());
    }
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h == 24 && m == 0 {
        return Ok(Time::MAX);
    }
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// Refuses a day whose ranges are empty, inverted or overlapping; ranges must be sorted.
fn check_ranges(day: &str, ranges: &[(Time, Time)]) -> Result<(), ProfileError> {
    let err = |message: String| ProfileError::Hours {
        day: day.to_string(),
        message,
    };
    for &(open, close) in ranges {
        if open >= close {
            return Err(err(format!(
                "opening {} is not before closing {}",
                tr::hm(open),
                tr::hm(close)
            )));
        }
    }
    for pair in ranges.windows(2) {
        let ((a_open, a_close), (b_open, b_close)) = (pair[0], pair[1]);
        // Touching ranges (12:00-13:00, 13:00-14:00) are fine; sharing any minute is not.
        if b_open < a_close {
            return Err(err(format!(
                "{}-{} overlaps {}-{}",
                tr::hm(a_open),
                tr::hm(a_close),
                tr::hm(b_open),
                tr::hm(b_close)
            )));
        }
    }
    Ok(())
}

impl BusinessHours {
    /// Parses one day's hours: "09:00-19:00", "09:00-12:30, 13:30-19:00", or
    /// "closed" / "kapalı" / "" for a closed day. A range cannot cross midnight: a bar
    /// open until 02:00 writes "18:00-24:00" on one day and "00:00-02:00" on the next.
    /// `day` only names the day in errors.
    pub fn parse_day(day: &str, spec: &str) -> Result<Vec<(Time, Time)>, ProfileError> {
        let err = |message: String| ProfileError::Hours {
            day: day.to_string(),
            message,
        };
        let spec = spec.trim();
        if matches!(
            spec.to_lowercase().as_str(),
            "" | "closed" | "kapalı" | "kapali" | "-"
        ) {
            return Ok(Vec::new());
        }
        let mut ranges = Vec::new();
        for part in spec.split([',', ';']) {
            let part = part.trim();
            let (open, close) = part
                .split_once(['-', '–', '—'])
                .ok_or_else(|| err(format!("{part:?} is not a range like 09:00-19:00")))?;
            let open = parse_time(open.trim()).map_err(err)?;
            let close = parse_time(close.trim()).map_err(err)?;
            if tr::is_end_of_day(open) {
                return Err(err("a range cannot open at 24:00".to_string()));
            }
            ranges.push((open, close));
        }
        ranges.sort();
        check_ranges(day, &ranges)?;
        Ok(ranges)
    }

    /// Builds the week from a map of day → spec (see [`BusinessHours::parse_day`]); keys
    /// are `mon` … `sun` or `pzt sal çar per cum cmt paz` (full names work too). A day
    /// left out is closed; an unknown key or a day given twice is an error.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ProfileError> {
        let mut hours = BusinessHours::default();
        let mut seen = [false; 7];
        for (key, spec) in map {
            let index = day_from_key(key).ok_or_else(|| ProfileError::UnknownDay(key.clone()))?;
            if std::mem::replace(&mut seen[index], true) {
                return Err(ProfileError::Hours {
                    day: key.clone(),
                    message: format!("{} is given twice", DAY_KEYS[index]),
                });
            }
            hours.days[index] = Self::parse_day(key, spec)?;
        }
        Ok(hours)
    }

    /// Checks every day (for hours that came from serde rather than the parsers).
    pub fn validate(&self) -> Result<(), ProfileError> {
        for (key, ranges) in DAY_KEYS.iter().zip(&self.days) {
            let mut sorted = ranges.clone();
            sorted.sort();
            check_ranges(key, &sorted)?;
        }
        Ok(())
    }

    /// No day has any opening hours: nothing was configured.
    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }

    fn ranges_on(&self, date: Date) -> &[(Time, Time)] {
        &self.days[weekday_index(date.weekday())]
    }

    /// The [open, close) range `at` falls in, in the time zone's local time.
    pub fn current_range(&self, tz: &TimeZone, at: Timestamp) -> Option<(Time, Time)> {
        let local = at.to_zoned(tz.clone());
        let now = local.time();
        self.ranges_on(local.date())
            .iter()
            .copied()
            .find(|&(open, close)| open <= now && now < close)
    }

    /// Whether the business is open at `at`.
    pub fn is_open(&self, tz: &TimeZone, at: Timestamp) -> bool {
        self.current_range(tz, at).is_some()
    }

    /// When the business next opens: the start of the first range that begins at or
    /// after `at` (so while open, the opening after the current range). `None` when
    /// no day has hours. Looks at most one week ahead, which covers every weekly
    /// pattern including "open only on the weekday that just ended".
    pub fn next_opening(&self, tz: &TimeZone, at: Timestamp) -> Option<Zoned> {
        let local = at.to_zoned(tz.clone());
        let mut date = local.date();
        for offset in 0..=7 {
            for &(open, _) in self.ranges_on(date) {
                if offset == 0 && open < local.time() {
                    continue;
                }
                // A DST gap moves a local time forward (jiff's "compatible" rule), so
                // the result may differ from `open` but is still the real opening.
                match date.to_datetime(open).to_zoned(tz.clone()) {
                    Ok(z) if z.timestamp() >= at => return Some(z),
                    _ => {}
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The week in Turkish, equal consecutive days grouped:
    /// "Pazartesi–Cuma 09:00–19:00, Cumartesi 10:00–14:00, Pazar kapalı".
    pub fn describe_tr(&self) -> String {
        if self.days.iter().all(|d| *d == self.days[0]) {
            return format!("Her gün {}", describe_ranges(&self.days[0]));
        }
        let mut groups = Vec::new();
        let mut start = 0;
        while start < 7 {
            let mut end = start;
            while end + 1 < 7 && self.days[end + 1] == self.days[start] {
                end += 1;
            }
            let days = if end == start {
                tr::DAY_NAMES[start].to_string()
            } else {
                format!("{}–{}", tr::DAY_NAMES[start], tr::DAY_NAMES[end])
            };
            groups.push(format!("{days} {}", describe_ranges(&self.days[start])));
            start = end + 1;
        }
        groups.join(", ")
    }
}

/// "09:00–12:30 ve 13:30–19:00", or "kapalı".
fn describe_ranges(ranges: &[(Time, Time)]) -> String {
    if ranges.is_empty() {
        return "kapalı".to_string();
    }
    ranges
        .iter()
        .map(|&(open, close)| format!("{}–{}", tr::hm(open), tr::hm(close)))
        .collect::<Vec<_>>()
        .join(" ve ")
}

impl TenantProfile {
    /// The tenant's time zone. A profile that passed [`TenantProfile::validate`] always
    /// has one; otherwise UTC, so a bad profile gives odd hours rather than a panic.
    pub fn tz(&self) -> TimeZone {
        TimeZone::get(&self.timezone).unwrap_or(TimeZone::UTC)
    }

    /// Refuses a profile flows could not answer from correctly.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.name.trim().is_empty() {
            return Err(ProfileError::Empty("name"));
        }
        TimeZone::get(&self.timezone).map_err(|_| ProfileError::TimeZone(self.timezone.clone()))?;
        // `contains` is false for NaN too.
        if !(0.0..=1.0).contains(&self.confidence_threshold) {
            return Err(ProfileError::Threshold(
                self.confidence_threshold.to_string(),
            ));
        }
        self.hours.validate()
    }

    /// A valid sample shop in Istanbul for tests (here and in other crates): open
    /// Monday–Friday 09:00–19:00 and Saturday 10:00–14:00, closed on Sunday.
    pub fn new_test() -> Self {
        let mut hours = BusinessHours::default();
        for day in &mut hours.days[..5] {
            *day = vec![(Time::constant(9, 0, 0, 0), Time::constant(19, 0, 0, 0))];
        }
        hours.days[5] = vec![(Time::constant(10, 0, 0, 0), Time::constant(14, 0, 0, 0))];
        TenantProfile {
            id: "test".to_string(),
            niche: Niche::Ecommerce,
            name: "Deneme Mağazası".to_string(),
            tone: Tone::Siz,
            timezone: "Europe/Istanbul".to_string(),
            hours,
            address: "Bağdat Caddesi No: 1, Kadıköy, İstanbul".to_string(),
            directions: Some("Otoparkımız binanın arkasındadır.".to_string()),
            maps_url: Some("https://maps.example.com/deneme".to_string()),
            payment_options: vec![
                "Kredi kartı (3 taksite kadar)".to_string(),
                "Havale / EFT".to_string(),
                "Kapıda ödeme".to_string(),
            ],
            confidence_threshold: 0.6,
            greeting: None,
        }
    }
}
