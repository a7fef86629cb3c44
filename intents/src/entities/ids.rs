//! Identifiers: phone (E.164), e-mail, TCKN, VKN, IBAN, card numbers
//! (masking only), order ids and carrier tracking numbers.
//!
//! # Rules
//!
//! - Digits may be grouped with single spaces, dashes, dots or parentheses
//!   (`0555 111 22 33`, `+90 (555) 111-22-33`, `4111-1111-1111-1111`). A
//!   candidate is always made of *whole* digit groups: digits inside a
//!   longer unbroken number never count (a 15-digit run holds no TCKN).
//!   Numbers with thousand dots (`5.000.000`) are amounts, not identifiers.
//! - Checksums: TCKN (first digit non-zero; 10th digit
//!   `((d1+d3+d5+d7+d9)·7 − (d2+d4+d6+d8)) mod 10`; 11th digit the sum of the
//!   first ten mod 10), VKN (Gelir İdaresi algorithm, see [`is_valid_vkn`]),
//!   IBAN (ISO 13616 mod-97 = 1), card (Luhn, 13–19 digits), UPU S10
//!   (weights 8 6 4 2 3 5 9 7, check `11 − sum mod 11`, 10 → 0, 11 → 5).
//! - Which kind wins for one digit window: a leading `+`/`00` makes it a
//!   phone; else 13–19 Luhn-valid digits a card; else 11 TCKN-valid digits a
//!   TCKN; else a Turkish phone (`05xx…`/`5xx…` mobile, `0[2-4]xx…`,
//!   `0850…`, `90…`; 10-digit landlines without the 0 only when grouped);
//!   else 10 VKN-valid digits a VKN. A mobile-looking 10-digit number
//!   (`5xx…`) is a phone even if its VKN checksum holds.
//! - Order ids: 6–12 digits right after an order word (`sipariş`, `order`,
//!   `Bestellung`, `заказ`, `#`). Tracking numbers: 10–20 digits right after
//!   a cargo word (`kargo`, `takip`, `tracking`, `gönderi`, `Sendung`), or a
//!   UPU S10 code (`RR123456789TR`) anywhere with a valid check digit.
//!   Context wins over VKN/phone/TCKN readings of the same digits.
//! - Carrier: `ptt` for S10 codes ending in `TR` (PTT is the Turkish
//!   designated postal operator; S10 is UPU standard S10). The domestic
//!   numeric codes of Yurtiçi, Aras, MNG, Sürat, HepsiJet and Trendyol
//!   Express have no published, distinguishing format (lengths overlap), so
//!   their carrier is taken only from the carrier's name in the same message
//!   ("Yurtiçi kargo takip no 1234567890"); otherwise `None`.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::{Doc, Found, Kind};

/// A shipment carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Yurtici,
    Aras,
    Mng,
    Ptt,
    Surat,
    Hepsijet,
    TrendyolExpress,
}

/// A tracking number, upper-case without spaces, with its carrier when the
/// format or the message tells.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tracking {
    pub number: String,
    pub carrier: Option<Carrier>,
}

// ---------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------

fn digits(s: &str) -> Option<Vec<u32>> {
    s.chars().map(|c| c.to_digit(10)).collect()
}

/// TCKN: 11 digits, first non-zero, both check digits right.
pub fn is_valid_tckn(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let odd = d[0] + d[2] + d[4] + d[6] + d[8];
    let even = d[1] + d[3] + d[5] + d[7];
    let d10 = ((odd * 7) as i64 - even as i64).rem_euclid(10) as u32;
    let d11 = d[..10].iter().sum::<u32>() % 10;
    d[9] == d10 && d[10] == d11
}

/// VKN: 10 digits; for the first nine digits `d` at 1-based position `i`:
/// `t = (d + 10 − i) mod 10`, `p = t · 2^(10−i) mod 9` (9 when `t = 9`),
/// and the 10th digit is `(10 − Σp mod 10) mod 10`.
pub fn is_valid_vkn(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 10 {
        return false;
    }
    let mut sum = 0u32;
    for (k, &v) in d[..9].iter().enumerate() {
        let i = k as u32 + 1;
        let t = (v + 10 - i) % 10;
        let p = if t == 9 { 9 } else { (t * (1 << (10 - i))) % 9 };
        sum += p;
    }
    (10 - sum % 10) % 10 == d[9]
}

