//! The clinic core: the demo files parse, bad files are refused with the place named,
//! quotes, holidays, slot search (hours, breaks, buffers, notice, closures, holidays,
//! resources, preferences, spreading), slot ids, iCal and customer-local times.

use crate::istanbul;
use flows::clinic::holidays::holidays;
use flows::clinic::{
    Busy, Clinic, ClinicError, Currency, DayPart, IcalEvent, Jaw, Preferences, Qualifier,
    Qualifiers, QuoteGap, Slot, SlotError, SlotQuery, Teeth, Unit, format_money, holiday,
    ical_feed, local_and_customer_time, parse_slot_id, slot_id,
};
use jiff::civil::{Date, Weekday, date};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use proptest::prelude::*;

const DEMO_TOML: &str = include_str!("../../gateway/demo/dental/clinic.toml");
const DEMO_PRICES: &str = include_str!("../../gateway/demo/dental/prices.csv");

const HEADER: &str = "treatment,name,material,unit,min_try,max_try,min_eur,max_eur,needs,campaign_pct,campaign_until,note\n";

/// A small clinic whose every slot can be worked out by hand: step 30, notice 60 min.
/// dr-a works all clinic hours without a break; dr-b works weekdays with a lunch break
/// 12:30–13:30. Wednesday 10 June 2026 the clinic is closed; 11–12 June dr-a is away.
const TEST_TOML: &str = r#"
[settings]
slot_step_minutes = 30
min_notice_minutes = 60
horizon_days = 21

[hours]
mon = "09:00-17:00"
tue = "09:00-17:00"
wed = "09:00-17:00"
thu = "09:00-17:00"
fri = "09:00-17:00"
sat = "10:00-14:00"
sun = "kapalı"

[[breaks]]
days = ["mon", "tue", "wed", "thu", "fri"]
from = "12:30"
to = "13:30"
practitioner = "dr-b"

[[closures]]
from = "2026-06-10"
reason = "Kongre"

[[closures]]
from = 2026-06-11
to = "2026-06-12"
practitioner = "dr-a"

[[practitioners]]
id = "dr-a"
name = "Dt. Ayşe Işık"
languages = ["tr", "EN"]

[[practitioners]]
id = "dr-b"
name = "Dt. İlker Baş"
languages = ["tr", "de"]
hours = { mon = "09:00-17:00", tue = "09:00-17:00", wed = "09:00-17:00", thu = "09:00-17:00", fri = "09:00-17:00" }

[[rooms]]
id = "r1"

[[rooms]]
id = "r2"

[[services]]
id = "exam"
name = "Muayene"
duration_minutes = 30
buffer_after_minutes = 10

[[services]]
id = "surgery"
name = "Cerrahi"
duration_minutes = 60
buffer_before_minutes = 10
buffer_after_minutes = 20
practitioners = ["dr-b"]
rooms = ["r2"]

[[services]]
id = "call"
name = "Online görüşme"
duration_minutes = 15
needs_room = false
"#;

fn tz() -> TimeZone {
    TimeZone::get("Europe/Istanbul").unwrap()
}

fn demo() -> Clinic {
    Clinic::parse(DEMO_TOML, DEMO_PRICES).expect("demo clinic parses")
}

fn test_clinic() -> Clinic {
    Clinic::parse(TEST_TOML, HEADER).expect("test clinic parses")
}

fn toml_err(toml: &str) -> String {
    Clinic::parse(toml, HEADER)
        .expect_err("clinic.toml must be refused")
        .to_string()
}

fn csv_err(csv: &str) -> ClinicError {
    Clinic::parse_prices(csv).expect_err("prices.csv must be refused")
}

/// Local "HH:MM" of a timestamp in Istanbul.
fn hm(t: Timestamp) -> String {
    t.to_zoned(tz()).strftime("%H:%M").to_string()
}

fn local_date(t: Timestamp) -> Date {
    t.to_zoned(tz()).date()
}

fn busy(resource: &str, from: &str, until: &str) -> Busy {
    Busy {
        resource: resource.to_string(),
        from: istanbul(from),
        until: istanbul(until),
    }
}

fn query<'a>(service: &'a str, now: &str) -> SlotQuery<'a> {
    SlotQuery {
        service,
        now: istanbul(now),
        prefs: Preferences::default(),
        limit: 1000,
        spread: false,
    }
}

fn on(clinic: &Clinic, busy: &[Busy], service: &str, now: &str, day: Date) -> Vec<Slot> {
    let mut q = query(service, now);
    q.prefs.date = Some(day);
    clinic.find_slots(&tz(), busy, &q).unwrap()
}

fn starts(slots: &[Slot]) -> Vec<String> {
    slots.iter().map(|s| hm(s.start)).collect()
}

// ---------------------------------------------------------------- parsing

#[test]
fn the_demo_clinic_parses_with_its_people_chairs_services_and_prices() {
    let clinic = demo();
    assert_eq!(clinic.practitioners.len(), 2);
    assert_eq!(
        clinic.practitioner("dr-mehmet").unwrap().name,
        "Dt. Mehmet Öztürk"
    );
    assert_eq!(
        clinic.practitioner("dr-mehmet").unwrap().languages,
        ["tr", "de", "en"]
    );
    assert_eq!(clinic.rooms.len(), 3);
    let exam = clinic.examination().expect("examination service");
    assert_eq!(exam.id, "muayene");
    assert_eq!((exam.duration_minutes, exam.buffer_after_minutes), (30, 10));
    // Services that list nobody may use every practitioner and every chair.
    let kanal = clinic.service("kanal").unwrap();
    assert_eq!(kanal.practitioners, ["dr-ayse", "dr-mehmet"]);
    assert_eq!(kanal.rooms, ["koltuk-1", "koltuk-2", "koltuk-3"]);
    assert_eq!(
        clinic.service_for_treatment("implant").unwrap().id,
        "implant"
    );

    let treatments: Vec<&str> = clinic.treatments().collect();
    assert_eq!(treatments.len(), 12);
    assert_eq!(treatments[0], "implant");
    assert_eq!(
        clinic.materials("implant"),
        ["Kore (Osstem / Dentium)", "İsviçre (Straumann)"]
    );
    // A quoted note keeps its comma.
    assert_eq!(
        clinic.price_rows("implant")[0].note.as_deref(),
        Some("Abutment dahil, üst yapı (kron) hariç.")
    );
    assert_eq!(clinic.price_rows("all_on_four")[0].unit, Unit::Jaw);
    assert_eq!(clinic.closures.len(), 2);
    assert_eq!(clinic.breaks[0].days, ["mon", "tue", "wed", "thu", "fri"]);

    // The admin API shows it as JSON.
    let json = serde_json::to_value(&clinic).unwrap();
    assert_eq!(json["services"][0]["id"], "muayene");
    assert_eq!(json["prices"][0]["needs"][1], "material");
    assert_eq!(json["breaks"][0]["from"], "13:00:00");
}

