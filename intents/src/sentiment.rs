//! Sentiment of a message (Turkish and English): negative / neutral /
//! positive with a score in [-1, 1].
//!
//! A lexicon over folded words (so `süper`/`super`, `kötü`/`kotu` are one),
//! matched by stem for Turkish (`memnun`, `memnunum`, `memnuniyet`), plus:
//!
//! - negation: a polar word followed by `değil` (`memnun değilim`, `hiç iyi
//!   değil`) or by a negative verb (`memnun kalmadım`), or preceded by
//!   `not`/`never`/`no`/`n't` (`not good`, `don't like`), flips and damps its
//!   polarity;
//! - Turkish negative verb suffixes where simple (`beğenmedim`,
//!   `beğenmiyorum`, `çalışmıyor`, `gelmedi`, `dönmedi`): a positive verb
//!   stem turns negative, an expectation verb (come, answer, arrive, work)
//!   negated is a complaint;
//! - intensifiers (`çok`, `gerçekten`, `hiç`, `very`, `so`, `really`,
//!   `asla`) multiply the next polar word; `!` adds emphasis;
//! - emoji (😡 🤬 👎 😢 negative, 😍 ❤ 👍 🙏 😊 positive).
//!
//! The sum is squashed with `x / (1 + |x|)`; |score| < 0.2 is neutral.

use serde::Serialize;

use crate::normalize;

/// A sentiment label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

/// The sentiment of a message. `score` in [-1, 1], rounded to 2 decimals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sentiment {
    pub label: Label,
    pub score: f32,
}

/// Below this magnitude a score is neutral.
pub const NEUTRAL_BAND: f32 = 0.2;

// (stem, weight, whole word only)
const LEXICON: &[(&str, f32, bool)] = &[
    // Turkish positive
    ("memnun", 1.0, false),
    ("harika", 1.5, false),
    ("super", 1.3, false),
    ("mukemmel", 1.5, false),
    ("muthis", 1.4, false),
    ("guzel", 1.0, false),
    ("iyi", 0.8, true),
    ("iyiydi", 0.9, true),
    ("tesekkur", 0.8, false),
    ("tsk", 0.6, true),
    ("sagol", 0.7, false),
    ("begen", 1.0, false),
    ("bayil", 1.4, false),
    ("tavsiye", 0.8, false),
    ("ellerinize", 1.0, true),
    ("eline", 0.6, true),
    ("basarili", 1.0, false),
    ("hizli", 0.5, false),
    ("kibar", 0.8, false),
    ("profesyonel", 0.9, false),
    ("sahane", 1.4, false),
    ("efsane", 1.3, false),
    ("sevdim", 1.0, false),
    ("mutlu", 1.0, false),
    ("rahat", 0.6, false),
    // Turkish negative
    ("rezalet", -1.8, false),
    ("berbat", -1.7, false),
    ("kotu", -1.2, false),
    ("felaket", -1.6, false),
    ("sikayet", -1.0, false),
    ("saygisiz", -1.3, false),
    ("dolandir", -1.6, false),
    ("yalan", -1.1, false),
    ("bozuk", -1.0, false),
    ("kirik", -0.9, false),
    ("ezik", -0.8, true),
    ("hasarli", -1.0, false),
    ("yanlis", -0.7, false),
    ("eksik", -0.7, false),
    ("gec", -0.6, true),
    ("gecikme", -0.9, false),
    ("hala", -0.5, true),
    ("sinir", -1.1, false),
    ("sinirlendim", -1.3, false),
    ("ofke", -1.2, false),
    ("magdur", -1.3, false),
    ("pisman", -1.3, false),
    ("utan", -1.1, false),
    ("skandal", -1.6, false),
    ("igrenc", -1.6, false),
    ("korkunc", -1.3, false),
    ("ilgisiz", -1.2, false),
    ("agri", -0.5, false),
    ("acil", -0.3, true),
    ("kimse", -0.5, true),
    ("biktim", -1.4, false),
    ("maalesef", -0.6, false),
    ("hayal", -0.2, true),
    ("kirikligi", -1.3, false),
    ("memnuniyetsiz", -1.4, false),
    // English positive
    ("good", 1.0, true),
    ("great", 1.3, true),
    ("excellent", 1.5, true),
    ("amazing", 1.5, true),
    ("awesome", 1.4, true),
    ("perfect", 1.4, true),
    ("love", 1.3, true),
    ("loved", 1.3, true),
    ("happy", 1.1, true),
    ("satisfied", 1.1, true),
    ("thanks", 0.7, true),
    ("thank", 0.7, true),
    ("nice", 1.0, true),
    ("wonderful", 1.5, true),
    ("recommend", 0.9, true),
    ("friendly", 0.9, true),
    ("helpful", 1.0, true),
    ("like", 0.5, true),
    // English negative
    ("bad", -1.2, true),
    ("terrible", -1.7, true),
    ("awful", -1.7, true),
    ("horrible", -1.7, true),
    ("worst", -1.8, true),
    ("disappointed", -1.4, true),
    ("disappointing", -1.4, true),
    ("angry", -1.3, true),
    ("rude", -1.3, true),
    ("broken", -1.0, true),
    ("damaged", -1.0, true),
    ("scam", -1.7, true),
    ("complaint", -1.0, true),
    ("unacceptable", -1.6, true),
    ("useless", -1.5, true),
    ("hate", -1.5, true),
    ("late", -0.6, true),
    ("wrong", -0.8, true),
    ("never", -0.3, true),
    ("poor", -1.1, true),
    ("pain", -0.5, true),
];

