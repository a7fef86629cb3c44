//! End-to-end tests of the built-in models: spec examples, held-out
//! accuracy, model files, and (ignored) timings.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use intents::{Classifier, Nlu, OUT_OF_SCOPE, data};

mod understanding;

mod niches;

mod llm;

mod tenants;

/// Held-out accuracy floor, set from measurement (see docs/nlu.md) with a
/// margin; a data or model change that falls below it fails the build.
const HELDOUT_FLOOR: f32 = 0.92;

/// The built-in models, trained once for all tests of this binary.
fn nlu() -> &'static Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| Nlu::builtin().expect("built-in models train"))
}

#[test]
fn spec_examples_classify_right() {
    let nlu = nlu();
    let cases = [
        ("Merhaba", "greeting"),
        ("iyi akşamlar", "greeting"),
        ("slm", "greeting"),
        ("çok teşekkürler", "thanks"),
        ("tşk ederim", "thanks"),
        ("görüşmek üzere", "goodbye"),
        ("iyi günler, hoşçakalın", "goodbye"),
        ("evet", "affirm"),
        ("olur", "affirm"),
        ("tamamdır", "affirm"),
        ("aynen", "affirm"),
        ("hayır", "deny"),
        ("istemiyorum", "deny"),
        ("yok gerek yok", "deny"),
        ("müşteri temsilcisine bağlar mısınız", "human_handoff"),
        ("canlı destek", "human_handoff"),
        ("temsilciyle görüşmek istiyorum", "human_handoff"),
        ("İPTAL", "opt_out"),
        ("iptal", "opt_out"),
        ("STOP", "opt_out"),
        ("RET", "opt_out"),
        ("bana mesaj atmayın", "opt_out"),
        ("rezalet bir hizmet", "complaint"),
        ("3 gündür kimse dönmedi", "complaint"),
        ("kaça kadar açıksınız", "business_hours"),
        ("kaca kadar aciksiniz", "business_hours"),
        ("KAÇA KADAR AÇIKSINIZ", "business_hours"),
        ("pazar açık mısınız", "business_hours"),
        ("adresiniz neresi", "location"),
        ("otopark var mı", "location"),
        ("kredi kartına taksit var mı", "payment_options"),
        ("havale ile ödeyebilir miyim", "payment_options"),
        ("hava nasıl olacak yarın", OUT_OF_SCOPE),
    ];
    let mut wrong = Vec::new();
    for niche in [
        "ecommerce",
        "dental",
        "aesthetic",
        "health",
        "unknown-niche",
    ] {
        for (text, intent) in cases {
            let p = nlu.classify(niche, text);
            if p.intent != intent {
                wrong.push(format!(
                    "{niche}: {text:?} → {} ({:.2}), want {intent}",
                    p.intent, p.confidence
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn nothing_to_understand_is_out_of_scope_with_zero_confidence() {
    let nlu = nlu();
    for text in [
        "",
        "   ",
        "\n\t",
        "🙏🙏🙏",
        "👍",
        "?!...",
        "\u{200B}\u{200F}",
        "—",
    ] {
        let p = nlu.classify("ecommerce", text);
        assert_eq!(p.intent, OUT_OF_SCOPE, "{text:?}");
        assert_eq!(p.confidence, 0.0, "{text:?}");
    }
}

#[test]
fn off_topic_is_out_of_scope_or_unsure() {
    let nlu = nlu();
    for text in [
        "hava nasıl olacak yarın",
        "asdfgh",
        "xkcd qwpz",
        "Bugün maçı kim kazanır",
    ] {
        let p = nlu.classify("dental", text);
        assert!(
            p.intent == OUT_OF_SCOPE || p.confidence < intents::DEFAULT_THRESHOLD,
            "{text:?} → {p:?}"
        );
    }
}

#[test]
fn heldout_accuracy_is_above_the_floor() {
    let model = Classifier::train(&data::general()).unwrap();
    let heldout = data::general_heldout();
    let mut per_intent: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut errors = Vec::new();
    for ex in &heldout {
        let p = model.predict(&ex.text);
        let e = per_intent.entry(ex.intent.clone()).or_default();
        e.1 += 1;
        if p.intent == ex.intent {
            e.0 += 1;
        } else {
            errors.push(format!(
                "{:?}: {} → {} ({:.2})",
                ex.text, ex.intent, p.intent, p.confidence
            ));
        }
    }
    let correct: usize = per_intent.values().map(|v| v.0).sum();
    let accuracy = correct as f32 / heldout.len() as f32;
    eprintln!(
        "held-out accuracy {accuracy:.3} ({correct}/{})",
        heldout.len()
    );
    eprintln!("errors: {errors:#?}");
    assert!(
        accuracy >= HELDOUT_FLOOR,
        "accuracy {accuracy:.3} < {HELDOUT_FLOOR}: {errors:#?}"
    );
}

#[test]
fn model_files_round_trip_with_identical_predictions() {
    let model = Classifier::train(&data::general()).unwrap();
    let dir = std::env::temp_dir().join(format!("kopru-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("general.model.json");
    model.save(&path).unwrap();
    let loaded = Classifier::load(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        Classifier::load(&path).is_err(),
        "a missing file is an error, not a panic"
    );
    assert_eq!(loaded.intents(), model.intents());
    let texts = data::general_heldout()
        .into_iter()
        .map(|e| e.text)
        .chain(["", "🙏", "asdfgh", "Merhaba"].map(String::from));
    for text in texts {
        assert_eq!(model.predict(&text), loaded.predict(&text), "{text:?}");
    }
    // serde form is the same file.
    let via_serde = serde_json::to_string(&model).unwrap();
    assert_eq!(via_serde, model.to_json());
}

#[test]
fn alternatives_are_ranked_and_bounded() {
    let nlu = nlu();
    let p = nlu.classify("ecommerce", "merhaba taksit var mı");
    assert!(p.alternatives.len() <= 3);
    let mut last = p.confidence;
    for (_, c) in &p.alternatives {
        assert!(*c <= last);
        last = *c;
    }
}

/// Timings for docs/nlu.md: `cargo test -p intents --release -- --ignored --nocapture timings`.
#[test]
#[ignore]
fn timings() {
    let examples = data::general();
    let start = Instant::now();
    let runs = 5;
    for _ in 0..runs {
        std::hint::black_box(Classifier::train(&examples).unwrap());
    }
    let train = start.elapsed() / runs;
    let start = Instant::now();
    let nlu = Nlu::builtin().unwrap();
    let builtin = start.elapsed();
    let texts: Vec<String> = data::general_heldout()
        .into_iter()
        .map(|e| e.text)
        .collect();
    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
        for t in &texts {
            std::hint::black_box(nlu.classify("ecommerce", t));
        }
    }
    let per = start.elapsed() / (rounds * texts.len() as u32);
    let model = nlu.model("ecommerce");
    eprintln!(
        "examples {}, features {}, train {:?}, builtin (all niches) {:?}, predict {:?}/message, model file {} bytes",
        examples.len(),
        model.feature_count(),
        train,
        builtin,
        per,
        model.to_json().len()
    );
}

/// Regularisation sweep for docs/nlu.md: held-out accuracy, mean confidence
/// when right and when wrong, expected calibration error (10 bins), and the
/// confidence given to off-topic probes that are not in the training data.
/// `cargo test -p intents --release -- --ignored --nocapture sweep`.
#[test]
#[ignore]
fn sweep() {
    let train = data::general();
    let heldout = data::general_heldout();
    let probes = [
        "asdfgh jkl",
        "Bugün maçı kim kazanır",
        "en sevdiğin renk ne",
        "kediler neden miyavlar",
        "lütfen bana bir hikaye anlat",
        "xkcd qwpz",
    ];
    for l2 in [3e-4, 1e-4, 3e-5, 1e-5] {
        let config = intents::TrainConfig {
            l2,
            ..Default::default()
        };
        let model = Classifier::train_with(&train, &config).unwrap();
        let (mut right, mut wrong) = (Vec::new(), Vec::new());
        let mut bins = [(0usize, 0f32, 0usize); 10];
        for ex in &heldout {
            let p = model.predict(&ex.text);
            let ok = p.intent == ex.intent;
            if ok {
                right.push(p.confidence);
            } else {
                wrong.push(p.confidence);
            }
            let b = ((p.confidence * 10.0) as usize).min(9);
            bins[b].0 += 1;
            bins[b].1 += p.confidence;
            bins[b].2 += usize::from(ok);
        }
        let ece: f32 = bins
            .iter()
            .filter(|b| b.0 > 0)
            .map(|b| (b.1 / b.0 as f32 - b.2 as f32 / b.0 as f32).abs() * b.0 as f32)
            .sum::<f32>()
            / heldout.len() as f32;
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
        let ood: Vec<String> = probes
            .iter()
            .map(|t| {
                let p = model.predict(t);
                format!("{}:{:.2}", p.intent, p.confidence)
            })
            .collect();
        eprintln!(
            "l2 {l2:e}: accuracy {:.3}, confidence right {:.2} wrong {:.2}, ECE {ece:.3}, off-topic {ood:?}",
            right.len() as f32 / heldout.len() as f32,
            mean(&right),
            mean(&wrong)
        );
    }
}
