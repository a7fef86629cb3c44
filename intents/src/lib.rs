//! Köprü's local intent understanding: Turkish-aware normalisation and a
//! linear classifier trained at start-up from shipped examples, one model per
//! niche. The embedded default: no API key, no network, no external ML crate.
//!
//! ```
//! let nlu = intents::Nlu::builtin().unwrap();
//! let p = nlu.classify("dental", "kaca kadar aciksiniz");
//! assert_eq!(p.intent, "business_hours");
//! ```
//!
//! The confidence is a softmax probability. Below the tenant's threshold the
//! caller treats the message as [`OUT_OF_SCOPE`] (ask again, hand off, or
//! ask the LLM classifier): [`Prediction::or_out_of_scope`] does that.
//!
//! # Layout
//! - [`normalize`]: `clean`, `lower_tr`, `fold` (Turkish dotted/dotless i,
//!   text typed without Turkish letters, elongations, emoji).
//! - `features`: word and character n-gram features over folded text.
//! - [`classifier`]: [`Classifier`] (TF-IDF + softmax regression), training,
//!   prediction, model files.
//! - [`data`]: the shipped JSON-lines training data and its parser.
//! - [`Nlu`] (here): the per-niche models the gateway calls.
//! - [`tenant`]: per-tenant models (niche data + the tenant's examples).
//! - [`catalog`]: one-line descriptions of the shipped intents.
//! - [`llm`]: the LLM classifier (OpenAI-compatible chat completions,
//!   masked text, closed-list JSON schema, deadline, retries, token budget).
//! - [`cascade`]: local model first, the LLM when it is unsure.

pub mod analysis;
pub mod cascade;
pub mod catalog;
pub mod classifier;
pub mod data;
pub mod entities;
mod features;
pub mod lang;
pub mod llm;
pub mod mask;
pub mod normalize;
pub mod sentiment;
pub mod tenant;

use std::collections::HashMap;
use std::sync::Arc;

pub use analysis::{Analysis, analyze};
pub use classifier::{Classifier, Example, ModelError, TrainConfig, TrainError};
pub use data::read_examples;
pub use features::FeatureConfig;

/// The intent of anything the models do not cover, and the answer below the
/// confidence threshold.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

/// A starting confidence threshold for the built-in models: on the held-out
/// set, predictions below it are mostly wrong or off-topic (see
/// `docs/nlu.md`). Tenants may configure their own.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// The opt-out keywords of GR-3.15 (İPTAL, STOP, RET), folded.
pub const OPT_OUT_KEYWORDS: [&str; 3] = ["iptal", "stop", "ret"];

/// Whether the whole message is an opt-out keyword (`İPTAL`, `iptal!`,
/// `Stop`, `RET.`, `ＳＴＯＰ`, …): a deterministic check for the outbound
/// engine, which must suppress at once and must not depend on a model's
/// confidence. Longer opt-out requests ("bana mesaj atmayın") are left to
/// the classifier's `opt_out` intent.
pub fn is_opt_out_keyword(text: &str) -> bool {
    let folded = normalize::fold(text);
    OPT_OUT_KEYWORDS.contains(&folded.as_str())
}

/// What a classifier thinks a message means.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// The most likely intent.
    pub intent: String,
    /// Its probability, in [0, 1].
    pub confidence: f32,
    /// The next best intents with their probabilities, best first, at most
    /// three.
    pub alternatives: Vec<(String, f32)>,
}

impl Prediction {
    /// "Nothing to understand": [`OUT_OF_SCOPE`] with confidence 0.0.
    pub fn nothing() -> Self {
        Self {
            intent: OUT_OF_SCOPE.to_owned(),
            confidence: 0.0,
            alternatives: Vec::new(),
        }
    }

    /// Whether the prediction is an in-scope intent at or above `threshold`.
    pub fn is_confident(&self, threshold: f32) -> bool {
        self.intent != OUT_OF_SCOPE && self.confidence >= threshold
    }

    /// This prediction if confident, otherwise [`OUT_OF_SCOPE`] keeping the
    /// confidence and with the original guess first among the alternatives
    /// (so a caller can still show or log it, never act on it).
    pub fn or_out_of_scope(self, threshold: f32) -> Self {
        if self.intent == OUT_OF_SCOPE || self.confidence >= threshold {
            return self;
        }
        let mut alternatives = vec![(self.intent, self.confidence)];
        alternatives.extend(
            self.alternatives
                .into_iter()
                .filter(|(i, _)| i != OUT_OF_SCOPE),
        );
        alternatives.truncate(3);
        Self {
            intent: OUT_OF_SCOPE.to_owned(),
            confidence: self.confidence,
            alternatives,
        }
    }
}

