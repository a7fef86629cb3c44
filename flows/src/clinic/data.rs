//! `clinic.toml` → [`Clinic`]: the serde shapes of the file (unknown keys refused), then
//! one validation pass that names the key path of anything wrong and fills in the
//! defaults ("any practitioner", "any room"), so the rest of the module reads plain data.

use super::{Clinic, ClinicError, prices};
use crate::profile::{BusinessHours, ProfileError};
use crate::tr;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Config keys of the weekdays, Monday first, as they are stored and shown.
pub(crate) const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Ids end up in button ids (`slot:<service>:<practitioner>:…`) and URLs.
const MAX_ID_LEN: usize = 64;

/// Clinic-wide settings of the appointment engine and the price pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Slot starts are this many minutes apart, counted from each opening range's start.
    pub slot_step_minutes: u32,
    /// No slot starts sooner than this after now.
    pub min_notice_minutes: u32,
    /// How long a slot offered in chat is held for the customer.
    pub hold_minutes: u32,
    /// How many days ahead (after today) slots are searched.
    pub horizon_days: u32,
    /// The free examination the price pipeline offers (a service id).
    pub examination_service: Option<String>,
    /// Converts TRY prices for rows without EUR columns.
    pub eur_per_try: Option<f64>,
    /// Closed on Turkish public holidays (and from 13:00 on their eves).
    pub observe_holidays: bool,
    /// The approved WhatsApp template an appointment reminder goes out as when the
    /// customer's 24-hour window is closed; without one such a reminder is not sent.
    pub reminder_template: Option<String>,
    /// The same for the follow-up of a quote the customer went quiet on.
    pub follow_up_template: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            slot_step_minutes: 15,
            min_notice_minutes: 120,
            hold_minutes: 15,
            horizon_days: 30,
            examination_service: None,
            eur_per_try: None,
            observe_holidays: true,
            reminder_template: None,
            follow_up_template: None,
        }
    }
}

/// A dentist or doctor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Practitioner {
    pub id: String,
    /// As patients see it: "Dt. Ayşe Yılmaz".
    pub name: String,
    /// ISO 639-1 codes, lowercase: who can see a foreign patient.
    pub languages: Vec<String>,
    /// Own weekly hours, cut to the clinic's; `None` works all the clinic's hours.
    pub hours: Option<BusinessHours>,
}

/// A treatment room or dental chair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Room {
    pub id: String,
    pub name: String,
}

/// What can be booked: a visit of a fixed length with buffers, one practitioner and
/// (usually) one room.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub duration_minutes: u32,
    /// Set-up time before the visit; the practitioner and room are blocked for it.
    pub buffer_before_minutes: u32,
    /// Cleaning time after the visit; the practitioner and room are blocked for it.
    pub buffer_after_minutes: u32,
    /// Who may perform it, in the clinic's order of preference (all when the file lists none).
    pub practitioners: Vec<String>,
    /// Whether the visit needs a room at all.
    pub needs_room: bool,
    /// The rooms it may use, first choice first (all when the file lists none); empty
    /// when `needs_room` is false.
    pub rooms: Vec<String>,
    /// Price-list treatments this service is the visit for.
    pub treatments: Vec<String>,
}

/// A recurring break: nothing is booked across it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Break {
    /// Day keys (`mon` … `sun`) it applies to.
    pub days: Vec<String>,
    pub from: Time,
    pub to: Time,
    /// Only this practitioner breaks; `None` for the whole clinic.
    pub practitioner: Option<String>,
}

impl Break {
    pub(crate) fn applies_on(&self, day_index: usize) -> bool {
        self.days.iter().any(|d| d == DAY_KEYS[day_index])
    }
}

/// Days the clinic, or one practitioner, is away (both dates included).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Closure {
    pub from: Date,
    pub to: Date,
    pub reason: Option<String>,
    /// Only this practitioner is away; `None` closes the clinic.
    pub practitioner: Option<String>,
}

