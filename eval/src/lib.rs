//! The eval harness: intent datasets (JSON Lines, `spec/formats.md`) scored into
//! reports (accuracy, per-intent precision/recall/F1, macro-F1, confusion, entity
//! accuracy, latency), compared with a baseline under a regression gate, rendered for
//! terminals, JSON and HTML; and multi-turn conversation tests (YAML) run in-process
//! through a [`conversation::ConversationDriver`] the gateway implements. This crate
//! does not depend on the gateway. How to use it: `docs/eval.md`.
//!
//! # Layout
//! - [`dataset`]: reading intent datasets, with errors that name the line.
//! - [`metrics`]: the intent report and its JSON form.
//! - [`intent_eval`]: classifying a dataset with an [`intent_eval::IntentModel`] (and an
//!   optional [`intent_eval::EntityExtractor`]) into an [`intent_eval::IntentEval`].
//! - [`compare`]: deltas against a baseline report and the `--max-drop` gate.
//! - [`render`]: terminal tables and the self-contained HTML report.
//! - [`conversation`]: the YAML test model, the driver trait, expectation checks, the
//!   conversation report.

pub mod compare;
pub mod conversation;
pub mod dataset;
pub mod intent_eval;
pub mod metrics;
pub mod render;

pub use compare::{Baseline, Comparison, GateError};
pub use conversation::{ConversationDriver, ConversationReport, ConversationTest};
pub use dataset::{DatasetError, IntentRow, parse_jsonl, read_jsonl};
pub use intent_eval::{EntityExtractor, IntentEval, IntentModel, LocalModel, NicheChoice};
pub use metrics::{Confusion, IntentReport, Latency, Prf};
