//! `prices.csv` → [`PriceItem`]s. Parsed by hand: the file comes from a spreadsheet, so
//! quoted fields, `""` escapes, a BOM, CRLF and the `;` separator of Turkish Excel all
//! work, and every error names the row as the spreadsheet shows it (header = row 1).

use super::ClinicError;
use intents::normalize::fold;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The treatment values of `spec/intents.md`: the only ones the NLU ever extracts, so a
/// price row under another name could never be quoted.
const TREATMENTS: [&str; 30] = [
    "implant",
    "zirconia_crown",
    "laminate_veneer",
    "teeth_whitening",
    "orthodontics",
    "clear_aligner",
    "root_canal",
    "extraction",
    "wisdom_tooth",
    "scaling",
    "filling",
    "bridge",
    "denture",
    "all_on_four",
    "smile_design",
    "rhinoplasty",
    "hair_transplant",
    "beard_transplant",
    "botox",
    "filler",
    "liposuction",
    "bbl",
    "breast_augmentation",
    "breast_reduction",
    "blepharoplasty",
    "facelift",
    "tummy_tuck",
    "gastric_sleeve",
    "prp",
    "laser_hair_removal",
];

pub(crate) fn is_known_treatment(t: &str) -> bool {
    TREATMENTS.contains(&t)
}

/// Amounts above this are typing errors, and staying far below `i64::MAX` keeps
/// "price × 28 teeth" safe.
const MAX_AMOUNT: i64 = 100_000_000;

/// What a price is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Per tooth: multiplied by the tooth count.
    Tooth,
    /// Per jaw: both jaws count twice.
    Jaw,
    Session,
    /// The whole treatment.
    Treatment,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Tooth => "tooth",
            Unit::Jaw => "jaw",
            Unit::Session => "session",
            Unit::Treatment => "treatment",
        }
    }

    fn parse(cell: &str) -> Option<Unit> {
        Some(match fold(cell).as_str() {
            "tooth" | "dis" | "per tooth" | "dis basi" => Unit::Tooth,
            "jaw" | "cene" | "per jaw" | "cene basi" => Unit::Jaw,
            "session" | "seans" => Unit::Session,
            "treatment" | "tedavi" => Unit::Treatment,
            _ => return None,
        })
    }
}

/// What a quote must know before it can give a range, in the order to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Qualifier {
    ToothCount,
    Jaw,
    Material,
}

impl Qualifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Qualifier::ToothCount => "tooth_count",
            Qualifier::Jaw => "jaw",
            Qualifier::Material => "material",
        }
    }

    fn parse(token: &str) -> Option<Qualifier> {
        Some(match token.to_ascii_lowercase().as_str() {
            "tooth_count" | "teeth" => Qualifier::ToothCount,
            "jaw" => Qualifier::Jaw,
            "material" => Qualifier::Material,
            _ => return None,
        })
    }
}

/// A price reduction on one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Campaign {
    /// Off the list price, 1..=90.
    pub percent: u32,
    /// Last day it applies; `None` runs until the row changes.
    pub until: Option<Date>,
}

impl Campaign {
    pub fn active_on(&self, today: Date) -> bool {
        self.until.is_none_or(|until| today <= until)
    }
}

/// One row of the price list: a treatment, optionally in one material.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PriceItem {
    /// The entity value of `spec/intents.md` (`implant`).
    pub treatment: String,
    /// Turkish display name ("İmplant").
    pub name: String,
    /// "Kore", "İsviçre (Straumann)"; rows of one treatment either all have one or none does.
    pub material: Option<String>,
    pub unit: Unit,
    /// Whole lira per unit.
    pub min_try: i64,
    pub max_try: i64,
    /// Whole euros per unit for foreign patients; both or neither.
    pub min_eur: Option<i64>,
    pub max_eur: Option<i64>,
    /// What the quote must know, in the order to ask.
    pub needs: Vec<Qualifier>,
    pub campaign: Option<Campaign>,
    /// Units a full mouth counts for this row (per-tooth rows; 28 when empty).
    pub full_mouth: Option<u32>,
    pub note: Option<String>,
}

const COLUMNS: [&str; 13] = [
    "treatment",
    "name",
    "material",
    "unit",
    "min_try",
    "max_try",
    "min_eur",
    "max_eur",
    "needs",
    "campaign_pct",
    "campaign_until",
    "note",
    "full_mouth",
];
const REQUIRED: [&str; 5] = ["treatment", "name", "unit", "min_try", "max_try"];

fn cell_error(row: usize, column: &str, message: impl Into<String>) -> ClinicError {
    ClinicError::Price {
        row,
        column: column.to_string(),
        message: message.into(),
    }
}

