//! Slot search: free times for a service given what is already busy, the clinic's hours,
//! breaks, closures and holidays, and the customer's preferences; the re-check of one
//! slot before it is held; and the compact button id that names a slot exactly.
//!
//! Time runs in whole seconds. Each resource's busy blocks are sorted and merged once
//! per search, and a candidate start that hits one jumps past it to the next grid point,
//! so a month of a busy five-doctor clinic is a few thousand binary searches.

use super::holidays::{HALF_DAY_FROM_HOUR, holiday};
use super::{Clinic, Practitioner, Service};
use crate::profile::weekday_index;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Meta's limit for a button or list-row id.
const MAX_SLOT_ID_LEN: usize = 256;

/// Time a resource is taken: an appointment or hold (with its buffers), or an absence
/// entered by the clinic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    /// A practitioner id or a room id (the clinic keeps the two apart).
    pub resource: String,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// Part of the day, by the local start time of a visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayPart {
    /// Before 12:00.
    Morning,
    /// 12:00 to 17:00.
    Afternoon,
    /// From 17:00.
    Evening,
}

impl DayPart {
    pub const ALL: [DayPart; 3] = [DayPart::Morning, DayPart::Afternoon, DayPart::Evening];

    /// The part a local time falls in.
    pub fn of(time: Time) -> DayPart {
        match time.hour() {
            ..12 => DayPart::Morning,
            12..17 => DayPart::Afternoon,
            _ => DayPart::Evening,
        }
    }

    /// Local [from, until) of the part; `None` is the end of the day.
    fn bounds(self) -> (Time, Option<Time>) {
        let at = |h| Time::constant(h, 0, 0, 0);
        match self {
            DayPart::Morning => (Time::MIN, Some(at(12))),
            DayPart::Afternoon => (at(12), Some(at(17))),
            DayPart::Evening => (at(17), None),
        }
    }
}

/// What the customer asked for; every field narrows the search.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub part: Option<DayPart>,
    pub date: Option<Date>,
    #[serde(default, with = "weekday_key")]
    pub weekday: Option<Weekday>,
    /// A practitioner id.
    pub practitioner: Option<String>,
    /// Nothing starting earlier ("after the 15th", "next week").
    pub not_before: Option<Timestamp>,
}