/// The models of every niche plus the general one. `Send + Sync`; share it
/// behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Nlu {
    general: Arc<Classifier>,
    niches: HashMap<String, Arc<Classifier>>,
    /// Per-tenant models ([`tenant`]).
    tenants: tenant::TenantModels,
}

impl Nlu {
    /// Trains the general model and one per niche ([`data::NICHES`]) from
    /// the shipped data. Niches with the same data share one model (trained
    /// once, e.g. dental and aesthetic; a niche without its own data shares
    /// the general one), and the distinct models train in parallel threads.
    /// Takes a few hundred milliseconds (see `docs/nlu.md`).
    pub fn builtin() -> Result<Nlu, TrainError> {
        let mut sets: Vec<Vec<Example>> = vec![data::general()];
        let mut set_of = Vec::new();
        for niche in data::NICHES {
            let examples = data::for_niche(niche);
            let i = match sets.iter().position(|s| *s == examples) {
                Some(i) => i,
                None => {
                    sets.push(examples);
                    sets.len() - 1
                }
            };
            set_of.push((niche, i));
        }
        let models = std::thread::scope(|scope| {
            let handles: Vec<_> = sets
                .iter()
                .map(|set| scope.spawn(move || Classifier::train(set)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let models: Vec<Arc<Classifier>> = models.into_iter().map(Arc::new).collect();
        let niches: HashMap<String, Arc<Classifier>> = set_of
            .into_iter()
            .map(|(niche, i)| (niche.to_owned(), Arc::clone(&models[i])))
            .collect();
        Ok(Nlu {
            general: Arc::clone(&models[0]),
            niches,
            tenants: Default::default(),
        })
    }

    /// An `Nlu` from already trained (or loaded) models.
    pub fn from_models(
        general: Classifier,
        niches: impl IntoIterator<Item = (String, Classifier)>,
    ) -> Nlu {
        Nlu {
            general: Arc::new(general),
            niches: niches.into_iter().map(|(n, c)| (n, Arc::new(c))).collect(),
            tenants: Default::default(),
        }
    }

    /// The model used for a niche (the general one for an unknown niche).
    pub fn model(&self, niche: &str) -> &Classifier {
        self.niches.get(niche).unwrap_or(&self.general)
    }

    /// Classifies a message for a tenant of `niche`. Empty, whitespace-only,
    /// emoji-only or punctuation-only text gives [`OUT_OF_SCOPE`] with
    /// confidence 0.0 (never a guess). An unknown niche uses the general
    /// model. No threshold is applied; see [`Prediction::or_out_of_scope`].
    pub fn classify(&self, niche: &str, text: &str) -> Prediction {
        self.model(niche).predict(text)
    }

    /// Like [`Nlu::classify`] with only the `allowed` intents (plus
    /// [`OUT_OF_SCOPE`]) competing: see [`Classifier::predict_among`].
    pub fn classify_among(&self, niche: &str, text: &str, allowed: &[&str]) -> Prediction {
        self.model(niche).predict_among(text, allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nlu_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Nlu>();
        check::<Classifier>();
    }

    #[test]
    fn opt_out_keywords_match_whole_messages_only() {
        for t in [
            "İPTAL",
            "iptal",
            "Iptal",
            "ıptal",
            "STOP",
            "Stop!",
            "RET",
            "ret.",
            "ＳＴＯＰ",
            " \u{200B}RET ",
        ] {
            assert!(is_opt_out_keyword(t), "{t:?}");
        }
        for t in ["siparişimi iptal edin", "stop lamba", "retina", "", "🛑"] {
            assert!(!is_opt_out_keyword(t), "{t:?}");
        }
    }

    #[test]
    fn or_out_of_scope_keeps_the_guess_as_an_alternative() {
        let p = Prediction {
            intent: "greeting".into(),
            confidence: 0.3,
            alternatives: vec![("out_of_scope".into(), 0.2), ("thanks".into(), 0.1)],
        };
        let q = p.clone().or_out_of_scope(0.5);
        assert_eq!(q.intent, OUT_OF_SCOPE);
        assert_eq!(q.confidence, 0.3);
        assert_eq!(q.alternatives[0], ("greeting".into(), 0.3));
        assert_eq!(q.alternatives.len(), 2);
        assert!(!p.is_confident(0.5));
        assert_eq!(p.clone().or_out_of_scope(0.2), p);
    }
}
