//! Entities, language, sentiment, masking and `analyze` end to end: the
//! language-id benchmark on short messages, the masking property test, the
//! JSON shape `kopru classify` prints, and (ignored) timings.

use std::time::Instant;

use intents::entities::{self, Context, Treatment};
use intents::mask::{mask, unmask};
use intents::{lang, sentiment};
use proptest::prelude::*;

use super::nlu;

fn now() -> jiff::Timestamp {
    // Wednesday 10 December 2025, 10:00 in Istanbul.
    "2025-12-10T07:00:00Z".parse().unwrap()
}

/// Short messages with their language, as customers write them.
const LANG_CASES: &[(&str, &str)] = &[
    ("merhaba", "tr"),
    ("kargom nerde", "tr"),
    ("nasilsiniz", "tr"),
    ("fiyat ne kadar", "tr"),
    ("randevu almak istiyorum", "tr"),
    ("iyi akşamlar", "tr"),
    ("teşekkürler", "tr"),
    ("siparişim ne durumda", "tr"),
    ("implant fiyatı ne kadar", "tr"),
    ("yarın müsait misiniz", "tr"),
    ("slm", "tr"),
    ("tşk ederim", "tr"),
    ("hocam dişim ağrıyor", "tr"),
    ("kaca kadar aciksiniz", "tr"),
    ("iade etmek istiyorum", "tr"),
    ("hi", "en"),
    ("hello there", "en"),
    ("how much is a hair transplant", "en"),
    ("thank you", "en"),
    ("is the hotel included in the price", "en"),
    ("do you pick up from the airport", "en"),
    ("what time do you open", "en"),
    ("I want to book an appointment", "en"),
    ("hallo", "de"),
    ("wie viel kostet das", "de"),
    ("guten Tag", "de"),
    ("danke schön", "de"),
    ("Paketpreis mit Hotel?", "de"),
    ("ich möchte einen Termin", "de"),
    ("was kostet eine Haartransplantation", "de"),
    ("привет", "ru"),
    ("сколько стоит имплант", "ru"),
    ("здравствуйте", "ru"),
    ("спасибо большое", "ru"),
    ("хочу записаться", "ru"),
    ("привіт", "uk"),
    ("дякую", "uk"),
    ("скільки коштує", "uk"),
    ("bonjour", "fr"),
    ("merci beaucoup", "fr"),
    ("combien coûte une greffe de cheveux", "fr"),
    ("je voudrais un rendez-vous", "fr"),
    ("hoi", "nl"),
    ("hoeveel kost het", "nl"),
    ("goedemorgen", "nl"),
    ("ik wil graag een afspraak", "nl"),
    ("مرحبا", "ar"),
    ("كم السعر", "ar"),
    ("شكرا جزيلا", "ar"),
    ("سلام، قیمت چقدر است؟", "fa"),
    ("خیلی ممنون", "fa"),
    ("hola", "es"),
    ("cuánto cuesta", "es"),
    ("gracias", "es"),
    ("ciao", "it"),
    ("quanto costa", "it"),
    ("grazie mille", "it"),
    ("salam", "az"),
    ("necəsən", "az"),
    ("qiymət nə qədərdir", "az"),
];

/// Longer messages, written after the lexicons (words mostly not in them):
/// the measure of what the statistical model adds.
const LANG_LONGER: &[(&str, &str)] = &[
    ("my crown fell off yesterday evening", "en"),
    ("could you send me the invoice please", "en"),
    ("what is included in the package", "en"),
    ("meine Krone ist gestern abgefallen", "de"),
    ("können Sie mir die Rechnung schicken", "de"),
    ("was ist im Paket enthalten", "de"),
    ("ma couronne est tombée hier soir", "fr"),
    ("pouvez-vous m'envoyer la facture", "fr"),
    ("mijn kroon is gisteren afgevallen", "nl"),
    ("kunt u mij de factuur sturen", "nl"),
    ("se me cayó la corona ayer", "es"),
    ("pueden enviarme la factura", "es"),
    ("mi è caduta la corona ieri sera", "it"),
    ("potete inviarmi la fattura", "it"),
    ("kaplamam dün akşam düştü", "tr"),
    ("faturayı gönderebilir misiniz", "tr"),
    ("paketin icinde neler var", "tr"),
    ("dunen axsam tacim dusdu", "az"),
    ("у меня вчера выпала коронка", "ru"),
    ("ви можете надіслати рахунок", "uk"),
];

