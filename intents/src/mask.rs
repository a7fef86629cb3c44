//! PII masking before any text leaves for an LLM (KVKK): TCKN, VKN, IBAN,
//! card numbers, phone numbers and e-mail addresses become typed
//! placeholders (`[TCKN_1]`, `[PHONE_1]`, …); [`unmask`] puts them back.
//!
//! ```
//! let m = intents::mask::mask("Tel: 0555 111 22 33, mail ali@ornek.com");
//! assert_eq!(m.text, "Tel: [PHONE_1], mail [EMAIL_1]");
//! assert_eq!(intents::mask::unmask(&m.text, &m), "Tel: 0555 111 22 33, mail ali@ornek.com");
//! ```
//!
//! Detection is the entity extractors' ([`crate::entities::ids`]): only
//! checksum-valid TCKN/VKN/IBAN/card numbers count, candidates are whole
//! digit groups (never digits inside a longer number), groups may be joined
//! by spaces, dashes, dots or parentheses, and invisible characters
//! (zero-width space, joiners, bidi marks, soft hyphen) inside a number and
//! fullwidth digits are seen through. The original text is kept byte for
//! byte outside the replaced spans, so `unmask(mask(x)) == x`. The same
//! original string gets the same placeholder each time it occurs; a
//! placeholder that already appears in the input is never reused.

use std::collections::HashMap;

use crate::entities::View;
use crate::entities::ids::{IdKind, scan};
use crate::normalize;

/// A masked text and what each placeholder stands for.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Masked {
    /// The text with placeholders.
    pub text: String,
    /// `(placeholder, original)` in order of first appearance.
    pub replacements: Vec<(String, String)>,
}

impl Masked {
    /// [`unmask`] with these replacements.
    pub fn unmask(&self, text: &str) -> String {
        unmask(text, self)
    }
}

fn label(kind: IdKind) -> &'static str {
    match kind {
        IdKind::Email => "EMAIL",
        IdKind::Iban => "IBAN",
        IdKind::Card => "CARD",
        IdKind::Tckn => "TCKN",
        IdKind::Vkn => "VKN",
        IdKind::Phone => "PHONE",
    }
}

/// The detection view of a raw text: invisible characters removed, each
/// other non-ASCII character NFKC-normalised on its own, whitespace as a
/// plain space; offsets map back to the raw text.
fn view(text: &str) -> View {
    let mut buf = [0u8; 4];
    View::build(text, |c, out| {
        if c.is_ascii() {
            out.push(c);
        } else if c.is_whitespace() {
            out.push(' ');
        } else {
            out.push_str(&normalize::clean(c.encode_utf8(&mut buf)));
        }
    })
}

