//! Language identification tuned for short chat messages.
//!
//! Rules first, a statistical model second:
//!
//! 1. Script: Arabic script → `ar` (`fa` with Persian letters پ چ ژ گ ک ی);
//!    Cyrillic → `ru` (`uk` with і ї є ґ).
//! 2. Latin script: letters only some languages use (Turkish `ş ğ ı İ`,
//!    Azerbaijani `ə`, German `ß ä`, Spanish `ñ ¿ ¡`, …) and lexicons of
//!    frequent chat words per language, folded, so Turkish typed without
//!    Turkish letters (`nasilsiniz`, `fiyat`, `randevu`, `kargom nerde`)
//!    still scores; Turkish verb/question endings (`-iyor`, `-misiniz`)
//!    count for Turkish.
//!
//! No statistical model: whatlang 0.18's trigram vote was measured on the
//! test sets (`docs/nlu.md`, "Entities") and changed no answer while costing
//! ~50 µs a message; whatlang alone got 45 % of the short messages right.
//!
//! Unknown (no letters, or nothing recognised) → `und`.

use crate::normalize;

/// A detected language: ISO 639-1 code (`und` when unknown) and a
/// confidence in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Language {
    pub code: &'static str,
    pub confidence: f32,
}

impl Language {
    /// Unknown.
    pub const UNDETERMINED: Language = Language {
        code: "und",
        confidence: 0.0,
    };
}

/// The languages [`detect`] can answer, besides `und`.
pub const LANGUAGES: [&str; 12] = [
    "tr", "en", "de", "ru", "fr", "nl", "ar", "es", "it", "uk", "fa", "az",
];

// Latin-script candidates, in tie-break order.
const LATIN: [&str; 8] = ["tr", "en", "de", "fr", "nl", "es", "it", "az"];

const TR: &[&str] = &[
    "merhaba",
    "merhabalar",
    "mrb",
    "mrhb",
    "selam",
    "selamlar",
    "slm",
    "sa",
    "as",
    "nasilsiniz",
    "nasilsin",
    "naber",
    "iyi",
    "gunler",
    "aksamlar",
    "sabahlar",
    "geceler",
    "tesekkurler",
    "tesekkur",
    "tesekkurederim",
    "tsk",
    "tsm",
    "sagol",
    "sagolun",
    "sagolsun",
    "evet",
    "hayir",
    "tamam",
    "tamamdir",
    "olur",
    "yok",
    "var",
    "mi",
    "mu",
    "misiniz",
    "musunuz",
    "miyim",
    "muyum",
    "ne",
    "nedir",
    "nerede",
    "nerde",
    "neden",
    "nasil",
    "kac",
    "kaca",
    "kadar",
    "fiyat",
    "fiyati",
    "fiyatlar",
    "ucret",
    "ucreti",
    "randevu",
    "randevum",
    "kargo",
    "kargom",
    "kargoya",
    "siparis",
    "siparisim",
    "iade",
    "degisim",
    "bir",
    "ve",
    "ile",
    "icin",
    "ama",
    "cok",
    "daha",
    "bu",
    "su",
    "ben",
    "sen",
    "biz",
    "siz",
    "benim",
    "sizin",
    "lutfen",
    "rica",
    "ediyorum",
    "istiyorum",
    "alabilir",
    "yarin",
    "bugun",
    "saat",
    "hafta",
    "acil",
    "dis",
    "disim",
    "agriyor",
    "sac",
    "ekimi",
    "estetik",
    "burun",
    "indirim",
    "kampanya",
    "beden",
    "numara",
    "urun",
    "hala",
    "gelmedi",
    "geldi",
    "kolay",
    "gelsin",
    "hoscakalin",
    "gorusuruz",
    "iyiyim",
    "peki",
    "aynen",
    "abi",
    "abla",
    "hocam",
    "hanim",
    "bey",
    "lazim",
    "gerek",
    "istemiyorum",
    "degil",
    "dogru",
    "yanlis",
    "acik",
    "aciksiniz",
    "adres",
    "adresiniz",
    "neresi",
    "taksit",
    "odeme",
    "havale",
    "kredi",
    "karti",
    "ederim",
    "olacak",
    "olur",
    "zaman",
    "gun",
    "gunu",
    "sizi",
    "size",
    "bana",
    "beni",
    "bunu",
    "onu",
    "de",
    "da",
    "ki",
    "mı",
    "yapabilir",
    "yapiyor",
    "yardim",
    "fiyatı",
    "kaplama",
    "zirkonyum",
    "kac",
    "para",
    "lira",
    "tl",
    "hemen",
    "simdi",
    "sonra",
    "once",
    "memnun",
    "kaldim",
    "rezalet",
    "berbat",
    "harika",
    "super",
    "guzel",
    "kotu",
    "teslim",
    "kimse",
    "donmedi",
    "biliyor",
    "bilgi",
    "almak",
    "istiyoruz",
    "toptan",
    "adet",
    "fatura",
];