/// Serde for an optional weekday as its config key ("mon" … "sun"): jiff's `Weekday`
/// has no serde of its own, and preferences live in conversation state.
mod weekday_key {
    use crate::clinic::data::{DAY_KEYS, day_index};
    use crate::profile::weekday_index;
    use jiff::civil::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    const WEEKDAYS: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub(super) fn serialize<S: Serializer>(day: &Option<Weekday>, s: S) -> Result<S::Ok, S::Error> {
        match day {
            Some(day) => s.serialize_some(DAY_KEYS[weekday_index(*day)]),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Weekday>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(key) => day_index(&key)
                .map(|i| Some(WEEKDAYS[i]))
                .ok_or_else(|| serde::de::Error::custom(format!("unknown day {key:?}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SlotQuery<'a> {
    /// A service id.
    pub service: &'a str,
    pub now: Timestamp,
    pub prefs: Preferences,
    /// At most this many slots.
    pub limit: usize,
    /// At most one slot per (date, part of day), so a few offers cover different times
    /// ("yarın 10:00, yarın 14:00, Perşembe 09:30") instead of 10:00, 10:15, 10:30.
    pub spread: bool,
}

/// A bookable time: the visit as the patient sees it, and the time it takes from the
/// practitioner and the room (the visit with the service's buffers).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Slot {
    pub service: String,
    pub practitioner: String,
    pub room: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub blocks_from: Timestamp,
    pub blocks_until: Timestamp,
}

/// What a slot id names: enough to rebuild the slot with [`Clinic::slot_from_ref`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlotRef {
    pub service: String,
    pub practitioner: String,
    pub room: Option<String>,
    pub start: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("unknown service {0:?}")]
    UnknownService(String),
    #[error("unknown practitioner {0:?}")]
    UnknownPractitioner(String),
    #[error("{practitioner:?} does not perform {service:?}")]
    NotForService {
        practitioner: String,
        service: String,
    },
}

/// `slot:<service>:<practitioner>:<room or ->:<start unix seconds>`, at most 256 bytes
/// (ids are at most 64 ASCII bytes each), so a tapped button names its slot exactly.
pub fn slot_id(slot: &Slot) -> String {
    format!(
        "slot:{}:{}:{}:{}",
        slot.service,
        slot.practitioner,
        slot.room.as_deref().unwrap_or("-"),
        slot.start.as_second()
    )
}

/// The reverse of [`slot_id`]; `None` for anything else.
pub fn parse_slot_id(id: &str) -> Option<SlotRef> {
    if id.len() > MAX_SLOT_ID_LEN {
        return None;
    }
    let mut parts = id.strip_prefix("slot:")?.split(':');
    let (service, practitioner, room, start) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || service.is_empty() || practitioner.is_empty() || room.is_empty() {
        return None;
    }
    let start = Timestamp::from_second(start.parse().ok()?).ok()?;
    Some(SlotRef {
        service: service.to_string(),
        practitioner: practitioner.to_string(),
        room: (room != "-").then(|| room.to_string()),
        start,
    })
}

/// A stretch of working time on one day, in unix seconds; slot starts lie on the grid
/// counted from `anchor` (the start of the clinic's opening range it belongs to).
#[derive(Clone, Copy, Debug)]
struct Window {
    from: i64,
    until: i64,
    anchor: i64,
}

/// A service's lengths in seconds.
#[derive(Clone, Copy)]
struct Lengths {
    step: i64,
    before: i64,
    duration: i64,
    after: i64,
}

impl Lengths {
    fn of(clinic: &Clinic, service: &Service) -> Lengths {
        let secs = |minutes: u32| i64::from(minutes) * 60;
        Lengths {
            step: secs(clinic.settings.slot_step_minutes),
            before: secs(service.buffer_before_minutes),
            duration: secs(service.duration_minutes),
            after: secs(service.buffer_after_minutes),
        }
    }
}

/// Sorted, merged [from, until) intervals of one resource.
type Intervals = Vec<(i64, i64)>;

/// If [a, b) overlaps a busy interval, the end of the first one it overlaps.
fn conflict(busy: &[(i64, i64)], a: i64, b: i64) -> Option<i64> {
    let i = busy.partition_point(|&(_, until)| until <= a);
    busy.get(i)
        .filter(|&&(from, _)| from < b)
        .map(|&(_, until)| until)
}

/// The first grid point at or after `x`.
fn grid_up(x: i64, anchor: i64, step: i64) -> i64 {
    if x <= anchor {
        anchor
    } else {
        anchor + (x - anchor + step - 1) / step * step
    }
}

fn ceil_second(t: Timestamp) -> i64 {
    t.as_second() + i64::from(t.subsec_nanosecond() > 0)
}

/// Minutes since midnight; the end of the day (24:00) is 1440.
fn minutes(t: Time) -> i32 {
    if t == Time::MAX {
        24 * 60
    } else {
        i32::from(t.hour()) * 60 + i32::from(t.minute())
    }
}

/// The instant of a local time on `date` (1440 = the next midnight). A time in a DST gap
/// moves forward, as jiff's "compatible" rule does.
fn local_second(tz: &TimeZone, date: Date, minute: i32) -> Option<i64> {
    let (date, minute) = if minute >= 24 * 60 {
        (date.tomorrow().ok()?, minute - 24 * 60)
    } else {
        (date, minute)
    };
    let dt = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
    Some(tz.to_ambiguous_timestamp(dt).compatible().ok()?.as_second())
}

/// Removes [cut_from, cut_until) from each range.
fn subtract(ranges: Vec<(i32, i32)>, cut_from: i32, cut_until: i32) -> Vec<(i32, i32)> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for (a, b) in ranges {
        if cut_until <= a || b <= cut_from {
            out.push((a, b));
            continue;
        }
        if a < cut_from {
            out.push((a, cut_from));
        }
        if cut_until < b {
            out.push((cut_until, b));
        }
    }
    out
}

impl Clinic {
    /// A practitioner's working windows on a local date: the clinic's hours cut to the
    /// practitioner's own, less breaks, closures and holidays.
    fn windows(&self, tz: &TimeZone, date: Date, p: &Practitioner) -> Vec<Window> {
        let day = weekday_index(date.weekday());
        let clinic_ranges = &self.hours.days[day];
        if clinic_ranges.is_empty() {
            return Vec::new();
        }
        let mut closes_at = 24 * 60;
        if self.settings.observe_holidays
            && let Some(h) = holiday(date)
        {
            if !h.half_day {
                return Vec::new();
            }
            closes_at = i32::from(HALF_DAY_FROM_HOUR) * 60;
        }
        let away = self
            .closures
            .iter()
            .any(|c| c.covers(date) && c.practitioner.as_ref().is_none_or(|id| *id == p.id));
        if away {
            return Vec::new();
        }
        let mut windows = Vec::new();
        for &(open, close) in clinic_ranges {
            let (open, close) = (minutes(open), minutes(close));
            let mut pieces = match &p.hours {
                None => vec![(open, close.min(closes_at))],
                Some(own) => own.days[day]
                    .iter()
                    .map(|&(a, b)| (minutes(a).max(open), minutes(b).min(close).min(closes_at)))
                    .collect(),
            };
            for b in &self.breaks {
                if b.applies_on(day) && b.practitioner.as_ref().is_none_or(|id| *id == p.id) {
                    pieces = subtract(pieces, minutes(b.from), minutes(b.to));
                }
            }
            let Some(anchor) = local_second(tz, date, open) else {
                continue;
            };
            for (a, b) in pieces {
                if a >= b {
                    continue;
                }
                if let (Some(from), Some(until)) =
                    (local_second(tz, date, a), local_second(tz, date, b))
                {
                    windows.push(Window {
                        from,
                        until,
                        anchor,
                    });
                }
            }
        }
        windows.sort_by_key(|w| w.from);
        windows
    }

