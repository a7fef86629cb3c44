//! Entity extraction: the entities of `spec/intents.md`, each a function over
//! a prepared [`Doc`] (the [`clean`](crate::normalize::clean)ed message, its
//! Turkish-folded view and tokens) returning typed values with their span
//! (byte range in the cleaned text) and raw text.
//!
//! ```
//! let now: jiff::Timestamp = "2025-12-10T09:00:00Z".parse().unwrap();
//! let ctx = intents::entities::Context::new("dental", "Europe/Istanbul", now);
//! let e = intents::entities::extract("2 implant fiyatı? Tel 0555 111 22 33", &ctx);
//! assert_eq!(e.phone[0].value, "+905551112233");
//! assert_eq!(e.treatment[0].value, intents::entities::Treatment::Implant);
//! ```
//!
//! Families (one file each): [`ids`] (phone, e-mail, TCKN, VKN, IBAN, card,
//! order id, tracking number), [`money`], [`dates`] (date and time),
//! [`counts`] (tooth count, quantity, size), [`gazetteers`] (treatment,
//! city, country).

pub mod counts;
pub mod dates;
pub mod gazetteers;
pub mod ids;
pub mod money;

use serde::Serialize;

use crate::normalize;

pub use counts::{Quantity, Size, ToothCount};
pub use dates::{DateRef, DayPart, TimeRef};
pub use gazetteers::{City, Treatment};
pub use ids::{Carrier, Tracking};
pub use money::{Currency, Money};

/// One entity found in a message: its value, its span (byte range
/// `[start, end)` in the cleaned text, see [`Doc::cleaned`]) and the raw text
/// of that span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Found<T> {
    pub value: T,
    pub span: [usize; 2],
    pub text: String,
}

/// Everything [`extract`] found, by the spec's entity names. Empty lists are
/// left out of the JSON form.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Entities {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub treatment: Vec<Found<Treatment>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tooth_count: Vec<Found<ToothCount>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub order_id: Vec<Found<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tracking_number: Vec<Found<Tracking>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phone: Vec<Found<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<Found<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tckn: Vec<Found<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vkn: Vec<Found<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iban: Vec<Found<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub money: Vec<Found<Money>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub date: Vec<Found<DateRef>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time: Vec<Found<TimeRef>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantity: Vec<Found<Quantity>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub size: Vec<Found<Size>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub city: Vec<Found<City>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub country: Vec<Found<String>>,
}

impl Entities {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        *self == Entities::default()
    }
}

/// What extraction needs besides the text: the tenant's niche (to read
/// ambiguous words such as "dolgu": dental filling or aesthetic filler), its
/// IANA time zone and the current instant (to resolve "yarın").
#[derive(Clone, Debug)]
pub struct Context {
    pub niche: String,
    pub tz: jiff::tz::TimeZone,
    pub now: jiff::Timestamp,
}

impl Context {
    /// A context; an unknown time zone name falls back to
    /// `Europe/Istanbul`.
    pub fn new(niche: &str, tz: &str, now: jiff::Timestamp) -> Context {
        let tz = jiff::tz::TimeZone::get(tz)
            .or_else(|_| jiff::tz::TimeZone::get("Europe/Istanbul"))
            .unwrap_or(jiff::tz::TimeZone::UTC);
        Context {
            niche: niche.to_owned(),
            tz,
            now,
        }
    }

    /// The local civil date-time of `now` in the tenant's zone.
    pub fn local_now(&self) -> jiff::civil::DateTime {
        self.now.to_zoned(self.tz.clone()).datetime()
    }
}

/// All entities of a message (raw text; it is cleaned here).
pub fn extract(text: &str, ctx: &Context) -> Entities {
    let doc = Doc::new(text);
    extract_doc(&doc, ctx)
}