fn row_error(row: usize, message: impl Into<String>) -> ClinicError {
    ClinicError::PriceRow {
        row,
        message: message.into(),
    }
}

/// A record of the file: its row number and its fields, trimmed.
type Record = (usize, Vec<String>);

/// Splits the text into records. A quoted field may hold the separator, `""` for a
/// quote, and line breaks (the record keeps one row number, as in a spreadsheet).
fn records(text: &str, separator: char) -> Result<Vec<Record>, ClinicError> {
    let mut out = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut row = 1;
    let mut chars = text.chars().peekable();
    let mut end_record = |fields: &mut Vec<String>, field: &mut String, row: &mut usize| {
        fields.push(field.trim().to_string());
        field.clear();
        out.push((*row, std::mem::take(fields)));
        *row += 1;
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() => {
                field.clear();
                in_quotes = true;
            }
            c if c == separator => fields.push(std::mem::take(&mut field).trim().to_string()),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                end_record(&mut fields, &mut field, &mut row);
            }
            '\n' => end_record(&mut fields, &mut field, &mut row),
            c => field.push(c),
        }
    }
    if in_quotes {
        return Err(row_error(row, "a quoted field is not closed (missing \")"));
    }
    if !field.is_empty() || !fields.is_empty() {
        end_record(&mut fields, &mut field, &mut row);
    }
    Ok(out)
}

/// `,` normally; `;` when the header uses it (Excel with Turkish settings saves so).
fn separator_of(text: &str) -> char {
    let header = text.lines().next().unwrap_or("");
    if header.matches(';').count() > header.matches(',').count() {
        ';'
    } else {
        ','
    }
}

/// A whole amount as a spreadsheet writes it: "12500", "12.500", "12 500", "12500,00",
/// optionally with "TL", "₺", "€" or "EUR". Anything else — letters, a decimal part
/// that is not zero, an invisible character — is refused rather than guessed.
fn parse_amount(row: usize, column: &str, raw: &str) -> Result<i64, ClinicError> {
    let not_a_number = || cell_error(row, column, format!("{raw:?} is not a number"));
    let mut s = raw.trim();
    for affix in ["TL", "TRY", "₺", "€", "EUR", "tl", "eur"] {
        s = s.strip_suffix(affix).unwrap_or(s).trim_end();
        s = s.strip_prefix(affix).unwrap_or(s).trim_start();
    }
    if s.starts_with('-') {
        return Err(cell_error(
            row,
            column,
            format!("{raw:?} must not be negative"),
        ));
    }
    // A decimal part: ",00" / ".00" is fine, anything else is kuruş or cents.
    let bytes = s.as_bytes();
    for decimals in [1, 2] {
        if bytes.len() > decimals + 1 && matches!(bytes[bytes.len() - decimals - 1], b'.' | b',') {
            let frac = &s[s.len() - decimals..];
            if frac.bytes().all(|b| b.is_ascii_digit()) {
                if frac.bytes().any(|b| b != b'0') {
                    return Err(cell_error(
                        row,
                        column,
                        format!("{raw:?} must be a whole amount"),
                    ));
                }
                s = &s[..s.len() - decimals - 1];
                break;
            }
        }
    }
    let groups: Vec<&str> = s.split(['.', ',', ' ', '\u{a0}', '\u{202f}']).collect();
    let grouped = groups.len() > 1;
    let valid = !s.is_empty()
        && groups.iter().enumerate().all(|(i, g)| {
            !g.is_empty()
                && g.bytes().all(|b| b.is_ascii_digit())
                && (!grouped || (i == 0 && g.len() <= 3) || g.len() == 3)
        });
    if !valid {
        return Err(not_a_number());
    }
    let digits: String = groups.concat();
    let value: i64 = digits.parse().map_err(|_| not_a_number())?;
    if value > MAX_AMOUNT {
        return Err(cell_error(
            row,
            column,
            format!("{raw:?} is more than {MAX_AMOUNT}"),
        ));
    }
    Ok(value)
}

