//! Gazetteers: treatments (tr/en/de/ru synonyms and spelling variants →
//! the spec's canonical values), the 81 Turkish provinces (with ASCII
//! variants and suffixes: `İstanbul'da`, `istanbuldan`, `Muğla`/`mugla`),
//! and countries by name in tr/en/de/ru → ISO 3166-1 alpha-2.
//!
//! Matching runs over the Turkish-folded text, so `SAÇ EKİMİ`, `sac ekimi`
//! and `Saç Ekimi` are one key; the last word may carry a Turkish (or
//! Russian/German) suffix when it has at least five letters
//! (`implantlarım`, `Almanyadan`, `Германии`).

use std::sync::LazyLock;

use serde::Serialize;

use super::{Doc, Found, Gazetteer};

/// The canonical treatments of `spec/intents.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    // dental
    Implant,
    ZirconiaCrown,
    LaminateVeneer,
    TeethWhitening,
    Orthodontics,
    ClearAligner,
    RootCanal,
    Extraction,
    WisdomTooth,
    Scaling,
    Filling,
    Bridge,
    Denture,
    AllOnFour,
    SmileDesign,
    // aesthetic
    Rhinoplasty,
    HairTransplant,
    BeardTransplant,
    Botox,
    Filler,
    Liposuction,
    Bbl,
    BreastAugmentation,
    BreastReduction,
    Blepharoplasty,
    Facelift,
    TummyTuck,
    GastricSleeve,
    Prp,
    LaserHairRemoval,
}

impl Treatment {
    /// The spec's name (`zirconia_crown`).
    pub fn as_str(self) -> &'static str {
        use Treatment::*;
        match self {
            Implant => "implant",
            ZirconiaCrown => "zirconia_crown",
            LaminateVeneer => "laminate_veneer",
            TeethWhitening => "teeth_whitening",
            Orthodontics => "orthodontics",
            ClearAligner => "clear_aligner",
            RootCanal => "root_canal",
            Extraction => "extraction",
            WisdomTooth => "wisdom_tooth",
            Scaling => "scaling",
            Filling => "filling",
            Bridge => "bridge",
            Denture => "denture",
            AllOnFour => "all_on_four",
            SmileDesign => "smile_design",
            Rhinoplasty => "rhinoplasty",
            HairTransplant => "hair_transplant",
            BeardTransplant => "beard_transplant",
            Botox => "botox",
            Filler => "filler",
            Liposuction => "liposuction",
            Bbl => "bbl",
            BreastAugmentation => "breast_augmentation",
            BreastReduction => "breast_reduction",
            Blepharoplasty => "blepharoplasty",
            Facelift => "facelift",
            TummyTuck => "tummy_tuck",
            GastricSleeve => "gastric_sleeve",
            Prp => "prp",
            LaserHairRemoval => "laser_hair_removal",
        }
    }
}

/// A gazetteer value for treatments: a treatment, or the ambiguous Turkish
/// "dolgu" (dental filling or aesthetic filler).
#[derive(Clone, Copy)]
enum TKey {
    T(Treatment),
    Dolgu,
}

