//! The local intent classifier: TF-IDF features and multinomial logistic
//! regression, trained at start-up in milliseconds.
//!
//! - **Features** (the private `features` module): word unigrams and bigrams plus
//!   character 2–5-grams inside each folded word. The vocabulary is every
//!   feature seen in training; each is weighted by `(1 + ln tf) · idf` with a
//!   smoothed `idf = ln((1 + n) / (1 + df)) + 1`.
//! - **Unknown features count in the norm.** The vector is L2-normalised over
//!   *all* of a message's features, the unseen ones included (with the idf of
//!   a never-seen feature). Their weights are not known, so they add nothing
//!   to the scores, but they shrink the known part: a message made mostly of
//!   unseen words ("asdfgh", "hava nasıl olacak yarın") gets scores close to
//!   the biases and so a low, spread-out confidence instead of a confident
//!   guess.
//! - **Model**: one weight vector per intent, softmax over the scores (the
//!   confidences are probabilities that sum to 1), trained by SGD on the
//!   cross-entropy with L2 regularisation, in a fixed example order shuffled
//!   by a seeded generator: the same examples always give the same model.
//! - **Files**: [`Classifier::to_json`] stores the feature names (not hashes),
//!   so a model file is readable and survives a change of hash function; the
//!   format carries [`MODEL_FORMAT`], checked on load.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::features::{self, FeatureConfig, Kind};
use crate::normalize::has_content;
use crate::{OUT_OF_SCOPE, Prediction};

/// Version of the model file format written by [`Classifier::to_json`].
pub const MODEL_FORMAT: u32 = 1;

/// One training example: a customer message and the intent it expresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The message as a customer would write it.
    pub text: String,
    /// The intent name (see `spec/intents.md`).
    pub intent: String,
}

impl Example {
    /// An example from text and intent.
    pub fn new(text: impl Into<String>, intent: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            intent: intent.into(),
        }
    }
}

/// Why a model could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// No examples were given.
    #[error("no training examples")]
    NoExamples,
    /// Fewer than two distinct intents: nothing to tell apart.
    #[error("need at least two intents, got {0}")]
    TooFewIntents(usize),
    /// An example has an empty intent name.
    #[error("example {index} has an empty intent")]
    EmptyIntent {
        /// Position of the example.
        index: usize,
    },
    /// An example has no letters or digits, so nothing to learn from.
    #[error("example {index} ({text:?}) has no letters or digits")]
    EmptyText {
        /// Position of the example.
        index: usize,
        /// Its text.
        text: String,
    },
    /// Shipped or supplied training data did not parse.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// A tenant example's intent name is not `^[a-z][a-z0-9_]{1,63}$`.
    #[error(
        "example {index}: intent name {intent:?} is not valid: it must be a lowercase ASCII letter \
         followed by 1 to 63 lowercase ASCII letters, digits or underscores (^[a-z][a-z0-9_]{{1,63}}$)"
    )]
    InvalidIntentName {
        /// Position of the example.
        index: usize,
        /// The name given.
        intent: String,
    },
    /// A tenant's new intent has too few examples to be learnt.
    #[error(
        "new intent {intent:?} has {count} distinct example(s); at least {min} are needed to learn it"
    )]
    TooFewExamples {
        /// The intent.
        intent: String,
        /// Its distinct examples (after folding).
        count: usize,
        /// The minimum.
        min: usize,
    },
    /// A tenant model was asked for a niche without shipped data.
    #[error("unknown niche {0:?}: expected ecommerce, dental, aesthetic, health or general")]
    UnknownNiche(String),
}