/// "2026-09-30" or the Turkish "30.09.2026".
fn parse_day(text: &str) -> Option<Date> {
    if let Ok(d) = text.parse::<Date>() {
        return Some(d);
    }
    let mut parts = text.split(['.', '/']);
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

pub(super) fn parse(text: &str) -> Result<Vec<PriceItem>, ClinicError> {
    // A spreadsheet saving "CSV UTF-8" puts a BOM first.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = records(text, separator_of(text))?;
    let mut records = records.into_iter();
    let header = loop {
        match records.next() {
            Some((_, fields)) if fields.iter().all(String::is_empty) => continue,
            Some(record) => break record,
            None => {
                return Err(row_error(
                    1,
                    format!(
                        "the header row is missing (expected {})",
                        COLUMNS[..12].join(",")
                    ),
                ));
            }
        }
    };
    let (header_row, names) = header;
    // Index of each known column in the file, by position in COLUMNS.
    let mut index: [Option<usize>; COLUMNS.len()] = [None; COLUMNS.len()];
    let mut unnamed = Vec::new();
    for (pos, name) in names.iter().enumerate() {
        let key = name.trim().to_ascii_lowercase();
        if key.is_empty() {
            unnamed.push(pos);
            continue;
        }
        let Some(col) = COLUMNS.iter().position(|c| *c == key) else {
            return Err(row_error(
                header_row,
                format!("unknown column {name:?} (expected {})", COLUMNS.join(", ")),
            ));
        };
        if index[col].is_some() {
            return Err(row_error(
                header_row,
                format!("column {key} is given twice"),
            ));
        }
        index[col] = Some(pos);
    }
    for required in REQUIRED {
        let col = COLUMNS.iter().position(|c| *c == required).unwrap_or(0);
        if index[col].is_none() {
            return Err(row_error(
                header_row,
                format!("the header has no {required} column"),
            ));
        }
    }

    let mut items: Vec<(usize, PriceItem)> = Vec::new();
    for (row, fields) in records {
        if fields.iter().all(String::is_empty) {
            continue;
        }
        if fields.len() > names.len() && fields[names.len()..].iter().any(|f| !f.is_empty()) {
            return Err(row_error(
                row,
                format!(
                    "{} fields, but the header has {} columns",
                    fields.len(),
                    names.len()
                ),
            ));
        }
        if let Some(&pos) = unnamed
            .iter()
            .find(|&&p| fields.get(p).is_some_and(|f| !f.is_empty()))
        {
            return Err(row_error(
                row,
                format!("a value in column {} that has no header", pos + 1),
            ));
        }
        let cells = Cells {
            fields: &fields,
            index: &index,
        };
        items.push((row, parse_row(row, &cells)?));
    }
    check_treatments(&items)?;
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

/// One record's fields, looked up by column name ("" when the file has no such column).
struct Cells<'a> {
    fields: &'a [String],
    index: &'a [Option<usize>; COLUMNS.len()],
}

impl<'a> Cells<'a> {
    fn get(&self, name: &str) -> &'a str {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|col| self.index[col])
            .and_then(|pos| self.fields.get(pos))
            .map_or("", String::as_str)
    }
}

