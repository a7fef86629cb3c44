//! `kopru eval intents`: every row of a dataset classified by a model, the answers
//! scored into an [`IntentEval`] (the metrics report plus entity accuracy, which path
//! answered, which expected intents the model does not know, and what model it was).
//!
//! The model and the entity extractor are traits so the gateway can plug in what it
//! runs ([`LocalModel`] over `intents::Nlu` today, the LLM cascade later) and tests can
//! plug in fakes. A row whose expected intent the model does not know is scored like any
//! other row: the model cannot predict it, so it counts as an error, never as skipped.

use crate::dataset::IntentRow;
use crate::metrics::IntentReport;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// Which part of the cascade answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerPath {
    Local,
    Llm,
}

impl AnswerPath {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerPath::Local => "local",
            AnswerPath::Llm => "llm",
        }
    }
}

/// One classified message.
#[derive(Clone, Debug, PartialEq)]
pub struct Classified {
    pub intent: String,
    pub confidence: f32,
    pub path: AnswerPath,
    /// LLM tokens spent on this message (0 on the local path).
    pub tokens: u32,
}

/// What is evaluated: a classifier with one model per niche.
pub trait IntentModel {
    /// Whether `niche` names a model (a typo must not silently fall back).
    fn has_niche(&self, niche: &str) -> bool;
    /// Classifies `text` with the niche's model.
    fn classify(&self, niche: &str, text: &str) -> Classified;
    /// Whether the niche's model can answer `intent` at all.
    fn knows(&self, niche: &str, intent: &str) -> bool;
    /// A short description of the niche's model for the report.
    fn describe(&self, niche: &str) -> Value;
}

/// Finds entities in a message; `intents` gets extractors in a later issue, and the
/// gateway plugs them in here then.
pub trait EntityExtractor {
    /// Named in the report's `model.entities`.
    fn name(&self) -> &str;
    /// The entities found, by entity name (`treatment`, `tooth_count`, …).
    fn extract(&self, niche: &str, text: &str) -> Map<String, Value>;
}

/// Any `Fn(niche, text) -> entities` is an extractor named "custom".
impl<F> EntityExtractor for F
where
    F: Fn(&str, &str) -> Map<String, Value>,
{
    fn name(&self) -> &str {
        "custom"
    }

    fn extract(&self, niche: &str, text: &str) -> Map<String, Value> {
        self(niche, text)
    }
}

/// The local entity extractors (`intents::entities`): the first value found of each
/// entity, in its JSON form (`"implant"`, `2`, `"full_mouth"`, `{"amount": …}`). Dates
/// and times resolve from `now` in `tz`.
pub struct LocalEntities {
    pub tz: String,
    pub now: jiff::Timestamp,
}

impl LocalEntities {
    /// Europe/Istanbul, now.
    pub fn istanbul_now() -> Self {
        LocalEntities {
            tz: "Europe/Istanbul".into(),
            now: jiff::Timestamp::now(),
        }
    }
}

impl EntityExtractor for LocalEntities {
    fn name(&self) -> &str {
        "local"
    }

    fn extract(&self, niche: &str, text: &str) -> Map<String, Value> {
        let ctx = intents::entities::Context::new(niche, &self.tz, self.now);
        first_values(&intents::entities::extract(text, &ctx))
    }
}

/// `{"treatment": [{"value": "implant", "span": …}], …}` → `{"treatment": "implant"}`;
/// a value that is not a list is kept as it is, an empty list dropped.
pub fn first_values(found: &impl Serialize) -> Map<String, Value> {
    let Ok(Value::Object(all)) = serde_json::to_value(found) else {
        return Map::new();
    };
    all.into_iter()
        .filter_map(|(k, v)| {
            let first = match v {
                Value::Array(list) => {
                    let first = list.into_iter().next()?;
                    match first {
                        Value::Object(mut o) if o.contains_key("value") => o.remove("value")?,
                        other => other,
                    }
                }
                other => other,
            };
            Some((k, first))
        })
        .collect()
}

/// The built-in local models (`intents::Nlu`), with the confidence threshold the
/// flows apply: below it the answer is `out_of_scope`, as the customer would see it.
pub struct LocalModel<'a> {
    pub nlu: &'a intents::Nlu,
    /// 0.0 scores the raw top intent.
    pub threshold: f32,
}

/// The niche name that picks the shared general model.
pub const GENERAL_NICHE: &str = "general";

