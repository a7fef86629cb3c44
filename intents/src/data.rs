//! The shipped training data, and the parser for its format.
//!
//! Format (`intents/data/*.jsonl`): one JSON object per line,
//! `{"text": "...", "intent": "..."}`; blank lines and lines starting with
//! `//` are skipped. Extra fields are ignored.
//!
//! `general.jsonl` holds the twelve general intents every niche shares. A
//! niche adds its own file (`ecommerce.jsonl`, …) with its own intents and
//! extra examples of general ones; [`for_niche`] merges the two, dropping
//! exact duplicates. `general.heldout.jsonl` is written apart from the
//! training data and is only used to measure.

use std::collections::HashSet;

use crate::classifier::Example;
use crate::normalize::fold;

const GENERAL: &str = include_str!("../data/general.jsonl");
const GENERAL_HELDOUT: &str = include_str!("../data/general.heldout.jsonl");

/// Each niche's own data file, added here as they are written, e.g.
/// `("ecommerce", include_str!("../data/ecommerce.jsonl"))`.
const NICHE_DATA: &[(&str, &str)] = &[];

/// The niches with their own models.
pub const NICHES: [&str; 4] = ["ecommerce", "dental", "aesthetic", "health"];

/// A line of a data file that did not parse.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct DataError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    #[source]
    pub source: serde_json::Error,
}

/// Parses the JSON-lines format described in the module docs.
pub fn parse_jsonl(src: &str) -> Result<Vec<Example>, DataError> {
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let ex: Example = serde_json::from_str(line).map_err(|source| DataError {
            line: i + 1,
            source,
        })?;
        out.push(ex);
    }
    Ok(out)
}

/// The general training examples (every niche).
pub fn general() -> Vec<Example> {
    // The shipped file is checked by a unit test; it cannot fail at run time.
    parse_jsonl(GENERAL).unwrap_or_default()
}

/// The general held-out examples, for measurement only (never train on them).
pub fn general_heldout() -> Vec<Example> {
    parse_jsonl(GENERAL_HELDOUT).unwrap_or_default()
}

/// The niche's own examples (empty while a niche has no data file yet).
pub fn niche(name: &str) -> Vec<Example> {
    NICHE_DATA
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| parse_jsonl(src).unwrap_or_default())
        .unwrap_or_default()
}

/// General and niche examples merged: the general ones first, then the
/// niche's; an example whose folded text and intent repeat an earlier one is
/// dropped.
pub fn for_niche(name: &str) -> Vec<Example> {
    merge(general(), niche(name))
}

/// Merges two example sets as [`for_niche`] does.
pub fn merge(base: Vec<Example>, extra: Vec<Example>) -> Vec<Example> {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    base.into_iter()
        .chain(extra)
        .filter(|ex| seen.insert((fold(&ex.text), ex.intent.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    const GENERAL_INTENTS: [&str; 12] = [
        "greeting",
        "thanks",
        "goodbye",
        "affirm",
        "deny",
        "human_handoff",
        "opt_out",
        "complaint",
        "business_hours",
        "location",
        "payment_options",
        "out_of_scope",
    ];

    #[test]
    fn parser_skips_comments_and_blank_lines_and_reports_lines() {
        let src = "// comment\n\n{\"text\": \"merhaba\", \"intent\": \"greeting\"}\n  \n";
        assert_eq!(
            parse_jsonl(src).unwrap(),
            vec![Example::new("merhaba", "greeting")]
        );
        let err = parse_jsonl("// x\n{\"text\": 1}\n").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn shipped_files_parse() {
        parse_jsonl(GENERAL).unwrap();
        parse_jsonl(GENERAL_HELDOUT).unwrap();
        for (_, src) in NICHE_DATA {
            parse_jsonl(src).unwrap();
        }
    }

    fn counts(examples: &[Example]) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for ex in examples {
            *m.entry(ex.intent.clone()).or_insert(0) += 1;
        }
        m
    }

    #[test]
    fn general_covers_every_intent_with_enough_examples() {
        let c = counts(&general());
        assert_eq!(c.len(), GENERAL_INTENTS.len(), "{c:?}");
        for intent in GENERAL_INTENTS {
            let n = c.get(intent).copied().unwrap_or(0);
            assert!(n >= 40, "{intent}: {n} examples");
        }
        let h = counts(&general_heldout());
        for intent in GENERAL_INTENTS {
            let n = h.get(intent).copied().unwrap_or(0);
            assert!(n >= 8, "held-out {intent}: {n} examples");
        }
    }

    #[test]
    fn no_contradictions_or_leaks() {
        // The same folded text may repeat within an intent ("İPTAL" and
        // "iptal" on purpose), never across intents.
        let mut by_text: HashMap<String, String> = HashMap::new();
        for ex in general() {
            let key = fold(&ex.text);
            if let Some(prev) = by_text.insert(key.clone(), ex.intent.clone()) {
                assert_eq!(prev, ex.intent, "{key:?} has two intents");
            }
        }
        let leaks: Vec<String> = general_heldout()
            .iter()
            .map(|ex| fold(&ex.text))
            .filter(|key| by_text.contains_key(key))
            .collect();
        assert!(leaks.is_empty(), "held-out examples in training: {leaks:?}");
    }

    #[test]
    fn merge_drops_duplicates_and_keeps_new_intents() {
        let base = vec![Example::new("merhaba", "greeting")];
        let extra = vec![
            Example::new("MERHABA!", "greeting"),
            Example::new("kargom nerede", "cargo_tracking"),
        ];
        let m = merge(base, extra);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].intent, "cargo_tracking");
        let general_intents: HashSet<String> = general().into_iter().map(|e| e.intent).collect();
        for niche in NICHES {
            let merged: HashSet<String> = for_niche(niche).into_iter().map(|e| e.intent).collect();
            assert!(merged.is_superset(&general_intents), "{niche}");
        }
    }
}
