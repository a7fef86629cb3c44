//! Per-tenant models (`intents::tenant`): a tenant's own intent is learnt
//! from a few examples and stays that tenant's, the shipped intents keep
//! working, bad examples are refused with clear errors, and
//! `read_examples` reads the dataset format.

use std::sync::OnceLock;
use std::time::Instant;

use intents::tenant::MIN_NEW_INTENT_EXAMPLES;
use intents::{Classifier, DEFAULT_THRESHOLD, Example, Nlu, TrainError, data, read_examples};

use super::nlu;

/// The tenant with its own `kargo_ucreti` intent.
const SHOP: &str = "shop-kargo";
/// Another ecommerce tenant, with extra examples of a shipped intent only.
const OTHER: &str = "shop-other";

/// Training phrasings of the tenant's new intent (15).
const KARGO_TRAIN: [&str; 15] = [
    "kargo ücreti ne kadar",
    "kargo ucreti ne kadar",
    "kargo ücreti kaç TL",
    "kargo parası ne kadar",
    "kargo bedava mı",
    "ücretsiz kargo var mı",
    "kaç liradan sonra kargo ücretsiz",
    "kargo ücretini kim ödüyor",
    "gönderim ücreti ne kadar",
    "kargo fiyatı nedir",
    "kargo masrafı var mı",
    "kargo için ekstra ücret alıyor musunuz",
    "kargo ucreti alıyomusunuz",
    "kargoya ne kadar ödeyeceğim",
    "kargo bedeli ne kadar acaba",
];

/// Held-out phrasings of `kargo_ucreti` (none is a training text).
const KARGO_HELDOUT: [&str; 10] = [
    "kargo ne kadar tutuyor",
    "kargo ücretsiz mi",
    "kargo parasi kac lira",
    "gönderim ücretli mi",
    "kargo masrafını kim karşılıyor",
    "kargo bedelini ben mi ödüyorum",
    "300 tl üstü kargo bedava mı",
    "kargo ucreti var mi 🙏",
    "KARGO ÜCRETİ NE KADAR ACABA",
    "kargo ücreti alınıyor mu",
];

fn kargo_examples() -> Vec<Example> {
    KARGO_TRAIN
        .iter()
        .map(|t| Example::new(*t, "kargo_ucreti"))
        .collect()
}

/// The built-in models plus the two tenants, trained once.
fn tenant_nlu() -> &'static Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let mut nlu = nlu().clone();
        nlu.add_tenant(SHOP, "ecommerce", kargo_examples())
            .expect("tenant trains");
        let other = [
            "EFT ile ödeme yapabilir miyim",
            "papara ile ödüyorum olur mu",
            "hediye çekiyle ödeme alıyor musunuz",
        ]
        .into_iter()
        .map(|t| Example::new(t, "payment_options"))
        .collect();
        nlu.add_tenant(OTHER, "ecommerce", other)
            .expect("tenant trains");
        nlu
    })
}

#[test]
fn a_tenants_new_intent_is_recognised_on_held_out_phrasings() {
    let nlu = tenant_nlu();
    for t in KARGO_HELDOUT {
        assert!(
            !KARGO_TRAIN
                .iter()
                .any(|x| intents::normalize::fold(x) == intents::normalize::fold(t)),
            "{t:?} is a training text"
        );
    }
    let predictions: Vec<(&str, intents::Prediction)> = KARGO_HELDOUT
        .iter()
        .map(|t| (*t, nlu.classify_tenant(SHOP, "ecommerce", t)))
        .collect();
    let report: Vec<String> = predictions
        .iter()
        .map(|(t, p)| format!("{t:?} → {} ({:.2})", p.intent, p.confidence))
        .collect();
    let right = predictions
        .iter()
        .filter(|(_, p)| p.intent == "kargo_ucreti")
        .count();
    let confident = predictions
        .iter()
        .filter(|(_, p)| p.intent == "kargo_ucreti" && p.confidence >= DEFAULT_THRESHOLD)
        .count();
    // Measured: 9/10 top intent, 7/10 at or above the default threshold
    // (docs/nlu.md, "Tenant models").
    assert!(right >= 8, "{right}/10 recognised: {report:#?}");
    assert!(confident >= 6, "{confident}/10 confident: {report:#?}");
    assert!(
        nlu.tenant_model(SHOP, "ecommerce")
            .intents()
            .contains(&"kargo_ucreti".to_owned())
    );
}