fn lang_accuracy_on(cases: &[(&str, &str)]) -> (f32, Vec<String>) {
    let mut wrong = Vec::new();
    for (text, want) in cases {
        let got = lang::detect(text);
        if got.code != *want {
            wrong.push(format!(
                "{text:?}: {} ({:.2}), want {want}",
                got.code, got.confidence
            ));
        }
    }
    (1.0 - wrong.len() as f32 / cases.len() as f32, wrong)
}

fn lang_accuracy() -> (f32, Vec<String>) {
    let mut wrong = Vec::new();
    for (text, want) in LANG_CASES {
        let got = lang::detect(text);
        if got.code != *want {
            wrong.push(format!(
                "{text:?}: {} ({:.2}), want {want}",
                got.code, got.confidence
            ));
        }
    }
    let acc = 1.0 - wrong.len() as f32 / LANG_CASES.len() as f32;
    (acc, wrong)
}

#[test]
fn language_id_on_short_messages() {
    assert!(LANG_CASES.len() >= 60);
    let (acc, wrong) = lang_accuracy();
    eprintln!(
        "language id: {acc:.3} on {} messages; wrong: {wrong:#?}",
        LANG_CASES.len()
    );
    assert!(acc >= 0.9, "{acc}: {wrong:#?}");
    let (longer, wrong) = lang_accuracy_on(LANG_LONGER);
    eprintln!(
        "longer messages: {longer:.3} on {}; wrong: {wrong:#?}",
        LANG_LONGER.len()
    );
    assert!(longer >= 0.8, "{longer}: {wrong:#?}");
    for text in ["", "👍", "12345", "?!"] {
        assert_eq!(lang::detect(text).code, "und", "{text:?}");
    }
}

#[test]
fn analysis_has_the_classify_shape() {
    let a = nlu().analyze(
        "dental",
        "Rezalet! Yarın 14:30 randevum vardı, 2 implant için 5.000 TL ödedim. Tel 0555 111 22 33",
        "Europe/Istanbul",
        now(),
    );
    let v = serde_json::to_value(&a).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["intent", "confidence", "entities", "language", "sentiment"] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_eq!(v["language"], "tr");
    assert_eq!(v["sentiment"]["label"], "negative");
    assert!(v["sentiment"]["score"].as_f64().unwrap() < 0.0);
    let e = &v["entities"];
    assert_eq!(e["treatment"][0]["value"], "implant");
    assert_eq!(e["tooth_count"][0]["value"], 2);
    assert_eq!(e["money"][0]["value"]["amount"], 5000.0);
    assert_eq!(e["money"][0]["value"]["currency"], "TRY");
    assert_eq!(e["phone"][0]["value"], "+905551112233");
    assert_eq!(e["date"][0]["value"]["date"], "2025-12-11");
    assert_eq!(e["date"][0]["value"]["time"], "14:30:00");
    assert!(e.get("email").is_none(), "empty lists are left out");
    // Spans point into the cleaned text.
    let doc = entities::Doc::new("  İmplant   fiyatı");
    let ctx = Context::new("dental", "Europe/Istanbul", now());
    let found = entities::extract_doc(&doc, &ctx);
    let t = &found.treatment[0];
    assert_eq!(t.value, Treatment::Implant);
    assert_eq!(&doc.cleaned()[t.span[0]..t.span[1]], "İmplant");
    assert_eq!(t.text, "İmplant");
}