/// IBAN mod-97 (ISO 13616) over a compact upper-case IBAN of any country;
/// a Turkish one must also be `TR` + 24 digits.
pub fn is_valid_iban(s: &str) -> bool {
    let s = s.as_bytes();
    if s.len() < 15 || s.len() > 34 || !s[..2].iter().all(u8::is_ascii_uppercase) {
        return false;
    }
    if !s[2..4].iter().all(u8::is_ascii_digit) || !s.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    if &s[..2] == b"TR" && (s.len() != 26 || !s[4..].iter().all(u8::is_ascii_digit)) {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in s[4..].iter().chain(&s[..4]) {
        let v = if b.is_ascii_digit() {
            (b - b'0') as u32
        } else {
            (b.to_ascii_uppercase() - b'A') as u32 + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Luhn over 13–19 digits.
pub fn is_valid_card(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &v)| {
            if i % 2 == 1 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// UPU S10: two letters, 8 serial digits, check digit, two letters.
pub fn is_valid_s10(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 13
        || !b[..2].iter().all(u8::is_ascii_alphabetic)
        || !b[11..].iter().all(u8::is_ascii_alphabetic)
        || !b[2..11].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    const W: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let sum: u32 = (0..8).map(|i| (b[2 + i] - b'0') as u32 * W[i]).sum();
    let check = match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c,
    };
    (b[10] - b'0') as u32 == check
}

/// A phone number in E.164 from its digits, a leading `+` flag and whether
/// it was written in groups; `None` when it is not one.
pub fn phone_e164(d: &str, plus: bool, grouped: bool) -> Option<String> {
    let n = d.len();
    let tr_national = |rest: &str| -> Option<String> {
        let f = rest.as_bytes().first()?;
        (rest.len() == 10 && matches!(f, b'2'..=b'5' | b'8')).then(|| format!("+90{rest}"))
    };
    if plus {
        if let Some(rest) = d.strip_prefix("90") {
            return tr_national(rest);
        }
        return ((8..=15).contains(&n) && !d.starts_with('0')).then(|| format!("+{d}"));
    }
    if let Some(intl) = d.strip_prefix("00") {
        if let Some(rest) = intl.strip_prefix("90") {
            return tr_national(rest);
        }
        return ((8..=15).contains(&intl.len()) && !intl.starts_with('0'))
            .then(|| format!("+{intl}"));
    }
    match n {
        12 if d.starts_with("90") => tr_national(&d[2..]),
        11 if d.starts_with('0') => tr_national(&d[1..]),
        10 if d.starts_with('5') => tr_national(d),
        10 if grouped && matches!(d.as_bytes()[0], b'2'..=b'4') => tr_national(d),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Scanning a view text
// ---------------------------------------------------------------------------

/// The kind of a personal identifier found by [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum IdKind {
    Email,
    Iban,
    Card,
    Tckn,
    Vkn,
    Phone,
}

/// One identifier in a view text: kind, byte range, normalised value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IdMatch {
    pub(crate) kind: IdKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) value: String,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[\p{L}\p{N}_%+\-](?:[\p{L}\p{N}._%+\-]*[\p{L}\p{N}_%+\-])?@[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?)*\.\p{L}{2,24}",
    )
    .expect("email regex")
});

static IBAN_TR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[tT][rR][ \-]?[0-9][ \-]?[0-9](?:[ \-]?[0-9]){22}").expect("iban regex")
});

static IBAN_ANY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?-u:\b)")
        .expect("iban regex")
});

static S10: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)[a-zA-Z]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{3} ?[a-zA-Z]{2}(?-u:\b)")
        .expect("s10 regex")
});

