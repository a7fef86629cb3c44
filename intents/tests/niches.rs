//! The niche models (ecommerce, dental, aesthetic, health): held-out
//! accuracy floors, the spec's examples in the right niche, confusable
//! pairs, and (ignored) the measurements behind `docs/nlu.md`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use intents::{Classifier, Example, Nlu, data};

use super::nlu;

/// Held-out accuracy floors per niche on the niche's own held-out set
/// (`<niche>.heldout.jsonl`), set from measurement (docs/nlu.md) with a
/// margin of a few points. dental and aesthetic share one model and one set.
const NICHE_FLOORS: [(&str, f32); 4] = [
    ("ecommerce", 0.90),
    ("dental", 0.92),
    ("aesthetic", 0.92),
    ("health", 0.92),
];

/// Floor on the general held-out set classified by each niche model: adding
/// niche intents must not break the general ones.
const GENERAL_FLOOR_IN_NICHES: f32 = 0.92;

/// Held-out figures of one model on one set.
struct Eval {
    accuracy: f32,
    macro_f1: f32,
    errors: Vec<String>,
    /// (gold, predicted) → count, errors only.
    confusions: BTreeMap<(String, String), usize>,
}

fn evaluate(model: &Classifier, set: &[Example]) -> Eval {
    let mut tp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut gold: BTreeMap<&str, usize> = BTreeMap::new();
    let mut predicted: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut confusions = BTreeMap::new();
    for ex in set {
        let p = model.predict(&ex.text);
        *gold.entry(ex.intent.as_str()).or_default() += 1;
        *predicted.entry(p.intent.clone()).or_default() += 1;
        if p.intent == ex.intent {
            *tp.entry(ex.intent.as_str()).or_default() += 1;
        } else {
            errors.push(format!(
                "{:?}: {} → {} ({:.2})",
                ex.text, ex.intent, p.intent, p.confidence
            ));
            *confusions
                .entry((ex.intent.clone(), p.intent.clone()))
                .or_default() += 1;
        }
    }
    let correct: usize = tp.values().sum();
    // Macro-F1 over the intents of the set (gold labels).
    let f1s: Vec<f32> = gold
        .iter()
        .map(|(intent, &g)| {
            let t = tp.get(intent).copied().unwrap_or(0) as f32;
            let p = predicted.get(*intent).copied().unwrap_or(0) as f32;
            if t == 0.0 {
                0.0
            } else {
                2.0 * t / (g as f32 + p)
            }
        })
        .collect();
    Eval {
        accuracy: correct as f32 / set.len().max(1) as f32,
        macro_f1: f1s.iter().sum::<f32>() / f1s.len().max(1) as f32,
        errors,
        confusions,
    }
}

