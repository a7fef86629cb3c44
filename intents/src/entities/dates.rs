//! Dates and times, resolved in the tenant's time zone from `now`.
//!
//! - Relative days: `bugün`, `yarın`, `öbür gün`, `yarından sonra`, `today`,
//!   `tomorrow`, `day after tomorrow`, `heute`, `morgen`, `übermorgen`,
//!   `сегодня`, `завтра`, `послезавтра`; `bu akşam` / `tonight` → today.
//! - Weekdays (tr, en, de, ru, with Turkish suffixes: `perşembeye`): a bare
//!   weekday is the next such day *after* today (a week ahead when it is
//!   today); `haftaya` / `gelecek` / `önümüzdeki` / `next` / `nächsten` /
//!   `следующий` + weekday is that weekday in the next calendar week
//!   (Monday-based); `bu` / `this` + weekday is that day of the current week,
//!   or the next one if already past.
//! - Calendar dates: `15 Aralık`, `15 Aralık 2026`, `December 15`, `15th of
//!   December`, `15. Dezember`, `15 декабря`, `15.12`, `15/12`,
//!   `15.12.2026`. Without a year: the next such date on or after today.
//! - Times: `14:30`, `saat 14.30`, `saat 3`, `3'te`, `3pm`, `15 Uhr`. A
//!   Turkish hour 1–7 without a morning word is read as afternoon
//!   (`saat 3'te` = 15:00: what people mean when booking); so is any hour
//!   below 12 with an afternoon/evening word (`akşam 7` = 19:00).
//! - Day parts: morning, noon, afternoon, evening, night (`sabah`, `öğlen`,
//!   `öğleden sonra`, `akşam`, `gece`, `morning`, `Nachmittag`, `вечером`…).
//!
//! Items next to each other (up to two filler tokens apart: `saat`, `at`,
//! `um`, `günü`, punctuation) form one entity: with a date it is a
//! [`DateRef`], otherwise a [`TimeRef`].

use jiff::civil::{Date, Time, Weekday};
use serde::Serialize;

use super::{Context, Doc, Found, Kind};

/// A part of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayPart {
    Morning,
    Noon,
    Afternoon,
    Evening,
    Night,
}

/// A resolved civil date with an optional time or day part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DateRef {
    pub date: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<DayPart>,
}

/// A time or day part without a date (`saat 3'te`, `akşam`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TimeRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<DayPart>,
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Date(Date, Option<DayPart>),
    Time(u8, u8, bool), // hour, minute, explicit am/pm or 24h (no pm guess)
    Part(DayPart),
}

fn weekday(w: &str) -> Option<Weekday> {
    use Weekday::*;
    let stem = |s: &str, max: usize| w.starts_with(s) && w.len() - s.len() <= max;
    // Longest first: "cumartesi" before "cuma", "pazartesi" before "pazar".
    Some(
        if stem("pazartesi", 4) || matches!(w, "monday" | "montag") || w.starts_with("понедельн")
        {
            Monday
        } else if stem("cumartesi", 4)
            || matches!(w, "saturday" | "samstag" | "sonnabend")
            || w.starts_with("суббот")
        {
            Saturday
        } else if stem("sali", 3) && w != "salim"
            || matches!(w, "tuesday" | "dienstag")
            || w.starts_with("вторник")
        {
            Tuesday
        } else if stem("carsamba", 4)
            || matches!(w, "wednesday" | "mittwoch")
            || w.starts_with("сред") && w.len() <= 10
        {
            Wednesday
        } else if stem("persembe", 4)
            || matches!(w, "thursday" | "donnerstag")
            || w.starts_with("четверг")
        {
            Thursday
        } else if stem("cuma", 3) || matches!(w, "friday" | "freitag") || w.starts_with("пятниц")
        {
            Friday
        } else if stem("pazar", 3) && !w.starts_with("pazarl")
            || matches!(w, "sunday" | "sonntag")
            || w.starts_with("воскресен")
        {
            Sunday
        } else {
            return None;
        },
    )
}