const EN: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "you",
    "yes",
    "no",
    "please",
    "how",
    "much",
    "what",
    "where",
    "when",
    "is",
    "are",
    "the",
    "a",
    "an",
    "i",
    "my",
    "me",
    "to",
    "for",
    "of",
    "and",
    "it",
    "this",
    "that",
    "do",
    "does",
    "can",
    "could",
    "would",
    "price",
    "cost",
    "appointment",
    "book",
    "tomorrow",
    "today",
    "want",
    "need",
    "good",
    "morning",
    "evening",
    "bye",
    "hair",
    "transplant",
    "teeth",
    "tooth",
    "with",
    "in",
    "on",
    "have",
    "be",
    "will",
    "there",
    "your",
    "we",
    "our",
    "hotel",
    "airport",
    "days",
    "stay",
    "included",
    "painful",
    "order",
    "not",
    "know",
    "help",
    "why",
    "who",
    "which",
    "am",
    "was",
    "were",
    "did",
    "many",
    "pick",
    "up",
    "from",
    "get",
    "like",
    "just",
    "time",
    "next",
    "week",
    "great",
    "bad",
    "terrible",
    "love",
    "awesome",
    "happy",
    "would",
    "should",
    "about",
    "here",
    "yet",
    "still",
    "any",
    "some",
];

const DE: &[&str] = &[
    "hallo",
    "guten",
    "tag",
    "morgen",
    "abend",
    "danke",
    "bitte",
    "ja",
    "nein",
    "wie",
    "viel",
    "kostet",
    "das",
    "ist",
    "der",
    "die",
    "und",
    "ich",
    "sie",
    "wir",
    "mit",
    "fur",
    "ein",
    "eine",
    "nicht",
    "was",
    "wo",
    "wann",
    "haben",
    "habe",
    "mochte",
    "termin",
    "preis",
    "zahne",
    "kann",
    "konnen",
    "gibt",
    "es",
    "auch",
    "noch",
    "sehr",
    "gut",
    "tschuss",
    "vielen",
    "dank",
    "uber",
    "zum",
    "zur",
    "von",
    "bei",
    "mein",
    "meine",
    "ihr",
    "ihre",
    "heute",
    "schon",
    "wieviel",
    "kosten",
    "den",
    "dem",
    "des",
    "im",
    "auf",
    "aus",
    "sind",
    "wird",
    "mir",
    "mich",
    "dich",
    "paketpreis",
    "moin",
    "servus",
    "gruß",
    "grusse",
    "hotel",
    "wieso",
    "warum",
    "welche",
];

const FR: &[&str] = &[
    "bonjour",
    "salut",
    "merci",
    "oui",
    "non",
    "je",
    "tu",
    "vous",
    "nous",
    "est",
    "le",
    "la",
    "les",
    "des",
    "du",
    "un",
    "une",
    "et",
    "pour",
    "avec",
    "combien",
    "coute",
    "prix",
    "rendez",
    "voudrais",
    "veux",
    "suis",
    "pas",
    "cest",
    "quel",
    "quelle",
    "comment",
    "ou",
    "quand",
    "dents",
    "greffe",
    "cheveux",
    "bonsoir",
    "sil",
    "plait",
    "svp",
    "madame",
    "monsieur",
    "ca",
    "mon",
    "ma",
    "mes",
    "votre",
    "vos",
    "aujourdhui",
    "demain",
    "jai",
    "qui",
    "que",
    "dans",
];