/// All entities of a prepared [`Doc`].
pub fn extract_doc(doc: &Doc, ctx: &Context) -> Entities {
    let ids = ids::identifiers(doc);
    let mut e = Entities {
        order_id: ids.order_id,
        tracking_number: ids.tracking_number,
        phone: ids.phone,
        email: ids.email,
        tckn: ids.tckn,
        vkn: ids.vkn,
        iban: ids.iban,
        ..Entities::default()
    };
    let taken = ids.taken;
    e.treatment = gazetteers::treatment(doc, &ctx.niche);
    e.tooth_count = counts::tooth_count(doc, &ctx.niche, &taken);
    e.money = money::money(doc, &taken);
    let (date, time) = dates::date_time(doc, ctx, &taken);
    e.date = date;
    e.time = time;
    let mut taken2 = taken.clone();
    taken2.extend(e.money.iter().map(|f| f.span));
    taken2.extend(e.tooth_count.iter().map(|f| f.span));
    e.quantity = counts::quantity(doc, &ctx.niche, &taken2);
    e.size = counts::size(doc, &taken2);
    e.city = gazetteers::city(doc);
    e.country = gazetteers::country(doc);
    e
}

// ---------------------------------------------------------------------------
// Views with offset maps
// ---------------------------------------------------------------------------

/// A transformed copy of a source string with, for every byte of the copy,
/// the byte range of the source character it came from. Spans found in the
/// copy map back to the source exactly.
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    pub(crate) text: String,
    src: Vec<(u32, u32)>,
}

impl View {
    /// Builds a view: `f` appends the transform of one source character.
    pub(crate) fn build(source: &str, mut f: impl FnMut(char, &mut String)) -> View {
        let mut text = String::with_capacity(source.len() + 8);
        let mut src = Vec::with_capacity(source.len() + 8);
        for (i, c) in source.char_indices() {
            let before = text.len();
            f(c, &mut text);
            let r = (i as u32, (i + c.len_utf8()) as u32);
            src.resize(src.len() + (text.len() - before), r);
        }
        View { text, src }
    }

    /// The source byte range of the view's `[a, b)` (`a < b`).
    pub(crate) fn source_range(&self, a: usize, b: usize) -> (usize, usize) {
        debug_assert!(a < b && b <= self.src.len());
        (self.src[a].0 as usize, self.src[b - 1].1 as usize)
    }
}

/// Appends the Turkish matching form of one character: Turkish lowercase
/// (`İ`/`I` → `i` after folding, never Rust's `to_lowercase` on them), then
/// deaccented the way [`normalize::fold`] does (`ş→s ç→c ğ→g ü→u ö→o ı→i`,
/// other combining marks dropped). Punctuation is kept (unlike `fold`),
/// so spans stay exact.
pub(crate) fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'İ' | 'ı' => out.push('i'),
        'Ş' | 'ş' => out.push('s'),
        'Ç' | 'ç' => out.push('c'),
        'Ğ' | 'ğ' => out.push('g'),
        'Ü' | 'ü' => out.push('u'),
        'Ö' | 'ö' => out.push('o'),
        '’' | '‘' | 'ʼ' | '´' | '`' => out.push('\''),
        _ => {
            for l in c.to_lowercase() {
                unicode_normalization::char::decompose_canonical(l, |d| {
                    if !unicode_normalization::char::is_combining_mark(d) {
                        out.push(d);
                    }
                });
            }
        }
    }
}

/// The kind of a [`Tok`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A run of letters.
    Word,
    /// Digits, with inner `.`/`,` groups (`5.000`, `1,5`, `15.12`).
    Num,
    /// Any other single non-space character (punctuation, symbol, emoji).
    Sym,
}

/// A token of the folded view.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tok {
    pub(crate) kind: Kind,
    /// Byte range in the folded view.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// No whitespace between this token and the previous one.
    pub(crate) glued: bool,
}

/// A message prepared for extraction: cleaned, folded with an offset map,
/// tokenised. Build once, run every extractor on it.
#[derive(Clone, Debug)]
pub struct Doc {
    cleaned: String,
    pub(crate) folded: View,
    pub(crate) toks: Vec<Tok>,
}

impl Doc {
    /// Cleans ([`normalize::clean`]), folds and tokenises `text`.
    pub fn new(text: &str) -> Doc {
        let cleaned = normalize::clean(text);
        let folded = View::build(&cleaned, fold_char);
        let toks = tokenize(&folded.text);
        Doc {
            cleaned,
            folded,
            toks,
        }
    }

    /// The cleaned text that spans refer to.
    pub fn cleaned(&self) -> &str {
        &self.cleaned
    }

