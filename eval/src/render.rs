//! Reports for people: readable terminal tables and a self-contained HTML page (inline
//! CSS, no script) with the confusion matrix as a heat map. The JSON form is the serde
//! form of [`IntentEval`].

use crate::compare::Comparison;
use crate::intent_eval::IntentEval;
use std::fmt::Write;

/// How many confusion pairs the terminal report lists.
const TOP_CONFUSIONS: usize = 10;

fn signed(x: f64) -> String {
    format!("{x:+.3}")
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{v:.3}"))
}

/// Per-intent rows sorted by F1, worst first (ties by name).
fn by_f1(e: &IntentEval) -> Vec<(&String, &crate::metrics::Prf)> {
    let mut rows: Vec<_> = e.report.per_intent.iter().collect();
    rows.sort_by(|a, b| a.1.f1.total_cmp(&b.1.f1).then(a.0.cmp(b.0)));
    rows
}

fn models_line(e: &IntentEval) -> String {
    let mut parts = Vec::new();
    if let Some(niches) = e.model.get("niches").and_then(|n| n.as_object()) {
        for (niche, d) in niches {
            let kind = d.get("kind").and_then(|k| k.as_str()).unwrap_or("?");
            match d.get("intents").and_then(|i| i.as_u64()) {
                Some(n) => parts.push(format!("{niche} ({kind}, {n} intents)")),
                None => parts.push(format!("{niche} ({kind})")),
            }
        }
    }
    let threshold = e
        .model
        .get("threshold")
        .and_then(|t| t.as_f64())
        .map_or_else(String::new, |t| format!(", threshold {t:.2}"));
    format!("model: {}{threshold}", parts.join(", "))
}

/// The readable form of a report (and of its comparison, when there is one).
pub fn text(e: &IntentEval) -> String {
    let r = &e.report;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Intent evaluation: {} rows, accuracy {:.3}, macro-F1 {:.3}",
        r.n, r.accuracy, r.macro_f1
    );
    let paths: Vec<String> = e.path.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "{}; answered by: {}; LLM tokens: {}",
        models_line(e),
        paths.join(", "),
        e.llm_tokens
    );
    let _ = writeln!(
        out,
        "latency per message: p50 {} µs, p99 {} µs",
        r.latency_us.p50, r.latency_us.p99
    );
    out.push('\n');

    let width = r
        .per_intent
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>6}  {:>6}  {:>7}",
        "intent", "precision", "recall", "f1", "support"
    );
    for (name, p) in by_f1(e) {
        let _ = writeln!(
            out,
            "{name:<width$}  {:>9.3}  {:>6.3}  {:>6.3}  {:>7}",
            p.precision, p.recall, p.f1, p.support
        );
    }
    out.push('\n');

    if r.confusion.is_empty() {
        out.push_str("No confusions.\n");
    } else {
        out.push_str("Top confusions (expected → predicted):\n");
        for c in r.confusion.iter().take(TOP_CONFUSIONS) {
            let _ = writeln!(out, "  {:>4}  {} → {}", c.count, c.expected, c.predicted);
        }
        if r.confusion.len() > TOP_CONFUSIONS {
            let _ = writeln!(
                out,
                "  … and {} more pairs",
                r.confusion.len() - TOP_CONFUSIONS
            );
        }
    }

    if !e.unknown_intents.is_empty() {
        let list: Vec<String> = e
            .unknown_intents
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        let _ = writeln!(
            out,
            "Expected intents the model does not know (counted as errors): {}",
            list.join(", ")
        );
    }
    if e.entity_accuracy.is_empty() {
        if e.model.get("entities").is_none_or(|x| x.is_null()) {
            out.push_str("Entity accuracy: not measured (no entity extractor yet).\n");
        } else {
            out.push_str("Entity accuracy: no row lists entities.\n");
        }
    } else {
        out.push_str("Entity accuracy:\n");
        for (k, v) in &e.entity_accuracy {
            let _ = writeln!(out, "  {k}: {v:.3}");
        }
    }
    if let Some(c) = &e.baseline {
        out.push('\n');
        out.push_str(&comparison_text(c));
    }
    out
}