fn parse_row(row: usize, cells: &Cells<'_>) -> Result<PriceItem, ClinicError> {
    let cell = |name: &str| cells.get(name);
    let required = |name: &str| -> Result<&str, ClinicError> {
        let value = cells.get(name);
        if value.is_empty() {
            Err(cell_error(row, name, "must not be empty"))
        } else {
            Ok(value)
        }
    };
    let treatment = required("treatment")?.to_ascii_lowercase();
    if !is_known_treatment(&treatment) {
        return Err(cell_error(
            row,
            "treatment",
            format!(
                "unknown treatment {treatment:?} (expected a value of spec/intents.md: {} …)",
                TREATMENTS[..15].join(", ")
            ),
        ));
    }
    let name = required("name")?.to_string();
    let material = Some(cell("material").to_string()).filter(|m| !m.is_empty());
    let unit_cell = required("unit")?;
    let unit = Unit::parse(unit_cell).ok_or_else(|| {
        cell_error(
            row,
            "unit",
            format!("unknown unit {unit_cell:?} (expected tooth, jaw, session or treatment)"),
        )
    })?;

    let min_try = parse_amount(row, "min_try", required("min_try")?)?;
    let max_try = parse_amount(row, "max_try", required("max_try")?)?;
    if min_try > max_try {
        return Err(cell_error(
            row,
            "max_try",
            format!("{max_try} is less than min_try ({min_try})"),
        ));
    }
    let optional_amount = |name: &str| -> Result<Option<i64>, ClinicError> {
        match cell(name) {
            "" => Ok(None),
            raw => parse_amount(row, name, raw).map(Some),
        }
    };
    let (min_eur, max_eur) = (optional_amount("min_eur")?, optional_amount("max_eur")?);
    match (min_eur, max_eur) {
        (Some(_), None) => return Err(cell_error(row, "max_eur", "is empty but min_eur is not")),
        (None, Some(_)) => return Err(cell_error(row, "min_eur", "is empty but max_eur is not")),
        (Some(lo), Some(hi)) if lo > hi => {
            return Err(cell_error(
                row,
                "max_eur",
                format!("{hi} is less than min_eur ({lo})"),
            ));
        }
        _ => {}
    }

    let mut needs = Vec::new();
    for token in cell("needs")
        .split([';', ',', '|', ' '])
        .filter(|t| !t.is_empty())
    {
        let q = Qualifier::parse(token).ok_or_else(|| {
            cell_error(
                row,
                "needs",
                format!("unknown qualifier {token:?} (expected tooth_count, jaw or material)"),
            )
        })?;
        if !needs.contains(&q) {
            needs.push(q);
        }
    }
    needs.sort();
    if needs.contains(&Qualifier::ToothCount) && unit != Unit::Tooth {
        return Err(cell_error(
            row,
            "needs",
            format!(
                "tooth_count needs unit = tooth (the unit is {})",
                unit.as_str()
            ),
        ));
    }
    if needs.contains(&Qualifier::Jaw) && unit != Unit::Jaw {
        return Err(cell_error(
            row,
            "needs",
            format!("jaw needs unit = jaw (the unit is {})", unit.as_str()),
        ));
    }

    let campaign = match (cell("campaign_pct"), cell("campaign_until")) {
        ("", "") => None,
        ("", _) => {
            return Err(cell_error(
                row,
                "campaign_pct",
                "is empty but campaign_until is set",
            ));
        }
        (pct, until) => {
            let digits = pct.trim_matches(|c: char| c == '%' || c.is_whitespace());
            let percent: u32 = digits
                .parse()
                .ok()
                .filter(|p| (1..=90).contains(p))
                .ok_or_else(|| {
                    cell_error(
                        row,
                        "campaign_pct",
                        format!("{pct:?} is not a percentage within 1..=90"),
                    )
                })?;
            let until = match until {
                "" => None,
                text => Some(parse_day(text).ok_or_else(|| {
                    cell_error(
                        row,
                        "campaign_until",
                        format!("{text:?} is not a date like 2026-09-30"),
                    )
                })?),
            };
            Some(Campaign { percent, until })
        }
    };

    let full_mouth = match cell("full_mouth") {
        "" => None,
        raw => {
            if unit != Unit::Tooth {
                return Err(cell_error(
                    row,
                    "full_mouth",
                    "only applies to unit = tooth",
                ));
            }
            Some(
                raw.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=32).contains(n))
                    .ok_or_else(|| {
                        cell_error(
                            row,
                            "full_mouth",
                            format!("{raw:?} is not a tooth count within 1..=32"),
                        )
                    })?,
            )
        }
    };

    Ok(PriceItem {
        treatment,
        name,
        material,
        unit,
        min_try,
        max_try,
        min_eur,
        max_eur,
        needs,
        campaign,
        full_mouth,
        note: Some(cell("note").to_string()).filter(|n| !n.is_empty()),
    })
}

/// Rules across the rows of one treatment: one unit and one list of needs, materials on
/// all rows or none, no material twice, and `needs = material` only with materials.
fn check_treatments(items: &[(usize, PriceItem)]) -> Result<(), ClinicError> {
    for (i, (row, item)) in items.iter().enumerate() {
        let Some((first_row, first)) = items[..i]
            .iter()
            .find(|(_, other)| other.treatment == item.treatment)
        else {
            let has_material = items
                .iter()
                .any(|(_, o)| o.treatment == item.treatment && o.material.is_some());
            if item.needs.contains(&Qualifier::Material) && !has_material {
                return Err(cell_error(
                    *row,
                    "needs",
                    format!(
                        "material is needed but no row of {} names a material",
                        item.treatment
                    ),
                ));
            }
            continue;
        };
        if item.unit != first.unit {
            return Err(cell_error(
                *row,
                "unit",
                format!(
                    "{} is priced per {} on row {first_row}; all its rows need one unit",
                    item.treatment,
                    first.unit.as_str()
                ),
            ));
        }
        if item.needs != first.needs {
            return Err(cell_error(
                *row,
                "needs",
                format!(
                    "differs from row {first_row} of {}; all its rows need the same",
                    item.treatment
                ),
            ));
        }
        if item.material.is_some() != first.material.is_some() {
            return Err(cell_error(
                *row,
                "material",
                format!(
                    "row {first_row} of {} {} a material; every row of one treatment names one, or none does",
                    item.treatment,
                    if first.material.is_some() {
                        "names"
                    } else {
                        "has no"
                    }
                ),
            ));
        }
        let key = item.material.as_deref().map(fold);
        if let Some((dup_row, _)) = items[..i]
            .iter()
            .find(|(_, o)| o.treatment == item.treatment && o.material.as_deref().map(fold) == key)
        {
            let what = match &item.material {
                Some(m) => format!("{} in {m:?}", item.treatment),
                None => item.treatment.clone(),
            };
            return Err(row_error(
                *row,
                format!("{what} is already on row {dup_row}"),
            ));
        }
    }
    Ok(())
}