const NL: &[&str] = &[
    "hoi",
    "hallo",
    "goedemorgen",
    "goedendag",
    "goedenavond",
    "dag",
    "bedankt",
    "dankjewel",
    "ja",
    "nee",
    "wat",
    "hoe",
    "veel",
    "kost",
    "het",
    "een",
    "en",
    "ik",
    "jij",
    "u",
    "wij",
    "van",
    "voor",
    "met",
    "niet",
    "is",
    "zijn",
    "graag",
    "afspraak",
    "prijs",
    "tanden",
    "haar",
    "waar",
    "wanneer",
    "kan",
    "kunnen",
    "mijn",
    "uw",
    "ook",
    "nog",
    "vandaag",
    "alstublieft",
    "alsjeblieft",
    "doei",
    "goed",
    "heel",
    "heb",
    "hebben",
    "wil",
    "willen",
    "dit",
    "dat",
    "er",
    "maar",
    "kosten",
    "kunt",
    "jullie",
    "welke",
    "hoeveel",
];

const ES: &[&str] = &[
    "hola", "gracias", "si", "que", "como", "cuanto", "cuesta", "precio", "por", "favor", "el",
    "los", "las", "una", "y", "con", "para", "es", "esta", "estoy", "quiero", "cita", "dientes",
    "buenos", "dias", "buenas", "tardes", "noches", "adios", "usted", "pero", "muy", "bien",
    "tengo", "necesito", "cuando", "donde", "la", "me", "se", "lo", "del", "al", "puede", "pueden",
    "puedo", "hay", "tiene", "ayer",
];

const IT: &[&str] = &[
    "ciao",
    "grazie",
    "come",
    "quanto",
    "costa",
    "prezzo",
    "il",
    "lo",
    "gli",
    "di",
    "per",
    "che",
    "sono",
    "voglio",
    "vorrei",
    "appuntamento",
    "denti",
    "buongiorno",
    "buonasera",
    "arrivederci",
    "prego",
    "mio",
    "mia",
    "bene",
    "molto",
    "anche",
    "capelli",
    "quando",
    "dove",
    "della",
    "la",
    "mi",
    "ci",
    "del",
    "al",
    "posso",
    "potete",
    "puo",
    "ieri",
    "sera",
    "questo",
];

const AZ: &[&str] = &[
    "salam",
    "necesen",
    "necesiz",
    "xahis",
    "xais",
    "beli",
    "xeyr",
    "qiymet",
    "nece",
    "mene",
    "sene",
    "yaxsi",
    "cox",
    "olar",
    "edirem",
    "isteyirem",
    "bilmirem",
    "var",
    "harada",
];