#[test]
fn niche_heldout_accuracy_is_above_the_floors() {
    let nlu = nlu();
    let mut failures = Vec::new();
    for (niche, floor) in NICHE_FLOORS {
        let e = evaluate(nlu.model(niche), &data::niche_heldout(niche));
        eprintln!(
            "{niche}: held-out accuracy {:.3}, macro-F1 {:.3}",
            e.accuracy, e.macro_f1
        );
        if e.accuracy < floor {
            failures.push(format!(
                "{niche}: {:.3} < {floor}: {:#?}",
                e.accuracy, e.errors
            ));
        }
        let g = evaluate(nlu.model(niche), &data::general_heldout());
        if g.accuracy < GENERAL_FLOOR_IN_NICHES {
            failures.push(format!(
                "{niche} on general held-out: {:.3} < {GENERAL_FLOOR_IN_NICHES}: {:#?}",
                g.accuracy, g.errors
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Checks `(niche, text, intent)` cases, reporting every miss at once.
fn check(cases: &[(&str, &str, &str)]) {
    let nlu = nlu();
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|&(niche, text, intent)| {
            let p = nlu.classify(niche, text);
            (p.intent != intent).then(|| {
                format!(
                    "{niche}: {text:?} → {} ({:.2}), want {intent}",
                    p.intent, p.confidence
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

const CLINICS: [&str; 3] = ["dental", "aesthetic", "health"];

#[test]
fn spec_examples_classify_right_in_their_niches() {
    let commerce = [
        ("siparişim ne durumda", "order_status"),
        ("sipariş verdim hala onaylanmadı", "order_status"),
        ("kargom nerede", "cargo_tracking"),
        ("takip numarası verir misiniz", "cargo_tracking"),
        ("ürünü iade etmek istiyorum", "return_request"),
        ("bedenini değiştirmek istiyorum", "exchange_request"),
        ("siparişimi iptal edin", "cancel_order"),
        ("iadem ne zaman hesabıma geçer", "refund_status"),
        ("kutu ezik geldi", "damaged_or_wrong_item"),
        ("yanlış renk gönderilmiş", "damaged_or_wrong_item"),
        ("42 numara var mı", "stock_inquiry"),
        ("ne zaman stoğa girer", "stock_inquiry"),
        ("1.70 boy 65 kiloyum hangi beden olur", "size_advice"),
        ("indirim kodu var mı", "discount_inquiry"),
        ("kampanya ne zaman bitiyor", "discount_inquiry"),
        ("faturamı şirket adına kesebilir misiniz", "invoice_request"),
        (
            "toptan alım yapıyoruz, 200 adet için fiyat",
            "wholesale_inquiry",
        ),
        ("bu ürünün fiyatı ne kadar", "price_inquiry"),
    ];
    let clinic = [
        ("implant fiyatı ne kadar", "price_inquiry"),
        ("how much is a hair transplant", "price_inquiry"),
        ("zirkonyum kaplama kaç seansta biter", "treatment_info"),
        ("is rhinoplasty painful", "treatment_info"),
        ("yarın için randevu alabilir miyim", "appointment_book"),
        (
            "randevumu perşembeye alabilir miyiz",
            "appointment_reschedule",
        ),
        ("randevuma gelemeyeceğim iptal edin", "appointment_cancel"),
        ("dişim çok ağrıyor yüzüm şişti acil", "emergency"),
        ("SGK geçiyor mu", "insurance_inquiry"),
        ("özel sigortamla anlaşmanız var mı", "insurance_inquiry"),
        ("ameliyattan sonra kanama durmadı", "symptom_report"),
        (
            "implanttan sonra ne zaman yemek yiyebilirim",
            "aftercare_question",
        ),
        ("çok memnun kaldım ellerinize sağlık", "positive_feedback"),
    ];
    let tourism = [
        ("is the hotel included in the price", "travel_package"),
        ("Paketpreis mit Hotel?", "travel_package"),
        (
            "how many days do I need to stay in Istanbul",
            "travel_logistics",
        ),
        ("do you pick up from the airport", "travel_logistics"),
    ];
    let mut cases: Vec<(&str, &str, &str)> =
        commerce.iter().map(|&(t, i)| ("ecommerce", t, i)).collect();
    for niche in CLINICS {
        cases.extend(clinic.iter().map(|&(t, i)| (niche, t, i)));
    }
    cases.extend(tourism.iter().map(|&(t, i)| ("health", t, i)));
    check(&cases);
}

#[test]
fn commerce_confusable_pairs() {
    let cases = [
        // The bare keyword stays opt_out; a sentence about an order cancels it.
        ("İPTAL", "opt_out"),
        ("iptal", "opt_out"),
        ("STOP", "opt_out"),
        ("siparişimi iptal et", "cancel_order"),
        ("siparis iptal", "cancel_order"),
        ("kampanya mesajı göndermeyin", "opt_out"),
        // Order state vs parcel location.
        ("siparişim onaylandı mı", "order_status"),
        ("siparişim ne zaman kargoya verilecek", "order_status"),
        ("kargom hangi şubede", "cargo_tracking"),
        (
            "kargo takip numaram 1234567890 ama hareket yok",
            "cargo_tracking",
        ),
        // Return vs exchange vs refund vs damaged.
        ("ürünü geri göndermek istiyorum", "return_request"),
        ("iade etmek istiyorum", "return_request"),
        ("M bedenle değiştirmek istiyorum", "exchange_request"),
        ("başka renkle değişim yapabilir miyim", "exchange_request"),
        ("iade ettim param ne zaman yatar", "refund_status"),
        ("para iadem hâlâ yapılmadı", "refund_status"),
        ("ürün kırık geldi", "damaged_or_wrong_item"),
        ("yanlış beden göndermişsiniz", "damaged_or_wrong_item"),
        // Price vs discount vs wholesale.
        ("bu ne kadar", "price_inquiry"),
        ("indirim var mı", "discount_inquiry"),
        ("toptan fiyat verir misiniz", "wholesale_inquiry"),
        // Stock vs size advice.
        ("M beden kaldı mı", "stock_inquiry"),
        ("M mi almalıyım L mi", "size_advice"),
        // General intents near commerce ones.
        ("kapıda ödeme var mı", "payment_options"),
        ("mağazanız nerede", "location"),
        ("teşekkürler", "thanks"),
    ];
    let cases: Vec<_> = cases.iter().map(|&(t, i)| ("ecommerce", t, i)).collect();
    check(&cases);
}

#[test]
fn clinic_confusable_pairs() {
    let clinic = [
        ("İPTAL", "opt_out"),
        ("randevumu iptal edin", "appointment_cancel"),
        ("randevumu cumaya alalım", "appointment_reschedule"),
        ("cuma günü randevu almak istiyorum", "appointment_book"),
        ("I need to cancel my appointment", "appointment_cancel"),
        (
            "can I move my appointment to Monday",
            "appointment_reschedule",
        ),
        ("I'd like to book a consultation", "appointment_book"),
        // Emergency vs symptom report vs aftercare.
        ("acil dişim kırıldı çok kan var", "emergency"),
        (
            "implanttan sonra hafif şişlik var normal mi",
            "symptom_report",
        ),
        (
            "implanttan sonra sigara içebilir miyim",
            "aftercare_question",
        ),
        // Price vs treatment info.
        ("lamina ne kadar", "price_inquiry"),
        ("lamina kaç yıl dayanır", "treatment_info"),
        ("Wie viel kostet ein Implantat?", "price_inquiry"),
        ("Сколько стоит имплант", "price_inquiry"),
        // Praise vs thanks.
        ("çok teşekkürler", "thanks"),
        ("sonuçtan çok memnunum, harikasınız", "positive_feedback"),
        // Insurance vs payment.
        ("taksit var mı", "payment_options"),
        ("sigorta karşılıyor mu", "insurance_inquiry"),
    ];
    let mut cases = Vec::new();
    for niche in CLINICS {
        cases.extend(clinic.iter().map(|&(t, i)| (niche, t, i)));
    }
    // Package vs the treatment's own price (health only has packages).
    cases.extend([
        ("health", "how much is a hair transplant", "price_inquiry"),
        (
            "health",
            "how much is the hair transplant package with hotel",
            "travel_package",
        ),
        (
            "health",
            "otel dahil paket fiyatı ne kadar",
            "travel_package",
        ),
        ("health", "saç ekimi fiyatı ne kadar", "price_inquiry"),
        ("health", "do you have airport transfer", "travel_logistics"),
    ]);
    check(&cases);
}

#[test]
fn niches_without_a_tourism_file_do_not_know_travel_intents() {
    let nlu = nlu();
    for niche in ["dental", "aesthetic"] {
        assert!(
            !nlu.model(niche)
                .intents()
                .iter()
                .any(|i| i.starts_with("travel_")),
            "{niche}"
        );
    }
    assert!(
        nlu.model("health")
            .intents()
            .contains(&"travel_package".to_owned())
    );
    assert!(
        !nlu.model("ecommerce")
            .intents()
            .contains(&"appointment_book".to_owned())
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Figures for docs/nlu.md:
/// `cargo test -p intents --release -- --ignored --nocapture niche_figures`.
#[test]
#[ignore]
fn niche_figures() {
    let start = Instant::now();
    let nlu = Nlu::builtin().unwrap();
    eprintln!("Nlu::builtin (all niches): {:?}", start.elapsed());
    for niche in ["ecommerce", "dental", "health"] {
        let examples = data::for_niche(niche);
        let start = Instant::now();
        let model = Classifier::train(&examples).unwrap();
        let train = start.elapsed();
        let own = evaluate(&model, &data::niche_heldout(niche));
        let general = evaluate(&model, &data::general_heldout());
        let all: Vec<Example> = data::niche_heldout(niche)
            .into_iter()
            .chain(data::general_heldout())
            .collect();
        let both = evaluate(&model, &all);
        // Latency per message over the held-out texts, many rounds.
        let mut times = Vec::new();
        for _ in 0..20 {
            for ex in &all {
                let t = Instant::now();
                std::hint::black_box(nlu.classify(niche, &ex.text));
                times.push(t.elapsed());
            }
        }
        times.sort();
        // Threshold behaviour: answered share and precision of the answered.
        let mut thresholds = String::new();
        for t in [0.3f32, 0.4, 0.5, 0.6, 0.7] {
            let (mut answered, mut right) = (0, 0);
            for ex in &all {
                let p = model.predict(&ex.text);
                if p.intent != intents::OUT_OF_SCOPE && p.confidence >= t {
                    answered += 1;
                    right += usize::from(p.intent == ex.intent);
                }
            }
            let in_scope = all
                .iter()
                .filter(|e| e.intent != intents::OUT_OF_SCOPE)
                .count();
            thresholds += &format!(
                " t={t}: answered {:.2} precision {:.3};",
                answered as f32 / in_scope as f32,
                right as f32 / answered.max(1) as f32
            );
        }
        let mut top: Vec<_> = both.confusions.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        eprintln!(
            "{niche}: {} examples, {} intents, {} features, train {:?}, model file {} bytes\n  \
             own held-out {} msgs: accuracy {:.3} macro-F1 {:.3}; general held-out: accuracy {:.3}; \
             both: accuracy {:.3} macro-F1 {:.3}\n  predict p50 {:?} p99 {:?}\n {thresholds}\n  top confusions {:?}\n  errors {:#?}",
            examples.len(),
            model.intents().len(),
            model.feature_count(),
            train,
            model.to_json().len(),
            data::niche_heldout(niche).len(),
            own.accuracy,
            own.macro_f1,
            general.accuracy,
            both.accuracy,
            both.macro_f1,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            &top[..top.len().min(8)],
            both.errors,
        );
    }
}

/// Settings explored for the niche models (docs/nlu.md):
/// `cargo test -p intents --release -- --ignored --nocapture niche_sweep`.
#[test]
#[ignore]
fn niche_sweep() {
    let configs: Vec<(String, intents::TrainConfig)> = vec![
        ("default".into(), intents::TrainConfig::default()),
        (
            "epochs 20".into(),
            intents::TrainConfig {
                epochs: 20,
                ..Default::default()
            },
        ),
        (
            "epochs 15".into(),
            intents::TrainConfig {
                epochs: 15,
                ..Default::default()
            },
        ),
        (
            "epochs 10".into(),
            intents::TrainConfig {
                epochs: 10,
                ..Default::default()
            },
        ),
        (
            "epochs 10, lr 1".into(),
            intents::TrainConfig {
                epochs: 10,
                learning_rate: 1.0,
                ..Default::default()
            },
        ),
    ];
    for (name, config) in &configs {
        let mut line = format!("{name}:");
        let mut total = Duration::ZERO;
        for niche in ["ecommerce", "dental", "health"] {
            let examples = data::for_niche(niche);
            let start = Instant::now();
            let model = Classifier::train_with(&examples, config).unwrap();
            total += start.elapsed();
            let own = evaluate(&model, &data::niche_heldout(niche));
            let general = evaluate(&model, &data::general_heldout());
            line += &format!(
                " {niche} {:.3}/{:.3} general {:.3};",
                own.accuracy, own.macro_f1, general.accuracy
            );
        }
        eprintln!("{line} train (3 models) {total:?}");
    }
}

/// Prints what the niche models say about messages the flows care about:
/// `cargo test -p intents --release -- --ignored --nocapture niche_probes`.
#[test]
#[ignore]
fn niche_probes() {
    let nlu = nlu();
    for (niche, text) in [
        ("ecommerce", "merhaba kargom nerde"),
        ("ecommerce", "iptal"),
        ("ecommerce", "iptal edin"),
        ("ecommerce", "vazgeçtim"),
        ("ecommerce", "siparişim 10 gündür gelmedi rezalet"),
        ("ecommerce", "ekmek kaç lira"),
        ("dental", "iptal"),
        ("dental", "iptal edin"),
        ("dental", "dişim ağrıyor"),
        ("dental", "dolgudan sonra biraz ağrı var"),
        ("dental", "merhaba implant fiyatı nedir"),
        ("dental", "teşekkür ederim çok memnun kaldım"),
        ("health", "how much is the package"),
        ("health", "bonjour, combien coûte une greffe de cheveux"),
    ] {
        let p = nlu.classify(niche, text);
        eprintln!(
            "{niche}: {text:?} → {} {:.2} {:?}",
            p.intent, p.confidence, p.alternatives
        );
    }
}
