//! Comparing a report with a baseline (an earlier `kopru eval intents --json` output)
//! and the regression gate (`--max-drop`): the build fails when macro-F1 fell by more
//! than the allowed drop.

use crate::metrics::IntentReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The figures of a baseline report that are compared; other fields are ignored, so
/// reports written by older or newer versions still load.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Baseline {
    pub accuracy: f64,
    pub macro_f1: f64,
    #[serde(default)]
    pub per_intent: BTreeMap<String, BaselineIntent>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BaselineIntent {
    pub f1: f64,
}

/// Why a baseline could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("baseline {path} is not a `kopru eval intents --json` report: {message}")]
    Parse { path: String, message: String },
}

impl Baseline {
    pub fn parse(text: &str) -> Result<Baseline, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Baseline::parse(&text).map_err(|e| BaselineError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// A figure before and after; `delta` = after − before (a missing side counts as 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub delta: f64,
}

impl Delta {
    fn new(before: Option<f64>, after: Option<f64>) -> Delta {
        let d = after.unwrap_or(0.0) - before.unwrap_or(0.0);
        Delta {
            before,
            after,
            delta: (d * 1000.0).round() / 1000.0,
        }
    }
}

/// The report against its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub accuracy: Delta,
    pub macro_f1: Delta,
    /// Every intent of either report, by F1.
    pub per_intent: BTreeMap<String, Delta>,
}

impl Comparison {
    pub fn of(baseline: &Baseline, current: &IntentReport) -> Comparison {
        let mut per_intent = BTreeMap::new();
        for name in baseline.per_intent.keys().chain(current.per_intent.keys()) {
            per_intent.entry(name.clone()).or_insert_with(|| {
                Delta::new(
                    baseline.per_intent.get(name).map(|b| b.f1),
                    current.per_intent.get(name).map(|c| c.f1),
                )
            });
        }
        Comparison {
            accuracy: Delta::new(Some(baseline.accuracy), Some(current.accuracy)),
            macro_f1: Delta::new(Some(baseline.macro_f1), Some(current.macro_f1)),
            per_intent,
        }
    }

    /// The intents whose F1 changed, worst change first.
    pub fn changed(&self) -> Vec<(&str, &Delta)> {
        let mut v: Vec<_> = self
            .per_intent
            .iter()
            .filter(|(_, d)| d.delta != 0.0)
            .map(|(k, d)| (k.as_str(), d))
            .collect();
        v.sort_by(|a, b| a.1.delta.total_cmp(&b.1.delta).then(a.0.cmp(b.0)));
        v
    }

    /// The regression gate: an error when macro-F1 dropped by more than `max_drop`.
    pub fn gate(&self, max_drop: f64) -> Result<(), GateError> {
        let drop = -self.macro_f1.delta;
        // Figures are rounded to 3 decimals; a hair of slack keeps 0.02 ≤ 0.02.
        if drop > max_drop + 1e-9 {
            return Err(GateError {
                before: self.macro_f1.before.unwrap_or(0.0),
                after: self.macro_f1.after.unwrap_or(0.0),
                drop,
                max_drop,
            });
        }
        Ok(())
    }
}

/// Macro-F1 fell more than allowed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "macro-F1 dropped by {drop:.3} ({before:.3} → {after:.3}), more than the allowed --max-drop {max_drop}"
)]
pub struct GateError {
    pub before: f64,
    pub after: f64,
    pub drop: f64,
    pub max_drop: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pairs: &[(&str, &str)]) -> IntentReport {
        let p: Vec<_> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        IntentReport::compute(&p, &[])
    }

    #[test]
    fn a_report_is_its_own_baseline_and_passes_the_gate() {
        let r = report(&[("a", "a"), ("b", "a"), ("b", "b")]);
        let b = Baseline::parse(&serde_json::to_string(&r).unwrap()).unwrap();
        let c = Comparison::of(&b, &r);
        assert_eq!(c.macro_f1.delta, 0.0);
        assert!(c.changed().is_empty());
        assert!(c.gate(0.0).is_ok());
    }

    #[test]
    fn per_intent_deltas_and_the_gate() {
        let b = Baseline::parse(
            r#"{"n": 10, "accuracy": 0.9, "macro_f1": 0.9,
                "per_intent": {"a": {"f1": 0.9, "precision": 1}, "gone": {"f1": 0.5}},
                "latency_us": {"p50": 1, "p99": 2}, "future_field": true}"#,
        )
        .unwrap();
        // a: 1 right, 1 wrong → F1 0.667; b: precision 0 → F1 0
        let r = report(&[("a", "a"), ("a", "b")]);
        let c = Comparison::of(&b, &r);
        assert_eq!(c.accuracy.delta, -0.4);
        assert_eq!(c.per_intent["a"].delta, -0.233);
        assert_eq!(c.per_intent["gone"].after, None);
        assert_eq!(c.per_intent["gone"].delta, -0.5);
        assert_eq!(c.per_intent["b"].before, None);
        let changed: Vec<&str> = c.changed().iter().map(|(k, _)| *k).collect();
        assert_eq!(changed, ["gone", "a"]);
        // macro-F1 0.9 → 0.333
        let err = c.gate(0.02).unwrap_err();
        assert!(err.to_string().contains("0.900 → 0.333"), "{err}");
        assert!(err.to_string().contains("--max-drop 0.02"), "{err}");
        assert!(c.gate(0.6).is_ok());
    }

    #[test]
    fn a_drop_of_exactly_the_limit_passes() {
        let b = Baseline::parse(r#"{"accuracy": 0.5, "macro_f1": 0.52}"#).unwrap();
        let r = report(&[("a", "a"), ("a", "b")]); // macro 0.333
        let mut c = Comparison::of(&b, &r);
        c.macro_f1 = Delta::new(Some(0.52), Some(0.5));
        assert!(c.gate(0.02).is_ok());
        c.macro_f1 = Delta::new(Some(0.521), Some(0.5));
        assert!(c.gate(0.02).is_err());
    }

    #[test]
    fn a_baseline_that_is_not_a_report_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(&p, "{\"passed\": 1}").unwrap();
        let e = Baseline::read(&p).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("not a"), "{e}");
        let e = Baseline::read(&dir.path().join("none.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read baseline"), "{e}");
    }
}
