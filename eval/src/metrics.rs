//! The intent report: accuracy, per-intent precision/recall/F1 with support, macro-F1
//! over every label that was expected or predicted, confusion pairs (most frequent
//! first) and latency percentiles. Serialises to the `kopru eval intents --json` shape.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Precision, recall, F1 and support of one intent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// How often `expected` was predicted as `predicted` (only mistakes are listed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub expected: String,
    pub predicted: String,
    pub count: usize,
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
}

impl Latency {
    /// Nearest-rank percentiles of the given samples.
    pub fn of(samples: &[u64]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        let mut s = samples.to_vec();
        s.sort_unstable();
        let rank = |p: f64| s[(((s.len() as f64) * p).ceil() as usize).clamp(1, s.len()) - 1];
        Latency {
            p50: rank(0.50),
            p99: rank(0.99),
        }
    }
}

/// The report over one dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentReport {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_intent: BTreeMap<String, Prf>,
    pub confusion: Vec<Confusion>,
    pub latency_us: Latency,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl IntentReport {
    /// Computes the report from (expected, predicted) pairs and per-row latencies.
    pub fn compute(pairs: &[(String, String)], latencies_us: &[u64]) -> IntentReport {
        let n = pairs.len();
        let labels: BTreeSet<&str> = pairs
            .iter()
            .flat_map(|(e, p)| [e.as_str(), p.as_str()])
            .collect();
        let mut tp: HashMap<&str, usize> = HashMap::new();
        let mut expected: HashMap<&str, usize> = HashMap::new();
        let mut predicted: HashMap<&str, usize> = HashMap::new();
        let mut confusion: HashMap<(&str, &str), usize> = HashMap::new();
        for (e, p) in pairs {
            *expected.entry(e).or_default() += 1;
            *predicted.entry(p).or_default() += 1;
            if e == p {
                *tp.entry(e).or_default() += 1;
            } else {
                *confusion.entry((e, p)).or_default() += 1;
            }
        }
        let correct: usize = tp.values().sum();
        let mut per_intent = BTreeMap::new();
        let mut f1_sum = 0.0;
        for label in &labels {
            let t = *tp.get(label).unwrap_or(&0) as f64;
            let support = *expected.get(label).unwrap_or(&0);
            let pred = *predicted.get(label).unwrap_or(&0) as f64;
            let precision = if pred > 0.0 { t / pred } else { 0.0 };
            let recall = if support > 0 { t / support as f64 } else { 0.0 };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            f1_sum += f1;
            per_intent.insert(
                label.to_string(),
                Prf {
                    precision: round3(precision),
                    recall: round3(recall),
                    f1: round3(f1),
                    support,
                },
            );
        }
        let mut confusion: Vec<Confusion> = confusion
            .into_iter()
            .map(|((e, p), count)| Confusion {
                expected: e.to_string(),
                predicted: p.to_string(),
                count,
            })
            .collect();
        confusion.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.expected.cmp(&b.expected))
                .then_with(|| a.predicted.cmp(&b.predicted))
        });
        IntentReport {
            n,
            accuracy: if n > 0 {
                round3(correct as f64 / n as f64)
            } else {
                0.0
            },
            macro_f1: if labels.is_empty() {
                0.0
            } else {
                round3(f1_sum / labels.len() as f64)
            },
            per_intent,
            confusion,
            latency_us: Latency::of(latencies_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn computes_accuracy_f1_and_confusion_by_hand() {
        // return_request: 2 right, 1 taken for exchange; exchange: 1 right.
        let p = pairs(&[
            ("return_request", "return_request"),
            ("return_request", "return_request"),
            ("return_request", "exchange_request"),
            ("exchange_request", "exchange_request"),
        ]);
        let r = IntentReport::compute(&p, &[10, 20, 30, 40]);
        assert_eq!(r.n, 4);
        assert_eq!(r.accuracy, 0.75);
        let ret = &r.per_intent["return_request"];
        assert_eq!((ret.precision, ret.recall, ret.support), (1.0, 0.667, 3));
        let ex = &r.per_intent["exchange_request"];
        assert_eq!((ex.precision, ex.recall), (0.5, 1.0));
        // F1: 0.8 and 0.667 → macro 0.733
        assert_eq!(r.macro_f1, 0.733);
        assert_eq!(
            r.confusion,
            vec![Confusion {
                expected: "return_request".into(),
                predicted: "exchange_request".into(),
                count: 1
            }]
        );
        assert_eq!(r.latency_us, Latency { p50: 20, p99: 40 });
    }

    #[test]
    fn an_unknown_prediction_counts_against_macro_f1() {
        let p = pairs(&[("greeting", "greeting"), ("greeting", "mystery")]);
        let r = IntentReport::compute(&p, &[]);
        assert_eq!(r.per_intent["mystery"].support, 0);
        assert_eq!(r.per_intent["mystery"].f1, 0.0);
        assert!(r.macro_f1 < 0.5);
    }

    #[test]
    fn json_shape_matches_the_contract() {
        let r = IntentReport::compute(&pairs(&[("a", "a")]), &[5]);
        let v = serde_json::to_value(&r).unwrap();
        for key in [
            "n",
            "accuracy",
            "macro_f1",
            "per_intent",
            "confusion",
            "latency_us",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["per_intent"]["a"]["support"], 1);
        assert_eq!(v["latency_us"]["p99"], 5);
    }

    #[test]
    fn empty_input_is_all_zero_not_nan() {
        let r = IntentReport::compute(&[], &[]);
        assert_eq!((r.n, r.accuracy, r.macro_f1), (0, 0.0, 0.0));
    }
}
