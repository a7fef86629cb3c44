//! An appointment time as a Turkish sentence part, in the clinic's zone, with the
//! customer's own clock added when a foreign patient's zone differs at that instant.

use crate::tr;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// "3 Aralık Perşembe 10:00" in the clinic's zone.
fn long_form(z: &jiff::Zoned) -> String {
    format!(
        "{} {} {} {}",
        z.day(),
        tr::month_name(z.month()),
        tr::day_name(z.weekday()),
        tr::hm(z.time())
    )
}

/// "3 Aralık Perşembe 10:00", and when the customer's zone has another offset at that
/// instant " (sizin saatinizle 08:00)" — with their date too when it is another day
/// there ("… (sizin saatinizle 2 Aralık Çarşamba 23:00)").
pub fn local_and_customer_time(
    at: Timestamp,
    clinic_tz: &TimeZone,
    customer_tz: Option<&TimeZone>,
) -> String {
    let local = at.to_zoned(clinic_tz.clone());
    let mut text = long_form(&local);
    if let Some(tz) = customer_tz {
        let theirs = at.to_zoned(tz.clone());
        if theirs.offset() != local.offset() {
            let clock = if theirs.date() == local.date() {
                tr::hm(theirs.time())
            } else {
                long_form(&theirs)
            };
            text.push_str(&format!(" (sizin saatinizle {clock})"));
        }
    }
    text
}