const TREATMENTS: &[(Treatment, &[&str])] = {
    use Treatment::*;
    &[
        (
            Implant,
            &[
                "implant",
                "implants",
                "implantat",
                "implantate",
                "dental implant",
                "zahnimplantat",
                "diş implantı",
                "имплант",
                "импланты",
                "имплантация",
            ],
        ),
        (
            ZirconiaCrown,
            &[
                "zirkonyum",
                "zirkon",
                "zirconia",
                "zirconium",
                "zirconium crown",
                "zirconia crown",
                "zirkonkrone",
                "zirkonyum kaplama",
                "циркон",
                "циркониевые коронки",
                "коронки из циркония",
            ],
        ),
        (
            LaminateVeneer,
            &[
                "lamina",
                "laminate",
                "laminat",
                "laminate veneer",
                "yaprak porselen",
                "veneer",
                "porcelain veneer",
                "e-max lamina",
                "винир",
                "венир",
            ],
        ),
        (
            TeethWhitening,
            &[
                "diş beyazlatma",
                "beyazlatma",
                "bleaching",
                "teeth whitening",
                "tooth whitening",
                "whitening",
                "zahnaufhellung",
                "отбеливание",
                "отбеливание зубов",
            ],
        ),
        (
            Orthodontics,
            &[
                "ortodonti",
                "ortodontik tedavi",
                "diş teli",
                "tel tedavisi",
                "braces",
                "zahnspange",
                "брекеты",
                "брекет",
                "ортодонт",
            ],
        ),
        (
            ClearAligner,
            &[
                "şeffaf plak",
                "invisalign",
                "clear aligner",
                "aligner",
                "aligners",
                "unsichtbare zahnspange",
                "элайнеры",
                "элайнер",
            ],
        ),
        (
            RootCanal,
            &[
                "kanal tedavisi",
                "kanal tedavi",
                "root canal",
                "wurzelbehandlung",
                "лечение каналов",
                "лечение канала",
            ],
        ),
        (
            Extraction,
            &[
                "diş çekimi",
                "diş çektirmek",
                "diş çekme",
                "tooth extraction",
                "extraction",
                "zahnextraktion",
                "zahn ziehen",
                "удаление зуба",
                "удалить зуб",
            ],
        ),
        (
            WisdomTooth,
            &[
                "20 yaş dişi",
                "20 lik diş",
                "yirmilik diş",
                "yirmilik",
                "akıl dişi",
                "wisdom tooth",
                "wisdom teeth",
                "weisheitszahn",
                "weisheitszähne",
                "зуб мудрости",
            ],
        ),
        (
            Scaling,
            &[
                "diş taşı",
                "diş taşı temizliği",
                "detartraj",
                "scaling",
                "teeth cleaning",
                "dental cleaning",
                "zahnsteinentfernung",
                "zahnreinigung",
                "чистка зубов",
            ],
        ),
        (
            Filling,
            &[
                "diş dolgusu",
                "kompozit dolgu",
                "filling",
                "fillings",
                "füllung",
                "zahnfüllung",
                "plombe",
                "пломба",
                "пломбу",
            ],
        ),
        (
            Bridge,
            &[
                "diş köprüsü",
                "köprü protez",
                "köprü kaplama",
                "dental bridge",
                "bridge",
                "zahnbrücke",
                "brücke",
                "зубной мост",
            ],
        ),
        (
            Denture,
            &[
                "protez",
                "takma diş",
                "total protez",
                "denture",
                "dentures",
                "zahnprothese",
                "prothese",
                "протез",
                "протезы",
            ],
        ),
        (
            AllOnFour,
            &["all on four", "all on 4", "allon4", "all-on-4"],
        ),
        (
            SmileDesign,
            &[
                "gülüş tasarımı",
                "gülüş estetiği",
                "smile design",
                "hollywood smile",
                "hollywood gülüşü",
                "smile makeover",
            ],
        ),
        (
            Rhinoplasty,
            &[
                "burun estetiği",
                "burun ameliyatı",
                "rinoplasti",
                "rhinoplasty",
                "nose job",
                "nasenkorrektur",
                "nasen op",
                "nasenoperation",
                "ринопластика",
                "ринопласт",
            ],
        ),
        (
            HairTransplant,
            &[
                "saç ekimi",
                "saç ektirmek",
                "saç nakli",
                "hair transplant",
                "hair transplantation",
                "fue",
                "dhi",
                "haartransplantation",
                "haartransplantation",
                "пересадка волос",
                "трансплантация волос",
            ],
        ),
        (
            BeardTransplant,
            &[
                "sakal ekimi",
                "beard transplant",
                "barttransplantation",
                "bart transplantation",
                "пересадка бороды",
            ],
        ),
        (Botox, &["botoks", "botox", "ботокс"]),
        (
            Filler,
            &[
                "dudak dolgusu",
                "yüz dolgusu",
                "elmacık dolgusu",
                "lip filler",
                "filler",
                "fillers",
                "dermal filler",
                "hyaluron",
                "hyaluronsäure",
                "lippenaufspritzung",
                "филлер",
                "филлеры",
            ],
        ),
        (
            Liposuction,
            &[
                "liposuction",
                "liposakşın",
                "liposakşin",
                "liposakşon",
                "lipo",
                "yağ aldırma",
                "fettabsaugung",
                "липосакция",
            ],
        ),
        (
            Bbl,
            &[
                "bbl",
                "brazilian butt lift",
                "brezilya poposu",
                "popo estetiği",
                "kalça estetiği",
            ],
        ),
        (
            BreastAugmentation,
            &[
                "meme büyütme",
                "göğüs büyütme",
                "meme protezi",
                "breast augmentation",
                "boob job",
                "breast implants",
                "brustvergrößerung",
                "увеличение груди",
            ],
        ),
        (
            BreastReduction,
            &[
                "meme küçültme",
                "göğüs küçültme",
                "breast reduction",
                "brustverkleinerung",
                "уменьшение груди",
            ],
        ),
        (
            Blepharoplasty,
            &[
                "göz kapağı estetiği",
                "göz kapağı ameliyatı",
                "blefaroplasti",
                "blepharoplasty",
                "eyelid surgery",
                "lidstraffung",
                "блефаропластика",
            ],
        ),
        (
            Facelift,
            &[
                "yüz germe",
                "facelift",
                "face lift",
                "facelifting",
                "подтяжка лица",
            ],
        ),
        (
            TummyTuck,
            &[
                "karın germe",
                "abdominoplasti",
                "tummy tuck",
                "abdominoplasty",
                "bauchdeckenstraffung",
                "абдоминопластика",
            ],
        ),
        (
            GastricSleeve,
            &[
                "tüp mide",
                "mide küçültme",
                "gastric sleeve",
                "sleeve gastrectomy",
                "magenverkleinerung",
                "schlauchmagen",
                "рукавная гастрэктомия",
            ],
        ),
        (
            Prp,
            &[
                "prp",
                "platelet rich plasma",
                "plazma tedavisi",
                "плазмолифтинг",
            ],
        ),
        (
            LaserHairRemoval,
            &[
                "lazer epilasyon",
                "epilasyon",
                "laser hair removal",
                "laser haarentfernung",
                "laserhaarentfernung",
                "лазерная эпиляция",
            ],
        ),
    ]
};