fn compact(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn overlaps(found: &[IdMatch], s: usize, e: usize) -> bool {
    found.iter().any(|m| s < m.end && m.start < e)
}

/// Every e-mail, IBAN, card, TCKN, VKN and phone of a view text (ASCII
/// digits; see [`super::View`]), sorted by position, non-overlapping.
pub(crate) fn scan(text: &str) -> Vec<IdMatch> {
    let mut found: Vec<IdMatch> = Vec::new();
    let emails = if text.contains('@') {
        EMAIL.find_iter(text).collect()
    } else {
        Vec::new()
    };
    for m in emails {
        found.push(IdMatch {
            kind: IdKind::Email,
            start: m.start(),
            end: m.end(),
            value: m.as_str().to_owned(),
        });
    }
    for m in IBAN_TR.find_iter(text) {
        let v = compact(m.as_str());
        let next_digit = text[m.end()..].starts_with(|c: char| c.is_ascii_digit());
        if !next_digit && is_valid_iban(&v) && !overlaps(&found, m.start(), m.end()) {
            found.push(IdMatch {
                kind: IdKind::Iban,
                start: m.start(),
                end: m.end(),
                value: v,
            });
        }
    }
    for m in IBAN_ANY.find_iter(text) {
        let v = compact(m.as_str());
        if is_valid_iban(&v) && !overlaps(&found, m.start(), m.end()) {
            found.push(IdMatch {
                kind: IdKind::Iban,
                start: m.start(),
                end: m.end(),
                value: v,
            });
        }
    }
    scan_digits(text, &mut found);
    found.sort_by_key(|m| m.start);
    found
}

/// Digit groups joined by short separators, classified window by window.
fn scan_digits(text: &str, found: &mut Vec<IdMatch>) {
    let b = text.as_bytes();
    // Digit groups outside what is already found.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if !overlaps(found, s, i) {
                groups.push((s, i));
            }
        } else {
            i += 1;
        }
    }
    let joined = |a: (usize, usize), c: (usize, usize)| -> bool {
        let sep = &b[a.1..c.0];
        !sep.is_empty()
            && sep.len() <= 3
            && sep.iter().all(|x| b" -.()".contains(x))
            && !(sep.contains(&b'-') && sep.contains(&b'.'))
            && sep.iter().filter(|&&x| x == b' ').count() <= 2
    };
    let mut new = Vec::new();
    let mut start = 0;
    while start < groups.len() {
        let mut end = start;
        while end + 1 < groups.len() && joined(groups[end], groups[end + 1]) {
            end += 1;
        }
        // "TR33 0006 …" that failed mod-97: an invalid IBAN, not a phone.
        let before = &b[..groups[start].0];
        let iban_like = before.len() >= 2
            && before[before.len() - 2..].eq_ignore_ascii_case(b"tr")
            && (before.len() == 2 || !before[before.len() - 3].is_ascii_alphanumeric());
        if !iban_like {
            classify_chain(text, &groups[start..=end], &mut new);
        }
        start = end + 1;
    }
    found.extend(new);
}

fn classify_chain(text: &str, g: &[(usize, usize)], out: &mut Vec<IdMatch>) {
    let mut i = 0;
    while i < g.len() {
        // '+' (or "00") right before this group.
        let before = text[..g[i].0].trim_end_matches([' ', '(']);
        let plus = before.ends_with('+')
            && !before[..before.len() - 1].ends_with(|c: char| c.is_ascii_alphanumeric());
        let mut hit = None;
        let mut total = 0;
        let mut ends = Vec::new();
        for (j, &(s, e)) in g.iter().enumerate().skip(i) {
            total += e - s;
            if total > 19 {
                break;
            }
            ends.push(j);
        }
        for &j in ends.iter().rev() {
            let window = &g[i..=j];
            let seps: Vec<&str> = window.windows(2).map(|w| &text[w[0].1..w[1].0]).collect();
            let thousands = !seps.is_empty()
                && seps.iter().all(|s| *s == ".")
                && window[1..].iter().all(|(s, e)| e - s == 3)
                && window[0].1 - window[0].0 <= 3;
            if thousands {
                continue;
            }
            let d: String = window.iter().map(|&(s, e)| &text[s..e]).collect();
            let grouped = window.len() > 1;
            let kind_value = if plus {
                phone_e164(&d, true, grouped).map(|v| (IdKind::Phone, v))
            } else if is_valid_card(&d) {
                Some((IdKind::Card, d.clone()))
            } else if d.len() == 11 && is_valid_tckn(&d) {
                Some((IdKind::Tckn, d.clone()))
            } else if let Some(p) = phone_e164(&d, false, grouped) {
                Some((IdKind::Phone, p))
            } else if d.len() == 10 && is_valid_vkn(&d) {
                Some((IdKind::Vkn, d.clone()))
            } else {
                None
            };
            if let Some((kind, value)) = kind_value {
                let start = if plus { before.len() - 1 } else { window[0].0 };
                hit = Some((
                    j,
                    IdMatch {
                        kind,
                        start,
                        end: window[window.len() - 1].1,
                        value,
                    },
                ));
                break;
            }
        }
        match hit {
            Some((j, m)) => {
                out.push(m);
                i = j + 1;
            }
            None => i += 1,
        }
    }
}

// ---------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------

