//! A clinic tenant's data at run time: loaded from its `clinic_dir` (or the bundled
//! demo), replaceable through the admin API (kept under `data_dir/clinic/<tenant>/`,
//! which wins over `clinic_dir` at the next start), and the facts a turn reads around
//! it: the calendar, the conversation's bookings, the patient's time zone.

use flows::clinic::{Busy, Clinic, Slot};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The bundled demo clinic (`clinic_dir = "builtin:dental"`).
const DEMO_CLINIC_TOML: &str = include_str!("../demo/dental/clinic.toml");
const DEMO_PRICES_CSV: &str = include_str!("../demo/dental/prices.csv");

pub const CLINIC_FILE: &str = "clinic.toml";
pub const PRICES_FILE: &str = "prices.csv";

/// A tenant's clinic data: the parsed form flows read and the texts it came from.
pub struct ClinicData {
    current: RwLock<Arc<Loaded>>,
    /// Where API replacements are kept.
    overrides: PathBuf,
}

impl std::fmt::Debug for ClinicData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let now = self.get();
        f.debug_struct("ClinicData")
            .field("practitioners", &now.clinic.practitioners.len())
            .field("prices", &now.clinic.prices.len())
            .finish()
    }
}

/// One consistent version of the data.
pub struct Loaded {
    pub clinic: Clinic,
    pub clinic_toml: String,
    pub prices_csv: String,
}

impl ClinicData {
    /// Loads `clinic_dir` (files under `data_dir/clinic/<tenant>/` win).
    pub fn load(tenant: &str, clinic_dir: &str, data_dir: &Path) -> anyhow::Result<ClinicData> {
        let overrides = data_dir.join("clinic").join(tenant);
        let read = |file: &str, builtin: &str| -> anyhow::Result<String> {
            let own = overrides.join(file);
            if own.exists() {
                return Ok(std::fs::read_to_string(&own)?);
            }
            if clinic_dir == "builtin:dental" {
                return Ok(builtin.to_string());
            }
            let path = Path::new(clinic_dir).join(file);
            std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        };
        if clinic_dir.starts_with("builtin:") && clinic_dir != "builtin:dental" {
            anyhow::bail!("clinic_dir {clinic_dir:?}: the only bundled clinic is builtin:dental");
        }
        let clinic_toml = read(CLINIC_FILE, DEMO_CLINIC_TOML)?;
        let prices_csv = read(PRICES_FILE, DEMO_PRICES_CSV)?;
        let clinic = Clinic::parse(&clinic_toml, &prices_csv)?;
        Ok(ClinicData {
            current: RwLock::new(Arc::new(Loaded {
                clinic,
                clinic_toml,
                prices_csv,
            })),
            overrides,
        })
    }

