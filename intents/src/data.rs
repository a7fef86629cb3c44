//! The shipped training data, and the parser for its format.
//!
//! Format (`intents/data/*.jsonl`): one JSON object per line,
//! `{"text": "...", "intent": "..."}`; blank lines and lines starting with
//! `//` are skipped. Extra fields are ignored.
//!
//! An optional `"lang"` field (ISO 639-1) marks non-Turkish rows; the
//! classifier ignores it.
//!
//! `general.jsonl` holds the twelve general intents every niche shares. A
//! niche adds its own files with its own intents and extra examples of
//! general ones; [`for_niche`] merges them after the general file, dropping
//! exact duplicates:
//!
//! | niche | files |
//! |---|---|
//! | `ecommerce` | `general` + `ecommerce` |
//! | `dental`, `aesthetic` | `general` + `clinic` |
//! | `health` | `general` + `clinic` + `tourism` |
//!
//! Every file has a `<name>.heldout.jsonl` twin, written apart from the
//! training data and only used to measure ([`general_heldout`],
//! [`niche_heldout`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::classifier::Example;
use crate::normalize::fold;

const GENERAL: &str = include_str!("../data/general.jsonl");
const GENERAL_HELDOUT: &str = include_str!("../data/general.heldout.jsonl");

const ECOMMERCE: &str = include_str!("../data/ecommerce.jsonl");
const ECOMMERCE_HELDOUT: &str = include_str!("../data/ecommerce.heldout.jsonl");
const CLINIC: &str = include_str!("../data/clinic.jsonl");
const CLINIC_HELDOUT: &str = include_str!("../data/clinic.heldout.jsonl");
const TOURISM: &str = include_str!("../data/tourism.jsonl");
const TOURISM_HELDOUT: &str = include_str!("../data/tourism.heldout.jsonl");

/// Each niche's own data files, in merge order (after `general.jsonl`).
/// Niches listing the same files get the same model.
const NICHE_DATA: &[(&str, &[&str])] = &[
    ("ecommerce", &[ECOMMERCE]),
    ("dental", &[CLINIC]),
    ("aesthetic", &[CLINIC]),
    ("health", &[CLINIC, TOURISM]),
];

/// The held-out twins of [`NICHE_DATA`], for measurement only.
const NICHE_HELDOUT: &[(&str, &[&str])] = &[
    ("ecommerce", &[ECOMMERCE_HELDOUT]),
    ("dental", &[CLINIC_HELDOUT]),
    ("aesthetic", &[CLINIC_HELDOUT]),
    ("health", &[CLINIC_HELDOUT, TOURISM_HELDOUT]),
];

/// The niches with their own models.
pub const NICHES: [&str; 4] = ["ecommerce", "dental", "aesthetic", "health"];

/// A data file, or a line of one, that could not be read.
///
/// Displays as `FILE: line N: what` (`FILE: what` when the file as a whole
/// could not be read; no `FILE` for text parsed from memory).
#[derive(Debug)]
pub struct DataError {
    /// The file, when read from one.
    pub path: Option<PathBuf>,
    /// 1-based line number; 0 when the file could not be read at all.
    pub line: usize,
    /// What was wrong.
    pub kind: DataErrorKind,
}

/// What was wrong in a [`DataError`].
#[derive(Debug, thiserror::Error)]
pub enum DataErrorKind {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not a JSON object with string `text` and `intent` fields.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A required field is empty (or only whitespace).
    #[error("\"{0}\" is empty")]
    Empty(&'static str),
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DataErrorKind::Io(e) => Some(e),
            DataErrorKind::Json(e) => Some(e),
            DataErrorKind::Empty(_) => None,
        }
    }
}

/// Parses the JSON-lines format described in the module docs: `text` and
/// `intent` are required and must not be empty (the error names the line).
pub fn parse_jsonl(src: &str) -> Result<Vec<Example>, DataError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let err = |kind: DataErrorKind| DataError {
            path: None,
            line: i + 1,
            kind,
        };
        let ex: Example = serde_json::from_str(line).map_err(|e| err(e.into()))?;
        if ex.text.trim().is_empty() {
            return Err(err(DataErrorKind::Empty("text")));
        }
        if ex.intent.trim().is_empty() {
            return Err(err(DataErrorKind::Empty("intent")));
        }
        out.push(ex);
    }
    Ok(out)
}

