//! The engine: an event in, the conversation's next state and a list of actions out.
//! Pure logic over data: no I/O, time from a [`Clock`], tenant facts from a
//! [`TenantProfile`]. The same code runs in the server, in `kopru chat` and in eval.
//!
//! # Layout
//! - [`clock`]: `Clock`, the system clock and a manual clock for tests.
//! - [`profile`]: `TenantProfile`, business hours and the facts flows answer from.
//! - [`eligibility`]: send eligibility (24-hour windows), computed in one place.
//! - [`engine`]: `Event`, `Action`, `ConversationState`, `handle`.
//! - [`clinic`]: clinic data (practitioners, rooms, services, hours, price list),
//!   quotes, holidays, slot search, iCal.
//! - [`dental`]: the clinic pipeline (price quote, examination booking, reminders,
//!   follow-ups, reschedule/cancel, waitlist) for clinic tenants with clinic data.
//! - [`leads`]: lead rules (stages, score, assignment, business-hours SLA).
//! - [`general`]: the flow every tenant runs (greeting, hours, location, payment,
//!   handoff, opt-out, out of scope).
//! - `tr` (private): Turkish rendering of weekdays, times and their suffixes.

pub mod clinic;
pub mod clock;
pub mod dental;
pub mod eligibility;
pub mod engine;
pub mod general;
pub mod leads;
pub mod profile;
mod tr;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{
    Action, AppointmentAction, Booking, ClinicCtx, ConversationState, Ctx, Event, LeadAction,
    Pending, SendWindow, Understanding, handle,
};
pub use profile::{BusinessHours, Niche, ProfileError, TenantProfile, Tone};
