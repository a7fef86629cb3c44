//! Money: an amount with its currency.
//!
//! Forms: `5.000 TL`, `5 bin lira`, `2.500 €`, `€2.500`, `$300`, `300 dolar`,
//! `EUR 2500`, `1,5 milyon TL`, `15k`, `beş bin lira`, `£1,200.50`.
//! Numbers are read the Turkish way (dot for thousands, comma for decimals:
//! `2.500,75`), with English forms accepted where unambiguous: with both
//! separators the last one is the decimal mark; a lone `,` or `.` followed
//! by exactly three digits is a thousands separator (`1,200`), otherwise a
//! decimal mark (`1,5`, `2.5`). Multipliers: `bin`, `milyon`, `milyar`, `k`,
//! `thousand`, `million`, `Tausend`, `Mio`, `тыс`, `млн`.
//!
//! An amount with a multiplier but no currency (`1,5 milyon`, `15k`) is
//! money with `currency: null` (the tenant's currency is the caller's to
//! assume); a bare number without either is not money.

use serde::Serialize;

use super::{Doc, Found, Kind, number_words};

/// A currency (ISO 4217).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    Try,
    Eur,
    Usd,
    Gbp,
}

/// An amount of money. `currency` is `None` when the message names none.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Money {
    pub amount: f64,
    pub currency: Option<Currency>,
}

/// The currency a token names, if any.
fn currency(doc: &Doc, i: usize) -> Option<Currency> {
    let t = doc.toks.get(i)?;
    let w = doc.tok(i);
    if t.kind == Kind::Sym {
        return match w {
            "₺" => Some(Currency::Try),
            "€" => Some(Currency::Eur),
            "$" => Some(Currency::Usd),
            "£" => Some(Currency::Gbp),
            _ => None,
        };
    }
    if t.kind != Kind::Word {
        return None;
    }
    let starts = |p: &[&str]| p.iter().any(|s| w.starts_with(s));
    if matches!(
        w,
        "tl" | "try" | "tlye" | "tlden" | "tllik" | "tlik" | "ytl"
    ) || starts(&["lira", "турецк"])
    {
        Some(Currency::Try)
    } else if matches!(w, "eur" | "euros") || starts(&["euro", "avro", "евро", "ойро"]) {
        Some(Currency::Eur)
    } else if matches!(w, "usd" | "bucks") || starts(&["dolar", "dollar", "доллар"]) {
        Some(Currency::Usd)
    } else if matches!(w, "gbp" | "pound" | "pounds" | "quid") || starts(&["sterlin", "фунт"]) {
        Some(Currency::Gbp)
    } else {
        None
    }
}

/// The value of a number token, Turkish separators first (see module docs).
pub fn parse_amount(raw: &str) -> Option<f64> {
    let dots = raw.matches('.').count();
    let commas = raw.matches(',').count();
    let clean: String = match (dots, commas) {
        (0, 0) => raw.to_owned(),
        (_, 0) | (0, _) => {
            let sep = if dots > 0 { '.' } else { ',' };
            let parts: Vec<&str> = raw.split(sep).collect();
            let thousands = parts[0].len() <= 3 && parts[1..].iter().all(|p| p.len() == 3);
            if thousands {
                parts.concat()
            } else if parts.len() == 2 {
                format!("{}.{}", parts[0], parts[1])
            } else {
                return None;
            }
        }
        _ => {
            let last = raw.rfind(['.', ','])?;
            let (int, frac) = raw.split_at(last);
            let int: String = int.chars().filter(char::is_ascii_digit).collect();
            format!("{int}.{}", &frac[1..])
        }
    };
    clean.parse().ok()
}

fn multiplier(doc: &Doc, i: usize) -> Option<f64> {
    let t = doc.toks.get(i)?;
    if t.kind != Kind::Word {
        return None;
    }
    let w = doc.tok(i);
    Some(match w {
        "bin" | "binlik" | "thousand" | "tausend" => 1e3,
        "k" | "к" if t.glued => 1e3,
        "milyon" | "million" | "millionen" | "mio" | "млн" => 1e6,
        "milyar" | "billion" | "milliarde" | "mrd" | "млрд" => 1e9,
        _ if w.starts_with("тыс") => 1e3,
        _ => return None,
    })
}

