//! Turkish public holidays as data: the fixed national days every year, and Ramazan and
//! Kurban Bayramı with their eves for 2026–2028. Eves (and 28 Ekim) are half days:
//! closed from 13:00, as Law 2429 has it.
//!
//! The religious dates are the Diyanet's (vakithesaplama.diyanet.gov.tr, "resmi
//! tatiller"), as carried by the `holidays` Ruby gem's Turkish overrides
//! (lib/holidays/definition/custom_methods/tr.rb) and Turkish news calendars for 2026.
//! 2028: Ramazan Bayramı 26–28 Şubat (eve 25 Şubat), Kurban Bayramı 5–8 Mayıs (eve
//! 4 Mayıs), one day later than sometimes quoted; the Diyanet's date matches the
//! tabular Hijri date for that year, which has no override in the gem. After 2028 the
//! Diyanet publishes new dates; add them here.

use jiff::civil::{Date, date};
use serde::Serialize;

/// A day the clinic (if it observes holidays) is closed, or closed from 13:00.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Holiday {
    /// Turkish, as a patient would read it: "Kurban Bayramı".
    pub name: &'static str,
    /// Closed from 13:00 only (a bayram's eve, 28 Ekim).
    pub half_day: bool,
}

/// When a half-day holiday starts (local time).
pub const HALF_DAY_FROM_HOUR: i8 = 13;

const FIXED: [(i8, i8, &str, bool); 8] = [
    (1, 1, "Yılbaşı", false),
    (4, 23, "Ulusal Egemenlik ve Çocuk Bayramı", false),
    (5, 1, "Emek ve Dayanışma Günü", false),
    (5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı", false),
    (7, 15, "Demokrasi ve Millî Birlik Günü", false),
    (8, 30, "Zafer Bayramı", false),
    (10, 28, "Cumhuriyet Bayramı arifesi", true),
    (10, 29, "Cumhuriyet Bayramı", false),
];

/// A bayram: its first day, its length in days, its name and its eve's name.
struct Bayram {
    first: Date,
    days: i8,
    name: &'static str,
    eve: &'static str,
}

const RAMAZAN: (&str, &str) = ("Ramazan Bayramı", "Ramazan Bayramı arifesi");
const KURBAN: (&str, &str) = ("Kurban Bayramı", "Kurban Bayramı arifesi");

const fn bayram(first: Date, days: i8, (name, eve): (&'static str, &'static str)) -> Bayram {
    Bayram {
        first,
        days,
        name,
        eve,
    }
}

const RELIGIOUS: [Bayram; 6] = [
    bayram(date(2026, 3, 20), 3, RAMAZAN),
    bayram(date(2026, 5, 27), 4, KURBAN),
    bayram(date(2027, 3, 9), 3, RAMAZAN),
    bayram(date(2027, 5, 16), 4, KURBAN),
    bayram(date(2028, 2, 26), 3, RAMAZAN),
    bayram(date(2028, 5, 5), 4, KURBAN),
];

/// The holiday on `date`, if any. A full holiday wins over an eve on the same day
/// (19 Mayıs 2027 is also Kurban Bayramı's fourth day: one name is enough). Outside
/// 2026–2028 only the fixed national days are known.
pub fn holiday(date: Date) -> Option<Holiday> {
    let mut eve = None;
    for b in &RELIGIOUS {
        // Every bayram and its eve lie within one year in the table.
        if date.year() != b.first.year() {
            continue;
        }
        let offset = (date - b.first).get_days();
        if (0..i32::from(b.days)).contains(&offset) {
            return Some(Holiday {
                name: b.name,
                half_day: false,
            });
        }
        if offset == -1 {
            eve = Some(Holiday {
                name: b.eve,
                half_day: true,
            });
        }
    }
    for &(month, day, name, half_day) in &FIXED {
        if date.month() == month && date.day() == day {
            if half_day {
                eve = eve.or(Some(Holiday { name, half_day }));
            } else {
                return Some(Holiday { name, half_day });
            }
        }
    }
    eve
}

/// Every holiday of a year, in date order (for the admin page and the FAQ).
pub fn holidays(year: i16) -> Vec<(Date, Holiday)> {
    let Ok(mut day) = Date::new(year, 1, 1) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while day.year() == year {
        if let Some(h) = holiday(day) {
            out.push((day, h));
        }
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    out
}