/// The readable comparison with a baseline.
pub fn comparison_text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Against the baseline: accuracy {} → {} ({}), macro-F1 {} → {} ({})",
        opt(c.accuracy.before),
        opt(c.accuracy.after),
        signed(c.accuracy.delta),
        opt(c.macro_f1.before),
        opt(c.macro_f1.after),
        signed(c.macro_f1.delta)
    );
    let changed = c.changed();
    if changed.is_empty() {
        out.push_str("No intent's F1 changed.\n");
        return out;
    }
    let width = changed
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:>6}  {:>6}  {:>6}",
        "intent", "before", "after", "Δ f1"
    );
    for (k, d) in changed {
        let _ = writeln!(
            out,
            "{k:<width$}  {:>6}  {:>6}  {:>6}",
            opt(d.before),
            opt(d.after),
            signed(d.delta)
        );
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;font-size:.9rem}\
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}\
th{background:#f4f4f4}td.l,th.l{text-align:left}\
.summary td{text-align:left}\
table.matrix td{min-width:2rem;text-align:center}\
table.matrix th.col{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}\
td.diag{outline:2px solid #2a7;outline-offset:-2px}\
.up{color:#176b2c}.down{color:#b00020}";

/// The heat-map colour of a cell: white at 0, full at `max` (of its kind); green on
/// the diagonal (right answers), red off it (mistakes).
fn cell_style(count: usize, max: usize, diagonal: bool) -> String {
    if count == 0 || max == 0 {
        return String::new();
    }
    let alpha = 0.15 + 0.85 * (count as f64 / max as f64);
    let (r, g, b) = if diagonal {
        (34, 139, 34)
    } else {
        (200, 30, 30)
    };
    let text = if alpha > 0.6 { "#fff" } else { "#222" };
    format!(" style=\"background:rgba({r},{g},{b},{alpha:.2});color:{text}\"")
}

/// A self-contained HTML report: summary, per-intent table, confusion matrix heat map
/// and, when compared, the baseline differences.
pub fn html(e: &IntentEval, title: &str) -> String {
    let r = &e.report;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{CSS}</style></head><body>\n",
        escape(title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", escape(title));
    h.push_str("<h2>Summary</h2>\n<table class=\"summary\">\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(
            h,
            "<tr><th class=\"l\">{k}</th><td>{}</td></tr>",
            escape(&v)
        );
    };
    row("rows", r.n.to_string());
    row("accuracy", format!("{:.3}", r.accuracy));
    row("macro-F1", format!("{:.3}", r.macro_f1));
    row(
        "latency (µs)",
        format!("p50 {}, p99 {}", r.latency_us.p50, r.latency_us.p99),
    );
    let paths: Vec<String> = e.path.iter().map(|(k, v)| format!("{k} {v}")).collect();
    row("answered by", paths.join(", "));
    row("LLM tokens", e.llm_tokens.to_string());
    row("model", models_line(e).trim_start_matches("model: ").into());
    if !e.unknown_intents.is_empty() {
        let list: Vec<String> = e
            .unknown_intents
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        row("unknown to the model (errors)", list.join(", "));
    }
    if e.entity_accuracy.is_empty() {
        row("entity accuracy", "not measured".into());
    } else {
        let list: Vec<String> = e
            .entity_accuracy
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        row("entity accuracy", list.join(", "));
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Per intent (worst F1 first)</h2>\n<table class=\"intents\">\n");
    h.push_str("<tr><th class=\"l\">intent</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n");
    for (name, p) in by_f1(e) {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            escape(name),
            p.precision,
            p.recall,
            p.f1,
            p.support
        );
    }
    h.push_str("</table>\n");

    let m = &e.matrix;
    // Hits and mistakes have their own scales, so a few confusions stand out next to
    // a diagonal of large counts.
    let (mut max_hit, mut max_miss) = (0, 0);
    for (i, row) in m.counts.iter().enumerate() {
        for (j, &c) in row.iter().enumerate() {
            if i == j {
                max_hit = max_hit.max(c);
            } else {
                max_miss = max_miss.max(c);
            }
        }
    }
    h.push_str(
        "<h2>Confusion matrix</h2>\n<p>Rows: expected intent; columns: predicted. \
         Green: right answers; red: mistakes; darker: more rows, each colour on its own scale.</p>\n\
         <table class=\"matrix\">\n<tr><th class=\"l\">expected \\ predicted</th>",
    );
    for l in &m.labels {
        let _ = write!(h, "<th class=\"col\">{}</th>", escape(l));
    }
    h.push_str("</tr>\n");
    for (i, l) in m.labels.iter().enumerate() {
        let _ = write!(h, "<tr><th class=\"l\">{}</th>", escape(l));
        for (j, &count) in m.counts[i].iter().enumerate() {
            let class = if i == j { " class=\"diag\"" } else { "" };
            let shown = if count == 0 {
                String::new()
            } else {
                count.to_string()
            };
            let _ = write!(
                h,
                "<td{class}{} title=\"{} → {}: {count}\">{shown}</td>",
                cell_style(count, if i == j { max_hit } else { max_miss }, i == j),
                escape(l),
                escape(&m.labels[j])
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");

    if let Some(c) = &e.baseline {
        let class = |d: f64| {
            if d > 0.0 {
                "up"
            } else if d < 0.0 {
                "down"
            } else {
                ""
            }
        };
        let _ = writeln!(
            h,
            "<h2>Against the baseline</h2>\n<p>accuracy {} → {} <span class=\"{}\">({})</span>, \
             macro-F1 {} → {} <span class=\"{}\">({})</span></p>",
            opt(c.accuracy.before),
            opt(c.accuracy.after),
            class(c.accuracy.delta),
            signed(c.accuracy.delta),
            opt(c.macro_f1.before),
            opt(c.macro_f1.after),
            class(c.macro_f1.delta),
            signed(c.macro_f1.delta)
        );
        h.push_str("<table><tr><th class=\"l\">intent</th><th>before</th><th>after</th><th>Δ F1</th></tr>\n");
        for (k, d) in c.changed() {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                escape(k),
                opt(d.before),
                opt(d.after),
                class(d.delta),
                signed(d.delta)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Baseline, Comparison};
    use crate::intent_eval::Matrix;
    use crate::metrics::IntentReport;
    use std::collections::BTreeMap;

    fn eval(pairs: &[(&str, &str)]) -> IntentEval {
        let p: Vec<_> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        IntentEval {
            report: IntentReport::compute(&p, &[3, 5]),
            entity_accuracy: BTreeMap::new(),
            path: [("local".to_string(), p.len())].into_iter().collect(),
            llm_tokens: 0,
            unknown_intents: BTreeMap::new(),
            model: serde_json::json!({"niches": {"dental": {"kind": "local", "intents": 12}}, "threshold": 0.5, "entities": null}),
            baseline: None,
            matrix: Matrix::of(&p),
        }
    }

    #[test]
    fn text_lists_intents_worst_first_and_confusions() {
        let e = eval(&[
            ("greeting", "greeting"),
            ("thanks", "greeting"),
            ("thanks", "thanks"),
        ]);
        let t = text(&e);
        assert!(
            t.starts_with("Intent evaluation: 3 rows, accuracy 0.667"),
            "{t}"
        );
        let thanks = t.find("\nthanks").unwrap();
        let greeting = t.find("\ngreeting").unwrap();
        assert!(greeting < thanks, "greeting has the lower F1:\n{t}");
        assert!(t.contains("1  thanks → greeting"), "{t}");
        assert!(
            t.contains("dental (local, 12 intents), threshold 0.50"),
            "{t}"
        );
        assert!(t.contains("not measured"), "{t}");
    }

    #[test]
    fn html_is_self_contained_with_the_matrix_as_a_heat_map() {
        let mut e = eval(&[
            ("greeting", "greeting"),
            ("greeting", "greeting"),
            ("thanks", "greeting"),
            ("<b>", "thanks"),
        ]);
        let base = Baseline::parse(
            r#"{"accuracy": 0.9, "macro_f1": 0.8, "per_intent": {"greeting": {"f1": 1.0}}}"#,
        )
        .unwrap();
        e.baseline = Some(Comparison::of(&base, &e.report));
        let h = html(&e, "general & co");
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(h.contains("<style>") && !h.contains("<script") && !h.contains("http"));
        assert!(h.contains("<title>general &amp; co</title>"));
        assert!(h.contains("<table class=\"matrix\">"));
        // Labels escaped, never raw.
        assert!(h.contains("&lt;b&gt;") && !h.contains("<b>"));
        // The diagonal cell with the highest count is the darkest green.
        assert!(
            h.contains("title=\"greeting → greeting: 2\">2</td>")
                && h.contains("rgba(34,139,34,1.00)"),
            "{h}"
        );
        // Mistakes are red on their own scale: the largest mistake count is full red.
        assert!(h.contains("rgba(200,30,30,1.00)"), "{h}");
        assert!(h.contains("Against the baseline"));
        // 3 labels → a 3×3 matrix.
        let matrix = &h[h.find("class=\"matrix\"").unwrap()..];
        let matrix = &matrix[..matrix.find("</table>").unwrap()];
        assert_eq!(matrix.matches("<td").count(), 9);
    }

    #[test]
    fn comparison_text_shows_deltas() {
        let e = eval(&[("greeting", "greeting"), ("thanks", "greeting")]);
        let base = Baseline::parse(r#"{"accuracy": 1.0, "macro_f1": 1.0, "per_intent": {"greeting": {"f1": 1.0}, "thanks": {"f1": 1.0}}}"#).unwrap();
        let t = comparison_text(&Comparison::of(&base, &e.report));
        assert!(t.contains("accuracy 1.000 → 0.500 (-0.500)"), "{t}");
        let line = t.lines().find(|l| l.starts_with("thanks")).unwrap();
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>(),
            ["thanks", "1.000", "0.000", "-1.000"]
        );
        // Worst change first.
        assert!(t.find("\nthanks").unwrap() < t.find("\ngreeting").unwrap());
    }
}
