//! Counts: tooth count, quantity with unit, clothing/shoe size.

use serde::{Serialize, Serializer};

use super::{Doc, Found, Kind, count_at};

/// How many teeth: a count (1–32) or the whole mouth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToothCount {
    Count(u32),
    FullMouth,
}

impl Serialize for ToothCount {
    /// A number, or the string `"full_mouth"`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToothCount::Count(n) => s.serialize_u32(*n),
            ToothCount::FullMouth => s.serialize_str("full_mouth"),
        }
    }
}

/// An integer with its unit. Units are canonical English names: `piece`,
/// `box`, `pack`, `carton`, `pair`, `dozen`, `set`, `kg`, `g`, `l`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Quantity {
    pub value: u64,
    pub unit: &'static str,
}

/// A clothing or shoe size: a letter size upper-case (`M`, `XL`, `3XL`) or
/// a number (`42`, `38`, `42.5`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Size {
    pub value: String,
}

const TOOTH_NOUNS: &[&str] = &[
    "dis",
    "tooth",
    "teeth",
    "zahn",
    "zahne",
    "зуб",
    "implant",
    "имплант",
    "zirkon",
    "kaplama",
    "kron",
    "crown",
    "lamina",
    "veneer",
    "винир",
    "виниров",
    "коронк",
];

fn tooth_noun(doc: &Doc, i: usize) -> bool {
    if i >= doc.toks.len() || doc.toks[i].kind != Kind::Word {
        return false;
    }
    let w = doc.tok(i);
    // "diş", "dişim", "dişe", "dişler…": a stem "dis" then a suffix; but not
    // "dısarı"/"disk"/"dist…".
    if let Some(rest) = w.strip_prefix("dis") {
        return rest.is_empty()
            || [
                "i", "e", "in", "im", "ler", "lerim", "lerimi", "ten", "te", "imi", "ini", "imin",
                "imde",
            ]
            .contains(&rest);
    }
    TOOTH_NOUNS[1..].iter().any(|s| w.starts_with(s))
}

fn dental_context(doc: &Doc, niche: &str) -> bool {
    niche == "dental" || (0..doc.toks.len()).any(|i| tooth_noun(doc, i))
}

