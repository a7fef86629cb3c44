//! Benchmark on public data nobody on this project wrote: 5-fold stratified
//! cross-validation on MASSIVE 1.1 tr-TR (test split), labels with fewer than
//! 5 examples left out, as `/work/shared/datasets/README.md` prescribes.
//!
//! ```text
//! cargo run -p intents --release --example massive_cv -- \
//!     [path/to/massive-tr-test.jsonl] [epochs=30] [lr=0.5] [l2=1e-4] [word_weight=1.0]
//! ```
//!
//! Folds: for each label, its examples in file order go to folds 0,1,2,3,4,0,…
//! (deterministic, stratified). Prints accuracy, macro-F1, training time per
//! fold and single-message prediction latency.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use intents::{Classifier, Example, TrainConfig};

const FOLDS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "/work/shared/datasets/massive-tr-test.jsonl".to_owned());
    let mut config = TrainConfig::default();
    for arg in args {
        let (key, value) = arg.split_once('=').ok_or("arguments are key=value")?;
        match key {
            "epochs" => config.epochs = value.parse()?,
            "lr" => config.learning_rate = value.parse()?,
            "l2" => config.l2 = value.parse()?,
            "word_weight" => config.features.word_weight = value.parse()?,
            "char_max" => config.features.char_max = value.parse()?,
            "char_min" => config.features.char_min = value.parse()?,
            _ => return Err(format!("unknown setting {key}").into()),
        }
    }

    let mut rows: Vec<Example> = Vec::new();
    for line in std::fs::read_to_string(&path)?.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)?;
        let (Some(text), Some(intent)) = (v["utt"].as_str(), v["intent"].as_str()) else {
            return Err(format!("row without utt/intent: {line}").into());
        };
        rows.push(Example::new(text, intent));
    }
    let mut per_label: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *per_label.entry(r.intent.clone()).or_default() += 1;
    }
    let total = rows.len();
    rows.retain(|r| per_label[&r.intent] >= FOLDS);
    let labels: Vec<String> = per_label
        .iter()
        .filter(|(_, n)| **n >= FOLDS)
        .map(|(l, _)| l.clone())
        .collect();
    println!(
        "{path}: {total} rows, {} kept over {} labels (left out {} labels with <{FOLDS})",
        rows.len(),
        labels.len(),
        per_label.len() - labels.len()
    );

    let mut seen: HashMap<String, usize> = HashMap::new();
    let fold_of: Vec<usize> = rows
        .iter()
        .map(|r| {
            let n = seen.entry(r.intent.clone()).or_default();
            let f = *n % FOLDS;
            *n += 1;
            f
        })
        .collect();

    let mut correct = 0usize;
    // label → (true positives, predicted, actual)
    let mut counts: HashMap<String, (usize, usize, usize)> = HashMap::new();
    let mut train_time = Duration::ZERO;
    let mut predict_time = Duration::ZERO;
    for fold in 0..FOLDS {
        let train: Vec<Example> = rows
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(r, _)| r.clone())
            .collect();
        let start = Instant::now();
        let model = Classifier::train_with(&train, &config)?;
        train_time += start.elapsed();
        for (r, _) in rows.iter().zip(&fold_of).filter(|(_, f)| **f == fold) {
            let start = Instant::now();
            let p = model.predict(&r.text);
            predict_time += start.elapsed();
            counts.entry(r.intent.clone()).or_default().2 += 1;
            counts.entry(p.intent.clone()).or_default().1 += 1;
            if p.intent == r.intent {
                correct += 1;
                counts.entry(r.intent.clone()).or_default().0 += 1;
            }
        }
    }
    let accuracy = correct as f64 / rows.len() as f64;
    let macro_f1 = labels
        .iter()
        .map(|l| {
            let (tp, predicted, actual) = counts.get(l).copied().unwrap_or_default();
            if tp == 0 {
                return 0.0;
            }
            let precision = tp as f64 / predicted as f64;
            let recall = tp as f64 / actual as f64;
            2.0 * precision * recall / (precision + recall)
        })
        .sum::<f64>()
        / labels.len() as f64;
    println!("settings: {config:?}");
    println!(
        "accuracy {accuracy:.3}, macro-F1 {macro_f1:.3}, training {:?} per fold, prediction {:?} per message",
        train_time / FOLDS as u32,
        predict_time / rows.len() as u32
    );
    Ok(())
}