    /// The folded text of a token.
    pub(crate) fn tok(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.folded.text[t.start..t.end]
    }

    /// The cleaned-text span of folded `[a, b)`.
    pub(crate) fn span(&self, a: usize, b: usize) -> [usize; 2] {
        let (s, e) = self.folded.source_range(a, b);
        [s, e]
    }

    /// The cleaned-text span of tokens `i..=j`.
    pub(crate) fn tok_span(&self, i: usize, j: usize) -> [usize; 2] {
        self.span(self.toks[i].start, self.toks[j].end)
    }

    /// A [`Found`] for a cleaned-text span.
    pub(crate) fn found<T>(&self, value: T, span: [usize; 2]) -> Found<T> {
        Found {
            value,
            text: self.cleaned[span[0]..span[1]].to_owned(),
            span,
        }
    }

    /// The raw (cleaned) text of token `i`.
    pub(crate) fn raw(&self, i: usize) -> &str {
        let s = self.tok_span(i, i);
        &self.cleaned[s[0]..s[1]]
    }

    /// Whether token `i` is a word equal to any of `words`.
    pub(crate) fn is(&self, i: usize, words: &[&str]) -> bool {
        i < self.toks.len() && self.toks[i].kind == Kind::Word && words.contains(&self.tok(i))
    }

    /// Whether token `i` is a word starting with any of `stems`.
    pub(crate) fn starts(&self, i: usize, stems: &[&str]) -> bool {
        i < self.toks.len()
            && self.toks[i].kind == Kind::Word
            && stems.iter().any(|s| self.tok(i).starts_with(s))
    }

    /// Whether token `i` lies (partly) inside one of the `taken` spans.
    pub(crate) fn is_taken(&self, i: usize, taken: &[[usize; 2]]) -> bool {
        let s = self.tok_span(i, i);
        taken.iter().any(|t| s[0] < t[1] && t[0] < s[1])
    }
}

fn tokenize(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut toks = Vec::new();
    let mut glued = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        let n = c.len_utf8();
        if c.is_whitespace() {
            glued = false;
            i += n;
            continue;
        }
        let start = i;
        let kind = if c.is_ascii_digit() {
            i += 1;
            loop {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i + 1 < b.len() && (b[i] == b'.' || b[i] == b',') && b[i + 1].is_ascii_digit() {
                    i += 1;
                    continue;
                }
                break;
            }
            Kind::Num
        } else if c.is_alphabetic() {
            i += n;
            while let Some(d) = text[i..].chars().next() {
                if d.is_alphabetic() || unicode_normalization::char::is_combining_mark(d) {
                    i += d.len_utf8();
                } else {
                    break;
                }
            }
            Kind::Word
        } else {
            i += n;
            Kind::Sym
        };
        toks.push(Tok {
            kind,
            start,
            end: i,
            glued,
        });
        glued = true;
    }
    toks
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// The value of a number token as an integer: plain digits, or digits with
/// Turkish thousand dots (`5.000`, `1.250.000`). `None` for decimals.
pub(crate) fn int_value(raw: &str) -> Option<u64> {
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().ok();
    }
    let mut parts = raw.split('.');
    let first = parts.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut s = first.to_owned();
    for p in parts {
        if p.len() != 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.push_str(p);
    }
    s.parse().ok()
}

/// Number words (folded) of Turkish, English, German and Russian, with their
/// values. Turkish ones compose (`otuz iki` = 32, `iki bin` = 2000).
fn number_word(w: &str) -> Option<u64> {
    Some(match w {
        "sifir" | "zero" | "null" => 0,
        "bir" | "one" | "ein" | "eine" | "einen" | "один" | "одна" | "одну" => 1,
        "iki" | "two" | "zwei" | "два" | "две" => 2,
        "uc" | "three" | "drei" | "три" => 3,
        "dort" | "four" | "vier" | "четыре" => 4,
        "bes" | "five" | "funf" | "пять" => 5,
        "alti" | "six" | "sechs" | "шесть" => 6,
        "yedi" | "seven" | "sieben" | "семь" => 7,
        "sekiz" | "eight" | "acht" | "восемь" => 8,
        "dokuz" | "nine" | "neun" | "девять" => 9,
        "on" | "ten" | "zehn" | "десять" => 10,
        "eleven" | "elf" => 11,
        "twelve" | "zwolf" => 12,
        "yirmi" | "twenty" | "zwanzig" => 20,
        "otuz" | "thirty" | "dreissig" => 30,
        "kirk" => 40,
        "elli" => 50,
        "altmis" => 60,
        "yetmis" => 70,
        "seksen" => 80,
        "doksan" => 90,
        "yuz" => 100,
        _ => return None,
    })
}

