//! Lead rules as pure functions: the default stages, the explainable score, who gets a
//! new lead (round-robin, by language, by load) and when the first human answer is due
//! counted in business hours. The gateway applies them; the store keeps the results.

use crate::profile::BusinessHours;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// The dental default: the order stages normally follow; `lost` can come from any.
pub const DEFAULT_STAGES: &[&str] = &[
    "new",
    "quoted",
    "appointment_booked",
    "showed",
    "treatment_started",
    "won",
    "lost",
];

/// Stages that close a lead (no longer counted as load, no SLA).
pub const CLOSED_STAGES: &[&str] = &["won", "lost"];

/// Whether moving from `from` to `to` goes forward in `stages` (or to `lost`): flows
/// never move a lead backwards (an agent may, through the API).
pub fn is_forward(stages: &[String], from: &str, to: &str) -> bool {
    if to == "lost" {
        return from != "lost" && from != "won";
    }
    let pos = |s: &str| stages.iter().position(|x| x == s);
    match (pos(from), pos(to)) {
        (Some(a), Some(b)) => b > a,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// What the score is computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeadSignals {
    /// Customer messages so far.
    pub inbound: u32,
    /// Clinic intents seen (price_inquiry, appointment_book, emergency, …).
    pub intents: Vec<String>,
    /// Replies the customer sent within five minutes of the bot's message.
    pub quick_replies: u32,
    /// The quoted value in TRY (upper end).
    pub value_try: Option<i64>,
    /// An examination is booked.
    pub booked: bool,
    /// The customer came from an ad.
    pub from_ad: bool,
}

/// Scores a lead 0–100 and says why: one Turkish reason per rule that counted, with
/// its points, so an agent can see what the number means.
pub fn score(s: &LeadSignals) -> (i32, Vec<String>) {
    let mut total = 0;
    let mut reasons = Vec::new();
    let mut add = |points: i32, why: &str| {
        total += points;
        reasons.push(format!("{why} (+{points})"));
    };
    let has = |i: &str| s.intents.iter().any(|x| x == i);
    if has("appointment_book") {
        add(20, "Randevu istedi");
    }
    if has("price_inquiry") {
        add(15, "Fiyat sordu");
    }
    if has("emergency") {
        add(10, "Acil durum bildirdi");
    }
    match s.value_try {
        Some(v) if v >= 100_000 => add(25, "Yüksek tutarlı tedavi (100.000 TL ve üzeri)"),
        Some(v) if v >= 30_000 => add(15, "Orta tutarlı tedavi (30.000 TL ve üzeri)"),
        Some(v) if v > 0 => add(5, "Tedavi tutarı belli"),
        _ => {}
    }
    match s.inbound {
        n if n >= 8 => add(15, "Yoğun ilgi (8+ mesaj)"),
        n if n >= 3 => add(10, "İlgili (3+ mesaj)"),
        _ => {}
    }
    if s.quick_replies >= 2 {
        add(10, "Hızlı yanıt veriyor");
    }
    if s.booked {
        add(20, "Muayene randevusu aldı");
    }
    if s.from_ad {
        add(5, "Reklamdan geldi");
    }
    (total.min(100), reasons)
}

/// How new leads are given to consultants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The consultant who got a lead least recently.
    #[default]
    RoundRobin,
    /// A consultant who speaks the lead's language; round-robin among them.
    Language,
    /// The consultant with the fewest open leads.
    Load,
}

/// A consultant leads can be given to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consultant {
    pub id: String,
    /// ISO 639-1 codes.
    #[serde(default)]
    pub languages: Vec<String>,
}

/// A consultant's current share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Load {
    pub open_leads: i64,
    pub last_assigned_at: Option<Timestamp>,
}

/// Picks the consultant for a new lead; `None` when there is nobody to pick.
/// `load(id)` gives a consultant's current share. Ties go to the order in the config.
pub fn pick_assignee<'a>(
    consultants: &'a [Consultant],
    strategy: Assignment,
    language: Option<&str>,
    load: impl Fn(&str) -> Load,
) -> Option<&'a Consultant> {
    let speaks = |c: &&Consultant| match language {
        Some(l) => c.languages.iter().any(|x| x == l),
        None => true,
    };
    let pool: Vec<&Consultant> = match strategy {
        Assignment::Language if consultants.iter().any(|c| speaks(&c)) => {
            consultants.iter().filter(speaks).collect()
        }
        // Nobody speaks it: everyone is a candidate rather than no one.
        _ => consultants.iter().collect(),
    };
    let by_recency = |c: &&Consultant| load(&c.id).last_assigned_at;
    match strategy {
        Assignment::Load => pool
            .into_iter()
            .min_by_key(|c| (load(&c.id).open_leads, load(&c.id).last_assigned_at)),
        // `None` (never assigned) sorts first: a new consultant gets the next lead.
        Assignment::RoundRobin | Assignment::Language => pool.into_iter().min_by_key(by_recency),
    }
}

