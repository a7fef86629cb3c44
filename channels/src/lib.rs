//! The normalised message model every channel speaks, and one module per channel
//! that turns the provider's wire format into it (and back).
//!
//! # Layout
//! - [`model`]: `Inbound`, `Outbound`, `Content`, `OutContent`, `Contact`, `Referral`.
//! - [`event`]: what a webhook body becomes: `Event` (message, status, reaction,
//!   referral, unroutable, ignored) and `ParseError`.
//! - [`send`]: `SendError` and its `SendErrorKind` (what the outbox does next), `RenderError`.
//! - [`meta`]: the Meta webhook shared by WhatsApp and Instagram: challenge, signature,
//!   envelope, Graph API errors.
//! - [`whatsapp`], [`instagram`], [`telegram`]: each a `wire` module (the provider's
//!   documented JSON), a pure `normalize`, a pure `render`, and send-response parsing.
//! - [`webchat`]: the web chat WebSocket protocol (frames, parsing, limits) and the widget asset.
//!
//! Nothing here does I/O: the gateway receives, stores, sends and retries.

pub mod event;
pub mod instagram;
pub mod meta;
pub mod model;
pub mod send;
pub mod telegram;
pub mod webchat;
pub mod whatsapp;

pub use event::{DeliveryState, DeliveryStatus, Event, ParseError, ProviderError};
pub use model::*;
pub use send::{RenderError, SendError, SendErrorKind};