/// Why a model file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not valid JSON, or not a model.
    #[error("model file: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by a different format version.
    #[error("model format {found}, this build reads {MODEL_FORMAT}")]
    Format {
        /// The version in the file.
        found: u32,
    },
    /// Array lengths do not agree.
    #[error("model file is inconsistent: {0}")]
    Shape(&'static str),
    /// The file could not be read or written.
    #[error("model file {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Training settings. The defaults were chosen on the held-out set and on
/// the public MASSIVE tr-TR cross-validation (see `docs/nlu.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Feature extraction settings (stored with the model).
    pub features: FeatureConfig,
    /// Passes over the data.
    pub epochs: usize,
    /// Initial learning rate.
    pub learning_rate: f32,
    /// L2 regularisation strength.
    pub l2: f32,
    /// Seed of the example shuffle.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default(),
            epochs: 30,
            learning_rate: 0.5,
            l2: 1e-5,
            seed: 0x6b_6f70_7275, // "kopru"
        }
    }
}

/// A trained linear intent classifier. Cheap to share (`Send + Sync`), and
/// serialisable: the serde form is the model file of [`Classifier::to_json`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "ModelFile", try_from = "ModelFile")]
pub struct Classifier {
    config: FeatureConfig,
    intents: Vec<String>,
    /// Readable feature names, in index order.
    names: Vec<String>,
    /// Feature hash → index.
    index: HashMap<u64, u32>,
    idf: Vec<f32>,
    unknown_idf: f32,
    /// `names.len() × intents.len()`, row-major by feature.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// The on-disk form of a [`Classifier`].
#[derive(Clone, Serialize, Deserialize)]
struct ModelFile {
    format: u32,
    config: FeatureConfig,
    intents: Vec<String>,
    features: Vec<String>,
    idf: Vec<f32>,
    unknown_idf: f32,
    bias: Vec<f32>,
    weights: Vec<f32>,
}

impl From<Classifier> for ModelFile {
    fn from(c: Classifier) -> Self {
        ModelFile {
            format: MODEL_FORMAT,
            config: c.config,
            intents: c.intents,
            features: c.names,
            idf: c.idf,
            unknown_idf: c.unknown_idf,
            bias: c.bias,
            weights: c.weights,
        }
    }
}

impl TryFrom<ModelFile> for Classifier {
    type Error = ModelError;

    fn try_from(m: ModelFile) -> Result<Self, ModelError> {
        if m.format != MODEL_FORMAT {
            return Err(ModelError::Format { found: m.format });
        }
        let k = m.intents.len();
        let f = m.features.len();
        if k < 2 || m.bias.len() != k {
            return Err(ModelError::Shape("intents and biases"));
        }
        if m.idf.len() != f || m.weights.len() != f * k {
            return Err(ModelError::Shape("features, idf and weights"));
        }
        if f > u32::MAX as usize {
            return Err(ModelError::Shape("too many features"));
        }
        let mut index = HashMap::with_capacity(f);
        for (i, name) in m.features.iter().enumerate() {
            if index.insert(features::hash_name(name), i as u32).is_some() {
                return Err(ModelError::Shape("duplicate feature"));
            }
        }
        Ok(Classifier {
            config: m.config,
            intents: m.intents,
            names: m.features,
            index,
            idf: m.idf,
            unknown_idf: m.unknown_idf,
            weights: m.weights,
            bias: m.bias,
        })
    }
}

/// A small deterministic generator (SplitMix64) for the training shuffle.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn kind_weight(config: &FeatureConfig, kind: Kind) -> f32 {
    match kind {
        Kind::Char => 1.0,
        Kind::Word | Kind::Bigram => config.word_weight,
    }
}

fn softmax(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
}

impl Classifier {
    /// Trains with the default [`TrainConfig`].
    pub fn train(examples: &[Example]) -> Result<Classifier, TrainError> {
        Self::train_with(examples, &TrainConfig::default())
    }

