//! Commerce integrations: one commerce model (customer, order, package, shipment,
//! claim/return, question) that marketplace and carrier connectors fill, and flows
//! read. Connectors (Hepsiburada, carriers) and the Integrations service on port 7106
//! arrive with GR-3.4 and GR-3.6.
//!
//! # Layout
//! - [`model`]: the carrier- and marketplace-neutral commerce records.

pub mod model;

pub use model::*;