#[test]
fn messages_from_each_niche() {
    let ctx = Context::new("ecommerce", "Europe/Istanbul", now());
    let e = entities::extract(
        "Sipariş no 1234567, 42 numara, 200 adet, İzmir'e; Almanya'dan IBAN TR33 0006 1005 1978 6457 8413 26",
        &ctx,
    );
    assert_eq!(e.order_id[0].value, "1234567");
    assert_eq!(e.size[0].value.value, "42");
    assert_eq!(e.quantity[0].value.value, 200);
    assert_eq!(e.city[0].value.name, "İzmir");
    assert_eq!(e.country[0].value, "DE");
    assert_eq!(e.iban[0].value, "TR330006100519786457841326");
    assert!(
        e.money.is_empty() && e.phone.is_empty() && e.tckn.is_empty(),
        "{e:?}"
    );
    let ctx = Context::new("health", "Europe/Berlin", now());
    let e = entities::extract(
        "How much is a hair transplant? I'm from Germany, budget €2.500, next Monday",
        &ctx,
    );
    assert_eq!(e.treatment[0].value, Treatment::HairTransplant);
    assert_eq!(e.country[0].value, "DE");
    assert_eq!(e.money[0].value.amount, 2500.0);
    assert_eq!(e.date[0].value.date.to_string(), "2025-12-15");
    assert!(entities::extract("merhaba", &ctx).is_empty());
}

#[test]
fn sentiment_spec_examples() {
    use intents::sentiment::Label;
    assert_eq!(
        sentiment::analyze("rezalet bir hizmet").label,
        Label::Negative
    );
    assert_eq!(
        sentiment::analyze("çok memnun kaldım ellerinize sağlık").label,
        Label::Positive
    );
    assert_eq!(sentiment::analyze("kargom nerede").label, Label::Neutral);
}

// ---------------------------------------------------------------------------
// Masking property test
// ---------------------------------------------------------------------------

fn tckn_from(base: [u8; 9]) -> String {
    let mut d: Vec<u32> = base.iter().map(|&x| x as u32 % 10).collect();
    if d[0] == 0 {
        d[0] = 1;
    }
    let odd = d[0] + d[2] + d[4] + d[6] + d[8];
    let even = d[1] + d[3] + d[5] + d[7];
    d.push(((odd * 7) as i64 - even as i64).rem_euclid(10) as u32);
    d.push(d.iter().sum::<u32>() % 10);
    d.iter().map(|v| char::from(b'0' + *v as u8)).collect()
}

fn iban_from(bban: [u8; 22]) -> String {
    let bban: String = bban.iter().map(|x| char::from(b'0' + x % 10)).collect();
    // check digits: 98 − (BBAN + "TR00" as digits) mod 97; T=29, R=27.
    let s = format!("{bban}292700");
    let rem = s
        .bytes()
        .fold(0u32, |r, b| (r * 10 + (b - b'0') as u32) % 97);
    format!("TR{:02}{bban}", 98 - rem)
}

