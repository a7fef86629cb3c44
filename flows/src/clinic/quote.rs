//! Price quotes from the clinic's price list: what is still missing to give a range
//! (asked in a fixed order), the range itself in lira or euros, campaigns, and money
//! written the Turkish way ("12.500 TL").

use super::{Campaign, Clinic, PriceItem, Qualifier, Unit};
use intents::normalize::fold;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Teeth a full mouth counts for when the price row does not say otherwise.
pub const FULL_MOUTH_TEETH: u32 = 28;

/// How many teeth the customer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Teeth {
    Count(u32),
    /// "tüm ağız", "all my teeth".
    FullMouth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jaw {
    Upper,
    Lower,
    Both,
}

/// What the conversation has learnt so far about the treatment asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualifiers {
    pub teeth: Option<Teeth>,
    pub jaw: Option<Jaw>,
    /// As the customer put it or as a button named it; matched loosely to the rows.
    pub material: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Currency {
    Try,
    Eur,
}

impl Currency {
    /// What a conversion or a campaign rounds to: prices read "10.650 TL", "370 €".
    fn rounding(self) -> i64 {
        match self {
            Currency::Try => 50,
            Currency::Eur => 10,
        }
    }
}

/// Why no range can be given yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuoteGap {
    /// The price list has no such treatment.
    UnknownTreatment,
    /// Ask for these first, in this order. For a material, the options are
    /// [`Clinic::materials`].
    Missing(Vec<Qualifier>),
}

/// A price range for a treatment, ready to be said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub treatment: String,
    /// The Turkish display name of the row.
    pub name: String,
    /// The material priced; `None` when the treatment has none, or when the range spans
    /// all of them because the customer did not choose.
    pub material: Option<String>,
    pub unit: Unit,
    /// Units priced: teeth, jaws, or 1.
    pub count: u32,
    /// The range for all units, campaign included, in whole currency units.
    pub min: i64,
    pub max: i64,
    /// The range before the campaign (equal to `min`/`max` without one).
    pub list_min: i64,
    pub list_max: i64,
    /// Euros asked for but not available (no EUR column, no rate): lira.
    pub currency: Currency,
    pub campaign: Option<Campaign>,
    pub per_unit_min: i64,
    pub per_unit_max: i64,
    pub note: Option<String>,
}

/// Rounds to the nearest multiple of `step`, never down to nothing.
fn round_to(value: f64, step: i64) -> i64 {
    let rounded = ((value / step as f64).round() as i64) * step;
    if value > 0.0 { rounded.max(step) } else { 0 }
}

/// "12.500 TL", "1.200 €", "-300 TL".
pub fn format_money(amount: i64, currency: Currency) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if amount < 0 {
        grouped.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    match currency {
        Currency::Try => format!("{grouped} TL"),
        Currency::Eur => format!("{grouped} €"),
    }
}

/// The row a customer's material names: the same words, or one contains the other
/// ("straumann" → "İsviçre (Straumann)"), and only if that picks exactly one row.
fn find_material<'a>(rows: &[&'a PriceItem], wanted: &str) -> Option<&'a PriceItem> {
    let wanted = fold(wanted);
    if wanted.is_empty() {
        return None;
    }
    let key = |row: &PriceItem| row.material.as_deref().map(fold).unwrap_or_default();
    if let Some(row) = rows.iter().find(|r| key(r) == wanted) {
        return Some(row);
    }
    let contains = |row: &&&PriceItem| {
        let k = key(row);
        !k.is_empty() && (k.contains(&wanted) || wanted.contains(&k))
    };
    let mut matches = rows.iter().filter(contains);
    match (matches.next(), matches.next()) {
        (Some(row), None) => Some(row),
        _ => None,
    }
}

