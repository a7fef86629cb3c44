//! The normalised message model every channel speaks, and one module per channel
//! that turns the provider's wire format into it (and back).
//!
//! # Layout
//! - [`model`]: `Inbound`, `Outbound`, `Content`, `OutContent`, `Contact`, `Referral`.
//! - [`webchat`]: the web chat WebSocket protocol (frames, parsing, limits) and the widget asset.

pub mod model;
pub mod webchat;

pub use model::*;