fn card_from(body: [u8; 15]) -> String {
    let mut d: Vec<u32> = body.iter().map(|&x| x as u32 % 10).collect();
    if d[0] == 0 {
        d[0] = 4;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &v)| {
            if i % 2 == 0 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum();
    d.push((10 - sum % 10) % 10);
    d.iter().map(|v| char::from(b'0' + *v as u8)).collect()
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut pos = 0;
    for &n in sizes {
        if pos >= s.len() {
            break;
        }
        let end = (pos + n).min(s.len());
        out.push(&s[pos..end]);
        pos = end;
    }
    if pos < s.len() {
        out.push(&s[pos..]);
    }
    out.join(sep)
}

/// (written form, compact digits or address) of one random identifier.
fn pii() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (any::<[u8; 9]>(), 0..3usize).prop_map(|(b, f)| {
            let t = tckn_from(b);
            let w = match f {
                0 => t.clone(),
                1 => group(&t, &[3, 3, 3, 2], " "),
                _ => t
                    .chars()
                    .map(|c| format!("{c}\u{200B}"))
                    .collect::<String>()
                    .trim_end_matches('\u{200B}')
                    .to_owned(),
            };
            (w, t)
        }),
        (any::<[u8; 22]>(), 0..3usize).prop_map(|(b, f)| {
            let i = iban_from(b);
            let w = match f {
                0 => i.clone(),
                1 => group(&i, &[4, 4, 4, 4, 4, 4, 2], " "),
                _ => i.to_lowercase(),
            };
            (w, i[2..].to_owned())
        }),
        (any::<[u8; 15]>(), 0..3usize).prop_map(|(b, f)| {
            let c = card_from(b);
            let w = match f {
                0 => c.clone(),
                1 => group(&c, &[4, 4, 4, 4], " "),
                _ => group(&c, &[4, 4, 4, 4], "-"),
            };
            (w, c)
        }),
        (0u64..1_000_000_000, 0..6usize).prop_map(|(n, f)| {
            let national = format!("5{n:09}");
            let w = match f {
                0 => format!("0{national}"),
                1 => group(&format!("0{national}"), &[4, 3, 2, 2], " "),
                2 => format!("+90 {}", group(&national, &[3, 3, 2, 2], " ")),
                3 => format!(
                    "+90 ({}) {}",
                    &national[..3],
                    group(&national[3..], &[3, 2, 2], "-")
                ),
                4 => national.clone(),
                _ => format!(
                    "０{}",
                    national
                        .chars()
                        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap())
                        .collect::<String>()
                ),
            };
            (w, national)
        }),
        (
            "[a-z]{2,8}",
            "[a-z0-9]{0,4}",
            "[a-z]{2,8}",
            prop::sample::select(vec!["com", "com.tr", "de", "net"])
        )
            .prop_map(|(a, b, d, tld)| {
                let e = format!("{a}.{b}@{d}.{tld}").replace(".@", "@");
                (e.clone(), e)
            }),
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "merhaba",
        "İstanbul'a",
        "kargom",
        "nerede?",
        "çok",
        "teşekkürler!",
        "IŞIK",
        "şöyle:",
        "(lütfen)",
        "👍",
        "🙏🙏",
        "—",
        "…",
        "ğüşiöç",
        "“tırnak”",
        "Ünlü",
        "ve",
        "numaram",
        "iban",
        "tc",
        "kart",
        "mail:",
        "привет",
        "مرحبا",
        "ａｂｃ",
        "e-posta;",
        "x",
        "¿",
        "%",
        "#",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn masking_hides_every_identifier_and_round_trips(
        parts in prop::collection::vec((prop::collection::vec(word(), 1..4), pii()), 1..5),
        tail in prop::collection::vec(word(), 0..3),
    ) {
        let mut text = String::new();
        for (words, (written, _)) in &parts {
            text.push_str(&words.join(" "));
            text.push(' ');
            text.push_str(written);
            text.push(' ');
        }
        text.push_str(&tail.join(" "));
        let m = mask(&text);
        for (_, (written, key)) in &parts {
            prop_assert!(!m.text.contains(written.as_str()), "{written:?} in {:?}", m.text);
            prop_assert!(!m.text.contains(key.as_str()), "{key:?} in {:?}", m.text);
            let digits: String = m.text.chars().filter(char::is_ascii_digit).collect();
            if key.chars().all(|c| c.is_ascii_digit()) {
                prop_assert!(!digits.contains(key.as_str()) || key.len() < 10, "{key} digits in {:?}", m.text);
            }
        }
        prop_assert_eq!(unmask(&m.text, &m), text);
    }

    #[test]
    fn unmask_of_mask_is_identity_on_any_text(text in "\\PC{0,80}") {
        let m = mask(&text);
        prop_assert_eq!(unmask(&m.text, &m), text);
    }
}