/// Parses number words starting at token `i`: `(value, last token index)`.
/// Turkish words compose (`iki yüz elli` = 250; `bin`/`milyon` multiply);
/// other languages' words stand alone. `on` (English "on") and `bir`
/// ("a") are accepted here; callers require a unit after them.
pub(crate) fn number_words(doc: &Doc, i: usize) -> Option<(u64, usize)> {
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    let mut last = None;
    let mut j = i;
    while j < doc.toks.len() && doc.toks[j].kind == Kind::Word {
        let w = doc.tok(j);
        match w {
            "bin" | "thousand" | "tausend" => {
                if last.is_none() && w == "bin" {
                    // a bare "bin" is 1000 only when a unit follows; allow.
                }
                total += current.max(1) * 1000;
                current = 0;
            }
            "milyon" | "million" | "millionen" => {
                total += current.max(1) * 1_000_000;
                current = 0;
            }
            _ => match number_word(w) {
                Some(100) => current = current.max(1) * 100,
                Some(v) => {
                    // Turkish order: tens before ones ("otuz iki"); a second
                    // ones word ends the number ("iki üç" is two numbers).
                    if !current.is_multiple_of(10) && v < 10 {
                        break;
                    }
                    if last.is_some() && !is_turkish_number_word(w) {
                        break;
                    }
                    current += v;
                }
                None => break,
            },
        }
        last = Some(j);
        j += 1;
    }
    last.map(|l| (total + current, l))
}

fn is_turkish_number_word(w: &str) -> bool {
    matches!(
        w,
        "bir"
            | "iki"
            | "uc"
            | "dort"
            | "bes"
            | "alti"
            | "yedi"
            | "sekiz"
            | "dokuz"
            | "on"
            | "yirmi"
            | "otuz"
            | "kirk"
            | "elli"
            | "altmis"
            | "yetmis"
            | "seksen"
            | "doksan"
            | "yuz"
            | "bin"
            | "milyon"
    )
}

/// A count at token `i`: a number token (integer) or number words.
/// Returns `(value, last token index)`.
pub(crate) fn count_at(doc: &Doc, i: usize) -> Option<(u64, usize)> {
    let t = doc.toks.get(i)?;
    match t.kind {
        Kind::Num => int_value(doc.tok(i)).map(|v| (v, i)),
        Kind::Word => number_words(doc, i),
        Kind::Sym => None,
    }
}

// ---------------------------------------------------------------------------
// Gazetteer: phrase → value with Turkish suffix tolerance
// ---------------------------------------------------------------------------

struct Entry<T> {
    rest: Vec<String>,
    value: T,
}

/// Phrases (folded, tokenised) to values. A match is the longest phrase at
/// the leftmost token; the phrase's last word may carry a suffix (up to
/// `max_suffix` letters) when that word has at least `min_stem` characters
/// (`implantlar`, `İstanbul'da`, `Almanyadan`, `Германии`), or three
/// characters for the last word of a phrase of several (`akıl dişim`).
pub(crate) struct Gazetteer<T> {
    first: std::collections::HashMap<String, Vec<Entry<T>>>,
    min_stem: usize,
    max_suffix: usize,
}

impl<T: Copy> Gazetteer<T> {
    pub(crate) fn new(min_stem: usize, max_suffix: usize) -> Self {
        Gazetteer {
            first: std::collections::HashMap::new(),
            min_stem,
            max_suffix,
        }
    }