#[test]
fn other_tenants_of_the_niche_do_not_get_it() {
    let nlu = tenant_nlu();
    for tenant in [OTHER, "shop-without-a-model"] {
        assert!(
            !nlu.tenant_model(tenant, "ecommerce")
                .intents()
                .iter()
                .any(|i| i == "kargo_ucreti"),
            "{tenant}"
        );
        for t in KARGO_HELDOUT.iter().chain(&KARGO_TRAIN) {
            let p = nlu.classify_tenant(tenant, "ecommerce", t);
            assert_ne!(p.intent, "kargo_ucreti", "{tenant}: {t:?}");
            assert!(
                p.alternatives.iter().all(|(i, _)| i != "kargo_ucreti"),
                "{tenant}: {t:?}"
            );
        }
    }
    // The niche model itself is untouched.
    assert!(
        !nlu.model("ecommerce")
            .intents()
            .iter()
            .any(|i| i == "kargo_ucreti")
    );
    // A tenant without a model answers exactly as the niche model.
    let t = "siparişim nerede kaldı";
    assert_eq!(
        nlu.classify_tenant("shop-without-a-model", "ecommerce", t),
        nlu.classify("ecommerce", t)
    );
    // A tenant model trained for another niche is not used.
    assert_eq!(
        nlu.classify_tenant(SHOP, "dental", "kargo ücreti ne kadar"),
        nlu.classify("dental", "kargo ücreti ne kadar")
    );
    let mut names = nlu.tenants();
    names.sort_unstable();
    assert_eq!(names, vec![SHOP, OTHER]);
}

fn accuracy(model: &Classifier, set: &[Example]) -> f32 {
    let right = set
        .iter()
        .filter(|ex| model.predict(&ex.text).intent == ex.intent)
        .count();
    right as f32 / set.len() as f32
}

#[test]
fn shipped_intents_still_work_for_the_tenant() {
    let nlu = tenant_nlu();
    let mut set = data::niche_heldout("ecommerce");
    set.extend(data::general_heldout());
    let niche = accuracy(nlu.model("ecommerce"), &set);
    for tenant in [SHOP, OTHER] {
        let own = accuracy(nlu.tenant_model(tenant, "ecommerce"), &set);
        eprintln!("{tenant}: held-out accuracy {own:.3} (niche model {niche:.3})");
        assert!(
            own >= niche - 0.03,
            "{tenant}: {own:.3} more than 0.03 below the niche model's {niche:.3}"
        );
    }
    // The other tenant's extra phrasing of a shipped intent is learnt.
    let p = nlu.classify_tenant(OTHER, "ecommerce", "papara ile ödüyorum olur mu");
    assert_eq!(p.intent, "payment_options");
}

#[test]
fn analyze_uses_the_tenant_model() {
    let nlu = tenant_nlu();
    let now = jiff::Timestamp::from_second(1_772_434_800).unwrap();
    let a = nlu.analyze_tenant(
        SHOP,
        "ecommerce",
        "kargo ücreti kaç TL?",
        "Europe/Istanbul",
        now,
    );
    assert_eq!(a.intent, "kargo_ucreti");
    assert_eq!(a.language, "tr");
    let ctx = intents::entities::Context::new("ecommerce", "Europe/Istanbul", now);
    let b = nlu.analyze_tenant_with(OTHER, "kargo ücreti kaç TL?", &ctx);
    assert_ne!(b.intent, "kargo_ucreti");
    let p = nlu.classify_tenant(OTHER, "ecommerce", "kargo ücreti kaç TL?");
    assert_eq!((b.intent, b.confidence), (p.intent, p.confidence));
    // Without a tenant model: the same as the niche analysis.
    assert_eq!(
        nlu.analyze_tenant_with("nobody", "kargo ücreti kaç TL?", &ctx),
        intents::analysis::analyze_with(nlu, "kargo ücreti kaç TL?", &ctx)
    );
}