/// Masks personal data in `text`.
pub fn mask(text: &str) -> Masked {
    let v = view(text);
    let found = scan(&v.text);
    if found.is_empty() {
        return Masked {
            text: text.to_owned(),
            replacements: Vec::new(),
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut replacements: Vec<(String, String)> = Vec::new();
    let mut by_original: HashMap<(IdKind, &str), usize> = HashMap::new();
    let mut counters: HashMap<IdKind, usize> = HashMap::new();
    let mut pos = 0;
    for m in &found {
        let (s, e) = v.source_range(m.start, m.end);
        if s < pos {
            continue;
        }
        let original = &text[s..e];
        let k = match by_original.get(&(m.kind, original)) {
            Some(&k) => k,
            None => {
                let counter = counters.entry(m.kind).or_insert(0);
                let placeholder = loop {
                    *counter += 1;
                    let p = format!("[{}_{}]", label(m.kind), counter);
                    if !text.contains(&p) {
                        break p;
                    }
                };
                replacements.push((placeholder, original.to_owned()));
                by_original.insert((m.kind, original), replacements.len() - 1);
                replacements.len() - 1
            }
        };
        out.push_str(&text[pos..s]);
        out.push_str(&replacements[k].0);
        pos = e;
    }
    out.push_str(&text[pos..]);
    Masked {
        text: out,
        replacements,
    }
}

/// Puts the originals back for every placeholder of `masked` found in
/// `text` (an LLM answer, or `masked.text` itself). Unknown placeholders
/// are left alone.
pub fn unmask(text: &str, masked: &Masked) -> String {
    if masked.replacements.is_empty() {
        return text.to_owned();
    }
    let map: HashMap<&str, &str> = masked
        .replacements
        .iter()
        .map(|(p, o)| (p.as_str(), o.as_str()))
        .collect();
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        // A placeholder is "[" + A-Z+ + "_" + digits + "]", no '[' inside.
        let close = after[1..]
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .map(|k| k + 1);
        match close {
            Some(k) if after[k..].starts_with(']') => {
                let candidate = &after[..=k];
                if let Some(orig) = map.get(candidate) {
                    out.push_str(orig);
                } else {
                    out.push_str(candidate);
                }
                rest = &after[k + 1..];
            }
            _ => {
                out.push('[');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str) -> String {
        mask(t).text
    }

    #[test]
    fn masks_each_kind() {
        assert_eq!(m("TC: 10000000146"), "TC: [TCKN_1]");
        assert_eq!(
            m("IBAN TR33 0006 1005 1978 6457 8413 26."),
            "IBAN [IBAN_1]."
        );
        assert_eq!(m("kart 4111 1111 1111 1111 son"), "kart [CARD_1] son");
        assert_eq!(m("kart 4111-1111-1111-1111"), "kart [CARD_1]");
        assert_eq!(m("+90 (555) 111-22-33 arayın"), "[PHONE_1] arayın");
        assert_eq!(m("mail: a.b@c.com"), "mail: [EMAIL_1]");
        assert_eq!(m("DE89 3704 0044 0532 0130 00"), "[IBAN_1]");
    }

    #[test]
    fn leaves_invalid_and_embedded_numbers() {
        for t in [
            "TC: 10000000147",
            "kart 4111 1111 1111 1112",
            "sipariş 123456789012345",
            "IBAN TR33 0006 1005 1978 6457 8413 27",
            "5.000.000.000 TL",
            "tutar 1.250,00 TL",
            "",
        ] {
            assert_eq!(m(t), t, "{t}");
        }
    }

    #[test]
    fn invisible_and_fullwidth_digits_are_seen_through() {
        let t = "tc 1000\u{200B}0000\u{200C}146 tamam";
        assert_eq!(m(t), "tc [TCKN_1] tamam");
        let t = "０５５５ １１１ ２２ ３３";
        assert_eq!(m(t), "[PHONE_1]");
        let masked = mask(t);
        assert_eq!(unmask(&masked.text, &masked), t);
    }

    #[test]
    fn numbering_and_repeats() {
        let t = "0555 111 22 33 ve 0532 000 00 00, yine 0555 111 22 33";
        let r = mask(t);
        assert_eq!(r.text, "[PHONE_1] ve [PHONE_2], yine [PHONE_1]");
        assert_eq!(r.replacements.len(), 2);
        assert_eq!(unmask(&r.text, &r), t);
        // A placeholder already in the text is not reused.
        let t = "[PHONE_1] yazdım, numaram 0555 111 22 33";
        let r = mask(t);
        assert_eq!(r.text, "[PHONE_1] yazdım, numaram [PHONE_2]");
        assert_eq!(unmask(&r.text, &r), t);
    }

    #[test]
    fn unmask_handles_llm_answers() {
        let r = mask("numaram 0555 111 22 33");
        let answer = "[PHONE_1] numarasını [kaydettik] [PHONE_9] [PHONE_1";
        assert_eq!(
            unmask(answer, &r),
            "0555 111 22 33 numarasını [kaydettik] [PHONE_9] [PHONE_1"
        );
    }
}