#[test]
fn the_demo_clinic_offers_examinations_and_only_mehmet_does_implants() {
    let clinic = demo();
    // Monday 1 June 2026, 08:00.
    let mut q = query("muayene", "2026-06-01T08:00");
    q.limit = 3;
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    assert_eq!(starts(&slots), ["10:00", "10:15", "10:30"]);
    assert!(slots.iter().all(|s| s.practitioner == "dr-ayse"));

    let q = query("implant", "2026-06-01T08:00");
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    assert!(!slots.is_empty());
    assert!(
        slots
            .iter()
            .all(|s| s.practitioner == "dr-mehmet" && s.room.as_deref() == Some("koltuk-3"))
    );
    // Saturdays only Mehmet works.
    let saturday = on(
        &clinic,
        &[],
        "muayene",
        "2026-06-01T08:00",
        date(2026, 6, 6),
    );
    assert_eq!(saturday[0].practitioner, "dr-mehmet");
    assert_eq!(hm(saturday[0].start), "10:00");
    // The clinic's closure in August and Ayşe's leave in July.
    assert!(
        on(
            &clinic,
            &[],
            "muayene",
            "2026-08-10T08:00",
            date(2026, 8, 18)
        )
        .is_empty()
    );
    let leave = on(
        &clinic,
        &[],
        "muayene",
        "2026-07-01T08:00",
        date(2026, 7, 7),
    );
    assert!(!leave.is_empty() && leave.iter().all(|s| s.practitioner == "dr-mehmet"));
}

#[test]
fn a_price_list_from_turkish_excel_parses_bom_crlf_semicolons_and_quotes() {
    let csv = "\u{feff}treatment;name;material;unit;min_try;max_try;needs;note\r\n\
               implant;İmplant — Işıklı seri;\"İsviçre; \"\"Straumann\"\"\";tooth;\"35.000\";48.000 TL;tooth_count;\"Çok satırlı\r\nnot\"\r\n\
               \r\n\
               scaling;Diş taşı temizliği;;session;1500;2500,00;;\r\n";
    let prices = Clinic::parse_prices(csv).expect("parses");
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[0].name, "İmplant — Işıklı seri");
    assert_eq!(
        prices[0].material.as_deref(),
        Some("İsviçre; \"Straumann\"")
    );
    assert_eq!((prices[0].min_try, prices[0].max_try), (35_000, 48_000));
    assert_eq!(prices[0].note.as_deref(), Some("Çok satırlı\r\nnot"));
    assert_eq!(prices[0].needs, [Qualifier::ToothCount]);
    assert_eq!((prices[1].min_try, prices[1].max_try), (1500, 2500));
    assert_eq!(prices[1].min_eur, None);
}

#[test]
fn a_header_only_price_list_is_empty_and_an_empty_file_is_refused() {
    assert_eq!(Clinic::parse_prices(HEADER).unwrap(), []);
    assert_eq!(
        csv_err("").to_string(),
        "prices.csv row 1: the header row is missing (expected treatment,name,material,unit,min_try,max_try,min_eur,max_eur,needs,campaign_pct,campaign_until,note)"
    );
}

// ---------------------------------------------------------------- bad prices.csv

const OK_ROWS: &str = "\
implant,İmplant,Kore,tooth,18000,25000,400,550,tooth_count;material,,,\n\
implant,İmplant,İsviçre,tooth,35000,48000,750,1000,tooth_count;material,,,\n";

#[test]
fn a_bad_number_names_row_and_column() {
    let csv = format!("{HEADER}{OK_ROWS}filling,Dolgu,,tooth,2000,abc,,,,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 4, column max_try: \"abc\" is not a number"
    );
}

#[test]
fn a_zero_width_space_inside_a_number_is_refused_not_guessed() {
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2\u{200b}000,3500,,,,,,\n");
    let err = csv_err(&csv);
    assert_eq!(
        err,
        ClinicError::Price {
            row: 2,
            column: "min_try".into(),
            message: "\"2\\u{200b}000\" is not a number".into(),
        }
    );
}

#[test]
fn decimals_other_than_zero_are_refused() {
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2000,3500.50,,,,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2, column max_try: \"3500.50\" must be a whole amount"
    );
}

#[test]
fn min_above_max_is_refused() {
    let csv = format!("{HEADER}filling,Dolgu,,tooth,4000,3500,,,,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2, column max_try: 3500 is less than min_try (4000)"
    );
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2000,3500,90,50,,,,\n");
    assert!(
        matches!(csv_err(&csv), ClinicError::Price { row: 2, column, .. } if column == "max_eur")
    );
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2000,3500,90,,,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2, column max_eur: is empty but min_eur is not"
    );
}

#[test]
fn an_unknown_unit_or_qualifier_is_named() {
    let csv = format!("{HEADER}filling,Dolgu,,kutu,2000,3500,,,,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2, column unit: unknown unit \"kutu\" (expected tooth, jaw, session or treatment)"
    );
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2000,3500,,,tooth_count;renk,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2, column needs: unknown qualifier \"renk\" (expected tooth_count, jaw or material)"
    );
    // Turkish unit words work, capital İ included.
    let csv = format!("{HEADER}filling,Dolgu,,DİŞ,2000,3500,,,,,,\n");
    assert_eq!(Clinic::parse_prices(&csv).unwrap()[0].unit, Unit::Tooth);
}

#[test]
fn needs_that_cannot_be_met_are_refused() {
    let csv = format!("{HEADER}orthodontics,Ortodonti,,treatment,60000,85000,,,material,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2, column needs: material is needed but no row of orthodontics names a material"
    );
    let csv = format!("{HEADER}scaling,Temizlik,,session,1500,2500,,,tooth_count,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2, column needs: tooth_count needs unit = tooth (the unit is session)"
    );
}

#[test]
fn a_treatment_twice_in_one_material_is_refused_naming_both_rows() {
    // "İSVİÇRE" and "İsviçre" are one material: Turkish case folding.
    let csv = format!(
        "{HEADER}{OK_ROWS}implant,İmplant,İSVİÇRE,tooth,30000,40000,,,tooth_count;material,,,\n"
    );
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 4: implant in \"İSVİÇRE\" is already on row 3"
    );
    let csv =
        format!("{HEADER}{OK_ROWS}implant,İmplant,,tooth,30000,40000,,,tooth_count;material,,,\n");
    assert!(
        matches!(csv_err(&csv), ClinicError::Price { row: 4, column, .. } if column == "material")
    );
}

#[test]
fn header_problems_are_on_row_one() {
    assert_eq!(
        csv_err("treatment,name,unit,min_try,fiyat\n").to_string(),
        "prices.csv row 1: unknown column \"fiyat\" (expected treatment, name, material, unit, min_try, max_try, min_eur, max_eur, needs, campaign_pct, campaign_until, note, full_mouth)"
    );
    assert_eq!(
        csv_err("treatment,name,unit,min_try\n").to_string(),
        "prices.csv row 1: the header has no max_try column"
    );
}