impl Closure {
    pub(crate) fn covers(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClinic {
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    hours: BTreeMap<String, String>,
    #[serde(default)]
    breaks: Vec<RawBreak>,
    #[serde(default)]
    closures: Vec<RawClosure>,
    #[serde(default)]
    practitioners: Vec<RawPractitioner>,
    #[serde(default)]
    rooms: Vec<RawRoom>,
    #[serde(default)]
    services: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreak {
    days: Option<Vec<String>>,
    from: String,
    to: String,
    practitioner: Option<String>,
}

/// A date written as a TOML string ("2026-12-31") or a bare TOML date (2026-12-31), as
/// text; checked later so the error names the key.
struct RawDate(String);

impl RawDate {
    fn text(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for RawDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawDate;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a date like 2026-12-31")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawDate, E> {
                Ok(RawDate(v.trim().to_string()))
            }

            // The toml crate hands a bare date over as a map with one private key.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawDate, A::Error> {
                let value = toml::value::Datetime::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(RawDate(value.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClosure {
    from: RawDate,
    to: Option<RawDate>,
    reason: Option<String>,
    practitioner: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPractitioner {
    id: String,
    name: String,
    #[serde(default)]
    languages: Vec<String>,
    hours: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoom {
    id: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: String,
    name: String,
    duration_minutes: u32,
    #[serde(default)]
    buffer_before_minutes: u32,
    #[serde(default)]
    buffer_after_minutes: u32,
    #[serde(default)]
    practitioners: Vec<String>,
    rooms: Option<Vec<String>>,
    needs_room: Option<bool>,
    #[serde(default)]
    treatments: Vec<String>,
}

fn config(path: impl Into<String>, message: impl Into<String>) -> ClinicError {
    ClinicError::Config {
        path: path.into(),
        message: message.into(),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn profile_message(err: ProfileError) -> String {
    match err {
        ProfileError::Hours { message, .. } => message,
        other => other.to_string(),
    }
}

/// The weekday (Monday = 0) a day key names, with exactly the spellings the tenant
/// profile's hours accept (English or Turkish, with or without Turkish letters): asked
/// through profile.rs's public parser so the two files can never disagree.
pub(crate) fn day_index(key: &str) -> Option<usize> {
    let map = BTreeMap::from([(key.to_string(), "00:00-24:00".to_string())]);
    BusinessHours::from_map(&map)
        .ok()?
        .days
        .iter()
        .position(|d| !d.is_empty())
}

/// A clock time as the hours accept it ("12:30", "12.30", "9", "24:00").
fn parse_clock(path: &str, text: &str) -> Result<Time, ClinicError> {
    let text = text.trim();
    // Parsed as the end of a range so "24:00" (end of day) is accepted too.
    let ranges = BusinessHours::parse_day(path, &format!("00:00-{text}"))
        .map_err(|e| config(path, profile_message(e)))?;
    match ranges.first() {
        Some(&(_, t)) => Ok(t),
        None => Err(config(path, format!("{text:?} is not a time like 12:30"))),
    }
}

fn parse_date(path: &str, text: &str) -> Result<Date, ClinicError> {
    text.parse::<Date>()
        .map_err(|_| config(path, format!("{text:?} is not a date like 2026-12-31")))
}

fn check_id(path: &str, id: &str) -> Result<(), ClinicError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.chars().all(ok_char)
        && id.starts_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(config(
            path,
            format!(
                "{id:?} is not a valid id: use up to {MAX_ID_LEN} of a-z, 0-9, \"-\" and \"_\" (e.g. \"dr-isik\")"
            ),
        ))
    }
}

fn check_name(path: &str, name: &str) -> Result<String, ClinicError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(config(path, "must not be empty"));
    }
    Ok(name.to_string())
}

fn parse_hours(path: &str, map: &BTreeMap<String, String>) -> Result<BusinessHours, ClinicError> {
    BusinessHours::from_map(map).map_err(|e| match e {
        ProfileError::Hours { day, message } => config(format!("{path}.{day}"), message),
        ProfileError::UnknownDay(day) => config(
            format!("{path}.{day}"),
            "unknown day (expected mon, tue, wed, thu, fri, sat, sun or pzt, sal, çar, per, cum, cmt, paz)",
        ),
        other => config(path, other.to_string()),
    })
}

/// "09:00-12:30, 13:30-19:00" for messages.
fn ranges_text(ranges: &[(Time, Time)]) -> String {
    ranges
        .iter()
        .map(|&(a, b)| format!("{}-{}", tr::hm(a), tr::hm(b)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn parse(text: &str) -> Result<Clinic, ClinicError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: RawClinic = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            ClinicError::Toml {
                line,
                column,
                message: e.message().trim().to_string(),
            }
        }
        None => config("(document)", e.message().trim().to_string()),
    })?;
    build(raw)
}

fn build(raw: RawClinic) -> Result<Clinic, ClinicError> {
    let settings = check_settings(raw.settings)?;

    let hours = parse_hours("hours", &raw.hours)?;
    if hours.is_empty() {
        return Err(config("hours", "the clinic has no opening hours"));
    }
    for (key, ranges) in DAY_KEYS.iter().zip(&hours.days) {
        for &(open, _) in ranges {
            // Slot starts are counted from the opening, and the store claims time in
            // 5-minute cells: an opening at 09:07 would put every slot off the cells.
            if open.minute() % 5 != 0 {
                return Err(config(
                    format!("hours.{key}"),
                    format!("opening {} is not on a 5-minute mark", tr::hm(open)),
                ));
            }
        }
    }

    if raw.practitioners.is_empty() {
        return Err(config(
            "practitioners",
            "at least one [[practitioners]] is needed",
        ));
    }
    let mut practitioners: Vec<Practitioner> = Vec::with_capacity(raw.practitioners.len());
    for (i, p) in raw.practitioners.into_iter().enumerate() {
        let path = format!("practitioners[{i}]");
        check_id(&format!("{path}.id"), &p.id)?;
        if let Some(j) = practitioners.iter().position(|q| q.id == p.id) {
            return Err(config(
                format!("{path}.id"),
                format!("{:?} is already the id of practitioners[{j}]", p.id),
            ));
        }
        let name = check_name(&format!("{path}.name"), &p.name)?;
        let mut languages = Vec::with_capacity(p.languages.len());
        for (k, lang) in p.languages.iter().enumerate() {
            let code = lang.trim().to_ascii_lowercase();
            if !(2..=3).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(config(
                    format!("{path}.languages[{k}]"),
                    format!("{lang:?} is not a language code like \"tr\" or \"en\""),
                ));
            }
            if !languages.contains(&code) {
                languages.push(code);
            }
        }
        let hours = match &p.hours {
            Some(map) => Some(parse_hours(&format!("{path}.hours"), map)?),
            None => None,
        };
        practitioners.push(Practitioner {
            id: p.id,
            name,
            languages,
            hours,
        });
    }

    let mut rooms: Vec<Room> = Vec::with_capacity(raw.rooms.len());
    for (i, r) in raw.rooms.into_iter().enumerate() {
        let path = format!("rooms[{i}]");
        check_id(&format!("{path}.id"), &r.id)?;
        if let Some(j) = rooms.iter().position(|q| q.id == r.id) {
            return Err(config(
                format!("{path}.id"),
                format!("{:?} is already the id of rooms[{j}]", r.id),
            ));
        }
        // Busy blocks name their resource by id alone.
        if let Some(j) = practitioners.iter().position(|p| p.id == r.id) {
            return Err(config(
                format!("{path}.id"),
                format!("{:?} is already the id of practitioners[{j}]", r.id),
            ));
        }
        let name = match &r.name {
            Some(name) => check_name(&format!("{path}.name"), name)?,
            None => r.id.clone(),
        };
        rooms.push(Room { id: r.id, name });
    }

    let known_practitioner = |path: String, id: &str| -> Result<(), ClinicError> {
        if practitioners.iter().any(|p| p.id == id) {
            Ok(())
        } else {
            Err(config(path, format!("unknown practitioner {id:?}")))
        }
    };

    let mut breaks = Vec::with_capacity(raw.breaks.len());
    for (i, b) in raw.breaks.into_iter().enumerate() {
        let path = format!("breaks[{i}]");
        let from = parse_clock(&format!("{path}.from"), &b.from)?;
        let to = parse_clock(&format!("{path}.to"), &b.to)?;
        if from >= to {
            return Err(config(
                &path,
                format!("from {} is not before to {}", tr::hm(from), tr::hm(to)),
            ));
        }
        if let Some(id) = &b.practitioner {
            known_practitioner(format!("{path}.practitioner"), id)?;
        }
        let explicit = b.days.is_some();
        let mut indices = Vec::new();
        match &b.days {
            Some(days) => {
                for (k, key) in days.iter().enumerate() {
                    let index = day_index(key).ok_or_else(|| {
                        config(
                            format!("{path}.days[{k}]"),
                            format!("unknown day {key:?} (expected mon … sun or pzt … paz)"),
                        )
                    })?;
                    if !indices.contains(&index) {
                        indices.push(index);
                    }
                }
            }
            None => indices.extend(0..7),
        }
        indices.sort_unstable();
        for &index in &indices {
            let open = &hours.days[index];
            if open.is_empty() {
                if explicit {
                    return Err(config(
                        format!("{path}.days"),
                        format!("the clinic is closed on {}", DAY_KEYS[index]),
                    ));
                }
                continue;
            }
            if !open.iter().any(|&(o, c)| o <= from && to <= c) {
                return Err(config(
                    &path,
                    format!(
                        "{}-{} is outside the opening hours on {} ({})",
                        tr::hm(from),
                        tr::hm(to),
                        DAY_KEYS[index],
                        ranges_text(open)
                    ),
                ));
            }
        }
        breaks.push(Break {
            days: indices.iter().map(|&i| DAY_KEYS[i].to_string()).collect(),
            from,
            to,
            practitioner: b.practitioner,
        });
    }

    let mut closures = Vec::with_capacity(raw.closures.len());
    for (i, c) in raw.closures.into_iter().enumerate() {
        let path = format!("closures[{i}]");
        let from = parse_date(&format!("{path}.from"), c.from.text())?;
        let to = match &c.to {
            Some(to) => parse_date(&format!("{path}.to"), to.text())?,
            None => from,
        };
        if to < from {
            return Err(config(
                format!("{path}.to"),
                format!("{to} is before from ({from})"),
            ));
        }
        if let Some(id) = &c.practitioner {
            known_practitioner(format!("{path}.practitioner"), id)?;
        }
        closures.push(Closure {
            from,
            to,
            reason: c
                .reason
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty()),
            practitioner: c.practitioner,
        });
    }

    if raw.services.is_empty() {
        return Err(config("services", "at least one [[services]] is needed"));
    }
    let mut services: Vec<Service> = Vec::with_capacity(raw.services.len());
    for (i, s) in raw.services.into_iter().enumerate() {
        let path = format!("services[{i}]");
        check_id(&format!("{path}.id"), &s.id)?;
        if let Some(j) = services.iter().position(|q| q.id == s.id) {
            return Err(config(
                format!("{path}.id"),
                format!("{:?} is already the id of services[{j}]", s.id),
            ));
        }
        let name = check_name(&format!("{path}.name"), &s.name)?;
        if s.duration_minutes == 0 {
            return Err(config(format!("{path}.duration_minutes"), "must be > 0"));
        }
        if s.duration_minutes > 24 * 60 {
            return Err(config(
                format!("{path}.duration_minutes"),
                "must be at most 1440 (one day)",
            ));
        }
        for (key, value) in [
            ("duration_minutes", s.duration_minutes),
            ("buffer_before_minutes", s.buffer_before_minutes),
            ("buffer_after_minutes", s.buffer_after_minutes),
        ] {
            if !value.is_multiple_of(5) {
                return Err(config(
                    format!("{path}.{key}"),
                    format!("{value} is not a multiple of 5 (time is booked in 5-minute cells)"),
                ));
            }
            if value > 24 * 60 {
                return Err(config(format!("{path}.{key}"), "must be at most 1440"));
            }
        }
        let mut allowed = Vec::new();
        for (k, id) in s.practitioners.iter().enumerate() {
            known_practitioner(format!("{path}.practitioners[{k}]"), id)?;
            if !allowed.contains(id) {
                allowed.push(id.clone());
            }
        }
        if allowed.is_empty() {
            allowed = practitioners.iter().map(|p| p.id.clone()).collect();
        }
        let needs_room = match (s.needs_room, &s.rooms) {
            (Some(false), Some(list)) if !list.is_empty() => {
                return Err(config(
                    format!("{path}.rooms"),
                    "rooms are listed but needs_room = false",
                ));
            }
            (Some(needs), _) => needs,
            (None, Some(list)) => !list.is_empty() || !rooms.is_empty(),
            (None, None) => !rooms.is_empty(),
        };
        let mut service_rooms = Vec::new();
        if needs_room {
            if rooms.is_empty() {
                return Err(config(
                    &path,
                    "needs a room but the clinic has no [[rooms]] (set needs_room = false)",
                ));
            }
            for (k, id) in s.rooms.iter().flatten().enumerate() {
                if !rooms.iter().any(|r| &r.id == id) {
                    return Err(config(
                        format!("{path}.rooms[{k}]"),
                        format!("unknown room {id:?}"),
                    ));
                }
                if !service_rooms.contains(id) {
                    service_rooms.push(id.clone());
                }
            }
            if service_rooms.is_empty() {
                service_rooms = rooms.iter().map(|r| r.id.clone()).collect();
            }
        }
        let mut treatments = Vec::new();
        for (k, t) in s.treatments.iter().enumerate() {
            let t = t.trim();
            if !prices::is_known_treatment(t) {
                return Err(config(
                    format!("{path}.treatments[{k}]"),
                    format!(
                        "unknown treatment {t:?} (expected a treatment of spec/intents.md, e.g. implant)"
                    ),
                ));
            }
            treatments.push(t.to_string());
        }
        services.push(Service {
            id: s.id,
            name,
            duration_minutes: s.duration_minutes,
            buffer_before_minutes: s.buffer_before_minutes,
            buffer_after_minutes: s.buffer_after_minutes,
            practitioners: allowed,
            needs_room,
            rooms: service_rooms,
            treatments,
        });
    }

    if let Some(id) = &settings.examination_service
        && !services.iter().any(|s| &s.id == id)
    {
        return Err(config(
            "settings.examination_service",
            format!("unknown service {id:?}"),
        ));
    }

    Ok(Clinic {
        settings,
        hours,
        breaks,
        closures,
        practitioners,
        rooms,
        services,
        prices: Vec::new(),
    })
}

fn check_settings(settings: Settings) -> Result<Settings, ClinicError> {
    let step = settings.slot_step_minutes;
    if step == 0 || !step.is_multiple_of(5) || step > 24 * 60 {
        return Err(config(
            "settings.slot_step_minutes",
            format!("{step} must be a positive multiple of 5 (time is booked in 5-minute cells)"),
        ));
    }
    if settings.hold_minutes == 0 {
        return Err(config("settings.hold_minutes", "must be > 0"));
    }
    if !(1..=366).contains(&settings.horizon_days) {
        return Err(config(
            "settings.horizon_days",
            format!("{} must be within 1..=366", settings.horizon_days),
        ));
    }
    if settings.min_notice_minutes > 366 * 24 * 60 {
        return Err(config(
            "settings.min_notice_minutes",
            "must be at most a year",
        ));
    }
    if let Some(rate) = settings.eur_per_try
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(config(
            "settings.eur_per_try",
            format!("{rate} must be a positive number"),
        ));
    }
    for (key, template) in [
        ("reminder_template", &settings.reminder_template),
        ("follow_up_template", &settings.follow_up_template),
    ] {
        if template.as_ref().is_some_and(|t| t.trim().is_empty()) {
            return Err(config(format!("settings.{key}"), "must not be empty"));
        }
    }
    Ok(settings)
}
