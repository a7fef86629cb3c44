//! The engine: an event in, the conversation's next state and a list of actions out.
//! Pure logic over data: no I/O, time from a [`Clock`], tenant facts from a
//! [`TenantProfile`]. The same code runs in the server, in `kopru chat` and in eval.
//!
//! # Layout
//! - [`clock`]: `Clock`, the system clock and a manual clock for tests.
//! - [`profile`]: `TenantProfile`, business hours and the facts flows answer from.
//! - [`eligibility`]: send eligibility (24-hour windows), computed in one place.
//! - [`engine`]: `Event`, `Action`, `ConversationState`, `handle`.
//! - [`general`]: the flow every tenant runs (greeting, hours, location, payment,
//!   handoff, opt-out, out of scope).
//! - `tr` (private): Turkish rendering of weekdays, times and their suffixes.

pub mod clock;
pub mod eligibility;
pub mod engine;
pub mod general;
pub mod profile;
mod tr;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Action, ConversationState, Ctx, Event, Pending, Understanding, handle};
pub use profile::{BusinessHours, Niche, ProfileError, TenantProfile, Tone};
