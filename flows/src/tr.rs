//! Turkish rendering helpers shared by flows: weekday names, clock times and the
//! case suffixes that follow a time written in digits ("19:00'a kadar", "09:00'da").
//!
//! Suffixes after digits follow how the number is *read aloud*: "19:00" is read
//! "on dokuz", so it takes the back-vowel dative "'a"; "18:00" ("on sekiz") takes "'e";
//! "16:00" ("on altı") ends in a vowel and takes "'ya". A lookup on the last spoken
//! word is exact for every time of day, which a generic vowel-harmony rule over the
//! digits would not be.

use jiff::civil::{Time, Weekday};

/// Weekday names, Monday first, capitalised as Turkish writes them.
pub(crate) const DAY_NAMES: [&str; 7] = [
    "Pazartesi",
    "Salı",
    "Çarşamba",
    "Perşembe",
    "Cuma",
    "Cumartesi",
    "Pazar",
];

/// The Turkish name of a weekday.
pub(crate) fn day_name(day: Weekday) -> &'static str {
    DAY_NAMES[crate::profile::weekday_index(day)]
}

/// Month names, January first, capitalised as Turkish writes them.
pub(crate) const MONTH_NAMES: [&str; 12] = [
    "Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim",
    "Kasım", "Aralık",
];

/// The Turkish name of a month (1 = Ocak); out-of-range months clamp.
pub(crate) fn month_name(month: i8) -> &'static str {
    MONTH_NAMES[(month.clamp(1, 12) - 1) as usize]
}

/// The end of a day: a range written "…-24:00" closes at [`Time::MAX`].
pub(crate) fn is_end_of_day(t: Time) -> bool {
    t == Time::MAX
}

/// "09:00"; the end of the day is written "24:00", as opening hours are in Turkey.
pub(crate) fn hm(t: Time) -> String {
    if is_end_of_day(t) {
        "24:00".to_string()
    } else {
        format!("{:02}:{:02}", t.hour(), t.minute())
    }
}

/// How the last spoken word of a number sounds, which is all a suffix depends on.
#[derive(Clone, Copy)]
struct Sound {
    /// Last vowel is a, ı, o or u (back): suffixes take "a"; otherwise "e".
    back: bool,
    /// Ends in a vowel: the dative needs the buffer "y".
    vowel_end: bool,
    /// Ends in a voiceless consonant (ç, f, h, k, p, s, ş, t): the locative hardens to "t".
    voiceless_end: bool,
}

const fn sound(back: bool, vowel_end: bool, voiceless_end: bool) -> Sound {
    Sound {
        back,
        vowel_end,
        voiceless_end,
    }
}

/// The sound of the last word when `n` (0..=59) is read aloud.
fn number_sound(n: i8) -> Sound {
    match n % 10 {
        1 => sound(false, false, false), // bir
        2 => sound(false, true, false),  // iki
        3 => sound(false, false, true),  // üç
        4 => sound(false, false, true),  // dört
        5 => sound(false, false, true),  // beş
        6 => sound(true, true, false),   // altı
        7 => sound(false, true, false),  // yedi
        8 => sound(false, false, false), // sekiz
        9 => sound(true, false, false),  // dokuz
        _ => match n / 10 {
            1 => sound(true, false, false), // on
            2 => sound(false, true, false), // yirmi
            3 => sound(true, false, false), // otuz
            4 => sound(true, false, true),  // kırk
            5 => sound(false, true, false), // elli
            _ => sound(true, false, false), // sıfır
        },
    }
}

/// The sound of a clock time read aloud: the minutes when there are any ("on yedi
/// otuz"), the hour otherwise ("on dokuz"); the end of the day is "yirmi dört".
fn time_sound(t: Time) -> Sound {
    if is_end_of_day(t) {
        number_sound(24)
    } else if t.minute() != 0 {
        number_sound(t.minute())
    } else {
        number_sound(t.hour())
    }
}

/// "19:00'a", "18:00'e", "16:00'ya", "12:00'ye": to / until a time.
pub(crate) fn hm_dative(t: Time) -> String {
    let s = time_sound(t);
    let suffix = match (s.vowel_end, s.back) {
        (true, true) => "'ya",
        (true, false) => "'ye",
        (false, true) => "'a",
        (false, false) => "'e",
    };
    format!("{}{suffix}", hm(t))
}

/// "09:00'da", "08:00'de", "14:00'te", "10:40'ta": at a time.
pub(crate) fn hm_locative(t: Time) -> String {
    let s = time_sound(t);
    let suffix = match (s.voiceless_end, s.back) {
        (true, true) => "'ta",
        (true, false) => "'te",
        (false, true) => "'da",
        (false, false) => "'de",
    };
    format!("{}{suffix}", hm(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::time;

    #[test]
    fn suffixes_follow_the_spoken_number() {
        let dat = |h, m| hm_dative(time(h, m, 0, 0));
        assert_eq!(dat(19, 0), "19:00'a");
        assert_eq!(dat(18, 0), "18:00'e");
        assert_eq!(dat(16, 0), "16:00'ya");
        assert_eq!(dat(12, 0), "12:00'ye");
        assert_eq!(dat(20, 0), "20:00'ye");
        assert_eq!(dat(10, 0), "10:00'a");
        assert_eq!(dat(14, 0), "14:00'e");
        assert_eq!(dat(17, 30), "17:30'a");
        assert_eq!(dat(12, 45), "12:45'e");
        assert_eq!(hm_dative(Time::MAX), "24:00'e");

        let loc = |h, m| hm_locative(time(h, m, 0, 0));
        assert_eq!(loc(9, 0), "09:00'da");
        assert_eq!(loc(8, 0), "08:00'de");
        assert_eq!(loc(14, 0), "14:00'te");
        assert_eq!(loc(13, 0), "13:00'te");
        assert_eq!(loc(10, 40), "10:40'ta");
        assert_eq!(loc(10, 0), "10:00'da");
        assert_eq!(loc(0, 0), "00:00'da");
        assert_eq!(loc(11, 30), "11:30'da");
    }

    #[test]
    fn day_names_start_on_monday() {
        assert_eq!(day_name(Weekday::Monday), "Pazartesi");
        assert_eq!(day_name(Weekday::Sunday), "Pazar");
    }
}
