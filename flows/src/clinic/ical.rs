//! An iCalendar (RFC 5545) feed of appointments, for a practitioner or the whole clinic
//! to subscribe to from their phone's calendar. Times are written in UTC so no time-zone
//! definitions are needed; text is escaped and lines are folded at 75 octets without
//! splitting a UTF-8 character (Turkish letters are two octets).

use jiff::Timestamp;

/// One appointment in the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcalEvent {
    /// Stable across feeds (e.g. "appointment-42@kopru"), so calendars update the event.
    pub uid: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// When the appointment was last changed (DTSTAMP); flows take no clock, so the
    /// caller says.
    pub stamp: Timestamp,
    pub summary: String,
    pub description: Option<String>,
    pub status_cancelled: bool,
}

/// Octets per line before folding, CRLF excluded (RFC 5545 §3.1).
const LINE_OCTETS: usize = 75;

/// TEXT escaping (§3.3.11): backslash, semicolon, comma and line breaks; other control
/// characters are not allowed in TEXT and are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded: a line longer than 75 octets continues on the next
/// line after CRLF and one space (which counts towards that line's 75).
fn push_line(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// The whole feed: a VCALENDAR with one VEVENT per event, CRLF line endings.
pub fn ical_feed(calendar_name: &str, events: &[IcalEvent]) -> String {
    let mut out = String::new();
    let name = escape(calendar_name);
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Kopru//Appointments//TR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        push_line(&mut out, line);
    }
    // NAME is RFC 7986; X-WR-CALNAME is what most calendar apps still read.
    push_line(&mut out, &format!("NAME:{name}"));
    push_line(&mut out, &format!("X-WR-CALNAME:{name}"));
    for e in events {
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}", escape(&e.uid)));
        push_line(&mut out, &format!("DTSTAMP:{}", utc(e.stamp)));
        push_line(&mut out, &format!("DTSTART:{}", utc(e.start)));
        push_line(&mut out, &format!("DTEND:{}", utc(e.end)));
        push_line(&mut out, &format!("SUMMARY:{}", escape(&e.summary)));
        if let Some(description) = &e.description {
            push_line(&mut out, &format!("DESCRIPTION:{}", escape(description)));
        }
        let status = if e.status_cancelled {
            "CANCELLED"
        } else {
            "CONFIRMED"
        };
        push_line(&mut out, &format!("STATUS:{status}"));
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}