    /// Trains with explicit settings.
    pub fn train_with(
        examples: &[Example],
        config: &TrainConfig,
    ) -> Result<Classifier, TrainError> {
        if examples.is_empty() {
            return Err(TrainError::NoExamples);
        }
        // Intents in first-seen order.
        let mut intents: Vec<String> = Vec::new();
        let mut intent_index: HashMap<&str, usize> = HashMap::new();
        let mut labels = Vec::with_capacity(examples.len());
        for (i, ex) in examples.iter().enumerate() {
            if ex.intent.trim().is_empty() {
                return Err(TrainError::EmptyIntent { index: i });
            }
            if !has_content(&ex.text) {
                return Err(TrainError::EmptyText {
                    index: i,
                    text: ex.text.clone(),
                });
            }
            let next = intents.len();
            let k = *intent_index.entry(ex.intent.as_str()).or_insert_with(|| {
                intents.push(ex.intent.clone());
                next
            });
            labels.push(k);
        }
        if intents.len() < 2 {
            return Err(TrainError::TooFewIntents(intents.len()));
        }

        // Vocabulary and document frequencies.
        let fc = &config.features;
        let mut names: Vec<String> = Vec::new();
        let mut index: HashMap<u64, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let mut docs: Vec<Vec<(u32, u32, Kind)>> = Vec::with_capacity(examples.len());
        for ex in examples {
            let mut counts: Vec<(u32, u32, Kind)> = Vec::new();
            let mut local: HashMap<u32, usize> = HashMap::new();
            for f in features::extract(fc, &ex.text) {
                let id = *index.entry(f.hash).or_insert_with(|| {
                    names.push(String::new());
                    df.push(0);
                    (names.len() - 1) as u32
                });
                match local.get(&id) {
                    Some(&pos) => counts[pos].1 += f.count,
                    None => {
                        local.insert(id, counts.len());
                        counts.push((id, f.count, f.kind));
                    }
                }
            }
            for &(id, _, _) in &counts {
                df[id as usize] += 1;
            }
            docs.push(counts);
        }
        // Readable names for the model file.
        for ex in examples {
            for (name, hash) in features::extract_named(fc, &ex.text) {
                let id = index[&hash] as usize;
                if names[id].is_empty() {
                    names[id] = name;
                }
            }
        }
        let n = examples.len() as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let unknown_idf = (1.0 + n).ln() + 1.0;

        // Sparse, L2-normalised training vectors.
        let vectors: Vec<Vec<(u32, f32)>> = docs
            .iter()
            .map(|counts| {
                let mut v: Vec<(u32, f32)> = counts
                    .iter()
                    .map(|&(id, tf, kind)| {
                        let w = (1.0 + (tf as f32).ln()) * idf[id as usize] * kind_weight(fc, kind);
                        (id, w)
                    })
                    .collect();
                let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
                if norm > 0.0 {
                    for (_, w) in v.iter_mut() {
                        *w /= norm;
                    }
                }
                v
            })
            .collect();

        // SGD on softmax cross-entropy with L2; W = scale · V so that the
        // decay step is O(1) (Bottou's trick).
        let k = intents.len();
        let f = names.len();
        let mut v = vec![0.0f32; f * k];
        let mut bias = vec![0.0f32; k];
        let mut scale = 1.0f32;
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = SplitMix(config.seed);
        let mut scores = vec![0.0f32; k];
        let mut t = 0u64;
        let lr0 = config.learning_rate;
        let lambda = config.l2;
        for _ in 0..config.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let lr = lr0 / (1.0 + lr0 * lambda * t as f32);
                t += 1;
                scores.copy_from_slice(&bias);
                for &(id, x) in &vectors[i] {
                    let row = &v[id as usize * k..(id as usize + 1) * k];
                    for (s, w) in scores.iter_mut().zip(row) {
                        *s += scale * x * w;
                    }
                }
                softmax(&mut scores);
                scores[labels[i]] -= 1.0; // now the gradient of the scores
                scale *= 1.0 - lr * lambda;
                for &(id, x) in &vectors[i] {
                    let row = &mut v[id as usize * k..(id as usize + 1) * k];
                    let step = lr * x / scale;
                    for (w, g) in row.iter_mut().zip(&scores) {
                        *w -= step * g;
                    }
                }
                for (b, g) in bias.iter_mut().zip(&scores) {
                    *b -= lr * g;
                }
                if scale < 1e-6 {
                    for w in v.iter_mut() {
                        *w *= scale;
                    }
                    scale = 1.0;
                }
            }
        }
        for w in v.iter_mut() {
            *w *= scale;
        }

        Ok(Classifier {
            config: fc.clone(),
            intents,
            names,
            index,
            idf,
            unknown_idf,
            weights: v,
            bias,
        })
    }

    /// The intents this model knows, in training order.
    pub fn intents(&self) -> &[String] {
        &self.intents
    }

    /// Number of features in the vocabulary.
    pub fn feature_count(&self) -> usize {
        self.names.len()
    }

    /// The probability of every intent (in [`Classifier::intents`] order), or
    /// `None` when the text has no letters or digits.
    pub fn probabilities(&self, text: &str) -> Option<Vec<f32>> {
        if !has_content(text) {
            return None;
        }
        let k = self.intents.len();
        let mut known: Vec<(usize, f32)> = Vec::new();
        let mut norm2 = 0.0f32;
        for f in features::extract(&self.config, text) {
            let tf = 1.0 + (f.count as f32).ln();
            let kw = kind_weight(&self.config, f.kind);
            match self.index.get(&f.hash) {
                Some(&id) => {
                    let w = tf * self.idf[id as usize] * kw;
                    norm2 += w * w;
                    known.push((id as usize, w));
                }
                None => {
                    let w = tf * self.unknown_idf * kw;
                    norm2 += w * w;
                }
            }
        }
        let mut scores = self.bias.clone();
        if norm2 > 0.0 {
            let norm = norm2.sqrt();
            for (id, w) in known {
                let x = w / norm;
                let row = &self.weights[id * k..(id + 1) * k];
                for (s, wt) in scores.iter_mut().zip(row) {
                    *s += x * wt;
                }
            }
        }
        softmax(&mut scores);
        Some(scores)
    }

    /// The most likely intent, its probability, and up to three runners-up.
    /// Text with no letters or digits gives [`OUT_OF_SCOPE`] with confidence
    /// 0.0.
    pub fn predict(&self, text: &str) -> Prediction {
        match self.probabilities(text) {
            None => Prediction::nothing(),
            Some(p) => self.rank(p.into_iter().enumerate().collect()),
        }
    }

    /// Like [`Classifier::predict`], but only the `allowed` intents (plus
    /// [`OUT_OF_SCOPE`], always) compete, and their probabilities are
    /// renormalised among themselves: the allow-list a flow passes for the
    /// answers that make sense in its current state. Names the model does
    /// not know are ignored.
    pub fn predict_among(&self, text: &str, allowed: &[&str]) -> Prediction {
        let Some(p) = self.probabilities(text) else {
            return Prediction::nothing();
        };
        let kept: Vec<(usize, f32)> = p
            .into_iter()
            .enumerate()
            .filter(|(i, _)| {
                let name = self.intents[*i].as_str();
                name == OUT_OF_SCOPE || allowed.contains(&name)
            })
            .collect();
        let total: f32 = kept.iter().map(|(_, p)| p).sum();
        if kept.is_empty() || total <= 0.0 {
            return Prediction::nothing();
        }
        self.rank(kept.into_iter().map(|(i, p)| (i, p / total)).collect())
    }

    fn rank(&self, mut scored: Vec<(usize, f32)>) -> Prediction {
        // Stable order on ties: probability, then training order.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (best, confidence) = scored[0];
        Prediction {
            intent: self.intents[best].clone(),
            confidence,
            alternatives: scored[1..]
                .iter()
                .take(3)
                .map(|&(i, p)| (self.intents[i].clone(), p))
                .collect(),
        }
    }

    /// The model file (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&ModelFile::from(self.clone())).unwrap_or_default()
    }

    /// Loads a model file written by [`Classifier::to_json`].
    pub fn from_json(s: &str) -> Result<Classifier, ModelError> {
        let file: ModelFile = serde_json::from_str(s)?;
        Classifier::try_from(file)
    }

    /// Writes the model file to `path`.
    pub fn save(&self, path: &std::path::Path) -> Result<(), ModelError> {
        std::fs::write(path, self.to_json()).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a model file written by [`Classifier::save`]; the format version is checked.
    pub fn load(path: &std::path::Path) -> Result<Classifier, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Classifier::from_json(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<Example> {
        [
            ("merhaba", "greeting"),
            ("selam", "greeting"),
            ("iyi günler merhaba", "greeting"),
            ("teşekkürler", "thanks"),
            ("çok sağ olun", "thanks"),
            ("tşk ederim", "thanks"),
        ]
        .into_iter()
        .map(|(t, i)| Example::new(t, i))
        .collect()
    }

    #[test]
    fn trains_and_predicts() {
        let c = Classifier::train(&tiny()).unwrap();
        assert_eq!(c.intents(), ["greeting", "thanks"]);
        assert_eq!(c.predict("Merhabaaa").intent, "greeting");
        assert_eq!(c.predict("tesekkurler").intent, "thanks");
        let p = c.predict("selam");
        assert!(p.confidence > 0.5 && p.confidence <= 1.0);
        assert_eq!(p.alternatives.len(), 1);
        let sum: f32 = p.confidence + p.alternatives.iter().map(|a| a.1).sum::<f32>();
        assert!((sum - 1.0).abs() < 1e-4);
    }

    #[test]
    fn training_is_deterministic() {
        let a = Classifier::train(&tiny()).unwrap();
        let b = Classifier::train(&tiny()).unwrap();
        assert_eq!(a.to_json(), b.to_json());
    }

    #[test]
    fn rejects_bad_training_data() {
        assert!(matches!(
            Classifier::train(&[]),
            Err(TrainError::NoExamples)
        ));
        let one = vec![Example::new("merhaba", "greeting")];
        assert!(matches!(
            Classifier::train(&one),
            Err(TrainError::TooFewIntents(1))
        ));
        let mut bad = tiny();
        bad.push(Example::new("🙏", "thanks"));
        assert!(matches!(
            Classifier::train(&bad),
            Err(TrainError::EmptyText { index: 6, .. })
        ));
        let mut bad = tiny();
        bad.push(Example::new("x", " "));
        assert!(matches!(
            Classifier::train(&bad),
            Err(TrainError::EmptyIntent { index: 6 })
        ));
    }

    #[test]
    fn empty_text_is_out_of_scope_with_zero_confidence() {
        let c = Classifier::train(&tiny()).unwrap();
        for t in ["", "   ", "🙏🙏", "?!", "\u{200B}"] {
            let p = c.predict(t);
            assert_eq!(p.intent, OUT_OF_SCOPE, "{t:?}");
            assert_eq!(p.confidence, 0.0);
            assert!(p.alternatives.is_empty());
        }
    }

    #[test]
    fn allow_list_restricts_and_renormalises() {
        let c = Classifier::train(&tiny()).unwrap();
        let p = c.predict_among("merhaba", &["thanks"]);
        assert_eq!(p.intent, "thanks");
        assert!((p.confidence - 1.0).abs() < 1e-6);
        let p = c.predict_among("merhaba", &["nonexistent"]);
        assert_eq!(p.intent, OUT_OF_SCOPE);
        assert_eq!(p.confidence, 0.0);
    }

    #[test]
    fn model_file_round_trips_and_checks_format() {
        let c = Classifier::train(&tiny()).unwrap();
        let json = c.to_json();
        let d = Classifier::from_json(&json).unwrap();
        for t in ["merhaba", "tşk", "hava nasıl", "selamlar efendim"] {
            assert_eq!(c.predict(t), d.predict(t));
        }
        assert_eq!(json, d.to_json());
        let wrong = json.replacen("\"format\":1", "\"format\":99", 1);
        assert!(matches!(
            Classifier::from_json(&wrong),
            Err(ModelError::Format { found: 99 })
        ));
        assert!(matches!(
            Classifier::from_json("{}"),
            Err(ModelError::Json(_))
        ));
    }
}