#[test]
fn unknown_treatments_unclosed_quotes_and_bad_campaigns_are_refused() {
    let csv = format!("{HEADER}implnat,İmplant,,tooth,1,2,,,,,,\n");
    assert!(
        matches!(csv_err(&csv), ClinicError::Price { row: 2, column, message }
        if column == "treatment" && message.starts_with("unknown treatment \"implnat\""))
    );
    let csv = format!("{HEADER}filling,\"Dolgu,,tooth,2000,3500,,,,,,\n");
    assert_eq!(
        csv_err(&csv).to_string(),
        "prices.csv row 2: a quoted field is not closed (missing \")"
    );
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2000,3500,,,,120,,\n");
    assert!(
        matches!(csv_err(&csv), ClinicError::Price { row: 2, column, .. } if column == "campaign_pct")
    );
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2000,3500,,,,10,31/13/2026,\n");
    assert!(
        matches!(csv_err(&csv), ClinicError::Price { row: 2, column, .. } if column == "campaign_until")
    );
    // "%15" and a Turkish date are fine.
    let csv = format!("{HEADER}filling,Dolgu,,tooth,2000,3500,,,,%15,30.09.2026,\n");
    let campaign = Clinic::parse_prices(&csv).unwrap()[0].campaign.unwrap();
    assert_eq!(
        (campaign.percent, campaign.until),
        (15, Some(date(2026, 9, 30)))
    );
}

// ---------------------------------------------------------------- bad clinic.toml

#[test]
fn a_toml_syntax_error_gives_line_and_column() {
    let toml = "[settings]\nslot_step_minutes = 15\nhorizon_days = = 30\n";
    let err = Clinic::parse(toml, HEADER).unwrap_err();
    assert!(matches!(err, ClinicError::Toml { line: 3, .. }), "{err:?}");
    assert!(err.to_string().starts_with("clinic.toml line 3, column "));
}

#[test]
fn an_unknown_key_is_refused_by_name_and_line() {
    let toml = TEST_TOML.replace(
        "buffer_after_minutes = 10",
        "buffer_after_minutes = 10\ndurasyon = 30",
    );
    let err = toml_err(&toml);
    assert!(err.contains("unknown field `durasyon`"), "{err}");
    let line = TEST_TOML
        .lines()
        .position(|l| l.starts_with("buffer_after_minutes = 10"))
        .unwrap()
        + 2;
    assert!(
        err.starts_with(&format!("clinic.toml line {line}, column 1:")),
        "{err}"
    );
}

#[test]
fn a_zero_or_odd_duration_names_the_key_path() {
    let toml = TEST_TOML.replace("duration_minutes = 60", "duration_minutes = 0");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml services[1].duration_minutes: must be > 0"
    );
    let toml = TEST_TOML.replace("buffer_before_minutes = 10", "buffer_before_minutes = 7");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml services[1].buffer_before_minutes: 7 is not a multiple of 5 (time is booked in 5-minute cells)"
    );
    let toml = TEST_TOML.replace("slot_step_minutes = 30", "slot_step_minutes = 12");
    assert!(toml_err(&toml).starts_with("clinic.toml settings.slot_step_minutes: 12 must be"));
}

#[test]
fn unknown_practitioners_and_rooms_are_named_where_they_are_used() {
    let toml = TEST_TOML.replace(
        "practitioners = [\"dr-b\"]",
        "practitioners = [\"dr-b\", \"dr-x\"]",
    );
    assert_eq!(
        toml_err(&toml),
        "clinic.toml services[1].practitioners[1]: unknown practitioner \"dr-x\""
    );
    let toml = TEST_TOML.replace("rooms = [\"r2\"]", "rooms = [\"r9\"]");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml services[1].rooms[0]: unknown room \"r9\""
    );
    let toml = TEST_TOML.replace("practitioner = \"dr-b\"", "practitioner = \"dr-z\"");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml breaks[0].practitioner: unknown practitioner \"dr-z\""
    );
}

#[test]
fn overlapping_hours_and_a_break_outside_them_are_refused() {
    let toml = TEST_TOML.replace(
        "mon = \"09:00-17:00\"\ntue",
        "mon = \"09:00-13:00, 12:00-18:00\"\ntue",
    );
    assert_eq!(
        toml_err(&toml),
        "clinic.toml hours.mon: 09:00-13:00 overlaps 12:00-18:00"
    );
    let toml = TEST_TOML.replace(
        "from = \"12:30\"\nto = \"13:30\"",
        "from = \"16:30\"\nto = \"17:30\"",
    );
    assert_eq!(
        toml_err(&toml),
        "clinic.toml breaks[0]: 16:30-17:30 is outside the opening hours on mon (09:00-17:00)"
    );
    let toml = TEST_TOML.replace("from = \"12:30\"", "from = \"12:3\"");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml breaks[0].from: \"12:3\" is not a time like 09:00"
    );
    let toml = TEST_TOML.replace("sat = \"10:00-14:00\"", "sat = \"10:07-14:00\"");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml hours.sat: opening 10:07 is not on a 5-minute mark"
    );
}

#[test]
fn a_closure_that_ends_before_it_starts_is_refused() {
    let toml = TEST_TOML.replace(
        "from = 2026-06-11\nto = \"2026-06-12\"",
        "from = 2026-06-11\nto = \"2026-06-01\"",
    );
    assert_eq!(
        toml_err(&toml),
        "clinic.toml closures[1].to: 2026-06-01 is before from (2026-06-11)"
    );
    let toml = TEST_TOML.replace("from = \"2026-06-10\"", "from = 10");
    let err = toml_err(&toml);
    assert!(
        err.ends_with("invalid type: integer `10`, expected a date like 2026-12-31"),
        "{err}"
    );
    // A bare TOML time is no date either.
    let toml = TEST_TOML.replace("from = \"2026-06-10\"", "from = 10:00:00");
    assert!(toml_err(&toml).contains("is not a date like 2026-12-31"));
    let toml = TEST_TOML.replace("from = \"2026-06-10\"", "from = \"10.06.2026\"");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml closures[0].from: \"10.06.2026\" is not a date like 2026-12-31"
    );
}

#[test]
fn ids_must_be_ascii_but_names_may_be_turkish() {
    let toml = TEST_TOML.replace("id = \"dr-a\"", "id = \"dr-ışık\"");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml practitioners[0].id: \"dr-ışık\" is not a valid id: use up to 64 of a-z, 0-9, \"-\" and \"_\" (e.g. \"dr-isik\")"
    );
    let clinic = test_clinic();
    assert_eq!(clinic.practitioner("dr-b").unwrap().name, "Dt. İlker Baş");
    // Language codes are stored lowercase.
    assert_eq!(clinic.practitioner("dr-a").unwrap().languages, ["tr", "en"]);
    let toml = TEST_TOML.replace("id = \"r2\"", "id = \"dr-a\"");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml rooms[1].id: \"dr-a\" is already the id of practitioners[0]"
    );
}