fn add(extra: Vec<Example>) -> Result<(), TrainError> {
    let mut nlu = nlu().clone();
    let r = nlu.add_tenant("t", "ecommerce", extra);
    if r.is_err() {
        assert!(nlu.tenants().is_empty(), "a failed add changes nothing");
    }
    r
}

#[test]
fn bad_examples_are_refused_with_clear_errors() {
    let good = kargo_examples;

    let mut extra = good();
    extra.push(Example::new("  ", "kargo_ucreti"));
    let e = add(extra).unwrap_err();
    assert!(
        matches!(e, TrainError::EmptyText { index: 15, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("example 15"), "{e}");

    let mut extra = good();
    extra.insert(3, Example::new("🙏🙏", "kargo_ucreti"));
    assert!(matches!(
        add(extra),
        Err(TrainError::EmptyText { index: 3, .. })
    ));

    let mut extra = good();
    extra.push(Example::new("kargo ne zaman", ""));
    let e = add(extra).unwrap_err();
    assert!(matches!(e, TrainError::EmptyIntent { index: 15 }), "{e:?}");
    assert!(e.to_string().contains("empty intent"), "{e}");

    for bad in [
        "Kargo_Ucreti",
        "kargo ücreti",
        "kargo-ucreti",
        "1kargo",
        "k",
        "_kargo",
    ] {
        let extra: Vec<Example> = KARGO_TRAIN.iter().map(|t| Example::new(*t, bad)).collect();
        let e = add(extra).unwrap_err();
        assert!(
            matches!(&e, TrainError::InvalidIntentName { index: 0, intent } if intent == bad),
            "{bad}: {e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{bad:?}")) && msg.contains("^[a-z][a-z0-9_]{1,63}$"),
            "{msg}"
        );
    }
    let long = format!("k{}", "a".repeat(64));
    let extra: Vec<Example> = KARGO_TRAIN
        .iter()
        .map(|t| Example::new(*t, &long))
        .collect();
    assert!(matches!(
        add(extra),
        Err(TrainError::InvalidIntentName { .. })
    ));

    // Too few examples of a new intent: named, with its count.
    let extra: Vec<Example> = KARGO_TRAIN[1..5]
        .iter()
        .map(|t| Example::new(*t, "kargo_ucreti"))
        .collect();
    let e = add(extra).unwrap_err();
    assert!(
        matches!(&e, TrainError::TooFewExamples { intent, count: 4, min } if intent == "kargo_ucreti" && *min == MIN_NEW_INTENT_EXAMPLES),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("\"kargo_ucreti\"") && msg.contains(" 4 ") && msg.contains("at least 10"),
        "{msg}"
    );
    // Repeats of one text (folded) count once.
    let extra: Vec<Example> = (0..12)
        .map(|i| {
            Example::new(
                if i % 2 == 0 {
                    "Kargo ücreti?"
                } else {
                    "KARGO UCRETI"
                },
                "kargo_ucreti",
            )
        })
        .collect();
    assert!(matches!(
        add(extra),
        Err(TrainError::TooFewExamples { count: 1, .. })
    ));
    // Extra examples of shipped intents need no minimum.
    add(vec![Example::new("havale olur mu", "payment_options")]).unwrap();

    // Unknown niche.
    let mut nlu = nlu().clone();
    let e = nlu.add_tenant("t", "bakery", good()).unwrap_err();
    assert!(
        matches!(&e, TrainError::UnknownNiche(n) if n == "bakery"),
        "{e:?}"
    );
    assert!(nlu.add_tenant("t", "bakery", Vec::new()).is_err());
}