impl IntentModel for LocalModel<'_> {
    fn has_niche(&self, niche: &str) -> bool {
        niche == GENERAL_NICHE || intents::data::NICHES.contains(&niche)
    }

    fn classify(&self, niche: &str, text: &str) -> Classified {
        let p = self
            .nlu
            .classify(niche, text)
            .or_out_of_scope(self.threshold);
        Classified {
            intent: p.intent,
            confidence: p.confidence,
            path: AnswerPath::Local,
            tokens: 0,
        }
    }

    fn knows(&self, niche: &str, intent: &str) -> bool {
        intent == intents::OUT_OF_SCOPE
            || self.nlu.model(niche).intents().iter().any(|i| i == intent)
    }

    fn describe(&self, niche: &str) -> Value {
        let m = self.nlu.model(niche);
        serde_json::json!({
            "kind": "local",
            "intents": m.intents().len(),
            "features": m.feature_count(),
        })
    }
}

/// Which model a row is classified with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicheChoice {
    /// Every row with this niche's model (`--niche`, or the `--tenant`'s niche).
    Fixed(String),
    /// Each row's own `niche` field.
    PerRow,
}

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    #[error("the dataset has no rows")]
    Empty,
    #[error(
        "line {line}: the row has no \"niche\"; give --niche or --tenant, or add a niche to the row"
    )]
    NoNiche { line: usize },
    #[error("line {line}: unknown niche {niche:?}")]
    UnknownRowNiche { line: usize, niche: String },
    #[error("unknown niche {0:?}")]
    UnknownNiche(String),
}

/// The full count matrix (rows expected, columns predicted), for the HTML heat map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matrix {
    pub labels: Vec<String>,
    /// `counts[expected][predicted]`, indices into `labels`.
    pub counts: Vec<Vec<usize>>,
}

impl Matrix {
    pub fn of(pairs: &[(String, String)]) -> Matrix {
        let mut labels: Vec<String> = pairs
            .iter()
            .flat_map(|(e, p)| [e.clone(), p.clone()])
            .collect();
        labels.sort();
        labels.dedup();
        let index = |l: &str| labels.binary_search_by(|x| x.as_str().cmp(l)).unwrap_or(0);
        let mut counts = vec![vec![0; labels.len()]; labels.len()];
        for (e, p) in pairs {
            counts[index(e)][index(p)] += 1;
        }
        Matrix { labels, counts }
    }

    pub fn max(&self) -> usize {
        self.counts.iter().flatten().copied().max().unwrap_or(0)
    }
}

/// The `kopru eval intents --json` object: the metrics report plus what the
/// contract adds (`entity_accuracy`) and what helps read it (`path`, `model`,
/// `unknown_intents`, and `baseline` when compared).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentEval {
    #[serde(flatten)]
    pub report: IntentReport,
    /// Per listed entity: the share of rows listing it whose extracted value matched.
    /// Empty when no extractor is plugged in (see `model.entities`).
    pub entity_accuracy: BTreeMap<String, f64>,
    /// How many rows each path answered (`local`, `llm`).
    pub path: BTreeMap<String, usize>,
    /// LLM tokens spent over the dataset (the cost of the LLM path).
    pub llm_tokens: u64,
    /// Expected intents the model does not know, with their row counts (each such
    /// row counted as an error).
    pub unknown_intents: BTreeMap<String, usize>,
    /// Which model(s) answered: niche → description, plus threshold and extractor.
    pub model: Value,
    /// Set when compared with a baseline report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::compare::Comparison>,
    #[serde(skip)]
    pub matrix: Matrix,
}