/// The identifier entities of a message plus the spans they take (so that
/// amounts, counts and dates do not read their digits).
#[derive(Clone, Debug, Default)]
pub struct Identifiers {
    pub phone: Vec<Found<String>>,
    pub email: Vec<Found<String>>,
    pub tckn: Vec<Found<String>>,
    pub vkn: Vec<Found<String>>,
    pub iban: Vec<Found<String>>,
    pub order_id: Vec<Found<String>>,
    pub tracking_number: Vec<Found<Tracking>>,
    /// Spans (cleaned text) of everything above and of card numbers.
    pub taken: Vec<[usize; 2]>,
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Order,
    Tracking,
    Other,
}

fn context_before(doc: &Doc, i: usize) -> Option<Ctx> {
    for k in (i.saturating_sub(4)..i).rev() {
        let t = doc.tok(k);
        if doc.toks[k].kind == Kind::Sym {
            if t == "#" && k + 1 == i {
                return Some(Ctx::Order);
            }
            continue;
        }
        if doc.toks[k].kind == Kind::Num {
            return None;
        }
        if ["siparis", "order", "bestell", "заказ"]
            .iter()
            .any(|s| t.starts_with(s))
            || t == "sip"
        {
            return Some(Ctx::Order);
        }
        if [
            "kargo",
            "takip",
            "tracking",
            "gonderi",
            "sendung",
            "трек",
            "отслеж",
            "barkod",
        ]
        .iter()
        .any(|s| t.starts_with(s))
        {
            return Some(Ctx::Tracking);
        }
        if [
            "tc", "tckn", "kimlik", "vkn", "vergi", "tel", "telefon", "iban", "phone", "kart",
        ]
        .contains(&t)
        {
            return Some(Ctx::Other);
        }
    }
    None
}

/// The carrier named in the message, if exactly one is.
fn carrier_named(doc: &Doc) -> Option<Carrier> {
    let mut found = None;
    for i in 0..doc.toks.len() {
        let c = match doc.tok(i) {
            t if t.starts_with("yurtici") => Carrier::Yurtici,
            "aras" | "arasa" | "arastan" | "arasla" => Carrier::Aras,
            t if t.starts_with("mng") => Carrier::Mng,
            t if t.starts_with("ptt") => Carrier::Ptt,
            t if t.starts_with("surat") && doc.starts(i + 1, &["kargo"]) => Carrier::Surat,
            t if t.starts_with("hepsijet") => Carrier::Hepsijet,
            "hepsi" if doc.starts(i + 1, &["jet"]) => Carrier::Hepsijet,
            t if t.starts_with("trendyolexpress") => Carrier::TrendyolExpress,
            "trendyol" if doc.starts(i + 1, &["express", "ekspres"]) => Carrier::TrendyolExpress,
            _ => continue,
        };
        if found.is_some_and(|f| f != c) {
            return None;
        }
        found = Some(c);
    }
    found
}

/// Phone, e-mail, TCKN, VKN, IBAN, order id and tracking number of a
/// prepared message.
pub fn identifiers(doc: &Doc) -> Identifiers {
    let mut out = Identifiers::default();
    let mut ids = scan(&doc.folded.text);
    let carrier = carrier_named(doc);
    // S10 codes.
    for m in S10.find_iter(&doc.folded.text) {
        let v = compact(m.as_str());
        if is_valid_s10(&v) && !overlaps(&ids, m.start(), m.end()) {
            let c = if v.ends_with("TR") {
                Some(Carrier::Ptt)
            } else {
                carrier
            };
            let span = doc.span(m.start(), m.end());
            out.taken.push(span);
            out.tracking_number.push(doc.found(
                Tracking {
                    number: v,
                    carrier: c,
                },
                span,
            ));
        }
    }
    // Order ids and numeric tracking numbers by context.
    for i in 0..doc.toks.len() {
        let t = doc.toks[i];
        if t.kind != Kind::Num || !doc.tok(i).bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let n = t.end - t.start;
        let ctx = context_before(doc, i);
        let kind = match ctx {
            Some(Ctx::Order) if (6..=12).contains(&n) => Ctx::Order,
            Some(Ctx::Tracking) if (10..=20).contains(&n) => Ctx::Tracking,
            _ => continue,
        };
        // Context wins over an id reading of exactly these digits (not over
        // e-mails, IBANs or numbers that are part of a longer group).
        let clash: Vec<usize> = ids
            .iter()
            .enumerate()
            .filter(|(_, m)| m.start < t.end && t.start < m.end)
            .map(|(k, _)| k)
            .collect();
        if clash
            .iter()
            .any(|&k| !(ids[k].start == t.start && ids[k].end == t.end))
        {
            continue;
        }
        for k in clash.into_iter().rev() {
            ids.remove(k);
        }
        let span = doc.tok_span(i, i);
        let number = doc.tok(i).to_owned();
        out.taken.push(span);
        if kind == Ctx::Order {
            out.order_id.push(doc.found(number, span));
        } else {
            out.tracking_number
                .push(doc.found(Tracking { number, carrier }, span));
        }
    }
    for m in ids {
        let span = doc.span(m.start, m.end);
        out.taken.push(span);
        let list = match m.kind {
            IdKind::Email => {
                let raw = doc.cleaned()[span[0]..span[1]].to_owned();
                out.email.push(doc.found(raw, span));
                continue;
            }
            IdKind::Iban => &mut out.iban,
            IdKind::Card => continue,
            IdKind::Tckn => &mut out.tckn,
            IdKind::Vkn => &mut out.vkn,
            IdKind::Phone => &mut out.phone,
        };
        list.push(doc.found(m.value, span));
    }
    out.tracking_number.sort_by_key(|f| f.span[0]);
    out
}