static TREATMENT_GAZ: LazyLock<Gazetteer<TKey>> = LazyLock::new(|| {
    let mut g = Gazetteer::new(5, 7);
    for (t, names) in TREATMENTS {
        for name in *names {
            g.add(name, TKey::T(*t));
        }
    }
    g.add("dolgu", TKey::Dolgu);
    g
});

/// Treatments named in a message. `dolgu` alone is a dental `filling` for a
/// `dental` tenant or when teeth are mentioned, an aesthetic `filler` for an
/// `aesthetic` tenant or next to lips/face words, `filling` otherwise.
pub fn treatment(doc: &Doc, niche: &str) -> Vec<Found<Treatment>> {
    let matches = TREATMENT_GAZ.find(doc);
    let mut out = Vec::new();
    for (i, j, key) in matches {
        let t = match key {
            TKey::T(t) => t,
            TKey::Dolgu => dolgu(doc, niche),
        };
        out.push(doc.found(t, doc.tok_span(i, j)));
    }
    out
}

fn dolgu(doc: &Doc, niche: &str) -> Treatment {
    match niche {
        "dental" => return Treatment::Filling,
        "aesthetic" => return Treatment::Filler,
        _ => {}
    }
    let n = doc.toks.len();
    let aesthetic = (0..n).any(|i| {
        doc.starts(
            i,
            &[
                "dudak", "duda", "yuz", "elmacik", "yanak", "cene", "gozalt", "lip", "cheek",
                "botoks", "botox", "hyaluron",
            ],
        )
    });
    let dental = (0..n).any(|i| {
        doc.starts(
            i,
            &["dis", "tooth", "teeth", "zahn", "çürük", "curuk", "kanal"],
        )
    });
    if aesthetic && !dental {
        Treatment::Filler
    } else {
        Treatment::Filling
    }
}