/// Turkish verb stems that are positive when affirmed, negative negated.
const POSITIVE_VERBS: &[&str] = &["begen", "sev", "memnun kal", "bayil", "tavsiye"];

/// Expectation verbs: negated, a complaint ("kimse dönmedi", "kargo
/// gelmedi", "çalışmıyor").
const EXPECT_VERBS: &[&str] = &[
    "gel", "don", "ulas", "cevap", "yanit", "calis", "ara", "teslim", "yolla", "gonder", "dus",
    "yardimci", "ilgilen",
];

const INTENSIFIERS: &[&str] = &[
    "cok",
    "gercekten",
    "cidden",
    "asiri",
    "son",
    "fazla",
    "acayip",
    "very",
    "so",
    "really",
    "extremely",
    "super",
    "too",
    "totally",
    "absolutely",
    "en",
    "hic",
    "asla",
];

const NEGATORS_BEFORE: &[&str] = &[
    "not", "never", "no", "dont", "didnt", "isnt", "wasnt", "doesnt", "arent", "werent", "cant",
    "cannot", "wont",
];

fn emoji_score(t: &str) -> Option<f32> {
    let c = t.chars().next()?;
    Some(match c {
        '😡' | '🤬' | '😠' => -1.6,
        '👎' => -1.2,
        '😢' | '😭' | '😞' | '😔' | '😟' | '😩' | '😫' | '💔' => -1.0,
        '🙄' | '😒' | '😤' => -0.9,
        '😍' | '🥰' | '😘' => 1.5,
        '❤' | '💕' | '💖' | '💯' | '🤩' => 1.3,
        '👍' | '👏' | '🙌' => 0.9,
        '😊' | '☺' | '😀' | '😃' | '😄' | '😁' => 1.0,
        '🙂' | '🙏' | '🌹' | '💐' => 0.6,
        _ => return None,
    })
}

/// Turkish negative suffix on a verb: `-me/-ma` + tense (`gelmedi`,
/// `beğenmedim`, `çalışmıyor`, `gelmez`, `yapmamış`). Returns the stem.
fn negated_verb(w: &str) -> Option<&str> {
    const NEG: &[&str] = &[
        "madim", "medim", "madi", "medi", "madik", "medik", "madilar", "mediler", "miyor",
        "miyorum", "muyor", "muyorum", "mayacak", "meyecek", "mamis", "memis", "maz", "mez",
        "miyoruz", "mayin", "meyin", "madiniz", "mediniz",
    ];
    for n in NEG {
        if let Some(stem) = w.strip_suffix(n)
            && stem.len() >= 2
        {
            return Some(stem);
        }
    }
    // "calismiyor" → "calis" + "miyor" handled; "kalmadim" → "kal".
    None
}

fn lexicon(w: &str) -> Option<f32> {
    for &(stem, weight, whole) in LEXICON {
        if (whole && w == stem) || (!whole && w.starts_with(stem)) {
            // "memnuniyetsiz": the negative entry is longer; prefer it.
            if stem == "memnun" && w.starts_with("memnuniyetsiz") {
                continue;
            }
            if w.ends_with("siz") && !whole && weight > 0.0 && w.len() > stem.len() {
                // "ilgisiz", "saygısız"-style privatives of positives.
                return Some(-weight);
            }
            return Some(weight);
        }
    }
    None
}

