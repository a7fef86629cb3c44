//! Intent datasets: one JSON object a line with `text` and `intent` required, `niche`,
//! `lang` and `entities` optional; unknown fields ignored; blank lines and lines
//! starting with `//` skipped.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One labelled example.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentRow {
    pub text: String,
    pub intent: String,
    #[serde(default)]
    pub niche: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    /// Only the entities that are checked.
    #[serde(default)]
    pub entities: serde_json::Map<String, serde_json::Value>,
    /// The 1-based line of the file the row was read from (0 when built in code).
    #[serde(skip)]
    pub line: usize,
}

/// A dataset line that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
}

/// Parses a dataset's text.
pub fn parse_jsonl(text: &str) -> Result<Vec<IntentRow>, DatasetError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let mut row: IntentRow = serde_json::from_str(line).map_err(|e| DatasetError::Line {
            line: i + 1,
            message: e.to_string(),
        })?;
        row.line = i + 1;
        if row.intent.trim().is_empty() {
            return Err(DatasetError::Line {
                line: i + 1,
                message: "intent is empty".into(),
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Reads a dataset file.
pub fn read_jsonl(path: &Path) -> Result<Vec<IntentRow>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_jsonl(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_skipping_comments_blanks_and_unknown_fields() {
        let text = "// a comment\n\n{\"text\": \"2 dişim için implant fiyatı nedir\", \"intent\": \"price_inquiry\", \"niche\": \"dental\", \"lang\": \"tr\", \"entities\": {\"treatment\": \"implant\", \"tooth_count\": 2}, \"source\": \"x\"}\n{\"text\":\"slm\",\"intent\":\"greeting\"}\n";
        let rows = parse_jsonl(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].niche.as_deref(), Some("dental"));
        assert_eq!(rows[0].entities["tooth_count"], 2);
        assert!(rows[1].entities.is_empty());
        assert_eq!((rows[0].line, rows[1].line), (3, 4));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_jsonl("{\"text\":\"a\",\"intent\":\"b\"}\n{\"text\":\"no intent\"}\n")
            .unwrap_err();
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        let e = parse_jsonl("{broken\n").unwrap_err();
        assert!(e.to_string().starts_with("line 1:"), "{e}");
        let e = parse_jsonl("{\"text\":\"a\",\"intent\":\" \"}").unwrap_err();
        assert!(e.to_string().contains("intent is empty"));
    }
}