#[test]
fn settings_that_name_nothing_are_refused() {
    let toml = TEST_TOML.replace(
        "horizon_days = 21",
        "horizon_days = 21\nexamination_service = \"muayene\"",
    );
    assert_eq!(
        toml_err(&toml),
        "clinic.toml settings.examination_service: unknown service \"muayene\""
    );
    let toml = TEST_TOML.replace(
        "horizon_days = 21",
        "horizon_days = 21\nreminder_template = \" \"",
    );
    assert_eq!(
        toml_err(&toml),
        "clinic.toml settings.reminder_template: must not be empty"
    );
    let toml = TEST_TOML.replace(
        "horizon_days = 21",
        "horizon_days = 21\nreminder_template = \"randevu_hatirlatma\"",
    );
    let clinic = Clinic::parse(&toml, HEADER).unwrap();
    assert_eq!(
        clinic.settings.reminder_template.as_deref(),
        Some("randevu_hatirlatma")
    );
    assert_eq!(clinic.settings.follow_up_template, None);
    let toml = TEST_TOML.replace("needs_room = false", "needs_room = false\nrooms = [\"r1\"]");
    assert_eq!(
        toml_err(&toml),
        "clinic.toml services[2].rooms: rooms are listed but needs_room = false"
    );
    let toml = TEST_TOML.replace(
        "sun = \"kapalı\"",
        "sun = \"kapalı\"\nfunday = \"10:00-12:00\"",
    );
    assert!(toml_err(&toml).starts_with("clinic.toml hours.funday: unknown day"));
}

// ---------------------------------------------------------------- quotes

const JUNE: Date = date(2026, 6, 1);

fn teeth(n: u32) -> Qualifiers {
    Qualifiers {
        teeth: Some(Teeth::Count(n)),
        ..Qualifiers::default()
    }
}

#[test]
fn missing_qualifiers_come_in_the_order_to_ask() {
    let clinic = demo();
    let nothing = Qualifiers::default();
    assert_eq!(
        clinic.quote("implant", &nothing, Currency::Try, JUNE),
        Err(QuoteGap::Missing(vec![
            Qualifier::ToothCount,
            Qualifier::Material
        ]))
    );
    assert_eq!(
        clinic.quote("implant", &teeth(2), Currency::Try, JUNE),
        Err(QuoteGap::Missing(vec![Qualifier::Material]))
    );
    assert_eq!(
        clinic.quote("all_on_four", &nothing, Currency::Try, JUNE),
        Err(QuoteGap::Missing(vec![Qualifier::Jaw]))
    );
    assert_eq!(
        clinic.quote("orthodontics", &nothing, Currency::Try, JUNE),
        Err(QuoteGap::Missing(vec![Qualifier::Material]))
    );
    assert_eq!(
        clinic.quote("rhinoplasty", &nothing, Currency::Try, JUNE),
        Err(QuoteGap::UnknownTreatment)
    );
    // A material the list does not have is asked again, with the options.
    let unknown = Qualifiers {
        material: Some("Alman".into()),
        ..teeth(1)
    };
    assert_eq!(
        clinic.quote("implant", &unknown, Currency::Try, JUNE),
        Err(QuoteGap::Missing(vec![Qualifier::Material]))
    );
}

#[test]
fn a_per_tooth_quote_multiplies_and_matches_the_material_loosely() {
    let clinic = demo();
    let q = Qualifiers {
        material: Some("straumann".into()),
        ..teeth(2)
    };
    let quote = clinic.quote("implant", &q, Currency::Try, JUNE).unwrap();
    assert_eq!(quote.material.as_deref(), Some("İsviçre (Straumann)"));
    assert_eq!((quote.count, quote.min, quote.max), (2, 70_000, 96_000));
    assert_eq!((quote.per_unit_min, quote.per_unit_max), (35_000, 48_000));
    assert_eq!(quote.currency, Currency::Try);
    assert_eq!(
        format!(
            "{} – {}",
            format_money(quote.min, quote.currency),
            format_money(quote.max, quote.currency)
        ),
        "70.000 TL – 96.000 TL"
    );
    // Capital dotted İ, no Turkish letters: the same row.
    for typed in ["İSVİÇRE", "isvicre"] {
        let q = Qualifiers {
            material: Some(typed.into()),
            ..teeth(1)
        };
        let quote = clinic.quote("implant", &q, Currency::Try, JUNE).unwrap();
        assert_eq!(
            quote.material.as_deref(),
            Some("İsviçre (Straumann)"),
            "{typed}"
        );
    }
    // A count the row does not ask for prices one tooth.
    let one = clinic
        .quote("extraction", &Qualifiers::default(), Currency::Try, JUNE)
        .unwrap();
    assert_eq!((one.count, one.min, one.max), (1, 1500, 3000));
}

#[test]
fn a_full_mouth_is_28_teeth_and_both_jaws_count_twice() {
    let clinic = demo();
    let full = Qualifiers {
        teeth: Some(Teeth::FullMouth),
        ..Qualifiers::default()
    };
    let quote = clinic
        .quote("zirconia_crown", &full, Currency::Try, JUNE)
        .unwrap();
    assert_eq!((quote.count, quote.min, quote.max), (28, 224_000, 336_000));

    let both = Qualifiers {
        jaw: Some(Jaw::Both),
        ..Qualifiers::default()
    };
    let quote = clinic
        .quote("all_on_four", &both, Currency::Try, JUNE)
        .unwrap();
    assert_eq!((quote.count, quote.min, quote.max), (2, 360_000, 520_000));
    let upper = Qualifiers {
        jaw: Some(Jaw::Upper),
        ..Qualifiers::default()
    };
    assert_eq!(
        clinic
            .quote("all_on_four", &upper, Currency::Try, JUNE)
            .unwrap()
            .count,
        1
    );
    // "Tüm ağız" for a per-jaw treatment means both jaws: nothing to ask.
    assert_eq!(
        clinic
            .quote("all_on_four", &full, Currency::Try, JUNE)
            .unwrap()
            .count,
        2
    );
}

#[test]
fn a_row_may_say_how_many_teeth_a_full_mouth_is() {
    let csv = HEADER.replace("note\n", "note,full_mouth\n")
        + "laminate_veneer,Lamina,,tooth,12000,18000,,,tooth_count,,,,20\n";
    let mut clinic = test_clinic();
    clinic.prices = Clinic::parse_prices(&csv).unwrap();
    let full = Qualifiers {
        teeth: Some(Teeth::FullMouth),
        ..Qualifiers::default()
    };
    let quote = clinic
        .quote("laminate_veneer", &full, Currency::Try, JUNE)
        .unwrap();
    assert_eq!((quote.count, quote.min), (20, 240_000));
}

#[test]
fn euros_come_from_the_eur_columns_or_the_rate_or_fall_back_to_lira() {
    let mut clinic = demo();
    let kore = Qualifiers {
        material: Some("Kore".into()),
        ..teeth(3)
    };
    let quote = clinic.quote("implant", &kore, Currency::Eur, JUNE).unwrap();
    assert_eq!(
        (quote.currency, quote.min, quote.max),
        (Currency::Eur, 1200, 1650)
    );
    assert_eq!(format_money(quote.max, quote.currency), "1.650 €");

    // No EUR columns: 60.000–85.000 TL at 0.02, rounded to tens.
    let metal = Qualifiers {
        material: Some("metal".into()),
        ..Qualifiers::default()
    };
    let quote = clinic
        .quote("orthodontics", &metal, Currency::Eur, JUNE)
        .unwrap();
    assert_eq!(
        (quote.currency, quote.min, quote.max),
        (Currency::Eur, 1200, 1700)
    );

    clinic.settings.eur_per_try = None;
    let quote = clinic
        .quote("orthodontics", &metal, Currency::Eur, JUNE)
        .unwrap();
    assert_eq!(
        (quote.currency, quote.min, quote.max),
        (Currency::Try, 60_000, 85_000)
    );
}