/// Timings for docs/nlu.md (release):
/// `cargo test -p intents --release --test main -- --ignored --nocapture understanding_timings`.
#[test]
#[ignore]
fn understanding_timings() {
    let nlu = nlu();
    let ctx = Context::new("dental", "Europe/Istanbul", now());
    let mut texts: Vec<String> = intents::data::general_heldout()
        .into_iter()
        .map(|e| e.text)
        .collect();
    texts.extend(LANG_CASES.iter().map(|(t, _)| t.to_string()));
    texts.extend([
        "Rezalet! Yarın 14:30 randevum vardı, 2 implant için 5.000 TL ödedim. Tel 0555 111 22 33"
            .to_owned(),
        "Sipariş no 1234567, 42 numara, 200 adet, İzmir'e; IBAN TR33 0006 1005 1978 6457 8413 26"
            .to_owned(),
        "How much is a hair transplant? I'm from Germany, budget €2.500, next Monday".to_owned(),
    ]);
    let rounds = 50;
    let mut classify = Vec::new();
    let mut extra = Vec::new();
    let mut total = Vec::new();
    let mut masking = Vec::new();
    for _ in 0..rounds {
        for t in &texts {
            let s = Instant::now();
            std::hint::black_box(nlu.classify("dental", t));
            let c = s.elapsed();
            let s = Instant::now();
            let doc = entities::Doc::new(t);
            std::hint::black_box(entities::extract_doc(&doc, &ctx));
            std::hint::black_box(lang::detect(t));
            std::hint::black_box(sentiment::analyze(t));
            let x = s.elapsed();
            let s = Instant::now();
            std::hint::black_box(intents::analysis::analyze_with(nlu, t, &ctx));
            let a = s.elapsed();
            let s = Instant::now();
            std::hint::black_box(mask(t));
            masking.push(s.elapsed());
            classify.push(c);
            extra.push(x);
            total.push(a);
        }
    }
    // Components.
    let mut parts: Vec<(&str, Vec<std::time::Duration>)> = [
        "doc",
        "ids",
        "gazetteers",
        "dates",
        "counts+money",
        "lang",
        "sentiment",
    ]
    .into_iter()
    .map(|n| (n, Vec::new()))
    .collect();
    for _ in 0..rounds {
        for t in &texts {
            let s = Instant::now();
            let doc = entities::Doc::new(t);
            parts[0].1.push(s.elapsed());
            let s = Instant::now();
            let ids = entities::ids::identifiers(&doc);
            parts[1].1.push(s.elapsed());
            let s = Instant::now();
            std::hint::black_box(entities::gazetteers::treatment(&doc, "dental"));
            std::hint::black_box(entities::gazetteers::city(&doc));
            std::hint::black_box(entities::gazetteers::country(&doc));
            parts[2].1.push(s.elapsed());
            let s = Instant::now();
            std::hint::black_box(entities::dates::date_time(&doc, &ctx, &ids.taken));
            parts[3].1.push(s.elapsed());
            let s = Instant::now();
            std::hint::black_box(entities::money::money(&doc, &ids.taken));
            std::hint::black_box(entities::counts::tooth_count(&doc, "dental", &ids.taken));
            std::hint::black_box(entities::counts::quantity(&doc, "dental", &ids.taken));
            std::hint::black_box(entities::counts::size(&doc, &ids.taken));
            parts[4].1.push(s.elapsed());
            let s = Instant::now();
            std::hint::black_box(lang::detect(t));
            parts[5].1.push(s.elapsed());
            let s = Instant::now();
            std::hint::black_box(sentiment::analyze(t));
            parts[6].1.push(s.elapsed());
        }
    }
    let pct = |v: &mut Vec<std::time::Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * p) as usize]
    };
    eprintln!("{} messages × {rounds} rounds", texts.len());
    for (name, v) in [
        ("classify", &mut classify),
        ("entities+lang+sentiment", &mut extra),
        ("analyze (all)", &mut total),
        ("mask", &mut masking),
    ] {
        eprintln!(
            "{name}: p50 {:?}, p99 {:?}, max {:?}",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 1.0)
        );
    }
    for (name, v) in &mut parts {
        eprintln!("  {name}: p50 {:?}, p99 {:?}", pct(v, 0.5), pct(v, 0.99));
    }
}