fn month(w: &str) -> Option<i8> {
    const STEMS: [(&str, i8); 12 * 4] = [
        ("ocak", 1),
        ("january", 1),
        ("januar", 1),
        ("январ", 1),
        ("subat", 2),
        ("february", 2),
        ("februar", 2),
        ("феврал", 2),
        ("mart", 3),
        ("march", 3),
        ("marz", 3),
        ("март", 3),
        ("nisan", 4),
        ("april", 4),
        ("april", 4),
        ("апрел", 4),
        ("mayis", 5),
        ("may", 5),
        ("mai", 5),
        ("мая", 5),
        ("haziran", 6),
        ("june", 6),
        ("juni", 6),
        ("июн", 6),
        ("temmuz", 7),
        ("july", 7),
        ("juli", 7),
        ("июл", 7),
        ("agustos", 8),
        ("august", 8),
        ("august", 8),
        ("август", 8),
        ("eylul", 9),
        ("september", 9),
        ("sept", 9),
        ("сентябр", 9),
        ("ekim", 10),
        ("october", 10),
        ("oktober", 10),
        ("октябр", 10),
        ("kasim", 11),
        ("november", 11),
        ("nov", 11),
        ("ноябр", 11),
        ("aralik", 12),
        ("december", 12),
        ("dezember", 12),
        ("декабр", 12),
    ];
    STEMS.iter().find_map(|&(s, m)| {
        let rest = w.strip_prefix(s)?;
        (rest.chars().count() <= 4 && (s.chars().count() >= 4 || rest.is_empty())).then_some(m)
    })
}

fn day_part(doc: &Doc, i: usize) -> Option<(DayPart, usize)> {
    use DayPart::*;
    let w = doc.tok(i);
    if doc.toks[i].kind != Kind::Word {
        return None;
    }
    // "öğleden sonra", "öğle sonrası"
    if (w.starts_with("ogleden") || w == "ogle") && doc.starts(i + 1, &["sonra"]) {
        return Some((Afternoon, i + 1));
    }
    let p = if w.starts_with("sabah")
        || matches!(
            w,
            "morning" | "morgens" | "vormittag" | "vormittags" | "fruh" | "утром"
        ) {
        Morning
    } else if w.starts_with("oglen")
        || matches!(
            w,
            "ogle" | "ogleyin" | "noon" | "midday" | "mittag" | "mittags"
        )
    {
        Noon
    } else if w.starts_with("ikindi")
        || matches!(
            w,
            "afternoon" | "nachmittag" | "nachmittags" | "днем" | "днём"
        )
    {
        Afternoon
    } else if w.starts_with("aksam")
        || matches!(w, "evening" | "abend" | "abends" | "вечером" | "вечер")
    {
        Evening
    } else if matches!(
        w,
        "gece" | "geceleyin" | "night" | "nacht" | "nachts" | "ночью"
    ) {
        Night
    } else {
        return None;
    };
    Some((p, i))
}

struct Found2 {
    first: usize,
    last: usize,
    item: Item,
}

/// Dates (with their times or day parts) and lone times of a message.
pub fn date_time(
    doc: &Doc,
    ctx: &Context,
    taken: &[[usize; 2]],
) -> (Vec<Found<DateRef>>, Vec<Found<TimeRef>>) {
    let today = ctx.local_now().date();
    let items = items(doc, today, taken);
    // Group items that sit next to each other.
    let mut dates = Vec::new();
    let mut times = Vec::new();
    let mut k = 0;
    while k < items.len() {
        let mut end = k;
        while end + 1 < items.len() && gap_ok(doc, items[end].last, items[end + 1].first) {
            end += 1;
        }
        let group = &items[k..=end];
        let mut date = None;
        let mut time = None;
        let mut part = None;
        for it in group {
            match it.item {
                Item::Date(d, p) => {
                    date = date.or(Some(d));
                    part = part.or(p);
                }
                Item::Time(h, m, exact) => time = time.or(Some((h, m, exact))),
                Item::Part(p) => part = part.or(Some(p)),
            }
        }
        let time = time.and_then(|(h, m, exact)| {
            let h = if exact {
                h
            } else {
                match part {
                    Some(DayPart::Morning) => h,
                    Some(DayPart::Afternoon | DayPart::Evening) if h < 12 => h + 12,
                    Some(DayPart::Night) if (5..12).contains(&h) => h + 12,
                    None if (1..=7).contains(&h) => h + 12,
                    _ => h,
                }
            };
            Time::new(h as i8, m as i8, 0, 0).ok()
        });
        let span = doc.tok_span(group[0].first, group[group.len() - 1].last);
        match date {
            Some(date) => dates.push(doc.found(DateRef { date, time, part }, span)),
            None => times.push(doc.found(TimeRef { time, part }, span)),
        }
        k = end + 1;
    }
    (dates, times)
}