#[test]
fn a_campaign_applies_until_its_last_day() {
    let clinic = demo();
    let q = Qualifiers::default();
    let quote = clinic
        .quote("teeth_whitening", &q, Currency::Try, JUNE)
        .unwrap();
    let campaign = quote.campaign.expect("campaign");
    assert_eq!(
        (campaign.percent, campaign.until),
        (20, Some(date(2027, 1, 31)))
    );
    assert_eq!((quote.min, quote.max), (4800, 7200));
    assert_eq!((quote.list_min, quote.list_max), (6000, 9000));
    let last_day = clinic
        .quote("teeth_whitening", &q, Currency::Try, date(2027, 1, 31))
        .unwrap();
    assert!(last_day.campaign.is_some());
    let after = clinic
        .quote("teeth_whitening", &q, Currency::Try, date(2027, 2, 1))
        .unwrap();
    assert_eq!((after.campaign, after.min, after.max), (None, 6000, 9000));
    // In euros too: 150–200 € less 20 %.
    let eur = clinic
        .quote("teeth_whitening", &q, Currency::Eur, JUNE)
        .unwrap();
    assert_eq!((eur.min, eur.max), (120, 160));
}

#[test]
fn money_is_written_the_turkish_way() {
    assert_eq!(format_money(0, Currency::Try), "0 TL");
    assert_eq!(format_money(999, Currency::Try), "999 TL");
    assert_eq!(format_money(1000, Currency::Try), "1.000 TL");
    assert_eq!(format_money(12_500, Currency::Try), "12.500 TL");
    assert_eq!(format_money(1_234_567, Currency::Try), "1.234.567 TL");
    assert_eq!(format_money(1200, Currency::Eur), "1.200 €");
    assert_eq!(format_money(-300, Currency::Eur), "-300 €");
}

// ---------------------------------------------------------------- holidays

#[test]
fn republic_day_is_closed_and_its_eve_is_a_half_day() {
    let day = holiday(date(2026, 10, 29)).unwrap();
    assert_eq!((day.name, day.half_day), ("Cumhuriyet Bayramı", false));
    let eve = holiday(date(2026, 10, 28)).unwrap();
    assert!(eve.half_day);
    assert_eq!(holiday(date(2026, 10, 27)), None);
    // Fixed days are known in any year.
    assert_eq!(
        holiday(date(2031, 4, 23)).unwrap().name,
        "Ulusal Egemenlik ve Çocuk Bayramı"
    );
}

#[test]
fn ramazan_and_kurban_bayrami_fall_on_the_diyanet_dates() {
    let full = |y, m, d| holiday(date(y, m, d)).is_some_and(|h| !h.half_day);
    let half = |y, m, d| holiday(date(y, m, d)).is_some_and(|h| h.half_day);
    // (eve, first day, days)
    let bayrams = [
        ((2026, 3, 19), 3, "Ramazan Bayramı"),
        ((2026, 5, 26), 4, "Kurban Bayramı"),
        ((2027, 3, 8), 3, "Ramazan Bayramı"),
        ((2027, 5, 15), 4, "Kurban Bayramı"),
        ((2028, 2, 25), 3, "Ramazan Bayramı"),
        ((2028, 5, 4), 4, "Kurban Bayramı"),
    ];
    for ((y, m, d), days, name) in bayrams {
        let eve = date(y, m, d);
        assert!(half(y, m, d), "eve {eve}");
        assert!(holiday(eve).unwrap().name.starts_with(name));
        let mut day = eve.tomorrow().unwrap();
        for _ in 0..days {
            assert!(full(day.year(), day.month(), day.day()), "{name} on {day}");
            day = day.tomorrow().unwrap();
        }
        // The day after is a working day (unless a national day).
        assert_eq!(holiday(day), None, "after {name}: {day}");
    }
    assert_eq!(holiday(date(2026, 3, 20)).unwrap().name, "Ramazan Bayramı");
    // 2028 Ramazan Bayramı's third day is 28 Şubat; 29 Şubat is a working day.
    assert!(full(2028, 2, 28));
    // Outside the table only national days are known.
    assert_eq!(holiday(date(2030, 2, 5)), None);
    // 2026: 8 fixed days (one a half day) + 3 + 4 bayram days + 2 eves.
    assert_eq!(holidays(2026).len(), 17);
}

// ---------------------------------------------------------------- slots

#[test]
fn slots_start_on_the_grid_after_the_notice_and_ties_go_to_the_first_practitioner() {
    let clinic = test_clinic();
    let mut q = query("exam", "2026-06-01T06:00");
    q.limit = 3;
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    assert_eq!(starts(&slots), ["09:00", "09:30", "10:00"]);
    let first = &slots[0];
    assert_eq!(first.practitioner, "dr-a");
    assert_eq!(first.room.as_deref(), Some("r1"));
    assert_eq!(first.end, istanbul("2026-06-01T09:30"));
    assert_eq!(first.blocks_from, istanbul("2026-06-01T09:00"));
    assert_eq!(first.blocks_until, istanbul("2026-06-01T09:40"));

    // 10:10 + 60 minutes of notice: the first start is 11:30.
    let mut q = query("exam", "2026-06-01T10:10");
    q.limit = 1;
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    assert_eq!(hm(slots[0].start), "11:30");
    // Late in the day: tomorrow morning.
    let mut q = query("exam", "2026-06-01T16:30");
    q.limit = 1;
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    assert_eq!(slots[0].start, istanbul("2026-06-02T09:00"));
}

#[test]
fn the_visit_and_its_buffer_stay_inside_the_hours_and_outside_the_break() {
    let clinic = test_clinic();
    let monday = date(2026, 6, 1);
    let mut q = query("exam", "2026-05-31T08:00");
    q.prefs.date = Some(monday);
    q.prefs.practitioner = Some("dr-b".into());
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    let s = starts(&slots);
    // 11:30 ends with its buffer at 12:10; 12:00 would run into the 12:30 break.
    assert!(s.contains(&"11:30".to_string()));
    for blocked in ["12:00", "12:30", "13:00"] {
        assert!(!s.contains(&blocked.to_string()), "{blocked} in {s:?}");
    }
    assert!(s.contains(&"13:30".to_string()));
    // The last start leaves room for 30 minutes and the 10-minute buffer before 17:00.
    assert_eq!(s.last().unwrap(), "16:00");

    // Surgery: 10 minutes before, 60, 20 after, only dr-b in r2.
    let slots = on(&clinic, &[], "surgery", "2026-05-31T08:00", monday);
    assert_eq!(
        starts(&slots),
        [
            "09:30", "10:00", "10:30", "11:00", "14:00", "14:30", "15:00", "15:30"
        ]
    );
    assert_eq!(slots[0].blocks_from, istanbul("2026-06-01T09:20"));
    assert_eq!(slots[0].blocks_until, istanbul("2026-06-01T10:50"));
}