    pub(crate) fn add(&mut self, phrase: &str, value: T) {
        let doc = Doc::new(phrase);
        let words: Vec<String> = (0..doc.toks.len())
            .filter(|&i| doc.toks[i].kind != Kind::Sym)
            .map(|i| doc.tok(i).to_owned())
            .collect();
        let Some((first, rest)) = words.split_first() else {
            return;
        };
        self.first.entry(first.clone()).or_default().push(Entry {
            rest: rest.to_vec(),
            value,
        });
    }

    fn word_matches(&self, key: &str, tok: &str, min_stem: usize) -> bool {
        if key == tok {
            return true;
        }
        let Some(rem) = tok.strip_prefix(key) else {
            return false;
        };
        key.chars().count() >= min_stem
            && rem.chars().count() <= self.max_suffix
            && rem.chars().all(char::is_alphabetic)
    }

    /// Non-overlapping matches: `(first token, last token, value)`.
    pub(crate) fn find(&self, doc: &Doc) -> Vec<(usize, usize, T)> {
        let mut out = Vec::new();
        let n = doc.toks.len();
        let mut i = 0;
        while i < n {
            if doc.toks[i].kind == Kind::Sym {
                i += 1;
                continue;
            }
            let tok = doc.tok(i);
            let mut best: Option<(usize, T)> = None;
            // Candidate keys: the token and its prefixes down to min_stem.
            let bounds: Vec<usize> = tok
                .char_indices()
                .map(|(k, _)| k)
                .skip(self.min_stem)
                .chain(std::iter::once(tok.len()))
                .collect();
            for &cut in bounds.iter().rev() {
                let key = &tok[..cut];
                let whole = cut == tok.len();
                if !whole && tok[cut..].chars().count() > self.max_suffix {
                    break;
                }
                let Some(entries) = self.first.get(key) else {
                    continue;
                };
                for e in entries {
                    if e.rest.is_empty() {
                        if (whole || self.word_matches(key, tok, self.min_stem)) && best.is_none() {
                            best = Some((i, e.value));
                        }
                        continue;
                    }
                    if !whole {
                        continue;
                    }
                    // Match the rest, skipping hyphens/symbols between words.
                    let mut j = i;
                    let mut ok = true;
                    for (k, w) in e.rest.iter().enumerate() {
                        j += 1;
                        while j < n && doc.toks[j].kind == Kind::Sym && doc.tok(j) == "-" {
                            j += 1;
                        }
                        let last = k + 1 == e.rest.len();
                        if j >= n
                            || doc.toks[j].kind == Kind::Sym
                            || !(doc.tok(j) == w || (last && self.word_matches(w, doc.tok(j), 3)))
                        {
                            ok = false;
                            break;
                        }
                    }
                    if ok && best.is_none_or(|(bj, _)| j > bj) {
                        best = Some((j, e.value));
                    }
                }
            }
            match best {
                Some((j, v)) => {
                    out.push((i, j, v));
                    i = j + 1;
                }
                None => i += 1,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_maps_back_to_source() {
        let d = Doc::new("İSTANBUL'da Şişli");
        assert_eq!(d.folded.text, "istanbul'da sisli");
        assert_eq!(d.tok(0), "istanbul");
        assert_eq!(d.raw(0), "İSTANBUL");
        assert_eq!(d.raw(3), "Şişli");
    }

    #[test]
    fn tokens_split_numbers_words_symbols() {
        let d = Doc::new("5.000TL ve 15k, 1,5 milyon €");
        let t: Vec<&str> = (0..d.toks.len()).map(|i| d.tok(i)).collect();
        assert_eq!(
            t,
            ["5.000", "tl", "ve", "15", "k", ",", "1,5", "milyon", "€"]
        );
        assert!(d.toks[1].glued);
        assert!(!d.toks[2].glued);
    }

    #[test]
    fn number_words_compose_in_turkish() {
        let d = Doc::new("otuz iki dis");
        assert_eq!(number_words(&d, 0), Some((32, 1)));
        let d = Doc::new("iki yüz elli bin");
        assert_eq!(number_words(&d, 0), Some((250_000, 3)));
        let d = Doc::new("iki üç");
        assert_eq!(number_words(&d, 0), Some((2, 0)));
        assert_eq!(int_value("5.000"), Some(5000));
        assert_eq!(int_value("1,5"), None);
        assert_eq!(int_value("15.12"), None);
    }
}