/// Detects the language of a (short) message.
pub fn detect(text: &str) -> Language {
    let cleaned = normalize::clean(text);
    let (mut arabic, mut cyrillic, mut latin) = (0usize, 0usize, 0usize);
    let (mut persian, mut ukrainian, mut russian) = (false, false, false);
    let mut scores = [0f32; LATIN.len()];
    let idx = |c: &str| LATIN.iter().position(|l| *l == c).unwrap_or(0);
    for c in cleaned.chars() {
        if !c.is_alphabetic() {
            continue;
        }
        match c {
            '\u{0600}'..='\u{06FF}'
            | '\u{0750}'..='\u{077F}'
            | '\u{FB50}'..='\u{FDFF}'
            | '\u{FE70}'..='\u{FEFF}' => {
                arabic += 1;
                persian |= matches!(c, 'پ' | 'چ' | 'ژ' | 'گ' | 'ک' | 'ی');
            }
            '\u{0400}'..='\u{04FF}' => {
                cyrillic += 1;
                ukrainian |= matches!(c, 'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ');
                russian |= matches!(c, 'ы' | 'э' | 'ъ' | 'ё' | 'Ы' | 'Э' | 'Ъ' | 'Ё');
            }
            _ if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{02AF}').contains(&c) => {
                latin += 1;
                let (lang, w): (&str, f32) = match c {
                    'ş' | 'Ş' | 'ğ' | 'Ğ' | 'ı' | 'İ' => ("tr", 2.0),
                    'ə' | 'Ə' => ("az", 4.0),
                    'ä' | 'Ä' | 'ß' => ("de", 2.0),
                    'ñ' | 'Ñ' | 'á' | 'í' | 'ó' | 'ú' => ("es", 1.5),
                    'é' | 'ê' | 'à' | 'â' | 'ô' | 'î' | 'û' | 'œ' | 'ë' | 'ï' => {
                        ("fr", 1.0)
                    }
                    'ì' | 'ò' | 'ù' => ("it", 1.5),
                    'è' => {
                        scores[idx("it")] += 0.5;
                        ("fr", 0.5)
                    }
                    'ç' | 'Ç' => {
                        scores[idx("fr")] += 0.3;
                        ("tr", 0.7)
                    }
                    'ö' | 'Ö' | 'ü' | 'Ü' => {
                        scores[idx("de")] += 0.7;
                        ("tr", 0.7)
                    }
                    _ => continue,
                };
                scores[idx(lang)] += w;
            }
            _ => {}
        }
        if matches!(c, '¿' | '¡') {
            scores[idx("es")] += 2.0;
        }
    }
    let letters = arabic + cyrillic + latin;
    if letters == 0 {
        return Language::UNDETERMINED;
    }
    if arabic * 2 >= letters {
        let conf = if arabic >= 4 { 0.95 } else { 0.8 };
        return Language {
            code: if persian { "fa" } else { "ar" },
            confidence: conf,
        };
    }
    if cyrillic * 2 >= letters {
        let conf = if cyrillic >= 4 { 0.95 } else { 0.8 };
        return Language {
            code: if !russian && (ukrainian || ukrainian_word(&cleaned)) {
                "uk"
            } else {
                "ru"
            },
            confidence: conf,
        };
    }
    // Words.
    let folded = normalize::fold(&cleaned);
    let lexicons: [&[&str]; 8] = [TR, EN, DE, FR, NL, ES, IT, AZ];
    let mut words = 0;
    for w in folded.split(' ') {
        if w.is_empty() || !w.chars().any(char::is_alphabetic) {
            continue;
        }
        words += 1;
        let mut hit = false;
        for (k, lex) in lexicons.iter().enumerate() {
            if lex.contains(&w) {
                scores[k] += if w.len() >= 4 { 1.5 } else { 1.0 };
                hit = true;
            }
        }
        if !hit && turkish_ending(w) {
            scores[idx("tr")] += 1.0;
        }
        if w.contains('x') || w.contains('q') {
            scores[idx("az")] += 0.3;
        }
    }
    let mut order: Vec<usize> = (0..LATIN.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let (top, second) = (scores[order[0]], scores[order[1]]);
    if top <= 0.0 {
        return Language::UNDETERMINED;
    }
    let margin = (top - second) / top;
    let coverage = (top / (words.max(1) as f32 * 1.5)).min(1.0);
    let confidence = (0.35 + 0.4 * margin + 0.25 * coverage).clamp(0.0, 1.0);
    Language {
        code: LATIN[order[0]],
        confidence,
    }
}

/// Ukrainian words without the letters і ї є ґ.
fn ukrainian_word(text: &str) -> bool {
    const UK: &[&str] = &[
        "дякую",
        "будь",
        "ласка",
        "добрий",
        "доброго",
        "вітаю",
        "коштує",
        "зуби",
        "треба",
    ];
    let lower = normalize::lower_tr(text);
    lower
        .split(|c: char| !c.is_alphabetic())
        .any(|w| UK.contains(&w))
}

/// Turkish endings that other Latin-script languages rarely have.
fn turkish_ending(w: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "iyor", "iyorum", "iyoruz", "uyor", "uyorum", "misiniz", "musunuz", "misin", "musun",
        "miyim", "muyum", "siniz", "sunuz", "lerim", "larim", "lari", "leri", "imiz", "umuz",
        "acak", "ecek", "acagim", "ecegim", "madi", "medi", "madim", "medim", "mak", "mek", "dir",
        "dur", "lik", "luk", "cagim",
    ];
    w.len() >= 5 && ENDINGS.iter().any(|e| w.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        assert_eq!(detect("مرحبا").code, "ar");
        assert_eq!(detect("سلام، قیمت چقدر است؟").code, "fa");
        assert_eq!(detect("привет").code, "ru");
        assert_eq!(detect("привіт, скільки коштує").code, "uk");
        assert_eq!(detect("").code, "und");
        assert_eq!(detect("👍👍").code, "und");
        assert_eq!(detect("12345").code, "und");
    }

    #[test]
    fn turkish_without_turkish_letters() {
        for t in [
            "nasilsiniz",
            "fiyat",
            "randevu",
            "kargom nerde",
            "merhaba",
            "tesekkurler",
        ] {
            assert_eq!(detect(t).code, "tr", "{t}");
        }
        assert_eq!(detect("IŞIK").code, "tr");
        assert_eq!(detect("salam, necəsən").code, "az");
    }
}