/// A Turkish province: its name with Turkish letters and its plate code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct City {
    pub name: &'static str,
    pub plate: u8,
}

/// The 81 provinces in plate-code order.
pub const PROVINCES: [&str; 81] = [
    "Adana",
    "Adıyaman",
    "Afyonkarahisar",
    "Ağrı",
    "Amasya",
    "Ankara",
    "Antalya",
    "Artvin",
    "Aydın",
    "Balıkesir",
    "Bilecik",
    "Bingöl",
    "Bitlis",
    "Bolu",
    "Burdur",
    "Bursa",
    "Çanakkale",
    "Çankırı",
    "Çorum",
    "Denizli",
    "Diyarbakır",
    "Edirne",
    "Elazığ",
    "Erzincan",
    "Erzurum",
    "Eskişehir",
    "Gaziantep",
    "Giresun",
    "Gümüşhane",
    "Hakkari",
    "Hatay",
    "Isparta",
    "Mersin",
    "İstanbul",
    "İzmir",
    "Kars",
    "Kastamonu",
    "Kayseri",
    "Kırklareli",
    "Kırşehir",
    "Kocaeli",
    "Konya",
    "Kütahya",
    "Malatya",
    "Manisa",
    "Kahramanmaraş",
    "Mardin",
    "Muğla",
    "Muş",
    "Nevşehir",
    "Niğde",
    "Ordu",
    "Rize",
    "Sakarya",
    "Samsun",
    "Siirt",
    "Sinop",
    "Sivas",
    "Tekirdağ",
    "Tokat",
    "Trabzon",
    "Tunceli",
    "Şanlıurfa",
    "Uşak",
    "Van",
    "Yozgat",
    "Zonguldak",
    "Aksaray",
    "Bayburt",
    "Karaman",
    "Kırıkkale",
    "Batman",
    "Şırnak",
    "Bartın",
    "Ardahan",
    "Iğdır",
    "Yalova",
    "Karabük",
    "Kilis",
    "Osmaniye",
    "Düzce",
];

/// Province names that are also common words or names (`ağrı` "pain",
/// `ordu` "army", `tokat` "slap", `van`, `muş`, `kars`, `aydın`, `batman`,
/// `uşak`, `bolu`, `rize`, `sinop`, `kilis`): matched only when written
/// with a capital.
const AMBIGUOUS: &[&str] = &[
    "agri", "ordu", "tokat", "van", "mus", "kars", "aydin", "batman", "usak", "bolu", "rize",
    "sinop", "kilis", "hatay", "mardin", "siirt",
];

/// Other names of provinces (old names, short forms, other languages).
const CITY_ALIASES: &[(&str, u8)] = &[
    ("afyon", 3),
    ("antep", 27),
    ("icel", 33),
    ("izmit", 41),
    ("maras", 46),
    ("k maras", 46),
    ("adapazari", 54),
    ("urfa", 63),
    ("istanbul", 34),
    ("constantinople", 34),
    ("стамбул", 34),
    ("анкара", 6),
    ("анталья", 7),
    ("анталия", 7),
    ("измир", 35),
    ("бурса", 16),
    ("трабзон", 61),
];

static CITY_GAZ: LazyLock<Gazetteer<(u8, bool)>> = LazyLock::new(|| {
    let mut g = Gazetteer::new(5, 6);
    for (k, name) in PROVINCES.iter().enumerate() {
        let folded = crate::normalize::fold(name);
        g.add(name, ((k + 1) as u8, AMBIGUOUS.contains(&folded.as_str())));
    }
    for (name, plate) in CITY_ALIASES {
        g.add(name, (*plate, false));
    }
    g
});

/// Turkish provinces named in a message.
pub fn city(doc: &Doc) -> Vec<Found<City>> {
    let mut out = Vec::new();
    for (i, j, (plate, needs_capital)) in CITY_GAZ.find(doc) {
        if needs_capital && !doc.raw(i).starts_with(char::is_uppercase) {
            continue;
        }
        let name = PROVINCES[plate as usize - 1];
        out.push(doc.found(City { name, plate }, doc.tok_span(i, j)));
    }
    out
}