impl Clinic {
    /// A range for `treatment` given what is known, or what to ask first. `today` (in
    /// the clinic's zone) decides whether a campaign still runs.
    ///
    /// Per-tooth rows multiply by the tooth count (a full mouth counts
    /// [`FULL_MOUTH_TEETH`] unless the row says otherwise), per-jaw rows by the jaws
    /// (both = 2; a full mouth means both). A count that the row does not ask for is
    /// taken as one unit, so the quote is "per tooth". Without a material, a treatment
    /// that needs one is [`QuoteGap::Missing`]; one that does not spans all its rows.
    pub fn quote(
        &self,
        treatment: &str,
        q: &Qualifiers,
        currency: Currency,
        today: Date,
    ) -> Result<Quote, QuoteGap> {
        let rows = self.price_rows(treatment);
        let Some(first) = rows.first() else {
            return Err(QuoteGap::UnknownTreatment);
        };
        let needs = |x: Qualifier| first.needs.contains(&x);
        let mut missing = Vec::new();

        match (first.unit, q.teeth) {
            (Unit::Tooth, Some(Teeth::Count(n))) if n > 0 => {}
            (Unit::Tooth, Some(Teeth::FullMouth)) => {}
            (Unit::Tooth, _) if needs(Qualifier::ToothCount) => missing.push(Qualifier::ToothCount),
            _ => {}
        }
        let jaws = match (q.jaw, q.teeth) {
            (Some(Jaw::Both), _) | (None, Some(Teeth::FullMouth)) => Some(2),
            (Some(_), _) => Some(1),
            (None, _) => None,
        };
        if first.unit == Unit::Jaw && jaws.is_none() && needs(Qualifier::Jaw) {
            missing.push(Qualifier::Jaw);
        }

        let chosen: Vec<&PriceItem> = if first.material.is_none() || rows.len() == 1 {
            rows.clone()
        } else {
            match q.material.as_deref().and_then(|m| find_material(&rows, m)) {
                Some(row) => vec![row],
                None if needs(Qualifier::Material) => {
                    missing.push(Qualifier::Material);
                    Vec::new()
                }
                None => rows.clone(),
            }
        };
        if !missing.is_empty() {
            missing.sort();
            return Err(QuoteGap::Missing(missing));
        }

        let count_of = |row: &PriceItem| -> u32 {
            match (row.unit, q.teeth) {
                (Unit::Tooth, Some(Teeth::Count(n))) if n > 0 => n,
                (Unit::Tooth, Some(Teeth::FullMouth)) => row.full_mouth.unwrap_or(FULL_MOUTH_TEETH),
                (Unit::Jaw, _) => jaws.unwrap_or(1),
                _ => 1,
            }
        };
        // Euros only when every row can give them, so one range is never in two currencies.
        let rate = self.settings.eur_per_try;
        let currency = match currency {
            Currency::Eur if chosen.iter().all(|r| r.min_eur.is_some() || rate.is_some()) => {
                Currency::Eur
            }
            _ => Currency::Try,
        };
        let step = currency.rounding();
        let list_per_unit = |row: &PriceItem| -> (i64, i64) {
            match (currency, row.min_eur.zip(row.max_eur), rate) {
                (Currency::Try, _, _) => (row.min_try, row.max_try),
                (Currency::Eur, Some(eur), _) => eur,
                (Currency::Eur, None, Some(rate)) => (
                    round_to(row.min_try as f64 * rate, step),
                    round_to(row.max_try as f64 * rate, step),
                ),
                (Currency::Eur, None, None) => (row.min_try, row.max_try),
            }
        };
        let campaign_of = |row: &PriceItem| row.campaign.filter(|c| c.active_on(today));

        let mut quote: Option<Quote> = None;
        for row in &chosen {
            let count = count_of(row);
            let (list_lo, list_hi) = list_per_unit(row);
            let (lo, hi) = match campaign_of(row) {
                Some(c) => {
                    let keep = f64::from(100 - c.percent) / 100.0;
                    (
                        round_to(list_lo as f64 * keep, step),
                        round_to(list_hi as f64 * keep, step),
                    )
                }
                None => (list_lo, list_hi),
            };
            let n = i64::from(count);
            match &mut quote {
                None => {
                    quote = Some(Quote {
                        treatment: row.treatment.clone(),
                        name: row.name.clone(),
                        material: row.material.clone().filter(|_| chosen.len() == 1),
                        unit: row.unit,
                        count,
                        min: lo * n,
                        max: hi * n,
                        list_min: list_lo * n,
                        list_max: list_hi * n,
                        currency,
                        campaign: campaign_of(row),
                        per_unit_min: lo,
                        per_unit_max: hi,
                        note: row.note.clone(),
                    });
                }
                Some(quote) => {
                    quote.min = quote.min.min(lo * n);
                    quote.max = quote.max.max(hi * n);
                    quote.list_min = quote.list_min.min(list_lo * n);
                    quote.list_max = quote.list_max.max(list_hi * n);
                    quote.per_unit_min = quote.per_unit_min.min(lo);
                    quote.per_unit_max = quote.per_unit_max.max(hi);
                    quote.campaign = quote.campaign.or(campaign_of(row));
                }
            }
        }
        quote.ok_or(QuoteGap::UnknownTreatment)
    }
}