/// Amounts of money in a message, skipping the `taken` spans (identifiers).
pub fn money(doc: &Doc, taken: &[[usize; 2]]) -> Vec<Found<Money>> {
    let n = doc.toks.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if doc.is_taken(i, taken) {
            i += 1;
            continue;
        }
        // Currency first: "€2.500", "$300", "EUR 2500".
        let prefix = currency(doc, i).filter(|_| {
            doc.toks[i].kind == Kind::Sym
                || matches!(doc.tok(i), "eur" | "usd" | "gbp" | "try" | "tl")
        });
        let amount_at = if prefix.is_some() { i + 1 } else { i };
        let Some((value, last)) = amount(doc, amount_at) else {
            i += 1;
            continue;
        };
        if doc.is_taken(last, taken) {
            i = last + 1;
            continue;
        }
        if let Some(c) = prefix {
            out.push(doc.found(
                Money {
                    amount: value.0,
                    currency: Some(c),
                },
                doc.tok_span(i, last),
            ));
            i = last + 1;
            continue;
        }
        if let Some(c) = currency(doc, last + 1) {
            out.push(doc.found(
                Money {
                    amount: value.0,
                    currency: Some(c),
                },
                doc.tok_span(i, last + 1),
            ));
            i = last + 2;
            continue;
        }
        // "₺" or "TL" may follow glued as a symbol; none here. A multiplier
        // without currency is still money unless a unit follows.
        if value.1 && doc.toks[i].kind == Kind::Num && !super::counts::is_unit(doc, last + 1) {
            out.push(doc.found(
                Money {
                    amount: value.0,
                    currency: None,
                },
                doc.tok_span(i, last),
            ));
        }
        i = last + 1;
    }
    out
}

/// An amount at token `i`: `((value, had multiplier), last token)`.
fn amount(doc: &Doc, i: usize) -> Option<((f64, bool), usize)> {
    let t = doc.toks.get(i)?;
    match t.kind {
        Kind::Num => {
            let mut v = parse_amount(doc.tok(i))?;
            let mut last = i;
            let mut mult = false;
            if let Some(m) = multiplier(doc, i + 1) {
                v *= m;
                last = i + 1;
                mult = true;
            }
            Some(((v, mult), last))
        }
        Kind::Word => {
            let (v, last) = number_words(doc, i)?;
            // "bir" alone ("bir lira") is fine; a word number needs a
            // currency right after (checked by the caller) to count.
            currency(doc, last + 1)?;
            Some(((v as f64, false), last))
        }
        Kind::Sym => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Vec<(f64, Option<Currency>)> {
        let doc = Doc::new(text);
        money(&doc, &[])
            .into_iter()
            .map(|f| (f.value.amount, f.value.currency))
            .collect()
    }

    #[test]
    fn turkish_and_symbol_forms() {
        use Currency::*;
        assert_eq!(m("5 bin lira"), [(5000.0, Some(Try))]);
        assert_eq!(m("5.000 TL"), [(5000.0, Some(Try))]);
        assert_eq!(m("5000tl"), [(5000.0, Some(Try))]);
        assert_eq!(m("2.500 €"), [(2500.0, Some(Eur))]);
        assert_eq!(m("€2.500"), [(2500.0, Some(Eur))]);
        assert_eq!(m("$300"), [(300.0, Some(Usd))]);
        assert_eq!(m("300 dolar"), [(300.0, Some(Usd))]);
        assert_eq!(m("300 DOLARA"), [(300.0, Some(Usd))]);
        assert_eq!(m("1,5 milyon"), [(1_500_000.0, None)]);
        assert_eq!(m("1,5 milyon TL"), [(1_500_000.0, Some(Try))]);
        assert_eq!(m("15k"), [(15_000.0, None)]);
        assert_eq!(m("beş bin lira"), [(5000.0, Some(Try))]);
        assert_eq!(m("2.500,75 ₺"), [(2500.75, Some(Try))]);
        assert_eq!(m("£1,200.50"), [(1200.5, Some(Gbp))]);
        assert_eq!(
            m("EUR 2500 ve 100 sterlin"),
            [(2500.0, Some(Eur)), (100.0, Some(Gbp))]
        );
        assert_eq!(m("50 евро"), [(50.0, Some(Eur))]);
        assert_eq!(m("１５００ ＴＬ"), [(1500.0, Some(Try))]);
    }

    #[test]
    fn not_money() {
        assert!(m("200 adet").is_empty());
        assert!(m("5 bin adet").is_empty());
        assert!(m("42 numara").is_empty());
        assert!(m("bir sorum var").is_empty());
        assert!(m("saat 14.30").is_empty());
    }

    #[test]
    fn amounts_parse() {
        assert_eq!(parse_amount("5.000"), Some(5000.0));
        assert_eq!(parse_amount("1.250.000"), Some(1_250_000.0));
        assert_eq!(parse_amount("1,5"), Some(1.5));
        assert_eq!(parse_amount("2.5"), Some(2.5));
        assert_eq!(parse_amount("1,200"), Some(1200.0));
        assert_eq!(parse_amount("1.234,56"), Some(1234.56));
        assert_eq!(parse_amount("1,234.56"), Some(1234.56));
        assert_eq!(parse_amount("1.2.3"), None);
    }
}