/// Tooth counts: `2 dişim`, `üç diş`, `4 implant`, `iki tane` (in a dental
/// conversation), `tüm ağız` / `bütün dişlerim` / `full mouth` → full mouth.
pub fn tooth_count(doc: &Doc, niche: &str, taken: &[[usize; 2]]) -> Vec<Found<ToothCount>> {
    let n = doc.toks.len();
    let dental = dental_context(doc, niche);
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        // Full mouth.
        if let Some(last) = full_mouth(doc, i) {
            out.push(doc.found(ToothCount::FullMouth, doc.tok_span(i, last)));
            i = last + 1;
            continue;
        }
        if doc.is_taken(i, taken) {
            i += 1;
            continue;
        }
        if let Some((v, last)) = count_at(doc, i) {
            let noun = last + 1;
            let unit = tooth_noun(doc, noun)
                || (dental && doc.is(noun, &["tane", "adet", "tanesi", "tanesine"]));
            if unit && (1..=32).contains(&v) {
                out.push(doc.found(ToothCount::Count(v as u32), doc.tok_span(i, noun)));
                i = noun + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn full_mouth(doc: &Doc, i: usize) -> Option<usize> {
    let all = [
        "tum", "butun", "komple", "full", "whole", "all", "alle", "все", "всех",
    ];
    if !doc.is(i, &all) {
        // "ağzın tamamı"
        if doc.starts(i, &["agzin", "agzimin"]) && doc.starts(i + 1, &["tamam"]) {
            return Some(i + 1);
        }
        return None;
    }
    let mut j = i + 1;
    if doc.is(j, &["my", "of", "meine"]) {
        j += 1;
    }
    let mouth = doc.starts(j, &["agiz", "agz", "mouth", "zahne", "зуб", "teeth"])
        || (doc.starts(j, &["dis"]) && tooth_noun(doc, j));
    mouth.then_some(j)
}

/// The canonical unit a token names, if any.
fn unit(doc: &Doc, i: usize) -> Option<&'static str> {
    if i >= doc.toks.len() || doc.toks[i].kind != Kind::Word {
        return None;
    }
    let w = doc.tok(i);
    let st = |p: &[&str]| p.iter().any(|s| w.starts_with(s));
    Some(
        if st(&[
            "adet", "aded", "tane", "parca", "piece", "pcs", "stuck", "stk", "unit", "шт",
        ]) {
            "piece"
        } else if st(&["kutu", "box", "karton"]) {
            "box"
        } else if st(&["paket", "pack", "пачк", "упаков"]) {
            "pack"
        } else if st(&["koli", "carton"]) {
            "carton"
        } else if st(&["cift", "pair", "paar"]) {
            "pair"
        } else if st(&["duzine", "dozen"]) {
            "dozen"
        } else if st(&["takim", "set"]) {
            "set"
        } else if matches!(w, "kg" | "kilo" | "kilogram" | "kilogramm" | "кг") {
            "kg"
        } else if matches!(w, "gr" | "g" | "gram" | "gramm" | "грамм") {
            "g"
        } else if matches!(w, "lt" | "l" | "litre" | "liter" | "litres") {
            "l"
        } else {
            return None;
        },
    )
}

pub(crate) fn is_unit(doc: &Doc, i: usize) -> bool {
    unit(doc, i).is_some()
}

/// Quantities with a unit: `200 adet`, `50 kutu`, `iki koli`, `5 bin adet`.
/// In a dental niche "N tane/adet" is a tooth count instead (see
/// [`tooth_count`]); `taken` spans (ids, money, tooth counts) are skipped.
pub fn quantity(doc: &Doc, niche: &str, taken: &[[usize; 2]]) -> Vec<Found<Quantity>> {
    let n = doc.toks.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if doc.is_taken(i, taken) {
            i += 1;
            continue;
        }
        let Some((mut v, mut last)) = count_at(doc, i) else {
            i += 1;
            continue;
        };
        // "5 bin adet"
        if doc.toks[i].kind == Kind::Num && doc.is(last + 1, &["bin"]) {
            v *= 1000;
            last += 1;
        }
        match unit(doc, last + 1) {
            Some(u) if !(niche == "dental" && u == "piece" && doc.starts(last + 1, &["tane"])) => {
                if !doc.is_taken(last + 1, taken) {
                    out.push(doc.found(Quantity { value: v, unit: u }, doc.tok_span(i, last + 1)));
                }
                i = last + 2;
            }
            _ => i = last + 1,
        }
    }
    out
}

const SIZE_CONTEXT: &[&str] = &[
    "beden",
    "numara",
    "size",
    "grosse",
    "große",
    "размер",
    "boy",
    "kalip",
    "olcu",
];

fn size_context(doc: &Doc, i: usize) -> bool {
    (i.saturating_sub(2)..(i + 3).min(doc.toks.len()))
        .any(|k| k != i && doc.starts(k, SIZE_CONTEXT))
}

/// Sizes: `M`, `XL`, `3XL`, `M beden`, `beden: S`, `42 numara`, `38 beden`,
/// `size 40`, `Größe 38`. A one-letter size needs a size word next to it
/// (`M beden`) or a message of at most three tokens in capitals (`M`, `L
/// olsun`); a number needs a size word and lies in 16–60.
pub fn size(doc: &Doc, taken: &[[usize; 2]]) -> Vec<Found<Size>> {
    let n = doc.toks.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if doc.is_taken(i, taken) {
            i += 1;
            continue;
        }
        let t = doc.toks[i];
        match t.kind {
            Kind::Num => {
                // "3XL", "2xl"
                let raw = doc.tok(i);
                if matches!(raw, "2" | "3" | "4" | "5")
                    && i + 1 < n
                    && doc.toks[i + 1].glued
                    && doc.is(i + 1, &["xl", "xs"])
                {
                    let v = format!("{raw}{}", doc.tok(i + 1).to_uppercase());
                    out.push(doc.found(Size { value: v }, doc.tok_span(i, i + 1)));
                    i += 2;
                    continue;
                }
                let val = raw.replace(',', ".");
                let num: Option<f64> = val.parse().ok();
                let next_is_size = doc.starts(i + 1, &["numara", "beden", "размер"]);
                let prev_is_size = i > 0
                    && (doc.is(
                        i - 1,
                        &["size", "grosse", "große", "beden", "numara", "размер"],
                    ) || (i > 1
                        && doc.tok(i - 1) == ":"
                        && doc.is(i - 2, &["size", "grosse", "große", "beden", "numara"])));
                if num.is_some_and(|v| (16.0..=60.0).contains(&v)) && (next_is_size || prev_is_size)
                {
                    let end = if next_is_size { i + 1 } else { i };
                    out.push(doc.found(Size { value: val }, doc.tok_span(i, end)));
                    i = end + 1;
                    continue;
                }
            }
            Kind::Word => {
                let w = doc.tok(i);
                let letter = match w {
                    "xxs" | "xs" | "s" | "m" | "l" | "xl" | "xxl" | "xxxl" => {
                        Some(w.to_uppercase())
                    }
                    "small" | "medium" | "large" if size_context(doc, i) => {
                        Some(w[..1].to_uppercase())
                    }
                    _ => None,
                };
                if let Some(v) = letter {
                    let raw = doc.raw(i);
                    let upper = raw.chars().all(|c| c.is_uppercase());
                    let standalone = (i == 0 || !doc.toks[i].glued)
                        && (i + 1 >= n
                            || !doc.toks[i + 1].glued
                            || doc.toks[i + 1].kind == Kind::Sym)
                        && !(i > 0 && doc.tok(i - 1) == "'");
                    let ok = standalone
                        && (size_context(doc, i)
                            || (v.len() >= 2 && (upper || w.starts_with('x')))
                            || (upper && n <= 3));
                    if ok {
                        out.push(doc.found(Size { value: v }, doc.tok_span(i, i)));
                    }
                }
            }
            Kind::Sym => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teeth(text: &str, niche: &str) -> Vec<ToothCount> {
        tooth_count(&Doc::new(text), niche, &[])
            .into_iter()
            .map(|f| f.value)
            .collect()
    }

    #[test]
    fn tooth_counts() {
        use ToothCount::*;
        assert_eq!(teeth("2 dişim çürük", "dental"), [Count(2)]);
        assert_eq!(teeth("üç diş için fiyat", "ecommerce"), [Count(3)]);
        assert_eq!(teeth("uc dis icin fiyat", "ecommerce"), [Count(3)]);
        assert_eq!(teeth("iki tane", "dental"), [Count(2)]);
        assert_eq!(teeth("iki tane", "ecommerce"), []);
        assert_eq!(teeth("otuz iki diş", "dental"), [Count(32)]);
        assert_eq!(teeth("4 implant", "health"), [Count(4)]);
        assert_eq!(teeth("tüm ağız implant", "dental"), [FullMouth]);
        assert_eq!(teeth("TÜM AĞZIMA", "dental"), [FullMouth]);
        assert_eq!(teeth("bütün dişlerim", "dental"), [FullMouth]);
        assert_eq!(teeth("I need all my teeth done", "dental"), [FullMouth]);
        assert_eq!(teeth("2 teeth", "dental"), [Count(2)]);
        assert_eq!(teeth("drei Zähne", "dental"), [Count(3)]);
        assert_eq!(teeth("20 yaş dişi", "dental"), []);
        assert_eq!(teeth("40 diş", "dental"), []);
        assert_eq!(teeth("2 disk", "dental"), []);
    }

    fn qty(text: &str) -> Vec<(u64, &'static str)> {
        quantity(&Doc::new(text), "ecommerce", &[])
            .into_iter()
            .map(|f| (f.value.value, f.value.unit))
            .collect()
    }

    #[test]
    fn quantities() {
        assert_eq!(qty("200 adet için fiyat"), [(200, "piece")]);
        assert_eq!(qty("50 kutu"), [(50, "box")]);
        assert_eq!(qty("iki koli"), [(2, "carton")]);
        assert_eq!(qty("5 bin adet"), [(5000, "piece")]);
        assert_eq!(qty("1.000 adetlik"), [(1000, "piece")]);
        assert_eq!(qty("3 çift çorap"), [(3, "pair")]);
        assert_eq!(qty("100 pcs"), [(100, "piece")]);
        assert_eq!(qty("42 numara"), []);
    }

    fn sizes(text: &str) -> Vec<String> {
        size(&Doc::new(text), &[])
            .into_iter()
            .map(|f| f.value.value)
            .collect()
    }

    #[test]
    fn sizes_letters_and_numbers() {
        assert_eq!(sizes("M"), ["M"]);
        assert_eq!(sizes("XL var mı"), ["XL"]);
        assert_eq!(sizes("xl var mi"), ["XL"]);
        assert_eq!(sizes("m beden var mı"), ["M"]);
        assert_eq!(sizes("beden: S"), ["S"]);
        assert_eq!(sizes("42 numara var mı"), ["42"]);
        assert_eq!(sizes("38 beden"), ["38"]);
        assert_eq!(sizes("size 40 please"), ["40"]);
        assert_eq!(sizes("Größe 38"), ["38"]);
        assert_eq!(sizes("3XL olur mu"), ["3XL"]);
        assert_eq!(sizes("medium size"), ["M"]);
        // Not sizes.
        assert_eq!(sizes("I am fine"), Vec::<String>::new());
        assert_eq!(sizes("İstanbul'a s gelir mi"), Vec::<String>::new());
        assert_eq!(sizes("42 adet"), Vec::<String>::new());
        assert_eq!(sizes("5 l su"), Vec::<String>::new());
    }
}