const COUNTRIES: &[(&str, &[&str])] = &[
    (
        "DE",
        &["almanya", "germany", "deutschland", "германия", "германи"],
    ),
    (
        "GB",
        &[
            "ingiltere",
            "birleşik krallık",
            "uk",
            "united kingdom",
            "england",
            "britain",
            "great britain",
            "scotland",
            "wales",
            "großbritannien",
            "grossbritannien",
            "vereinigtes königreich",
            "англия",
            "англи",
            "великобритания",
            "великобритани",
        ],
    ),
    (
        "NL",
        &[
            "hollanda",
            "netherlands",
            "the netherlands",
            "holland",
            "niederlande",
            "nederland",
            "нидерланды",
            "нидерланд",
            "голландия",
            "голланди",
        ],
    ),
    (
        "FR",
        &["fransa", "france", "frankreich", "франция", "франци"],
    ),
    (
        "BE",
        &[
            "belçika",
            "belgium",
            "belgien",
            "belgië",
            "бельгия",
            "бельги",
        ],
    ),
    (
        "AT",
        &["avusturya", "austria", "österreich", "австрия", "австри"],
    ),
    (
        "CH",
        &["isviçre", "switzerland", "schweiz", "швейцария", "швейцари"],
    ),
    (
        "RU",
        &["rusya", "russia", "russland", "россия", "росси", "рф"],
    ),
    (
        "UA",
        &["ukrayna", "ukraine", "украина", "украин", "україна"],
    ),
    (
        "US",
        &[
            "amerika",
            "abd",
            "usa",
            "united states",
            "america",
            "vereinigte staaten",
            "сша",
            "америка",
            "америк",
        ],
    ),
    ("CA", &["kanada", "canada", "канада"]),
    (
        "AU",
        &[
            "avustralya",
            "australia",
            "australien",
            "австралия",
            "австрали",
        ],
    ),
    ("IE", &["irlanda", "ireland", "irland", "ирландия"]),
    ("SE", &["isveç", "sweden", "schweden", "швеция", "швеци"]),
    (
        "NO",
        &["norveç", "norway", "norwegen", "норвегия", "норвеги"],
    ),
    ("DK", &["danimarka", "denmark", "dänemark", "дания"]),
    ("FI", &["finlandiya", "finland", "finnland", "финляндия"]),
    ("IT", &["italya", "italy", "italien", "италия", "итали"]),
    ("ES", &["ispanya", "spain", "spanien", "испания", "испани"]),
    ("PT", &["portekiz", "portugal", "португалия"]),
    ("PL", &["polonya", "poland", "polen", "польша", "польш"]),
    (
        "GR",
        &["yunanistan", "greece", "griechenland", "греция", "греци"],
    ),
    (
        "BG",
        &[
            "bulgaristan",
            "bulgaria",
            "bulgarien",
            "болгария",
            "болгари",
        ],
    ),
    ("RO", &["romanya", "romania", "rumänien", "румыния"]),
    (
        "CZ",
        &[
            "çekya",
            "çek cumhuriyeti",
            "czech republic",
            "czechia",
            "tschechien",
            "чехия",
        ],
    ),
    ("HU", &["macaristan", "hungary", "ungarn", "венгрия"]),
    ("CY", &["kıbrıs", "cyprus", "zypern", "кипр"]),
    ("LU", &["lüksemburg", "luxembourg", "luxemburg"]),
    (
        "AZ",
        &["azerbaycan", "azerbaijan", "aserbaidschan", "азербайджан"],
    ),
    (
        "KZ",
        &["kazakistan", "kazakhstan", "kasachstan", "казахстан"],
    ),
    (
        "UZ",
        &["özbekistan", "uzbekistan", "usbekistan", "узбекистан"],
    ),
    ("GE", &["gürcistan", "georgien", "грузия", "грузи"]),
    (
        "BY",
        &[
            "belarus",
            "beyaz rusya",
            "weißrussland",
            "беларусь",
            "белоруссия",
        ],
    ),
    ("IL", &["israil", "israel", "израиль"]),
    (
        "SA",
        &[
            "suudi arabistan",
            "saudi arabia",
            "saudi-arabien",
            "саудовская аравия",
        ],
    ),
    (
        "AE",
        &[
            "birleşik arap emirlikleri",
            "bae",
            "uae",
            "united arab emirates",
            "dubai",
            "dubaj",
            "vereinigte arabische emirate",
            "оаэ",
            "дубай",
        ],
    ),
    ("QA", &["katar", "qatar", "катар"]),
    ("KW", &["kuveyt", "kuwait", "кувейт"]),
    ("IQ", &["irak", "iraq", "ирак"]),
    ("IR", &["iran", "иран"]),
    ("SY", &["suriye", "syria", "syrien", "сирия"]),
    ("EG", &["mısır", "egypt", "ägypten", "египет"]),
    ("LY", &["libya", "libyen", "ливия"]),
    ("DZ", &["cezayir", "algeria", "algerien", "алжир"]),
    ("MA", &["fas", "morocco", "marokko", "марокко"]),
    ("TN", &["tunus", "tunisia", "tunesien", "тунис"]),
    ("JO", &["ürdün", "jordan", "jordanien", "иордания"]),
    ("LB", &["lübnan", "lebanon", "libanon", "ливан"]),
    (
        "TR",
        &["türkiye", "turkey", "türkei", "turkiye", "турция", "турци"],
    ),
    ("CN", &["çin", "china", "китай"]),
    ("IN", &["hindistan", "india", "indien", "индия"]),
    ("PK", &["pakistan", "пакистан"]),
    ("NG", &["nijerya", "nigeria"]),
];