/// Whether an extracted entity value is the expected one: equal JSON, or equal text
/// ignoring case when one side is a number or string and the other its text (`2`
/// and `"2"`).
pub fn entity_matches(expected: &Value, got: Option<&Value>) -> bool {
    let Some(got) = got else {
        return false;
    };
    if expected == got {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    matches!((text(expected), text(got)), (Some(a), Some(b)) if a == b)
}

/// Classifies every row and scores the answers. `progress(done, total)` is called
/// after each row.
pub fn evaluate(
    rows: &[IntentRow],
    choice: &NicheChoice,
    model: &dyn IntentModel,
    threshold: f32,
    extractor: Option<&dyn EntityExtractor>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<IntentEval, EvalError> {
    if rows.is_empty() {
        return Err(EvalError::Empty);
    }
    // Every row's niche is checked before any work, so a bad file fails at once.
    let mut niches = Vec::with_capacity(rows.len());
    for row in rows {
        let niche = match choice {
            NicheChoice::Fixed(n) => {
                if !model.has_niche(n) {
                    return Err(EvalError::UnknownNiche(n.clone()));
                }
                n.as_str()
            }
            NicheChoice::PerRow => {
                let n = row
                    .niche
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .ok_or(EvalError::NoNiche { line: row.line })?;
                if !model.has_niche(n) {
                    return Err(EvalError::UnknownRowNiche {
                        line: row.line,
                        niche: n.to_string(),
                    });
                }
                n
            }
        };
        niches.push(niche);
    }

    let mut pairs = Vec::with_capacity(rows.len());
    let mut latencies = Vec::with_capacity(rows.len());
    let mut path: BTreeMap<String, usize> = [("local".to_string(), 0), ("llm".to_string(), 0)]
        .into_iter()
        .collect();
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let mut llm_tokens = 0u64;
    let mut entity_counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (i, (row, niche)) in rows.iter().zip(&niches).enumerate() {
        let started = Instant::now();
        let answer = model.classify(niche, &row.text);
        latencies.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        *path.entry(answer.path.as_str().to_string()).or_default() += 1;
        llm_tokens += u64::from(answer.tokens);
        if !model.knows(niche, &row.intent) {
            *unknown.entry(row.intent.clone()).or_default() += 1;
        }
        if let Some(x) = extractor
            && !row.entities.is_empty()
        {
            let found = x.extract(niche, &row.text);
            for (name, expected) in &row.entities {
                let c = entity_counts.entry(name.clone()).or_default();
                c.1 += 1;
                if entity_matches(expected, found.get(name)) {
                    c.0 += 1;
                }
            }
        }
        pairs.push((row.intent.clone(), answer.intent));
        progress(i + 1, rows.len());
    }

    let mut used: Vec<&str> = niches.clone();
    used.sort_unstable();
    used.dedup();
    let mut described = Map::new();
    for n in used {
        described.insert(n.to_string(), model.describe(n));
    }
    let model_info = serde_json::json!({
        "niches": described,
        "threshold": threshold,
        "entities": extractor.map(|x| x.name().to_string()),
    });
    Ok(IntentEval {
        report: IntentReport::compute(&pairs, &latencies),
        entity_accuracy: entity_counts
            .into_iter()
            .map(|(k, (ok, n))| (k, ((ok as f64 / n as f64) * 1000.0).round() / 1000.0))
            .collect(),
        path,
        llm_tokens,
        unknown_intents: unknown,
        model: model_info,
        baseline: None,
        matrix: Matrix::of(&pairs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::parse_jsonl;

    /// Knows greeting and thanks in "dental"; says greeting to anything with "merhaba".
    struct Fake;

    impl IntentModel for Fake {
        fn has_niche(&self, niche: &str) -> bool {
            niche == "dental"
        }
        fn classify(&self, _: &str, text: &str) -> Classified {
            let intent = if text.contains("merhaba") {
                "greeting"
            } else {
                "thanks"
            };
            Classified {
                intent: intent.into(),
                confidence: 0.9,
                path: AnswerPath::Local,
                tokens: 0,
            }
        }
        fn knows(&self, _: &str, intent: &str) -> bool {
            intent == "greeting" || intent == "thanks"
        }
        fn describe(&self, _: &str) -> Value {
            serde_json::json!({"kind": "fake"})
        }
    }

    fn rows(text: &str) -> Vec<IntentRow> {
        parse_jsonl(text).unwrap()
    }

    #[test]
    fn unknown_expected_intents_count_as_errors() {
        let r = rows(
            "{\"text\":\"merhaba\",\"intent\":\"greeting\"}\n{\"text\":\"implant ne kadar\",\"intent\":\"price_inquiry\"}\n",
        );
        let e = evaluate(
            &r,
            &NicheChoice::Fixed("dental".into()),
            &Fake,
            0.5,
            None,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(e.report.n, 2);
        assert_eq!(e.report.accuracy, 0.5);
        assert_eq!(e.unknown_intents["price_inquiry"], 1);
        assert_eq!(e.path["local"], 2);
        assert!(e.entity_accuracy.is_empty());
        assert_eq!(e.model["entities"], Value::Null);
        let v = serde_json::to_value(&e).unwrap();
        for key in [
            "n",
            "accuracy",
            "macro_f1",
            "per_intent",
            "confusion",
            "entity_accuracy",
            "latency_us",
            "path",
            "model",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert!(v.get("baseline").is_none());
    }

    #[test]
    fn rows_need_a_niche_without_a_flag_and_the_error_names_the_line() {
        let r = rows(
            "// header\n{\"text\":\"merhaba\",\"intent\":\"greeting\",\"niche\":\"dental\"}\n{\"text\":\"x\",\"intent\":\"thanks\"}\n",
        );
        let err = evaluate(&r, &NicheChoice::PerRow, &Fake, 0.5, None, &mut |_, _| {}).unwrap_err();
        assert_eq!(err, EvalError::NoNiche { line: 3 });
        assert!(err.to_string().starts_with("line 3:"));
        let r = rows("{\"text\":\"x\",\"intent\":\"thanks\",\"niche\":\"dentl\"}\n");
        let err = evaluate(&r, &NicheChoice::PerRow, &Fake, 0.5, None, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("dentl"), "{err}");
        let err = evaluate(
            &r,
            &NicheChoice::Fixed("shop".into()),
            &Fake,
            0.5,
            None,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(err, EvalError::UnknownNiche("shop".into()));
    }

    #[test]
    fn entity_accuracy_compares_only_listed_entities() {
        let r = rows(concat!(
            "{\"text\":\"merhaba 2 implant\",\"intent\":\"greeting\",\"entities\":{\"treatment\":\"implant\",\"tooth_count\":2}}\n",
            "{\"text\":\"merhaba 3 dolgu\",\"intent\":\"greeting\",\"entities\":{\"tooth_count\":\"3\"}}\n",
            "{\"text\":\"merhaba\",\"intent\":\"greeting\"}\n",
        ));
        let extractor = |_: &str, text: &str| {
            let mut m = Map::new();
            m.insert("treatment".into(), Value::from("filling"));
            if let Some(d) = text.split(' ').find_map(|w| w.parse::<i64>().ok()) {
                m.insert("tooth_count".into(), Value::from(d));
            }
            m
        };
        let e = evaluate(
            &r,
            &NicheChoice::Fixed("dental".into()),
            &Fake,
            0.5,
            Some(&extractor),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(e.entity_accuracy["treatment"], 0.0);
        assert_eq!(e.entity_accuracy["tooth_count"], 1.0);
        assert_eq!(e.entity_accuracy.len(), 2);
        assert_eq!(e.model["entities"], "custom");
    }

    #[test]
    fn the_matrix_holds_hits_and_mistakes() {
        let pairs = vec![
            ("a".to_string(), "a".to_string()),
            ("a".to_string(), "b".to_string()),
            ("a".to_string(), "b".to_string()),
        ];
        let m = Matrix::of(&pairs);
        assert_eq!(m.labels, ["a", "b"]);
        assert_eq!(m.counts, vec![vec![1, 2], vec![0, 0]]);
        assert_eq!(m.max(), 2);
    }

    #[test]
    fn local_entities_give_the_first_value_of_each_entity() {
        let x = LocalEntities::istanbul_now();
        let e = x.extract("dental", "2 dişim için implant fiyatı nedir");
        assert_eq!(e.get("treatment"), Some(&Value::from("implant")), "{e:?}");
        assert!(
            entity_matches(&Value::from(2), e.get("tooth_count")),
            "{e:?}"
        );
        assert!(x.extract("dental", "merhaba").is_empty());
        let stored = serde_json::json!({"treatment": [{"value": "botox", "span": [0, 5]}], "tooth_count": 2, "city": []});
        let flat = first_values(&stored);
        assert_eq!(
            Value::Object(flat),
            serde_json::json!({"treatment": "botox", "tooth_count": 2})
        );
    }

    #[test]
    fn the_local_model_applies_the_threshold() {
        let nlu = intents::Nlu::builtin().unwrap();
        let strict = LocalModel {
            nlu: &nlu,
            threshold: 1.01,
        };
        assert_eq!(
            strict.classify("dental", "kaça kadar açıksınız").intent,
            intents::OUT_OF_SCOPE
        );
        let raw = LocalModel {
            nlu: &nlu,
            threshold: 0.0,
        };
        assert_eq!(
            raw.classify("dental", "kaça kadar açıksınız").intent,
            "business_hours"
        );
        assert!(raw.knows("dental", "greeting"));
        assert!(!raw.knows("dental", "no_such_intent"));
        assert!(raw.has_niche("general") && raw.has_niche("health"));
        assert!(!raw.has_niche("healthh"));
    }
}