/// When `minutes` of business time have passed after `from`: the clock only runs while
/// the business is open. With no hours configured it runs around the clock.
pub fn business_deadline(
    hours: &BusinessHours,
    tz: &TimeZone,
    from: Timestamp,
    minutes: u32,
) -> Timestamp {
    let mut left = SignedDuration::from_mins(i64::from(minutes));
    if hours.is_empty() {
        return from.checked_add(left).unwrap_or(from);
    }
    let mut at = from;
    // Each step consumes one open range (or jumps to the next opening): a week of
    // ranges bounds the steps for any deadline the config can ask for.
    for _ in 0..1000 {
        match hours.current_range(tz, at) {
            Some((_, close)) => {
                let zoned = at.to_zoned(tz.clone());
                let close_at = zoned
                    .date()
                    .to_datetime(close)
                    .to_zoned(tz.clone())
                    .map(|z| z.timestamp())
                    .unwrap_or(at);
                let open_for = at.duration_until(close_at);
                if open_for >= left || open_for <= SignedDuration::ZERO {
                    return at.checked_add(left).unwrap_or(at);
                }
                left -= open_for;
                at = close_at;
            }
            None => match hours.next_opening(tz, at) {
                Some(next) => at = next.timestamp(),
                None => return at.checked_add(left).unwrap_or(at),
            },
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn hours() -> BusinessHours {
        let mut map = BTreeMap::new();
        for d in ["mon", "tue", "wed", "thu", "fri"] {
            map.insert(d.to_string(), "09:00-18:00".to_string());
        }
        map.insert("sat".into(), "kapalı".into());
        map.insert("sun".into(), "kapalı".into());
        BusinessHours::from_map(&map).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_sla_clock_stops_outside_business_hours() {
        let tz = TimeZone::get("Europe/Istanbul").unwrap();
        // Friday 17:30 local (+03:00): 30 minutes left today, 30 more on Monday 09:00.
        let due = business_deadline(&hours(), &tz, at("2026-12-04T14:30:00Z"), 60);
        assert_eq!(due, at("2026-12-07T06:30:00Z"));
        // Saturday night: the clock starts on Monday morning.
        let due = business_deadline(&hours(), &tz, at("2026-12-05T20:00:00Z"), 15);
        assert_eq!(due, at("2026-12-07T06:15:00Z"));
        // Open now with time to spare.
        let due = business_deadline(&hours(), &tz, at("2026-12-01T07:00:00Z"), 30);
        assert_eq!(due, at("2026-12-01T07:30:00Z"));
    }

    #[test]
    fn the_score_explains_itself() {
        let (score, reasons) = score(&LeadSignals {
            inbound: 4,
            intents: vec!["price_inquiry".into()],
            value_try: Some(120_000),
            booked: true,
            ..Default::default()
        });
        assert_eq!(score, 15 + 25 + 10 + 20);
        assert!(reasons.iter().any(|r| r.starts_with("Fiyat sordu")));
        assert!(reasons.iter().any(|r| r.contains("+25")));
        assert_eq!(super::score(&LeadSignals::default()), (0, vec![]));
    }

    #[test]
    fn assignment_by_recency_language_and_load() {
        let c = |id: &str, langs: &[&str]| Consultant {
            id: id.into(),
            languages: langs.iter().map(|s| s.to_string()).collect(),
        };
        let team = [
            c("ayse", &["tr"]),
            c("john", &["en", "tr"]),
            c("olga", &["ru"]),
        ];
        let loads = |id: &str| match id {
            "ayse" => Load {
                open_leads: 5,
                last_assigned_at: Some(at("2026-12-01T08:00:00Z")),
            },
            "john" => Load {
                open_leads: 1,
                last_assigned_at: Some(at("2026-12-01T09:00:00Z")),
            },
            _ => Load::default(),
        };
        let pick = |s, l| pick_assignee(&team, s, l, loads).map(|c| c.id.as_str());
        assert_eq!(pick(Assignment::RoundRobin, None), Some("olga"));
        assert_eq!(pick(Assignment::Language, Some("en")), Some("john"));
        assert_eq!(pick(Assignment::Language, Some("tr")), Some("ayse"));
        assert_eq!(pick(Assignment::Language, Some("de")), Some("olga"));
        assert_eq!(pick(Assignment::Load, None), Some("olga"));
        assert_eq!(pick_assignee(&[], Assignment::Load, None, loads), None);
    }

    #[test]
    fn stages_only_move_forward_in_flows() {
        let stages: Vec<String> = DEFAULT_STAGES.iter().map(|s| s.to_string()).collect();
        assert!(is_forward(&stages, "new", "quoted"));
        assert!(!is_forward(&stages, "appointment_booked", "quoted"));
        assert!(is_forward(&stages, "quoted", "lost"));
        assert!(!is_forward(&stages, "won", "lost"));
    }
}