/// Phones of a message, E.164.
pub fn phone(doc: &Doc) -> Vec<Found<String>> {
    identifiers(doc).phone
}

/// E-mail addresses of a message.
pub fn email(doc: &Doc) -> Vec<Found<String>> {
    identifiers(doc).email
}

/// Checksum-valid TCKNs of a message.
pub fn tckn(doc: &Doc) -> Vec<Found<String>> {
    identifiers(doc).tckn
}

/// Checksum-valid VKNs of a message.
pub fn vkn(doc: &Doc) -> Vec<Found<String>> {
    identifiers(doc).vkn
}

/// Mod-97-valid IBANs of a message (compact, upper case).
pub fn iban(doc: &Doc) -> Vec<Found<String>> {
    identifiers(doc).iban
}

/// Order ids of a message.
pub fn order_id(doc: &Doc) -> Vec<Found<String>> {
    identifiers(doc).order_id
}

/// Tracking numbers of a message.
pub fn tracking_number(doc: &Doc) -> Vec<Found<Tracking>> {
    identifiers(doc).tracking_number
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Identifiers {
        identifiers(&Doc::new(text))
    }

    #[test]
    fn tckn_checksums() {
        assert!(is_valid_tckn("10000000146"));
        assert!(!is_valid_tckn("10000000147"));
        assert!(!is_valid_tckn("10000000156"));
        assert!(!is_valid_tckn("00000000000"));
        assert!(!is_valid_tckn("1000000014"));
        assert!(!is_valid_tckn("1000000014a"));
    }

    #[test]
    fn vkn_checksums() {
        // Computed by hand with the published algorithm.
        assert!(is_valid_vkn("1234567890") == vkn_reference("123456789", '0'));
        for base in ["012345678", "987654321", "470026833", "111111111"] {
            let check = (0..10)
                .find(|c| vkn_reference(base, char::from(b'0' + *c as u8)))
                .unwrap();
            let good = format!("{base}{check}");
            assert!(is_valid_vkn(&good), "{good}");
            let bad = format!("{base}{}", (check + 1) % 10);
            assert!(!is_valid_vkn(&bad), "{bad}");
        }
        assert!(!is_valid_vkn("123456789"));
    }

    /// A second, literal transcription of the algorithm (the "v2 == 0 and
    /// v1 != 0 → 9" form) to cross-check [`is_valid_vkn`].
    fn vkn_reference(base: &str, check: char) -> bool {
        let d: Vec<i64> = base.bytes().map(|b| (b - b'0') as i64).collect();
        let mut sum = 0i64;
        for (i, &di) in d.iter().enumerate().take(9) {
            let v1 = (di + 9 - i as i64) % 10;
            let mut v2 = (v1 * 2i64.pow(9 - i as u32)) % 9;
            if v1 != 0 && v2 == 0 {
                v2 = 9;
            }
            sum += v2;
        }
        let last = (10 - sum % 10) % 10;
        last == (check as u8 - b'0') as i64
    }

    #[test]
    fn iban_and_card_checksums() {
        assert!(is_valid_iban("TR330006100519786457841326"));
        assert!(!is_valid_iban("TR330006100519786457841327"));
        assert!(is_valid_iban("DE89370400440532013000"));
        assert!(!is_valid_iban("TR33000610051978645784132"));
        assert!(is_valid_card("4111111111111111"));
        assert!(is_valid_card("5500005555555559"));
        assert!(!is_valid_card("4111111111111112"));
        assert!(!is_valid_card("411111111111")); // 12 digits
        assert!(is_valid_s10("RR123456785TR"));
        assert!(!is_valid_s10("RR123456789TR"));
    }

    #[test]
    fn phones_in_turkish_forms() {
        for t in [
            "0555 111 22 33",
            "+90 (555) 111-22-33",
            "5551112233",
            "05551112233",
            "0 555 111 22 33",
            "905551112233",
            "+905551112233",
            "0090 555 111 2233",
            "(0555) 111 22 33",
            "0555.111.22.33",
            "tel: 0555\u{200B}111\u{200B}22\u{200B}33",
            "０５５５ １１１ ２２ ３３",
        ] {
            let e = ids(t);
            assert_eq!(e.phone.len(), 1, "{t}: {e:?}");
            assert_eq!(e.phone[0].value, "+905551112233", "{t}");
        }
        let e = ids("arayın 0212 555 11 22 veya +49 30 1234567");
        let v: Vec<&str> = e.phone.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(v, ["+902125551122", "+49301234567"]);
        assert_eq!(e.phone[1].text, "+49 30 1234567");
        // Not phones: too short, amounts, digits inside longer numbers.
        for t in [
            "555 11 22",
            "5.000.000.000 TL",
            "123455511122334",
            "2125551122",
        ] {
            assert!(ids(t).phone.is_empty(), "{t}");
        }
    }

    #[test]
    fn tckn_vkn_iban_need_valid_checksums() {
        let e = ids("TC kimlik no: 10000000146, yanlış: 10000000147");
        assert_eq!(e.tckn.len(), 1);
        assert_eq!(e.tckn[0].value, "10000000146");
        assert_eq!(e.tckn[0].text, "10000000146");
        let e = ids("IBAN: TR33 0006 1005 1978 6457 8413 26 lütfen");
        assert_eq!(e.iban[0].value, "TR330006100519786457841326");
        assert_eq!(e.iban[0].text, "TR33 0006 1005 1978 6457 8413 26");
        let e = ids("iban tr330006100519786457841327");
        assert!(e.iban.is_empty());
        // VKN: a valid one is found, a wrong check digit is not.
        let base = "470026833";
        let check = (0..10)
            .find(|c| is_valid_vkn(&format!("{base}{c}")))
            .unwrap();
        let e = ids(&format!("vergi no {base}{check}"));
        assert_eq!(e.vkn.len(), 1, "{e:?}");
        let e = ids(&format!("vergi no {base}{}", (check + 1) % 10));
        assert!(e.vkn.is_empty());
        // Inside a longer number: nothing.
        assert!(ids("1000000014612").tckn.is_empty());
    }

    #[test]
    fn emails() {
        let e = ids("mailim Ayse.Yilmaz+test@Example.com.tr, yazın.");
        assert_eq!(e.email[0].value, "Ayse.Yilmaz+test@Example.com.tr");
        assert!(ids("@ahmet ve a@b").email.is_empty());
    }

    #[test]
    fn order_ids_and_tracking_numbers() {
        let e = ids("Sipariş numaram 123456789 ne zaman gelir");
        assert_eq!(e.order_id[0].value, "123456789");
        let e = ids("order #4455667");
        assert_eq!(e.order_id[0].value, "4455667");
        // context wins over a phone-looking reading
        let e = ids("siparis no 5551112233");
        assert_eq!(e.order_id[0].value, "5551112233");
        assert!(e.phone.is_empty());
        let e = ids("Yurtiçi kargo takip no 102938475610");
        assert_eq!(
            e.tracking_number[0].value,
            Tracking {
                number: "102938475610".into(),
                carrier: Some(Carrier::Yurtici)
            }
        );
        let e = ids("takip kodu rr123456785tr");
        assert_eq!(e.tracking_number[0].value.number, "RR123456785TR");
        assert_eq!(e.tracking_number[0].value.carrier, Some(Carrier::Ptt));
        let e = ids("kargo takip 102938475610");
        assert_eq!(e.tracking_number[0].value.carrier, None);
        // Bad S10 check digit: not a tracking number.
        assert!(ids("RR123456789TR").tracking_number.is_empty());
        // No context: a bare number is not an order id.
        assert!(ids("123456789").order_id.is_empty());
    }

    #[test]
    fn cards_are_taken_but_not_reported() {
        let e = ids("kart 4111 1111 1111 1111");
        assert!(e.phone.is_empty() && e.tckn.is_empty());
        assert_eq!(e.taken.len(), 1);
    }
}