#[test]
fn no_extra_examples_means_the_niche_model() {
    let mut nlu = tenant_nlu().clone();
    assert!(nlu.tenants().contains(&SHOP));
    nlu.add_tenant(SHOP, "ecommerce", Vec::new()).unwrap();
    assert!(!nlu.tenants().contains(&SHOP));
    let t = "kargo ücreti ne kadar";
    assert_eq!(
        nlu.classify_tenant(SHOP, "ecommerce", t),
        nlu.classify("ecommerce", t)
    );
    assert!(!nlu.remove_tenant(SHOP));
    assert!(nlu.remove_tenant(OTHER));
}

#[test]
fn tenant_training_is_deterministic_and_parallelisable() {
    let a = intents::tenant::train("ecommerce", &kargo_examples()).unwrap();
    let b = intents::tenant::train("ecommerce", &kargo_examples()).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    let mut nlu = nlu().clone();
    nlu.insert_tenant_model("x", "ecommerce", a);
    assert_eq!(
        nlu.classify_tenant("x", "ecommerce", "kargo ücretsiz mi")
            .intent,
        "kargo_ucreti"
    );
}

/// A file in the temp folder, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("kopru-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn read_examples_reads_the_dataset_format() {
    let f = TempFile::new(
        "ok.jsonl",
        "\u{feff}// a tenant's examples\n\n\
         {\"text\": \"kargo ücreti ne kadar\", \"intent\": \"kargo_ucreti\", \"niche\": \"ecommerce\", \"lang\": \"tr\"}\n  \n\
         \t// indented comment\n\
         {\"intent\": \"payment_options\", \"text\": \"EFT olur mu\", \"entities\": {\"money\": {\"amount\": 5}}}\n",
    );
    assert_eq!(
        read_examples(&f.0).unwrap(),
        vec![
            Example::new("kargo ücreti ne kadar", "kargo_ucreti"),
            Example::new("EFT olur mu", "payment_options"),
        ]
    );

    let cases = [
        (
            "{\"text\": \"a\", \"intent\": \"b\"}\n{\"text\": \"no intent\"}\n",
            2,
            "intent",
        ),
        ("// x\n\n{\"intent\": \"b\"}\n", 3, "text"),
        (
            "{\"text\": \"a\", \"intent\": \"b\"}\n{\"text\": \" \", \"intent\": \"b\"}\n",
            2,
            "\"text\" is empty",
        ),
        (
            "{\"text\": \"a\", \"intent\": \"\"}\n",
            1,
            "\"intent\" is empty",
        ),
        ("{\"text\": 5, \"intent\": \"b\"}\n", 1, "string"),
        ("{\"text\": \"a\", \"intent\": \"b\"\n", 1, "EOF"),
    ];
    for (i, (src, line, says)) in cases.into_iter().enumerate() {
        let f = TempFile::new(&format!("bad{i}.jsonl"), src);
        let e = read_examples(&f.0).unwrap_err();
        assert_eq!(e.line, line, "{src:?}: {e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("{}: line {line}: ", f.0.display())) && msg.contains(says),
            "{src:?}: {msg}"
        );
    }

    let missing = std::env::temp_dir().join("kopru-no-such-file.jsonl");
    let e = read_examples(&missing).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string().starts_with(&missing.display().to_string()),
        "{e}"
    );
    assert!(matches!(e.kind, intents::data::DataErrorKind::Io(_)));
}

/// Training time of one tenant model, for docs/nlu.md:
/// `cargo test -p intents --release --test main -- --ignored --nocapture tenant_timings`.
#[test]
#[ignore]
fn tenant_timings() {
    let mut nlu = nlu().clone();
    for niche in data::NICHES {
        let mut times = Vec::new();
        for round in 0..5 {
            let t = Instant::now();
            nlu.add_tenant(&format!("t{round}"), niche, kargo_examples())
                .unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let size = nlu.tenant_model("t0", niche).to_json().len();
        let heldout = data::niche_heldout(niche).len() + data::general_heldout().len();
        eprintln!("{niche}: model file {size} bytes; held-out rows {heldout}");
        let n = intents::tenant::training_set(niche, &kargo_examples())
            .unwrap()
            .len();
        eprintln!(
            "{niche}: {n} examples, tenant model in {:.0}–{:.0} ms (median {:.0})",
            times[0], times[4], times[2]
        );
    }
}