#[test]
fn a_busy_room_pushes_the_start_past_it_with_the_buffer() {
    let clinic = test_clinic();
    let busy = [busy("r2", "2026-06-01T10:00", "2026-06-01T10:30")];
    let slots = on(
        &clinic,
        &busy,
        "surgery",
        "2026-05-31T08:00",
        date(2026, 6, 1),
    );
    // 09:30 would need r2 until 10:50; the next start whose 10-minute set-up begins
    // after 10:30 is 11:00.
    assert_eq!(starts(&slots)[0], "11:00");
}

#[test]
fn a_busy_practitioner_gives_way_to_another_and_a_busy_chair_to_another_chair() {
    let clinic = test_clinic();
    let busy_a = [busy("dr-a", "2026-06-01T09:00", "2026-06-01T11:00")];
    let slots = on(
        &clinic,
        &busy_a,
        "exam",
        "2026-05-31T08:00",
        date(2026, 6, 1),
    );
    let who: Vec<(String, &str)> = slots[..5]
        .iter()
        .map(|s| (hm(s.start), s.practitioner.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            ("09:00".to_string(), "dr-b"),
            ("09:30".to_string(), "dr-b"),
            ("10:00".to_string(), "dr-b"),
            ("10:30".to_string(), "dr-b"),
            ("11:00".to_string(), "dr-a"),
        ]
    );

    let busy_r1 = [busy("r1", "2026-06-01T09:00", "2026-06-01T09:20")];
    let slots = on(
        &clinic,
        &busy_r1,
        "exam",
        "2026-05-31T08:00",
        date(2026, 6, 1),
    );
    assert_eq!(
        (hm(slots[0].start), slots[0].room.as_deref()),
        ("09:00".into(), Some("r2"))
    );
}

#[test]
fn when_every_chair_is_busy_there_is_no_slot() {
    let clinic = test_clinic();
    let chairs = [
        busy("r1", "2026-06-01T09:00", "2026-06-01T10:00"),
        busy("r2", "2026-06-01T08:00", "2026-06-01T10:00"),
    ];
    let slots = on(
        &clinic,
        &chairs,
        "exam",
        "2026-05-31T08:00",
        date(2026, 6, 1),
    );
    assert_eq!(starts(&slots)[0], "10:00");

    let all_day = [
        busy("r1", "2026-06-01T00:00", "2026-06-02T00:00"),
        busy("r2", "2026-06-01T00:00", "2026-06-02T00:00"),
    ];
    assert!(
        on(
            &clinic,
            &all_day,
            "exam",
            "2026-05-31T08:00",
            date(2026, 6, 1)
        )
        .is_empty()
    );
    // A video call needs no chair.
    let calls = on(
        &clinic,
        &all_day,
        "call",
        "2026-05-31T08:00",
        date(2026, 6, 1),
    );
    assert_eq!(
        (hm(calls[0].start), calls[0].room.clone()),
        ("09:00".into(), None)
    );
}

#[test]
fn no_slots_on_holidays_and_none_from_13_00_on_their_eves() {
    let clinic = test_clinic();
    let now = "2026-10-26T08:00";
    assert!(on(&clinic, &[], "exam", now, date(2026, 10, 29)).is_empty());
    let eve = on(&clinic, &[], "exam", now, date(2026, 10, 28));
    assert_eq!(starts(&eve).last().unwrap(), "12:00");
    assert!(
        eve.iter()
            .all(|s| s.blocks_until <= istanbul("2026-10-28T13:00"))
    );
    // The Wednesday before is a whole day.
    let normal = on(&clinic, &[], "exam", "2026-10-19T08:00", date(2026, 10, 21));
    assert_eq!(starts(&normal).last().unwrap(), "16:00");

    // Ramazan Bayramı 2026: the eve Thursday until 13:00, Friday and Saturday closed.
    let now = "2026-03-16T08:00";
    assert_eq!(
        starts(&on(&clinic, &[], "exam", now, date(2026, 3, 19)))
            .last()
            .unwrap(),
        "12:00"
    );
    assert!(on(&clinic, &[], "exam", now, date(2026, 3, 20)).is_empty());
    assert!(on(&clinic, &[], "exam", now, date(2026, 3, 21)).is_empty());
    assert!(!on(&clinic, &[], "exam", now, date(2026, 3, 23)).is_empty());

    // A clinic may choose to work on holidays.
    let mut open = clinic.clone();
    open.settings.observe_holidays = false;
    assert!(!on(&open, &[], "exam", "2026-10-26T08:00", date(2026, 10, 29)).is_empty());
}

#[test]
fn closures_close_the_clinic_or_only_one_practitioner() {
    let clinic = test_clinic();
    let now = "2026-06-08T08:00";
    assert!(on(&clinic, &[], "exam", now, date(2026, 6, 10)).is_empty());
    let away = on(&clinic, &[], "exam", now, date(2026, 6, 11));
    assert!(!away.is_empty());
    assert!(away.iter().all(|s| s.practitioner == "dr-b"));
    // Saturdays are dr-a's alone (dr-b's own hours have none).
    let saturday = on(&clinic, &[], "exam", "2026-06-01T08:00", date(2026, 6, 6));
    assert!(saturday.iter().all(|s| s.practitioner == "dr-a"));
    assert_eq!(starts(&saturday).first().unwrap(), "10:00");
    assert_eq!(starts(&saturday).last().unwrap(), "13:00");
}

#[test]
fn preferences_narrow_the_search() {
    let clinic = test_clinic();
    let mut q = query("exam", "2026-06-01T06:00");
    q.limit = 2;
    q.prefs.part = Some(DayPart::Afternoon);
    q.prefs.weekday = Some(Weekday::Thursday);
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    assert_eq!(slots[0].start, istanbul("2026-06-04T12:00"));
    assert_eq!(slots[1].start, istanbul("2026-06-04T12:30"));

    let mut q = query("exam", "2026-06-01T06:00");
    q.prefs.part = Some(DayPart::Evening);
    assert!(clinic.find_slots(&tz(), &[], &q).unwrap().is_empty());

    let mut q = query("exam", "2026-06-01T06:00");
    q.prefs.practitioner = Some("dr-b".into());
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    assert!(!slots.is_empty() && slots.iter().all(|s| s.practitioner == "dr-b"));

    let mut q = query("exam", "2026-06-01T06:00");
    q.prefs.not_before = Some(istanbul("2026-06-03T15:00"));
    q.limit = 1;
    assert_eq!(
        clinic.find_slots(&tz(), &[], &q).unwrap()[0].start,
        istanbul("2026-06-03T15:00")
    );

    for part in DayPart::ALL {
        let mut q = query("exam", "2026-06-01T06:00");
        q.prefs.part = Some(part);
        for s in clinic.find_slots(&tz(), &[], &q).unwrap() {
            assert_eq!(DayPart::of(s.start.to_zoned(tz()).time()), part);
        }
    }
}

