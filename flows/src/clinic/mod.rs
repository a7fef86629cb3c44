//! A clinic as the appointment engine and the price pipeline see it: practitioners, rooms
//! (chairs), services, working hours, breaks, closures and the price list, parsed and
//! validated from the tenant's `clinic.toml` and `prices.csv`; and the pure logic over
//! them: quotes, Turkish public holidays, slot search, slot ids, iCal feeds and times
//! shown in the clinic's and the customer's zone.
//!
//! # Layout
//! - `data` (private): `clinic.toml` → [`Clinic`] with its validation.
//! - `prices` (private): `prices.csv` → [`PriceItem`]s with their validation.
//! - [`quote`]: [`Clinic::quote`], [`Qualifiers`], [`format_money`].
//! - [`holidays`]: Turkish public holidays 2026–2028 as data.
//! - [`slots`]: [`Clinic::find_slots`], [`Clinic::is_free`], slot ids.
//! - [`ical`]: the iCal feed of a calendar.
//! - `local_time` (private): [`local_and_customer_time`].

mod data;
pub mod holidays;
pub mod ical;
mod local_time;
mod prices;
pub mod quote;
pub mod slots;

pub use data::{Break, Closure, Practitioner, Room, Service, Settings};
pub use holidays::{Holiday, holiday};
pub use ical::{IcalEvent, ical_feed};
pub use local_time::local_and_customer_time;
pub use prices::{Campaign, PriceItem, Qualifier, Unit};
pub use quote::{Currency, Jaw, Qualifiers, Quote, QuoteGap, Teeth, format_money};
pub use slots::{
    Busy, DayPart, Preferences, Slot, SlotError, SlotQuery, SlotRef, parse_slot_id, slot_id,
};

use crate::profile::BusinessHours;
use serde::Serialize;

/// Why a clinic's files were refused. Every message names the place: the TOML key path
/// or line and column, the CSV row (as a spreadsheet numbers it, header = row 1) and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClinicError {
    /// `clinic.toml` is not valid TOML, has a key we do not know or a value of the wrong type.
    #[error("clinic.toml line {line}, column {column}: {message}")]
    Toml {
        line: usize,
        column: usize,
        message: String,
    },
    /// A value of `clinic.toml` that parsed but makes no sense, at its key path
    /// (`services[2].duration_minutes`).
    #[error("clinic.toml {path}: {message}")]
    Config { path: String, message: String },
    /// A cell of `prices.csv`.
    #[error("prices.csv row {row}, column {column}: {message}")]
    Price {
        row: usize,
        column: String,
        message: String,
    },
    /// A whole row (or the header) of `prices.csv`.
    #[error("prices.csv row {row}: {message}")]
    PriceRow { row: usize, message: String },
}

/// One tenant's clinic. Build it with [`Clinic::parse`]; the public fields are what the
/// admin API shows, and they are consistent with each other after parsing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clinic {
    pub settings: Settings,
    /// The clinic's opening hours; practitioners work within them.
    pub hours: BusinessHours,
    pub breaks: Vec<Break>,
    pub closures: Vec<Closure>,
    pub practitioners: Vec<Practitioner>,
    pub rooms: Vec<Room>,
    pub services: Vec<Service>,
    pub prices: Vec<PriceItem>,
}

impl Clinic {
    /// Parses and validates both files of a clinic.
    pub fn parse(clinic_toml: &str, prices_csv: &str) -> Result<Clinic, ClinicError> {
        let mut clinic = data::parse(clinic_toml)?;
        clinic.prices = Self::parse_prices(prices_csv)?;
        Ok(clinic)
    }

    /// Parses and validates a price list alone, so the admin API can replace it without
    /// touching the rest.
    pub fn parse_prices(prices_csv: &str) -> Result<Vec<PriceItem>, ClinicError> {
        prices::parse(prices_csv)
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn practitioner(&self, id: &str) -> Option<&Practitioner> {
        self.practitioners.iter().find(|p| p.id == id)
    }

    pub fn room(&self, id: &str) -> Option<&Room> {
        self.rooms.iter().find(|r| r.id == id)
    }

    /// The distinct treatments of the price list, in the order they first appear.
    pub fn treatments(&self) -> impl Iterator<Item = &str> {
        self.prices
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                !self.prices[..*i]
                    .iter()
                    .any(|earlier| earlier.treatment == p.treatment)
            })
            .map(|(_, p)| p.treatment.as_str())
    }

    /// The price rows of one treatment (one per material), in file order.
    pub fn price_rows(&self, treatment: &str) -> Vec<&PriceItem> {
        self.prices
            .iter()
            .filter(|p| p.treatment == treatment)
            .collect()
    }

    /// The materials a treatment is offered in, in file order; empty when it has none.
    pub fn materials(&self, treatment: &str) -> Vec<&str> {
        self.prices
            .iter()
            .filter(|p| p.treatment == treatment)
            .filter_map(|p| p.material.as_deref())
            .collect()
    }

    /// The service that is the visit for a price-list treatment (the first that lists it).
    pub fn service_for_treatment(&self, treatment: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.treatments.iter().any(|t| t == treatment))
    }

    /// The free examination the price pipeline offers, when configured.
    pub fn examination(&self) -> Option<&Service> {
        self.settings
            .examination_service
            .as_deref()
            .and_then(|id| self.service(id))
    }
}