/// The sentiment of a message.
pub fn analyze(text: &str) -> Sentiment {
    let folded = normalize::fold(text);
    let toks: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    let exclaims = text.matches('!').count().min(3) as f32;
    let mut sum = 0.0f32;
    let mut i = 0;
    while i < toks.len() {
        let w = toks[i];
        if let Some(e) = emoji_score(w) {
            sum += e;
            i += 1;
            continue;
        }
        let mut value = lexicon(w);
        let mut consumed = i;
        // Negated verbs.
        if let Some(stem) = negated_verb(w) {
            if POSITIVE_VERBS.iter().any(|v| stem.starts_with(v)) {
                value = Some(-1.1);
            } else if value.is_none() && EXPECT_VERBS.iter().any(|v| stem.starts_with(v)) {
                value = Some(-0.8);
            } else if let Some(v) = value
                && v > 0.0
            {
                value = Some(-v * 0.8);
            }
        }
        let Some(mut v) = value else {
            i += 1;
            continue;
        };
        // Negation after: "memnun değilim", "iyi değil", "memnun kalmadım".
        if let Some(next) = toks.get(i + 1) {
            if next.starts_with("degil") {
                v = -v * 0.8;
                consumed = i + 1;
            } else if v > 0.0
                && negated_verb(next).is_some_and(|s| s.starts_with("kal") || s.starts_with("ol"))
            {
                v = -v * 0.9;
                consumed = i + 1;
            }
        }
        // Negation before: "not good", "don't like", "doesn't work".
        let before = &toks[i.saturating_sub(3)..i];
        let negated_before = before.iter().any(|b| NEGATORS_BEFORE.contains(b))
            || before
                .windows(2)
                .any(|p| p[1] == "t" && p[0].ends_with('n'));
        if negated_before {
            v = -v * 0.8;
        }
        // Intensifiers right before (with "hiç" also when the word is negated).
        let mut k = i;
        while k > 0 && INTENSIFIERS.contains(&toks[k - 1]) {
            v *= 1.4;
            k -= 1;
        }
        sum += v;
        i = consumed + 1;
    }
    if sum != 0.0 {
        sum *= 1.0 + 0.15 * exclaims;
    }
    let score = sum / (1.0 + sum.abs());
    let score = (score * 100.0).round() / 100.0;
    let label = if score <= -NEUTRAL_BAND {
        Label::Negative
    } else if score >= NEUTRAL_BAND {
        Label::Positive
    } else {
        Label::Neutral
    };
    Sentiment { label, score }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(t: &str) -> Label {
        analyze(t).label
    }

    #[test]
    fn turkish() {
        use Label::*;
        for (t, want) in [
            ("çok memnun kaldım ellerinize sağlık", Positive),
            ("harika bir hizmet", Positive),
            ("süper 👍", Positive),
            ("rezalet bir hizmet", Negative),
            ("berbat", Negative),
            ("memnun değilim", Negative),
            ("hiç iyi değil", Negative),
            ("memnun kalmadım", Negative),
            ("hiç beğenmedim", Negative),
            ("beğenmiyorum", Negative),
            ("3 gündür kimse dönmedi", Negative),
            ("kargom hala gelmedi", Negative),
            ("ürün çalışmıyor", Negative),
            ("😡😡", Negative),
            ("kargom nerede", Neutral),
            ("randevu almak istiyorum", Neutral),
            ("fiyat ne kadar", Neutral),
            ("çok teşekkürler 😍", Positive),
            ("kötü değil", Positive),
        ] {
            assert_eq!(label(t), want, "{t}: {:?}", analyze(t));
        }
    }

    #[test]
    fn english() {
        use Label::*;
        for (t, want) in [
            ("great service, thanks!", Positive),
            ("not good", Negative),
            ("I don't like it", Negative),
            ("terrible experience", Negative),
            ("how much is a hair transplant", Neutral),
            ("not bad", Positive),
            ("I love it 😍", Positive),
        ] {
            assert_eq!(label(t), want, "{t}: {:?}", analyze(t));
        }
    }

    #[test]
    fn scores_are_bounded_and_intensifiers_count() {
        let a = analyze("kötü").score;
        let b = analyze("çok kötü").score;
        let c = analyze("çok çok kötü!!! 😡😡 rezalet berbat").score;
        assert!(b < a, "{a} {b}");
        assert!(c < b && c >= -1.0);
        let p = analyze("harika harika mükemmel süper 😍😍 ❤").score;
        assert!(p > 0.8 && p <= 1.0);
        assert_eq!(analyze("").label, Label::Neutral);
    }
}