/// Reads examples from a JSON-lines file in the intent dataset format of
/// `spec/formats.md` (`{"text", "intent", …}` a line; other fields such as
/// `niche`, `lang` and `entities` ignored; blank and `//` lines skipped):
/// a tenant's extra examples for [`crate::Nlu::add_tenant`]. The error
/// names the file and the line.
pub fn read_examples(path: impl AsRef<Path>) -> Result<Vec<Example>, DataError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| DataError {
        path: Some(path.to_owned()),
        line: 0,
        kind: e.into(),
    })?;
    parse_jsonl(&text).map_err(|e| DataError {
        path: Some(path.to_owned()),
        ..e
    })
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

fn files(table: &[(&str, &'static [&'static str])], name: &str) -> Vec<Example> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, files)| {
            files
                .iter()
                .flat_map(|src| parse_jsonl(src).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

/// The niche's own examples, without the general ones (empty for a niche
/// without data files).
pub fn niche(name: &str) -> Vec<Example> {
    files(NICHE_DATA, name)
}

/// The niche's own held-out examples (its own intents), for measurement
/// only (never train on them). Empty for a niche without data files.
pub fn niche_heldout(name: &str) -> Vec<Example> {
    files(NICHE_HELDOUT, name)
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

    use crate::catalog::GENERAL_INTENTS;

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
        for (_, files) in NICHE_DATA.iter().chain(NICHE_HELDOUT) {
            for src in *files {
                parse_jsonl(src).unwrap();
            }
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
        for &intent in GENERAL_INTENTS {
            let n = c.get(intent).copied().unwrap_or(0);
            assert!(n >= 40, "{intent}: {n} examples");
        }
        let h = counts(&general_heldout());
        for &intent in GENERAL_INTENTS {
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

    #[test]
    fn niches_cover_their_intents_with_enough_examples() {
        for niche in NICHES {
            let expected = crate::catalog::niche_intents(niche);
            let c = counts(&super::niche(niche));
            let h = counts(&niche_heldout(niche));
            for intent in &expected {
                let n = c.get(*intent).copied().unwrap_or(0);
                assert!(n >= 60, "{niche} {intent}: {n} examples");
                let n = h.get(*intent).copied().unwrap_or(0);
                assert!(n >= 15, "{niche} held-out {intent}: {n} examples");
            }
            // Nothing but the niche's intents and general ones.
            for intent in c.keys().chain(h.keys()) {
                assert!(
                    expected.contains(&intent.as_str())
                        || GENERAL_INTENTS.contains(&intent.as_str()),
                    "{niche}: unknown intent {intent}"
                );
            }
        }
    }

    #[test]
    fn niches_have_no_contradictions_or_leaks() {
        for niche in NICHES {
            let mut by_text: HashMap<String, String> = HashMap::new();
            for ex in for_niche(niche) {
                let key = fold(&ex.text);
                if let Some(prev) = by_text.insert(key.clone(), ex.intent.clone()) {
                    assert_eq!(prev, ex.intent, "{niche}: {key:?} has two intents");
                }
            }
            let heldout = niche_heldout(niche);
            let leaks: Vec<String> = heldout
                .iter()
                .chain(&general_heldout())
                .map(|ex| fold(&ex.text))
                .filter(|key| by_text.contains_key(key))
                .collect();
            assert!(leaks.is_empty(), "{niche}: held-out in training: {leaks:?}");
            let mut seen = HashSet::new();
            for ex in &heldout {
                assert!(
                    seen.insert(fold(&ex.text)),
                    "{niche}: held-out repeat {:?}",
                    ex.text
                );
            }
        }
    }

    #[test]
    fn lang_fields_are_iso_codes() {
        #[derive(serde::Deserialize)]
        struct Row {
            lang: Option<String>,
        }
        for (_, files) in NICHE_DATA.iter().chain(NICHE_HELDOUT) {
            for src in *files {
                for line in src.lines().map(str::trim) {
                    if line.is_empty() || line.starts_with("//") {
                        continue;
                    }
                    let row: Row = serde_json::from_str(line).unwrap();
                    if let Some(lang) = row.lang {
                        assert!(
                            ["tr", "en", "de", "ru", "fr", "nl"].contains(&lang.as_str()),
                            "{line}"
                        );
                    }
                }
            }
        }
    }
}