    /// The data as it is now.
    pub fn get(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the clinic file, the price list or both, after validating them together;
    /// keeps the accepted texts for the next start. An invalid text changes nothing.
    pub fn replace(
        &self,
        clinic_toml: Option<&str>,
        prices_csv: Option<&str>,
    ) -> Result<Arc<Loaded>, ReplaceError> {
        let now = self.get();
        let clinic_toml = clinic_toml.unwrap_or(&now.clinic_toml).to_string();
        let prices_csv = prices_csv.unwrap_or(&now.prices_csv).to_string();
        let clinic = Clinic::parse(&clinic_toml, &prices_csv)
            .map_err(|e| ReplaceError::Invalid(e.to_string()))?;
        std::fs::create_dir_all(&self.overrides).map_err(ReplaceError::Io)?;
        for (file, text) in [(CLINIC_FILE, &clinic_toml), (PRICES_FILE, &prices_csv)] {
            // Write then rename: a crash never leaves half a price list behind.
            let tmp = self.overrides.join(format!(".{file}.tmp"));
            std::fs::write(&tmp, text).map_err(ReplaceError::Io)?;
            std::fs::rename(&tmp, self.overrides.join(file)).map_err(ReplaceError::Io)?;
        }
        let loaded = Arc::new(Loaded {
            clinic,
            clinic_toml,
            prices_csv,
        });
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded.clone();
        Ok(loaded)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error("{0}")]
    Invalid(String),
    #[error("could not keep the clinic data: {0}")]
    Io(std::io::Error),
}

/// A store appointment as the flows see it.
pub fn slot_of(a: &store::AppointmentRecord) -> Slot {
    Slot {
        service: a.service.clone(),
        practitioner: a.practitioner.clone(),
        room: a.room.clone(),
        start: a.starts_at,
        end: a.ends_at,
        blocks_from: a.blocks_from,
        blocks_until: a.blocks_until,
    }
}

/// An appointment to create, as the slot it would take.
pub fn slot_of_new(a: &store::NewAppointment) -> Slot {
    Slot {
        service: a.service.clone(),
        practitioner: a.practitioner.clone(),
        room: a.room.clone(),
        start: a.starts_at,
        end: a.ends_at,
        blocks_from: a.blocks_from,
        blocks_until: a.blocks_until,
    }
}

/// A flows slot as a store appointment to create.
pub fn new_appointment(
    slot: &Slot,
    hold_until: Option<jiff::Timestamp>,
    customer_tz: Option<&str>,
) -> store::NewAppointment {
    store::NewAppointment {
        service: slot.service.clone(),
        practitioner: slot.practitioner.clone(),
        room: slot.room.clone(),
        starts_at: slot.start,
        ends_at: slot.end,
        blocks_from: slot.blocks_from,
        blocks_until: slot.blocks_until,
        hold_until,
        customer_tz: customer_tz.map(str::to_string),
        note: None,
    }
}

/// The calendar a conversation sees: everything taken except its own holds (they are
/// offers to this very patient, who may take one).
pub fn busy_for(blocks: &[store::BusyBlock], conversation: i64) -> Vec<Busy> {
    blocks
        .iter()
        .filter(|b| !(b.held && b.conversation == Some(conversation)))
        .map(|b| Busy {
            resource: b.resource.clone(),
            from: b.from,
            until: b.until,
        })
        .collect()
}

/// The patient's time zone from the country code of their phone number, when it is
/// not Turkey's: medical-tourism patients see their own time beside the clinic's.
pub fn customer_tz(phone: Option<&str>) -> Option<&'static str> {
    let digits: String = phone?.chars().filter(|c| c.is_ascii_digit()).collect();
    // Longest prefixes first: "971" before "97", "1" last.
    const ZONES: &[(&str, &str)] = &[
        ("971", "Asia/Dubai"),
        ("966", "Asia/Riyadh"),
        ("974", "Asia/Qatar"),
        ("965", "Asia/Kuwait"),
        ("994", "Asia/Baku"),
        ("995", "Asia/Tbilisi"),
        ("380", "Europe/Kyiv"),
        ("353", "Europe/Dublin"),
        ("420", "Europe/Prague"),
        ("44", "Europe/London"),
        ("49", "Europe/Berlin"),
        ("31", "Europe/Amsterdam"),
        ("32", "Europe/Brussels"),
        ("33", "Europe/Paris"),
        ("34", "Europe/Madrid"),
        ("39", "Europe/Rome"),
        ("41", "Europe/Zurich"),
        ("43", "Europe/Vienna"),
        ("45", "Europe/Copenhagen"),
        ("46", "Europe/Stockholm"),
        ("47", "Europe/Oslo"),
        ("48", "Europe/Warsaw"),
        ("7", "Europe/Moscow"),
        ("1", "America/New_York"),
    ];
    if digits.starts_with("90") {
        return None;
    }
    ZONES
        .iter()
        .find(|(prefix, _)| digits.starts_with(prefix))
        .map(|(_, zone)| *zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patients_abroad_get_their_zone_and_turkish_numbers_none() {
        assert_eq!(customer_tz(Some("+49 151 2345678")), Some("Europe/Berlin"));
        assert_eq!(customer_tz(Some("971501234567")), Some("Asia/Dubai"));
        assert_eq!(customer_tz(Some("+905551112233")), None);
        assert_eq!(customer_tz(None), None);
    }

    /// The flows name a waitlist wish's part of the day; the store matches freed slots
    /// to it: the same hours at the clinic, or patients get slots they did not ask for.
    #[test]
    fn flows_and_store_agree_on_the_parts_of_the_day() {
        for zone in ["Europe/Istanbul", "Europe/Berlin", "America/New_York"] {
            let tz = jiff::tz::TimeZone::get(zone).unwrap();
            for hour in 0..24 {
                for minute in [0, 59] {
                    let local = jiff::civil::date(2026, 3, 29).at(hour, minute, 0, 0);
                    let at = local.to_zoned(tz.clone()).unwrap().timestamp();
                    assert_eq!(
                        store::part_of_day(at, zone),
                        Some(flows::dental::part_of_day(local.time())),
                        "{zone} {local}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_bundled_clinic_loads_and_a_bad_price_list_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = ClinicData::load("demo-dental", "builtin:dental", dir.path()).unwrap();
        assert!(!data.get().clinic.prices.is_empty());
        let before = data.get().prices_csv.clone();
        let err = data
            .replace(None, Some("treatment,name\nimplant"))
            .err()
            .expect("a broken price list is refused");
        assert!(matches!(err, ReplaceError::Invalid(_)), "{err}");
        assert_eq!(data.get().prices_csv, before);
        assert!(!dir.path().join("clinic/demo-dental/prices.csv").exists());
    }
}