#[test]
fn spread_offers_one_slot_per_part_of_each_day() {
    let clinic = test_clinic();
    let mut q = query("exam", "2026-06-01T06:00");
    q.limit = 4;
    q.spread = true;
    let slots = clinic.find_slots(&tz(), &[], &q).unwrap();
    let got: Vec<Timestamp> = slots.iter().map(|s| s.start).collect();
    assert_eq!(
        got,
        [
            istanbul("2026-06-01T09:00"),
            istanbul("2026-06-01T12:00"),
            istanbul("2026-06-02T09:00"),
            istanbul("2026-06-02T12:00"),
        ]
    );
}

#[test]
fn the_search_stops_at_the_horizon() {
    let clinic = test_clinic();
    let slots = clinic
        .find_slots(&tz(), &[], &query("exam", "2026-06-01T06:00"))
        .unwrap();
    // 1000 would be far more than three weeks hold.
    assert!(slots.len() < 1000);
    assert_eq!(local_date(slots.last().unwrap().start), date(2026, 6, 22));
    assert!(on(&clinic, &[], "exam", "2026-06-01T06:00", date(2026, 6, 23)).is_empty());
    // Results are in start order.
    assert!(slots.windows(2).all(|w| w[0].start <= w[1].start));
}

#[test]
fn hours_are_local_to_the_clinic_across_daylight_saving_time() {
    let clinic = test_clinic();
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let mut q = query("exam", "2026-03-26T12:00");
    q.prefs.date = Some(date(2026, 3, 30));
    q.limit = 1;
    let slots = clinic.find_slots(&berlin, &[], &q).unwrap();
    // 09:00 in Berlin the day after the clocks went forward is 07:00 UTC.
    assert_eq!(
        slots[0].start,
        "2026-03-30T07:00:00Z".parse::<Timestamp>().unwrap()
    );
}

#[test]
fn unknown_services_and_practitioners_are_errors() {
    let clinic = test_clinic();
    assert_eq!(
        clinic.find_slots(&tz(), &[], &query("nope", "2026-06-01T06:00")),
        Err(SlotError::UnknownService("nope".into()))
    );
    let mut q = query("exam", "2026-06-01T06:00");
    q.prefs.practitioner = Some("dr-x".into());
    assert_eq!(
        clinic.find_slots(&tz(), &[], &q),
        Err(SlotError::UnknownPractitioner("dr-x".into()))
    );
    let mut q = query("surgery", "2026-06-01T06:00");
    q.prefs.practitioner = Some("dr-a".into());
    assert_eq!(
        clinic.find_slots(&tz(), &[], &q),
        Err(SlotError::NotForService {
            practitioner: "dr-a".into(),
            service: "surgery".into()
        })
    );
}

#[test]
fn a_slot_id_names_the_slot_exactly_and_is_rechecked_before_holding() {
    let clinic = test_clinic();
    let mut q = query("surgery", "2026-06-01T06:00");
    q.limit = 1;
    let slot = clinic.find_slots(&tz(), &[], &q).unwrap().remove(0);
    let id = slot_id(&slot);
    assert_eq!(
        id,
        format!("slot:surgery:dr-b:r2:{}", slot.start.as_second())
    );
    assert!(id.len() <= 256);
    let r = parse_slot_id(&id).unwrap();
    assert_eq!(clinic.slot_from_ref(&r), Some(slot.clone()));
    assert!(clinic.is_free(&tz(), &[], &slot));

    // Someone took the chair meanwhile: no longer free; another chair's booking is fine.
    let taken = [busy("r2", "2026-06-01T10:40", "2026-06-01T11:00")];
    assert!(!clinic.is_free(&tz(), &taken, &slot));
    let elsewhere = [busy("r1", "2026-06-01T09:00", "2026-06-01T12:00")];
    assert!(clinic.is_free(&tz(), &elsewhere, &slot));
    // A busy block that ends exactly when the set-up starts does not touch it.
    let before = [busy("dr-b", "2026-06-01T09:00", "2026-06-01T09:20")];
    assert!(clinic.is_free(&tz(), &before, &slot));

    // A slot moved onto a closure or across the break is not free.
    let mut moved = slot.clone();
    moved.start = istanbul("2026-06-10T10:00");
    let moved = clinic
        .slot_from_ref(&parse_slot_id(&slot_id(&moved)).unwrap())
        .unwrap();
    assert!(!clinic.is_free(&tz(), &[], &moved));

    let call = parse_slot_id("slot:call:dr-a:-:1780300800").unwrap();
    assert_eq!(call.room, None);
    assert!(clinic.slot_from_ref(&call).is_some());
    for bad in [
        "slot:surgery:dr-a:r2:1780300800", // dr-a does not operate
        "slot:surgery:dr-b:r1:1780300800", // not in r1
        "slot:exam:dr-a:-:1780300800",     // an exam needs a chair
        "slot:nope:dr-a:r1:1780300800",
    ] {
        let r = parse_slot_id(bad).unwrap();
        assert_eq!(clinic.slot_from_ref(&r), None, "{bad}");
    }
    for garbage in [
        "",
        "slot:",
        "slot:a:b:c",
        "slot:a:b:c:d",
        "slot:a:b:c:1:2",
        "btn:a:b:c:1",
    ] {
        assert_eq!(parse_slot_id(garbage), None, "{garbage:?}");
    }
    assert_eq!(
        parse_slot_id(&format!("slot:{}:b:c:1", "a".repeat(300))),
        None
    );
}

// ---------------------------------------------------------------- property tests

const RESOURCES: [&str; 4] = ["dr-a", "dr-b", "r1", "r2"];

fn week_start() -> Timestamp {
    istanbul("2026-06-01T00:00")
}

fn busy_blocks() -> impl Strategy<Value = Vec<Busy>> {
    // Blocks of 5 to 120 minutes anywhere in Monday to Saturday.
    prop::collection::vec((0..4usize, 0..6 * 288i64, 1..=24i64), 0..60).prop_map(|raw| {
        raw.into_iter()
            .map(|(r, cell, len)| Busy {
                resource: RESOURCES[r].to_string(),
                from: week_start() + (cell * 5).minutes(),
                until: week_start() + ((cell + len) * 5).minutes(),
            })
            .collect()
    })
}

