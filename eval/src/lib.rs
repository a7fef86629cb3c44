//! The eval harness's foundations: intent datasets (JSON Lines, `spec/formats.md`) and
//! the metrics reported on them (accuracy, per-intent precision/recall/F1, macro-F1,
//! confusion pairs, latency percentiles).
//!
//! # Layout
//! - [`dataset`]: reading intent datasets, with errors that name the line.
//! - [`metrics`]: the intent report and its JSON form.

pub mod dataset;
pub mod metrics;

pub use dataset::{DatasetError, IntentRow, parse_jsonl, read_jsonl};
pub use metrics::{Confusion, IntentReport, Latency, Prf};
