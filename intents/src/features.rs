//! Feature extraction for the linear classifier.
//!
//! A message is [`fold`](crate::normalize::fold)ed, split on spaces, and
//! turned into sparse features, each identified by a 64-bit FNV-1a hash of a
//! kind tag plus its text:
//!
//! - word unigrams and bigrams (with `<s>`/`</s>` sentence boundaries, so
//!   "iptal" alone differs from "iptal" inside a sentence);
//! - character n-grams of length [`FeatureConfig::char_min`] to
//!   [`FeatureConfig::char_max`] inside each word padded with `<` and `>`
//!   (fastText-style), which carry spelling variants, typos and Turkish
//!   suffixes (`nerde`/`nerede`, `kargom`/`kargoma`).
//!
//! Digits are mapped to `0` first, so "3 gündür" and "5 gündür" share
//! features. Features are counted; weighting (IDF, L2) is the classifier's.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::normalize::fold;

/// Settings of the feature extractor; stored with a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Shortest character n-gram.
    pub char_min: usize,
    /// Longest character n-gram.
    pub char_max: usize,
    /// Whether word bigrams are used.
    pub word_bigrams: bool,
    /// Weight multiplier of word features relative to character n-grams
    /// (applied before L2 normalisation).
    pub word_weight: f32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            char_min: 2,
            char_max: 5,
            word_bigrams: true,
            word_weight: 1.0,
        }
    }
}

/// Kind of a feature; part of its hash, and the prefix of its readable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A word.
    Word,
    /// Two consecutive words.
    Bigram,
    /// A character n-gram inside a padded word.
    Char,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Word => "w:",
            Kind::Bigram => "b:",
            Kind::Char => "c:",
        }
    }
}

/// One extracted feature: its hash, kind, and count in the message.
#[derive(Clone, Debug)]
pub(crate) struct Feature {
    pub(crate) hash: u64,
    pub(crate) kind: Kind,
    pub(crate) count: u32,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Hash of a readable feature name such as `w:merhaba` (the form stored in
/// model files).
pub(crate) fn hash_name(name: &str) -> u64 {
    fnv(name.as_bytes(), FNV_OFFSET)
}

fn hash_parts(kind: Kind, parts: &[&str]) -> u64 {
    let mut h = fnv(kind.tag().as_bytes(), FNV_OFFSET);
    for p in parts {
        h = fnv(p.as_bytes(), h);
    }
    h
}

/// Prepares the words of a message: folded, digits to `0`.
pub(crate) fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect()
        })
        .collect()
}

/// Calls `emit(kind, parts)` for every feature of the words; the feature's
/// name is the kind's tag followed by the concatenated parts.
fn each_feature(config: &FeatureConfig, words: &[String], mut emit: impl FnMut(Kind, &[&str])) {
    for w in words {
        emit(Kind::Word, &[w]);
    }
    if config.word_bigrams && !words.is_empty() {
        emit(Kind::Bigram, &["<s> ", &words[0]]);
        for pair in words.windows(2) {
            emit(Kind::Bigram, &[&pair[0], " ", &pair[1]]);
        }
        emit(Kind::Bigram, &[&words[words.len() - 1], " </s>"]);
    }
    let mut padded = String::new();
    let mut bounds: Vec<usize> = Vec::new();
    for w in words {
        padded.clear();
        padded.push('<');
        padded.push_str(w);
        padded.push('>');
        bounds.clear();
        bounds.extend(padded.char_indices().map(|(i, _)| i));
        bounds.push(padded.len());
        let n_chars = bounds.len() - 1;
        for n in config.char_min..=config.char_max {
            if n > n_chars {
                break;
            }
            for start in 0..=(n_chars - n) {
                let gram = &padded[bounds[start]..bounds[start + n]];
                if gram == "<" || gram == ">" {
                    continue;
                }
                emit(Kind::Char, &[gram]);
            }
        }
    }
}

/// Extracts the counted features of a text, in first-seen order.
pub(crate) fn extract(config: &FeatureConfig, text: &str) -> Vec<Feature> {
    let words = words(text);
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut out: Vec<Feature> = Vec::new();
    each_feature(config, &words, |kind, parts| {
        let hash = hash_parts(kind, parts);
        match index.get(&hash) {
            Some(&i) => out[i].count += 1,
            None => {
                index.insert(hash, out.len());
                out.push(Feature {
                    hash,
                    kind,
                    count: 1,
                });
            }
        }
    });
    out
}

/// Extracts features with their readable names (for building a vocabulary
/// that is stored in a model file).
pub(crate) fn extract_named(config: &FeatureConfig, text: &str) -> Vec<(String, u64)> {
    let words = words(text);
    let mut out = Vec::new();
    each_feature(config, &words, |kind, parts| {
        let mut name = String::from(kind.tag());
        for p in parts {
            name.push_str(p);
        }
        let hash = hash_parts(kind, parts);
        debug_assert_eq!(hash, hash_name(&name));
        out.push((name, hash));
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_hashed_features_agree() {
        let config = FeatureConfig::default();
        let named = extract_named(&config, "Kargom nerde 3 gündür!");
        assert!(named.iter().any(|(n, _)| n == "w:kargom"));
        assert!(named.iter().any(|(n, _)| n == "b:kargom nerde"));
        assert!(named.iter().any(|(n, _)| n == "b:<s> kargom"));
        assert!(named.iter().any(|(n, _)| n == "c:<ne"));
        assert!(named.iter().any(|(n, _)| n == "w:0"));
        for (name, hash) in &named {
            assert_eq!(hash_name(name), *hash, "{name}");
        }
        let hashed = extract(&config, "Kargom nerde 3 gündür!");
        let total: u32 = hashed.iter().map(|f| f.count).sum();
        assert_eq!(total as usize, named.len());
    }

    #[test]
    fn char_ngrams_cover_multibyte_text() {
        let config = FeatureConfig::default();
        let named = extract_named(&config, "👍 süper");
        assert!(named.iter().any(|(n, _)| n == "w:👍"));
        assert!(named.iter().any(|(n, _)| n == "c:<👍>"));
        assert!(!named.iter().any(|(n, _)| n == "c:<"));
    }
}