    /// Free slots for a service, ordered by start: the earliest free practitioner for
    /// each start (the preferred one only, when asked; ties go to the service's order),
    /// with the first free room the service allows.
    ///
    /// A visit and its buffers lie inside the working hours of the clinic and of the
    /// practitioner, cross no break, and fall on no closure or holiday (nothing from
    /// 13:00 on an eve); it starts on the step grid counted from its opening range's
    /// start, no sooner than `min_notice` after `now`, and on a day no later than
    /// `horizon_days` after today.
    pub fn find_slots(
        &self,
        tz: &TimeZone,
        busy: &[Busy],
        q: &SlotQuery,
    ) -> Result<Vec<Slot>, SlotError> {
        let service = self
            .service(q.service)
            .ok_or_else(|| SlotError::UnknownService(q.service.to_string()))?;
        let candidates: Vec<&Practitioner> = match &q.prefs.practitioner {
            Some(id) => {
                let p = self
                    .practitioner(id)
                    .ok_or_else(|| SlotError::UnknownPractitioner(id.clone()))?;
                if !service.practitioners.contains(id) {
                    return Err(SlotError::NotForService {
                        practitioner: id.clone(),
                        service: service.id.clone(),
                    });
                }
                vec![p]
            }
            None => service
                .practitioners
                .iter()
                .filter_map(|id| self.practitioner(id))
                .collect(),
        };
        if q.limit == 0 || candidates.is_empty() {
            return Ok(Vec::new());
        }
        let len = Lengths::of(self, service);

        // Busy intervals of the resources this search can use, sorted and merged.
        let mut slot_of: HashMap<&str, usize> = HashMap::new();
        for (i, p) in candidates.iter().enumerate() {
            slot_of.insert(p.id.as_str(), i);
        }
        for (i, r) in service.rooms.iter().enumerate() {
            slot_of.insert(r.as_str(), candidates.len() + i);
        }
        let mut intervals: Vec<Intervals> =
            vec![Vec::new(); candidates.len() + service.rooms.len()];
        for b in busy {
            if let Some(&i) = slot_of.get(b.resource.as_str()) {
                let (from, until) = (b.from.as_second(), ceil_second(b.until));
                if from < until {
                    intervals[i].push((from, until));
                }
            }
        }
        for list in &mut intervals {
            list.sort_unstable();
            let mut merged: Intervals = Vec::with_capacity(list.len());
            for &(from, until) in list.iter() {
                match merged.last_mut() {
                    Some(last) if from <= last.1 => last.1 = last.1.max(until),
                    _ => merged.push((from, until)),
                }
            }
            *list = merged;
        }
        let (practitioner_busy, room_busy) = intervals.split_at(candidates.len());
        let rooms: Vec<&[(i64, i64)]> = room_busy.iter().map(Vec::as_slice).collect();

        let notice = Span::new().minutes(i64::from(self.settings.min_notice_minutes));
        let mut earliest = q.now.checked_add(notice).map_or(i64::MAX, ceil_second);
        if let Some(not_before) = q.prefs.not_before {
            earliest = earliest.max(ceil_second(not_before));
        }
        let today = q.now.to_zoned(tz.clone()).date();
        let Ok(last_day) =
            today.checked_add(Span::new().days(i64::from(self.settings.horizon_days)))
        else {
            return Ok(Vec::new());
        };

        let mut out = Vec::new();
        let mut date = today;
        while date <= last_day && out.len() < q.limit {
            let wanted = q.prefs.date.is_none_or(|d| d == date)
                && q.prefs.weekday.is_none_or(|w| w == date.weekday());
            if wanted {
                self.day_slots(
                    tz,
                    date,
                    service,
                    len,
                    &candidates,
                    practitioner_busy,
                    &rooms,
                    earliest,
                    q,
                    &mut out,
                );
            }
            if q.prefs.date.is_some_and(|d| d <= date) {
                break;
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        Ok(out)
    }

    /// Appends one day's slots to `out`, in start order, until `q.limit`.
    #[allow(clippy::too_many_arguments)]
    fn day_slots(
        &self,
        tz: &TimeZone,
        date: Date,
        service: &Service,
        len: Lengths,
        candidates: &[&Practitioner],
        practitioner_busy: &[Intervals],
        rooms: &[&[(i64, i64)]],
        earliest: i64,
        q: &SlotQuery,
        out: &mut Vec<Slot>,
    ) {
        let windows: Vec<Vec<Window>> = candidates
            .iter()
            .map(|p| self.windows(tz, date, p))
            .collect();
        if windows.iter().all(Vec::is_empty) {
            return;
        }
        // Parts of the day as instants, for the part preference and for spreading.
        let part_bounds = |part: DayPart| -> (i64, i64) {
            let (from, until) = part.bounds();
            let from = local_second(tz, date, minutes(from)).unwrap_or(i64::MIN);
            let until = until
                .and_then(|u| local_second(tz, date, minutes(u)))
                .unwrap_or(i64::MAX);
            (from, until)
        };
        let (mut t, until) = match q.prefs.part {
            Some(part) => {
                let (from, until) = part_bounds(part);
                (earliest.max(from), until)
            }
            None => (earliest, i64::MAX),
        };
        let needs_room = service.needs_room;
        // Each practitioner's next free slot at or after `t`, recomputed only once `t`
        // has passed it; `None` once the day has nothing more for them.
        let mut heads: Vec<Option<(i64, Option<usize>)>> = (0..candidates.len())
            .map(|i| {
                first_free(
                    &windows[i],
                    t,
                    until,
                    &practitioner_busy[i],
                    rooms,
                    needs_room,
                    len,
                )
            })
            .collect();
        while out.len() < q.limit {
            for (i, head) in heads.iter_mut().enumerate() {
                if head.is_some_and(|(start, _)| start < t) {
                    *head = first_free(
                        &windows[i],
                        t,
                        until,
                        &practitioner_busy[i],
                        rooms,
                        needs_room,
                        len,
                    );
                }
            }
            // Earliest start; ties go to the practitioner listed first.
            let Some((i, (start, room))) = heads
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.map(|h| (i, h)))
                .min_by_key(|&(i, (start, _))| (start, i))
            else {
                break;
            };
            out.push(Slot {
                service: service.id.clone(),
                practitioner: candidates[i].id.clone(),
                room: room.map(|r| service.rooms[r].clone()),
                start: Timestamp::from_second(start).unwrap_or(Timestamp::MAX),
                end: Timestamp::from_second(start + len.duration).unwrap_or(Timestamp::MAX),
                blocks_from: Timestamp::from_second(start - len.before).unwrap_or(Timestamp::MIN),
                blocks_until: Timestamp::from_second(start + len.duration + len.after)
                    .unwrap_or(Timestamp::MAX),
            });
            t = start + 1;
            if q.spread {
                let part = DayPart::ALL
                    .into_iter()
                    .find(|&p| {
                        let (from, until) = part_bounds(p);
                        from <= start && start < until
                    })
                    .unwrap_or(DayPart::Evening);
                t = part_bounds(part).1;
                if t == i64::MAX {
                    break;
                }
            }
        }
    }

    /// Whether a slot can still be taken: its service, practitioner and room go
    /// together, the visit with its buffers lies in the practitioner's working time that
    /// day, and nothing in `busy` overlaps it on the practitioner or the room. (Minimum
    /// notice is the caller's: it knows `now`.) Leave the slot's own hold out of `busy`.
    pub fn is_free(&self, tz: &TimeZone, busy: &[Busy], slot: &Slot) -> bool {
        let Some(fresh) = self.slot_from_ref(&SlotRef {
            service: slot.service.clone(),
            practitioner: slot.practitioner.clone(),
            room: slot.room.clone(),
            start: slot.start,
        }) else {
            return false;
        };
        let Some(p) = self.practitioner(&fresh.practitioner) else {
            return false;
        };
        let (a, b) = (
            fresh.blocks_from.as_second(),
            fresh.blocks_until.as_second(),
        );
        let date = fresh.start.to_zoned(tz.clone()).date();
        let inside = self
            .windows(tz, date, p)
            .iter()
            .any(|w| w.from <= a && b <= w.until);
        if !inside {
            return false;
        }
        !busy.iter().any(|x| {
            let takes =
                x.resource == fresh.practitioner || Some(&x.resource) == fresh.room.as_ref();
            takes && x.from.as_second() < b && a < ceil_second(x.until)
        })
    }

    /// The slot a [`SlotRef`] names, its end and blocks computed from the service;
    /// `None` when the service, practitioner or room is unknown or not allowed together.
    pub fn slot_from_ref(&self, r: &SlotRef) -> Option<Slot> {
        let service = self.service(&r.service)?;
        if !service.practitioners.contains(&r.practitioner) {
            return None;
        }
        match &r.room {
            Some(room) if !service.rooms.contains(room) => return None,
            None if service.needs_room => return None,
            _ => {}
        }
        let len = Lengths::of(self, service);
        let start = r.start.as_second();
        let at = |s: i64| Timestamp::from_second(s).ok();
        Some(Slot {
            service: service.id.clone(),
            practitioner: r.practitioner.clone(),
            room: r.room.clone(),
            start: at(start)?,
            end: at(start + len.duration)?,
            blocks_from: at(start - len.before)?,
            blocks_until: at(start + len.duration + len.after)?,
        })
    }
}

/// The first free start at or after `t` (and before `until`) in a practitioner's
/// windows, with the index of the first free room when the service needs one.
fn first_free(
    windows: &[Window],
    t: i64,
    until: i64,
    practitioner_busy: &[(i64, i64)],
    rooms: &[&[(i64, i64)]],
    needs_room: bool,
    len: Lengths,
) -> Option<(i64, Option<usize>)> {
    for w in windows {
        let mut s = grid_up(t.max(w.from + len.before), w.anchor, len.step);
        while s < until && s + len.duration + len.after <= w.until {
            let (a, b) = (s - len.before, s + len.duration + len.after);
            if let Some(end) = conflict(practitioner_busy, a, b) {
                s = grid_up(end + len.before, w.anchor, len.step);
                continue;
            }
            if !needs_room {
                return Some((s, None));
            }
            // Every room busy at s stays busy until its interval ends: jump to the
            // earliest of those ends.
            let mut next = i64::MAX;
            for (r, busy) in rooms.iter().enumerate() {
                match conflict(busy, a, b) {
                    None => return Some((s, Some(r))),
                    Some(end) => next = next.min(end),
                }
            }
            if next == i64::MAX {
                return None;
            }
            s = grid_up(next + len.before, w.anchor, len.step);
        }
    }
    None
}
