//! The gateway: configuration, the HTTP server (web chat, admin API, health, metrics),
//! the workers that carry messages from inbox to outbox, and the `kopru` command line.
//! No business rules live here: they are in `flows`.
//!
//! # Layout
//! - [`config`]: the TOML configuration, env overrides, the bundled demo.
//! - [`runtime`]: stores, NLU and tenants built from configuration.
//! - [`inbox`]: dedupe and store a customer message before acknowledging it.
//! - [`turns`]: inbox item → flows → one atomic turn (state, outbox, timers).
//! - [`workers`]: inbox, outbox and timer workers.
//! - [`server`], [`api`], [`webchat`], [`auth`]: the HTTP edge.
//! - [`clinic`]: a clinic tenant's data at run time (loaded, replaceable).
//! - [`clinic_api`]: the admin API of leads, appointments, clinic data and iCal feeds.
//! - [`crm`]: the CRM webhook worker (lead timeline events, signed and retried).
//! - [`chat`]: `kopru chat` in a terminal. [`cli`]: the command line.
//! - [`eval_driver`]: `kopru eval`: the eval harness on the real pipeline.
//! - [`classify`]: `kopru classify`: one message's intent, entities, language, sentiment.
//! - [`deadletters`]: `kopru deadletters list|redrive`: webhook bodies kept unparsed.
//! - [`polling`]: Telegram `getUpdates` long polling for development.
//! - [`metrics`]: the one place metrics are named.

pub mod api;
pub mod auth;
pub mod chat;
pub mod classify;
pub mod cli;
pub mod clinic;
pub mod clinic_api;
pub mod config;
pub mod crm;
pub mod deadletters;
pub mod eval_driver;
pub mod inbox;
pub mod metrics;
pub mod polling;
pub mod runtime;
pub mod senders;
pub mod server;
pub mod turns;
pub mod webchat;
pub mod webhooks;
pub mod workers;