fn overlaps(a: (Timestamp, Timestamp), b: (Timestamp, Timestamp)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn takes(slot: &Slot, resource: &str) -> bool {
    slot.practitioner == resource || slot.room.as_deref() == Some(resource)
}

fn part_strategy() -> impl Strategy<Value = Option<DayPart>> {
    prop_oneof![
        Just(None),
        Just(Some(DayPart::Morning)),
        Just(Some(DayPart::Afternoon)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn found_slots_never_overlap_a_busy_block_of_their_practitioner_or_room(
        busy in busy_blocks(),
        surgery in any::<bool>(),
        part in part_strategy(),
        spread in any::<bool>(),
    ) {
        let clinic = test_clinic();
        let service = if surgery { "surgery" } else { "exam" };
        let mut q = query(service, "2026-05-31T20:00");
        q.prefs.part = part;
        q.spread = spread;
        q.limit = 60;
        let slots = clinic.find_slots(&tz(), &busy, &q).unwrap();
        for s in &slots {
            for b in busy.iter().filter(|b| takes(s, &b.resource)) {
                prop_assert!(
                    !overlaps((s.blocks_from, s.blocks_until), (b.from, b.until)),
                    "{s:?} overlaps {b:?}"
                );
            }
            prop_assert!(clinic.is_free(&tz(), &busy, s));
            prop_assert!(s.start >= q.now + 60.minutes());
            prop_assert_eq!(s.start.as_second() % 300, 0);
        }
        prop_assert!(slots.windows(2).all(|w| w[0].start <= w[1].start));
    }

    #[test]
    fn booking_one_slot_after_another_never_double_books(
        busy in busy_blocks(),
        services in prop::collection::vec((0..3usize, part_strategy()), 1..30),
    ) {
        let clinic = test_clinic();
        let mut busy = busy;
        let mut booked: Vec<Slot> = Vec::new();
        for (service, part) in services {
            let service = ["exam", "surgery", "call"][service];
            let mut q = query(service, "2026-05-31T20:00");
            q.prefs.part = part;
            q.limit = 1;
            let Some(slot) = clinic.find_slots(&tz(), &busy, &q).unwrap().pop() else {
                continue;
            };
            for resource in std::iter::once(&slot.practitioner).chain(slot.room.as_ref()) {
                busy.push(Busy {
                    resource: resource.clone(),
                    from: slot.blocks_from,
                    until: slot.blocks_until,
                });
            }
            booked.push(slot);
        }
        for (i, a) in booked.iter().enumerate() {
            for b in &booked[i + 1..] {
                for r in RESOURCES {
                    if takes(a, r) && takes(b, r) {
                        prop_assert!(
                            !overlaps((a.blocks_from, a.blocks_until), (b.blocks_from, b.blocks_until)),
                            "{a:?} and {b:?} share {r}"
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- iCal and times

fn unfold(feed: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in feed.split("\r\n") {
        match line.strip_prefix(' ') {
            Some(rest) => lines.last_mut().unwrap().push_str(rest),
            None => lines.push(line.to_string()),
        }
    }
    lines
}

#[test]
fn the_ical_feed_escapes_and_folds_turkish_text_on_character_boundaries() {
    let summary =
        "Muayene — Dt. Ayşe Yılmaz; Şükrü Öğütçü, İğdır'dan gelen hasta (çok önemli) ğğğğğğğğğğ";
    let events = [
        IcalEvent {
            uid: "appointment-1@kopru".into(),
            start: istanbul("2026-12-03T10:00"),
            end: istanbul("2026-12-03T10:30"),
            stamp: istanbul("2026-11-20T09:15"),
            summary: summary.into(),
            description: Some("Not: ağrı var,\nkontrol\\tekrar".into()),
            status_cancelled: false,
        },
        IcalEvent {
            uid: "appointment-2@kopru".into(),
            start: istanbul("2026-12-04T14:00"),
            end: istanbul("2026-12-04T15:00"),
            stamp: istanbul("2026-11-21T09:15"),
            summary: "İptal edildi".into(),
            description: None,
            status_cancelled: true,
        },
    ];
    let feed = ical_feed("Gülüş Diş Kliniği, Kadıköy", &events);
    assert!(feed.ends_with("END:VCALENDAR\r\n"));
    assert!(!feed.replace("\r\n", "").contains('\n'), "bare LF");
    for line in feed.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    // The long Turkish summary was folded, and unfolds to the escaped text.
    assert!(feed.contains("\r\n "));
    let lines = unfold(&feed);
    let escaped = "SUMMARY:Muayene — Dt. Ayşe Yılmaz\\; Şükrü Öğütçü\\, İğdır'dan gelen hasta (çok önemli) ğğğğğğğğğğ";
    assert!(lines.iter().any(|l| l == escaped), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "DESCRIPTION:Not: ağrı var\\,\\nkontrol\\\\tekrar")
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "X-WR-CALNAME:Gülüş Diş Kliniği\\, Kadıköy")
    );
    assert!(lines.iter().any(|l| l == "DTSTART:20261203T070000Z"));
    assert!(lines.iter().any(|l| l == "DTEND:20261203T073000Z"));
    assert!(lines.iter().any(|l| l == "DTSTAMP:20261120T061500Z"));
    assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 2);
    assert_eq!(lines.iter().filter(|l| *l == "STATUS:CANCELLED").count(), 1);
    assert_eq!(
        lines[..3],
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Kopru//Appointments//TR"
        ]
    );
}

#[test]
fn times_are_shown_in_the_clinic_zone_with_the_customers_clock_when_it_differs() {
    let at = istanbul("2026-12-03T10:00");
    assert_eq!(
        local_and_customer_time(at, &tz(), None),
        "3 Aralık Perşembe 10:00"
    );
    assert_eq!(
        local_and_customer_time(at, &tz(), Some(&tz())),
        "3 Aralık Perşembe 10:00"
    );
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    assert_eq!(
        local_and_customer_time(at, &tz(), Some(&berlin)),
        "3 Aralık Perşembe 10:00 (sizin saatinizle 08:00)"
    );
    // Summer time in Berlin: one hour apart.
    assert_eq!(
        local_and_customer_time(istanbul("2026-06-04T10:00"), &tz(), Some(&berlin)),
        "4 Haziran Perşembe 10:00 (sizin saatinizle 09:00)"
    );
    // Another day over there: the date too.
    let new_york = TimeZone::get("America/New_York").unwrap();
    assert_eq!(
        local_and_customer_time(istanbul("2026-12-03T02:00"), &tz(), Some(&new_york)),
        "3 Aralık Perşembe 02:00 (sizin saatinizle 2 Aralık Çarşamba 18:00)"
    );
    // A zone with the same offset is not mentioned.
    let moscow = TimeZone::get("Europe/Moscow").unwrap();
    assert_eq!(
        local_and_customer_time(at, &tz(), Some(&moscow)),
        "3 Aralık Perşembe 10:00"
    );
}

#[test]
fn a_minimal_clinic_gets_the_default_settings_and_needs_no_rooms() {
    let toml = r#"
[hours]
pzt = "9-18"
cmt = "10.00-14.00"

[[practitioners]]
id = "dr"
name = "Dt. Öykü Şen"

[[services]]
id = "muayene"
name = "Muayene"
duration_minutes = 20
"#;
    let clinic = Clinic::parse(toml, HEADER).unwrap();
    assert_eq!(clinic.settings, flows::clinic::Settings::default());
    assert_eq!(clinic.settings.slot_step_minutes, 15);
    assert!(clinic.settings.observe_holidays);
    let service = clinic.service("muayene").unwrap();
    assert!(!service.needs_room && service.rooms.is_empty());
    // The settings round-trip through the serde form the admin API shows.
    let json = serde_json::to_string(&clinic.settings).unwrap();
    let back: flows::clinic::Settings = serde_json::from_str(&json).unwrap();
    assert_eq!(back, clinic.settings);
    // Monday 1 June 2026 at 06:00: the first slot is 09:00, with no chair.
    let mut q = query("muayene", "2026-06-01T06:00");
    q.limit = 1;
    let slot = clinic.find_slots(&tz(), &[], &q).unwrap().remove(0);
    assert_eq!((hm(slot.start), slot.room), ("09:00".to_string(), None));
}