static COUNTRY_GAZ: LazyLock<Gazetteer<&'static str>> = LazyLock::new(|| {
    let mut g = Gazetteer::new(5, 5);
    for (code, names) in COUNTRIES {
        for name in *names {
            g.add(name, *code);
        }
    }
    g
});

/// Countries named in a message (ISO 3166-1 alpha-2). `UK`, `ABD`, `BAE`,
/// `USA`, `UAE` must be written in capitals.
pub fn country(doc: &Doc) -> Vec<Found<String>> {
    let mut out = Vec::new();
    for (i, j, code) in COUNTRY_GAZ.find(doc) {
        let raw = doc.raw(i);
        let acronym =
            i == j && raw.chars().count() <= 3 && !raw.starts_with(|c: char| !c.is_ascii());
        if acronym && !raw.chars().all(|c| c.is_uppercase()) {
            continue;
        }
        out.push(doc.found(code.to_owned(), doc.tok_span(i, j)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Treatment::*;

    fn t(text: &str, niche: &str) -> Vec<Treatment> {
        treatment(&Doc::new(text), niche)
            .into_iter()
            .map(|f| f.value)
            .collect()
    }

    #[test]
    fn treatments_in_four_languages() {
        let cases: &[(&str, Treatment)] = &[
            ("implant fiyatı", Implant),
            ("implantlar ne kadar", Implant),
            ("İMPLANT", Implant),
            ("сколько стоит имплант", Implant),
            ("импланты", Implant),
            ("zirkonyum kaplama kaç seansta biter", ZirconiaCrown),
            ("zirconium crown price", ZirconiaCrown),
            ("Zirkonkrone Preis", ZirconiaCrown),
            ("Zirkonkronen", ZirconiaCrown),
            ("lamina fiyatları", LaminateVeneer),
            ("veneers", LaminateVeneer),
            ("saç ekimi", HairTransplant),
            ("sac ekimi", HairTransplant),
            ("SAÇ EKİMİ fiyatı", HairTransplant),
            ("how much is a hair transplant", HairTransplant),
            ("Haartransplantation", HairTransplant),
            ("пересадка волос", HairTransplant),
            ("burun estetiği", Rhinoplasty),
            ("burun estetigi", Rhinoplasty),
            ("rinoplasti", Rhinoplasty),
            ("is rhinoplasty painful", Rhinoplasty),
            ("nose job", Rhinoplasty),
            ("botoks", Botox),
            ("liposuction", Liposuction),
            ("liposakşın", Liposuction),
            ("tüp mide", GastricSleeve),
            ("tup mide ameliyati", GastricSleeve),
            ("gastric sleeve", GastricSleeve),
            ("kanal tedavisi", RootCanal),
            ("20 yaş dişi", WisdomTooth),
            ("20lik diş", WisdomTooth),
            ("akıl dişim", WisdomTooth),
            ("all on 4", AllOnFour),
            ("All-on-4", AllOnFour),
            ("diş beyazlatma", TeethWhitening),
            ("şeffaf plak", ClearAligner),
            ("Invisalign", ClearAligner),
            ("meme protezi", BreastAugmentation),
            ("lazer epilasyon", LaserHairRemoval),
            ("dudak dolgusu", Filler),
            ("diş dolgusu", Filling),
            ("gülüş tasarımı", SmileDesign),
            ("sakal ekimi", BeardTransplant),
        ];
        let mut wrong = Vec::new();
        for (text, want) in cases {
            let got = t(text, "health");
            if got != [*want] {
                wrong.push(format!("{text:?} → {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn dolgu_depends_on_niche_and_context() {
        assert_eq!(t("dolgu fiyatı", "dental"), [Filling]);
        assert_eq!(t("dolgu fiyatı", "aesthetic"), [Filler]);
        assert_eq!(t("dişime dolgu", "health"), [Filling]);
        assert_eq!(t("dudağa dolgu", "health"), [Filler]);
        assert_eq!(t("dolgu", "health"), [Filling]);
    }

    #[test]
    fn no_treatment_in_plain_text() {
        assert!(t("merhaba kargom nerede", "ecommerce").is_empty());
        assert!(t("köprüden geçtim", "dental").is_empty());
    }

    fn cities(text: &str) -> Vec<&'static str> {
        city(&Doc::new(text))
            .into_iter()
            .map(|f| f.value.name)
            .collect()
    }

    #[test]
    fn cities_with_ascii_variants_and_suffixes() {
        assert_eq!(cities("İstanbul"), ["İstanbul"]);
        assert_eq!(cities("istanbul"), ["İstanbul"]);
        assert_eq!(cities("ISTANBUL"), ["İstanbul"]);
        assert_eq!(cities("Istanbul'dayım"), ["İstanbul"]);
        assert_eq!(cities("istanbuldan geliyorum"), ["İstanbul"]);
        assert_eq!(cities("İzmir"), ["İzmir"]);
        assert_eq!(cities("izmir"), ["İzmir"]);
        assert_eq!(cities("Muğla"), ["Muğla"]);
        assert_eq!(cities("mugla"), ["Muğla"]);
        assert_eq!(cities("sanliurfa ve Eskisehir"), ["Şanlıurfa", "Eskişehir"]);
        assert_eq!(cities("Ağrı'dan"), ["Ağrı"]);
        assert_eq!(cities("Стамбул"), ["İstanbul"]);
        // Common words are not cities unless capitalised.
        assert!(cities("dişim çok ağrı yapıyor").is_empty());
        assert!(cities("ordu").is_empty());
        let f = city(&Doc::new("Ankara'da"));
        assert_eq!(f[0].value.plate, 6);
        assert_eq!(f[0].text, "Ankara");
    }

    fn countries(text: &str) -> Vec<String> {
        country(&Doc::new(text))
            .into_iter()
            .map(|f| f.value)
            .collect()
    }

    #[test]
    fn countries_in_four_languages() {
        assert_eq!(countries("Almanya'dan geliyorum"), ["DE"]);
        assert_eq!(countries("almanyadan"), ["DE"]);
        assert_eq!(countries("I live in Germany"), ["DE"]);
        assert_eq!(countries("aus Deutschland"), ["DE"]);
        assert_eq!(countries("Германия"), ["DE"]);
        assert_eq!(countries("я из Германии"), ["DE"]);
        assert_eq!(countries("from the UK"), ["GB"]);
        assert_eq!(countries("Hollanda"), ["NL"]);
        assert_eq!(countries("Österreich"), ["AT"]);
        assert_eq!(countries("I am from the United States"), ["US"]);
        assert!(countries("uk").is_empty());
    }
}
