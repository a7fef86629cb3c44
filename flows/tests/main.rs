//! The flows test binary: business hours and the general flow, pure and fast
//! (a manual clock, no I/O). One binary so the crate links once.

mod clinic;
mod dental;
mod general;
mod hours;

use jiff::Timestamp;

/// A local time in Istanbul (UTC+3 all year), e.g. `istanbul("2025-06-02T12:00")`.
/// 2025-06-02 is a Monday.
pub(crate) fn istanbul(local: &str) -> Timestamp {
    format!("{local}:00+03:00[Europe/Istanbul]")
        .parse::<jiff::Zoned>()
        .expect("test time")
        .timestamp()
}