fn gap_ok(doc: &Doc, last: usize, next: usize) -> bool {
    if next <= last + 1 {
        return true;
    }
    next - last - 1 <= 2
        && (last + 1..next).all(|g| {
            doc.toks[g].kind == Kind::Sym
                || doc.is(
                    g,
                    &[
                        "saat", "at", "um", "in", "the", "on", "gunu", "de", "da", "te", "ta", "в",
                        "о", "и", "ve", "and", "und", "around", "about", "gegen",
                    ],
                )
        })
}

fn items(doc: &Doc, today: Date, taken: &[[usize; 2]]) -> Vec<Found2> {
    let n = doc.toks.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if doc.is_taken(i, taken) {
            i += 1;
            continue;
        }
        if let Some((item, first, last)) = item_at(doc, i, today) {
            out.push(Found2 { first, last, item });
            i = last + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn add_days(d: Date, n: i64) -> Date {
    d.checked_add(jiff::Span::new().days(n)).unwrap_or(d)
}

fn item_at(doc: &Doc, i: usize, today: Date) -> Option<(Item, usize, usize)> {
    let t = doc.toks[i];
    let w = doc.tok(i);
    let n = doc.toks.len();
    match t.kind {
        Kind::Word => {
            // Relative days.
            if w.starts_with("yarindan") && doc.starts(i + 1, &["sonra"]) {
                return Some((Item::Date(add_days(today, 2), None), i, i + 1));
            }
            if (w == "obur" || w == "obir") && doc.starts(i + 1, &["gun"]) {
                return Some((Item::Date(add_days(today, 2), None), i, i + 1));
            }
            if w == "day" && doc.is(i + 1, &["after"]) && doc.is(i + 2, &["tomorrow"]) {
                return Some((Item::Date(add_days(today, 2), None), i, i + 2));
            }
            let rel = match w {
                "bugun" | "bugunku" | "bugune" | "today" | "heute" | "сегодня" => Some(0),
                "yarin" | "yarina" | "yarinki" | "tomorrow" | "завтра" => Some(1),
                "morgen" if !(i > 0 && doc.is(i - 1, &["guten"])) => Some(1),
                "ubermorgen" | "послезавтра" => Some(2),
                "tonight" => return Some((Item::Date(today, Some(DayPart::Evening)), i, i)),
                _ => None,
            };
            if let Some(r) = rel {
                return Some((Item::Date(add_days(today, r), None), i, i));
            }
            // "bu akşam", "this evening", "heute abend" (heute handled above).
            if doc.is(i, &["bu", "this"])
                && let Some((_, _)) = (i + 1 < n).then(|| day_part(doc, i + 1)).flatten()
            {
                return Some((Item::Date(today, None), i, i));
            }
            // Weekday with modifier.
            let (modifier, wd_at) = if doc.is(
                i,
                &[
                    "haftaya",
                    "gelecek",
                    "onumuzdeki",
                    "next",
                    "nachste",
                    "nachsten",
                    "nachster",
                    "kommenden",
                    "kommende",
                ],
            ) || doc.starts(i, &["следующ"])
            {
                (1, i + 1)
            } else if doc.is(
                i,
                &["bu", "this", "diesen", "dieser", "diese", "этот", "эту"],
            ) {
                (0, i + 1)
            } else {
                (-1, i)
            };
            if wd_at < n
                && doc.toks[wd_at].kind == Kind::Word
                && let Some(wd) = weekday(doc.tok(wd_at))
            {
                let d = resolve_weekday(today, wd, modifier);
                return Some((Item::Date(d, None), i, wd_at));
            }
            // "haftaya" alone: same weekday next week.
            if w == "haftaya" {
                return Some((Item::Date(add_days(today, 7), None), i, i));
            }
            // Month name then day: "December 15", "Dec 15th".
            if let Some(m) = month(w)
                && let Some((d, last)) = day_number(doc, i + 1)
            {
                let (date, last) = with_year(doc, today, m, d, last)?;
                return Some((Item::Date(date, None), i, last));
            }
            if let Some((p, last)) = day_part(doc, i) {
                return Some((Item::Part(p), i, last));
            }
            // "tonight" handled; English "3pm" is Num + word.
            None
        }
        Kind::Num => {
            let raw = w;
            // "14:30"
            if i + 2 < n
                && doc.tok(i + 1) == ":"
                && doc.toks[i + 1].glued
                && doc.toks[i + 2].glued
                && doc.toks[i + 2].kind == Kind::Num
            {
                let (h, m) = (raw.parse::<u8>().ok()?, doc.tok(i + 2).parse::<u8>().ok()?);
                if h < 24 && m < 60 && doc.tok(i + 2).len() == 2 {
                    let (h, last, exact) = ampm(doc, i + 3, h, i + 2);
                    return Some((Item::Time(h, m, exact || h >= 12 || h == 0), i, last));
                }
            }
            let after_saat = i > 0 && doc.is(i - 1, &["saat", "at", "um", "в", "o"]);
            // "15.12", "15.12.2026", "14.30"
            if let Some((a, b)) = raw.split_once(['.', ',']) {
                let parts: Vec<&str> = raw.split('.').collect();
                if !after_saat && (parts.len() == 2 || parts.len() == 3) && !raw.contains(',') {
                    let d = parts[0].parse::<i8>().ok()?;
                    let m = parts[1].parse::<i8>().ok()?;
                    let y = parts.get(2).and_then(|y| y.parse::<i16>().ok());
                    if let Some(date) = make_date(today, y, m, d) {
                        return Some((Item::Date(date, None), i, i));
                    }
                }
                if b.len() == 2 && !raw[a.len() + 1..].contains(['.', ',']) {
                    let (h, m) = (a.parse::<u8>().ok()?, b.parse::<u8>().ok()?);
                    if h < 24 && m < 60 && (after_saat || time_suffix(doc, i + 1)) {
                        let (h, last, exact) = ampm(doc, i + 1, h, i);
                        return Some((Item::Time(h, m, exact || h >= 12 || h == 0), i, last));
                    }
                }
                return None;
            }
            // "15/12", "15/12/2026"
            if i + 2 < n && doc.tok(i + 1) == "/" && doc.toks[i + 2].kind == Kind::Num {
                let d = raw.parse::<i8>().ok()?;
                let m = doc.tok(i + 2).parse::<i8>().ok()?;
                let (y, last) =
                    if i + 4 < n && doc.tok(i + 3) == "/" && doc.toks[i + 4].kind == Kind::Num {
                        (doc.tok(i + 4).parse::<i16>().ok(), i + 4)
                    } else {
                        (None, i + 2)
                    };
                let date = make_date(today, y, m, d)?;
                return Some((Item::Date(date, None), i, last));
            }
            // Day then month name: "15 Aralık", "15. Dezember", "15th of December".
            if let Some((d, _)) = day_number(doc, i) {
                let mut j = i + 1;
                while j < n
                    && (doc.tok(j) == "." || doc.is(j, &["th", "st", "nd", "rd", "of", "-"]))
                {
                    j += 1;
                }
                if j < n
                    && doc.toks[j].kind == Kind::Word
                    && let Some(m) = month(doc.tok(j))
                {
                    let (date, last) = with_year(doc, today, m, d, j)?;
                    return Some((Item::Date(date, None), i, last));
                }
            }
            // Hours: "saat 3", "3'te", "3pm", "15 Uhr".
            let h: u8 = raw.parse().ok().filter(|h| *h <= 24)?;
            let (h2, last, exact) = ampm(doc, i + 1, h, i);
            if exact {
                return Some((Item::Time(h2 % 24, 0, true), i, last));
            }
            if doc.is(i + 1, &["uhr", "ч", "часов", "часа"]) {
                return Some((Item::Time(h % 24, 0, true), i, i + 1));
            }
            let after_part = i > 0 && day_part(doc, i - 1).is_some();
            if after_saat || after_part || time_suffix(doc, i + 1) {
                let last = if time_suffix(doc, i + 1) { i + 2 } else { i };
                return Some((Item::Time(h % 24, 0, h >= 12), i, last.min(n - 1)));
            }
            None
        }
        Kind::Sym => None,
    }
}

/// `'te`, `'de`, `'da`, `'ta` (or `te` glued) after an hour: "3'te".
fn time_suffix(doc: &Doc, i: usize) -> bool {
    let n = doc.toks.len();
    if i < n && doc.tok(i) == "'" && i + 1 < n {
        return doc.is(
            i + 1,
            &[
                "te", "de", "da", "ta", "ten", "den", "dan", "tan", "e", "a", "ye", "ya",
            ],
        );
    }
    false
}

/// An am/pm marker at `i` (`pm`, `p.m.`, `am` not in German context):
/// `(hour, last token, explicit)`.
fn ampm(doc: &Doc, i: usize, h: u8, last: usize) -> (u8, usize, bool) {
    if doc.is(i, &["pm"]) && h <= 12 {
        return (if h == 12 { 12 } else { h + 12 }, i, true);
    }
    if doc.is(i, &["am"]) && h <= 12 && doc.toks[i].glued {
        return (if h == 12 { 0 } else { h }, i, true);
    }
    if doc.is(i, &["am"])
        && h <= 12
        && !doc.starts(
            i + 1,
            &[
                "montag",
                "dienstag",
                "mittwoch",
                "donnerstag",
                "freitag",
                "samstag",
                "sonntag",
            ],
        )
    {
        return (if h == 12 { 0 } else { h }, i, true);
    }
    (h, last, false)
}

/// A day-of-month number at `i` (`15`, `15th`): `(day, last token)`.
fn day_number(doc: &Doc, i: usize) -> Option<(i8, usize)> {
    let t = doc.toks.get(i)?;
    if t.kind != Kind::Num {
        return None;
    }
    let d: i8 = doc.tok(i).parse().ok().filter(|d| (1..=31).contains(d))?;
    let last = if doc.is(i + 1, &["th", "st", "nd", "rd"]) && doc.toks[i + 1].glued {
        i + 1
    } else {
        i
    };
    Some((d, last))
}

fn with_year(doc: &Doc, today: Date, m: i8, d: i8, last: usize) -> Option<(Date, usize)> {
    let mut j = last + 1;
    if j < doc.toks.len() && doc.tok(j) == "," {
        j += 1;
    }
    if j < doc.toks.len()
        && doc.toks[j].kind == Kind::Num
        && doc.tok(j).len() == 4
        && let Ok(y) = doc.tok(j).parse::<i16>()
    {
        return Some((Date::new(y, m, d).ok()?, j));
    }
    Some((make_date(today, None, m, d)?, last))
}

/// A date from day, month and maybe year (2 or 4 digits); without a year
/// the next such date on or after today.
fn make_date(today: Date, y: Option<i16>, m: i8, d: i8) -> Option<Date> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    match y {
        Some(y) if y < 100 => Date::new(2000 + y, m, d).ok(),
        Some(y) if (1900..=2200).contains(&y) => Date::new(y, m, d).ok(),
        Some(_) => None,
        None => {
            let this = Date::new(today.year(), m, d).ok();
            match this {
                Some(x) if x >= today => Some(x),
                _ => Date::new(today.year() + 1, m, d).ok(),
            }
        }
    }
}

fn resolve_weekday(today: Date, wd: Weekday, modifier: i32) -> Date {
    let t = today.weekday().to_monday_zero_offset() as i64;
    let w = wd.to_monday_zero_offset() as i64;
    match modifier {
        // next calendar week
        1 => add_days(today, 7 - t + w),
        // this week, or the next one if past
        0 => {
            if w >= t {
                add_days(today, w - t)
            } else {
                add_days(today, 7 - t + w)
            }
        }
        // bare: the next such day after today
        _ => {
            let diff = (w - t).rem_euclid(7);
            add_days(today, if diff == 0 { 7 } else { diff })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wednesday 10 December 2025, 10:00 in Istanbul (07:00 UTC).
    fn ctx() -> Context {
        Context::new(
            "dental",
            "Europe/Istanbul",
            "2025-12-10T07:00:00Z".parse().unwrap(),
        )
    }

    fn d(text: &str) -> Vec<(String, Option<String>, Option<DayPart>)> {
        let doc = Doc::new(text);
        date_time(&doc, &ctx(), &[])
            .0
            .into_iter()
            .map(|f| {
                (
                    f.value.date.to_string(),
                    f.value.time.map(|t| t.strftime("%H:%M").to_string()),
                    f.value.part,
                )
            })
            .collect()
    }

    fn one(text: &str) -> (String, Option<String>, Option<DayPart>) {
        let v = d(text);
        assert_eq!(v.len(), 1, "{text}: {v:?}");
        v[0].clone()
    }

    #[test]
    fn relative_days() {
        assert_eq!(one("bugün gelebilir miyim").0, "2025-12-10");
        assert_eq!(one("yarın").0, "2025-12-11");
        assert_eq!(one("YARIN").0, "2025-12-11");
        assert_eq!(one("yarin").0, "2025-12-11");
        assert_eq!(one("öbür gün").0, "2025-12-12");
        assert_eq!(one("yarından sonra").0, "2025-12-12");
        assert_eq!(
            one("tomorrow morning"),
            ("2025-12-11".into(), None, Some(DayPart::Morning))
        );
        assert_eq!(one("übermorgen").0, "2025-12-12");
        assert_eq!(one("завтра").0, "2025-12-11");
        assert_eq!(
            one("yarın öğleden sonra"),
            ("2025-12-11".into(), None, Some(DayPart::Afternoon))
        );
        assert_eq!(
            one("bu akşam"),
            ("2025-12-10".into(), None, Some(DayPart::Evening))
        );
        assert!(d("guten Morgen").is_empty());
    }

    #[test]
    fn weekdays() {
        // Today is Wednesday 2025-12-10.
        assert_eq!(
            one("perşembe 14:30"),
            ("2025-12-11".into(), Some("14:30".into()), None)
        );
        assert_eq!(one("persembeye alabilir miyiz").0, "2025-12-11");
        assert_eq!(one("haftaya salı").0, "2025-12-16");
        assert_eq!(one("next Monday").0, "2025-12-15");
        assert_eq!(one("am Montag").0, "2025-12-15");
        assert_eq!(one("çarşamba").0, "2025-12-17");
        assert_eq!(one("cumartesi").0, "2025-12-13");
        assert_eq!(one("cuma").0, "2025-12-12");
        assert_eq!(one("pazar açık mısınız").0, "2025-12-14");
        assert_eq!(one("pazartesi").0, "2025-12-15");
        assert_eq!(one("bu cuma").0, "2025-12-12");
        assert_eq!(one("в пятницу").0, "2025-12-12");
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(one("15 Aralık").0, "2025-12-15");
        assert_eq!(one("15 aralikta").0, "2025-12-15");
        assert_eq!(one("15.12").0, "2025-12-15");
        assert_eq!(one("15/12").0, "2025-12-15");
        assert_eq!(one("5 Ocak").0, "2026-01-05");
        assert_eq!(one("1.12").0, "2026-12-01");
        assert_eq!(one("15.12.2026").0, "2026-12-15");
        assert_eq!(one("December 20").0, "2025-12-20");
        assert_eq!(one("20th of December").0, "2025-12-20");
        assert_eq!(one("20. Dezember").0, "2025-12-20");
        assert_eq!(one("20 декабря").0, "2025-12-20");
        assert_eq!(one("3 Mart 2026").0, "2026-03-03");
        assert!(d("31.02").is_empty());
    }

    #[test]
    fn times() {
        let doc = Doc::new("saat 3'te uygun musunuz");
        let (dates, times) = date_time(&doc, &ctx(), &[]);
        assert!(dates.is_empty());
        assert_eq!(times[0].value.time, Some(Time::constant(15, 0, 0, 0)));
        assert_eq!(times[0].text, "3'te");
        let doc = Doc::new("sabah 10'da");
        let (_, times) = date_time(&doc, &ctx(), &[]);
        assert_eq!(times[0].value.time, Some(Time::constant(10, 0, 0, 0)));
        assert_eq!(times[0].value.part, Some(DayPart::Morning));
        assert_eq!(
            one("yarın akşam 7"),
            (
                "2025-12-11".into(),
                Some("19:00".into()),
                Some(DayPart::Evening)
            )
        );
        assert_eq!(one("tomorrow at 3pm").1, Some("15:00".into()));
        assert_eq!(one("morgen um 15 Uhr").1, Some("15:00".into()));
        assert_eq!(one("cuma saat 14.30").1, Some("14:30".into()));
        assert_eq!(one("yarın 09:00").1, Some("09:00".into()));
    }

    #[test]
    fn time_zone_decides_today() {
        // 22:30 UTC on the 10th is already the 11th in Istanbul.
        let late = Context::new(
            "x",
            "Europe/Istanbul",
            "2025-12-10T22:30:00Z".parse().unwrap(),
        );
        let doc = Doc::new("yarın");
        assert_eq!(
            date_time(&doc, &late, &[]).0[0].value.date.to_string(),
            "2025-12-12"
        );
        let utc = Context::new("x", "UTC", "2025-12-10T22:30:00Z".parse().unwrap());
        assert_eq!(
            date_time(&doc, &utc, &[]).0[0].value.date.to_string(),
            "2025-12-11"
        );
        // Unknown zone: Istanbul.
        let bad = Context::new("x", "Mars/Olympus", "2025-12-10T22:30:00Z".parse().unwrap());
        assert_eq!(
            date_time(&doc, &bad, &[]).0[0].value.date.to_string(),
            "2025-12-12"
        );
    }
}
