//! Turkish-aware text normalisation for understanding (never for display).
//!
//! Three steps, each usable on its own:
//!
//! - [`clean`]: input hygiene. Invisible characters (zero-width, bidi
//!   controls, tag characters, variation selectors, other control
//!   characters) are removed, the text is NFKC-normalised (fullwidth `１２３`
//!   becomes `123`, ligatures are split), whitespace runs collapse to one
//!   space, and the result is cut at [`MAX_CHARS`] characters. The original
//!   message is kept elsewhere; this is only what the models read.
//! - [`lower_tr`]: Turkish lowercase: `İ → i`, `I → ı`, everything else by
//!   Unicode rules. Rust's `to_lowercase` maps `I → i` and `İ → i̇` (two
//!   characters), both wrong for Turkish, so it is never called on those two.
//! - [`fold`]: the matching key. `clean`, then `lower_tr`, then the
//!   ASCII-deaccented form (`ş→s ç→c ğ→g ü→u ö→o ı→i`, any other combining
//!   mark dropped: `â→a`), so that text typed without Turkish letters matches
//!   text typed with them. Elongations are squeezed, punctuation becomes
//!   spaces and emoji become their own tokens.
//!
//! ## Folding rules worth knowing
//!
//! - **Squeezing**: a run of three or more of the same letter becomes one
//!   (`çokkkk → cok`, `merhabaaaa → merhaba`); a doubled letter at the end of
//!   a word becomes one (`evett → evet`, `tamamm → tamam`). A doubled letter
//!   inside a word is kept, because Turkish has real geminates there (`saat`,
//!   `dikkat`, `hakkında`). Digits are never squeezed (`1000` stays).
//! - **Apostrophes** join (`İstanbul'a → istanbula`), because most people
//!   write the suffix without one and both forms should meet.
//! - **Emoji** are kept, one token each, repeated ones squeezed
//!   (`tşk🙏🙏🙏 → tsk 🙏`); skin-tone modifiers and joiners are dropped. They
//!   carry intent in chat (`🙏` thanks, `👍` yes, `😡` complaint), so the
//!   classifier sees them as features. A message with no letters or digits at
//!   all (emoji-only, punctuation-only) is still treated as "nothing to
//!   understand" by [`crate::Nlu::classify`]; see [`has_content`].
//! - Every other non-alphanumeric character becomes a space.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The most characters [`clean`] (and so [`fold`]) keeps.
pub const MAX_CHARS: usize = 1000;

/// Input hygiene for understanding: invisible characters removed, NFKC,
/// whitespace collapsed, trimmed, cut at [`MAX_CHARS`] characters.
pub fn clean(text: &str) -> String {
    // Bound the work before NFKC: a character expands to a handful at most,
    // and whitespace collapse shrinks, so 4× the bound is plenty.
    let visible: String = text
        .chars()
        .filter(|&c| !is_invisible(c))
        .take(MAX_CHARS * 4)
        .collect();
    let mut out = String::with_capacity(visible.len().min(MAX_CHARS * 2));
    let mut count = 0usize;
    let mut pending_space = false;
    for c in visible.nfkc() {
        if is_invisible(c) {
            // NFKC can surface nothing new here, but stay safe.
            continue;
        }
        if c.is_whitespace() {
            pending_space = count > 0;
            continue;
        }
        if pending_space {
            if count + 1 >= MAX_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= MAX_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Turkish lowercase only (`İ → i`, `I → ı`), no accent stripping.
///
/// A decomposed `I` + combining dot above (U+0307) is read as `İ → i`.
pub fn lower_tr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            'İ' => out.push('i'),
            'I' => {
                if chars.peek() == Some(&'\u{0307}') {
                    chars.next();
                    out.push('i');
                } else {
                    out.push('ı');
                }
            }
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Turkish-aware folding for matching and features: [`clean`], [`lower_tr`],
/// ASCII-deaccented, elongations squeezed, punctuation to spaces, emoji as
/// separate tokens. See the module docs for the exact rules.
pub fn fold(text: &str) -> String {
    let lowered = lower_tr(&clean(text));
    // Deaccent: Turkish letters by table, everything else by dropping
    // combining marks after canonical decomposition.
    let mut base = String::with_capacity(lowered.len());
    for c in lowered.nfd() {
        match c {
            'ş' => base.push('s'),
            'ç' => base.push('c'),
            'ğ' => base.push('g'),
            'ü' => base.push('u'),
            'ö' => base.push('o'),
            'ı' => base.push('i'),
            '\'' | '’' | '‘' | '`' | '´' | 'ʼ' => {} // apostrophes join
            c if is_combining_mark(c) => {}
            c => base.push(c),
        }
    }
    // Tokenise: alphanumeric runs are words; each emoji is a token; anything
    // else separates.
    let mut tokens: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in base.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            if !word.is_empty() {
                tokens.push(squeeze(&word));
                word.clear();
            }
            if is_emoji(c) {
                let e = c.to_string();
                if tokens.last() != Some(&e) {
                    tokens.push(e);
                }
            }
        }
    }
    if !word.is_empty() {
        tokens.push(squeeze(&word));
    }
    tokens.join(" ")
}

/// Whether a text has anything to understand: at least one letter or digit
/// after [`clean`]. Empty, whitespace-only, emoji-only and punctuation-only
/// messages have none.
pub fn has_content(text: &str) -> bool {
    clean(text).chars().any(char::is_alphanumeric)
}

/// Squeeze elongations in one word (see the module docs).
fn squeeze(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i + 1;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        let keep = if c.is_numeric() || run == 1 {
            run
        } else if run >= 3 || j == chars.len() {
            1
        } else {
            2
        };
        for _ in 0..keep {
            out.push(c);
        }
        i = j;
    }
    out
}

/// Characters that render as nothing (or only steer rendering) and must not
/// split or alter words: zero-width, bidi controls, tags, variation
/// selectors, soft hyphen and other control/format characters except
/// ordinary whitespace.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // Arabic letter mark
        | '\u{115F}' | '\u{1160}'       // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'       // Mongolian selectors, vowel separator
        | '\u{200B}'..='\u{200F}'       // ZWSP, ZWNJ, ZWJ, LRM, RLM
        | '\u{202A}'..='\u{202E}'       // bidi embeddings / overrides
        | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
        | '\u{3164}'                    // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'       // variation selectors
        | '\u{FEFF}'                    // BOM / ZWNBSP
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1D173}'..='\u{1D17A}'     // musical formatting
        | '\u{E0000}'..='\u{E007F}'     // tag characters
        | '\u{E0100}'..='\u{E01EF}'     // variation selectors supplement
    ) || (c.is_control() && !c.is_whitespace())
}

/// Pictographic emoji (not digits, `#` or `*`, which Unicode also lists as
/// emoji bases). Skin-tone modifiers are not emoji here: they are dropped.
fn is_emoji(c: char) -> bool {
    if ('\u{1F3FB}'..='\u{1F3FF}').contains(&c) {
        return false;
    }
    matches!(c,
        '\u{1F000}'..='\u{1FAFF}'       // pictographs, emoticons, transport, flags, symbols
        | '\u{2600}'..='\u{27BF}'       // misc symbols, dingbats (❤ ✅ ☺)
        | '\u{2300}'..='\u{23FF}'       // ⌚ ⏰
        | '\u{2B00}'..='\u{2BFF}'       // ⭐ ⬆
        | '\u{2190}'..='\u{21FF}'       // arrows
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
        | '\u{00A9}' | '\u{00AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istanbul_folds_alike_in_every_case() {
        let a = fold("İSTANBUL");
        assert_eq!(a, "istanbul");
        assert_eq!(fold("istanbul"), a);
        assert_eq!(fold("ISTANBUL"), a);
        assert_eq!(fold("İstanbul"), a);
        assert_eq!(fold("Istanbul"), a);
    }

    #[test]
    fn lower_tr_uses_turkish_rules() {
        assert_eq!(lower_tr("IŞIK"), "ışık");
        assert_eq!(lower_tr("İSTANBUL"), "istanbul");
        assert_eq!(lower_tr("ISPARTA"), "ısparta");
        assert_eq!(lower_tr("ÇĞÖŞÜ"), "çğöşü");
        // No combining dot left behind (Rust's to_lowercase gives "i\u{307}").
        assert_eq!(lower_tr("İ").chars().count(), 1);
        // Decomposed I + dot above reads as İ.
        assert_eq!(lower_tr("I\u{0307}ZMIR"), "izmır");
        assert_eq!(lower_tr("already lower"), "already lower");
    }

    #[test]
    fn fold_deaccents_turkish_letters() {
        assert_eq!(fold("IŞIK"), "isik");
        assert_eq!(fold("teşekkürler"), fold("tesekkurler"));
        assert_eq!(fold("Teşekkürler"), "tesekkurler");
        assert_eq!(fold("çok güzel öğretmen"), "cok guzel ogretmen");
        assert_eq!(fold("Kaça kadar açıksınız?"), "kaca kadar aciksiniz");
        assert_eq!(fold("kâr hâlâ"), "kar hala");
    }

    #[test]
    fn fold_keeps_nerde_and_nerede_apart_but_clean() {
        // Spelling variants are left to the classifier's character n-grams;
        // folding only makes them comparable.
        assert_eq!(fold("Kargom nerde??"), "kargom nerde");
        assert_eq!(fold("KARGOM NEREDE"), "kargom nerede");
    }

    #[test]
    fn fold_squeezes_elongations() {
        assert_eq!(fold("çokkkk"), "cok");
        assert_eq!(fold("merhabaaaa"), "merhaba");
        assert_eq!(fold("evett"), "evet");
        assert_eq!(fold("tamamm"), "tamam");
        // Real geminates survive.
        assert_eq!(fold("saat"), "saat");
        assert_eq!(fold("dikkat"), "dikkat");
        assert_eq!(fold("hakkında"), "hakkinda");
        // Digits are never squeezed.
        assert_eq!(fold("1000 TL"), "1000 tl");
        assert_eq!(fold("0555 111 22 33"), "0555 111 22 33");
    }

    #[test]
    fn fold_punctuation_and_apostrophes() {
        assert_eq!(fold("İstanbul'a gelmek!!!"), "istanbula gelmek");
        assert_eq!(fold("...merhaba,,,nasılsın?"), "merhaba nasilsin");
        assert_eq!(fold("7/24 açık mı"), "7 24 acik mi");
        assert_eq!(fold("?!.,;:"), "");
    }

    #[test]
    fn zero_width_chars_do_not_split_words() {
        assert_eq!(fold("mer\u{200B}haba"), "merhaba");
        assert_eq!(fold("te\u{200C}şek\u{200D}kür\u{FEFF}ler"), "tesekkurler");
        assert_eq!(clean("ip\u{00AD}tal"), "iptal");
        assert_eq!(clean("\u{2060}STOP\u{2060}"), "STOP");
    }

    #[test]
    fn bidi_and_tag_chars_are_removed() {
        assert_eq!(clean("\u{200F}iptal\u{200E}"), "iptal");
        assert_eq!(clean("\u{202E}lato\u{202C}"), "lato");
        assert_eq!(clean("\u{2067}merhaba\u{2069}"), "merhaba");
        assert_eq!(clean("ret\u{E0072}\u{E007F}"), "ret");
    }

    #[test]
    fn fullwidth_digits_and_letters_normalise() {
        assert_eq!(clean("１２３"), "123");
        assert_eq!(clean("ＳＴＯＰ"), "STOP");
        assert_eq!(fold("ＩＰＴＡＬ"), "iptal");
        assert_eq!(clean("ﬁyat"), "fiyat");
    }

    #[test]
    fn whitespace_collapses() {
        assert_eq!(
            clean("  merhaba \n\t  nasılsınız\u{00A0}\u{3000}?  "),
            "merhaba nasılsınız ?"
        );
        assert_eq!(clean("   "), "");
        assert_eq!(fold("\n\n"), "");
    }

    #[test]
    fn emoji_become_tokens() {
        assert_eq!(fold("tşk🙏🙏🙏"), "tsk 🙏");
        assert_eq!(fold("👍"), "👍");
        assert_eq!(fold("süper👍🏽"), "super 👍");
        assert_eq!(fold("❤️❤️ teşekkürler"), "❤ tesekkurler");
        assert_eq!(fold("😡😡 rezalet"), "😡 rezalet");
        assert!(!has_content("🙏🙏"));
        assert!(!has_content("?!..."));
        assert!(!has_content("  \u{200B} "));
        assert!(has_content("ok 👍"));
        assert!(has_content("1"));
    }

    #[test]
    fn long_input_is_bounded() {
        let long = "a".repeat(100_000);
        assert_eq!(clean(&long).chars().count(), MAX_CHARS);
        let words = "merhaba ".repeat(50_000);
        let c = clean(&words);
        assert!(c.chars().count() <= MAX_CHARS);
        assert!(!c.ends_with(' '));
        assert!(fold(&words).chars().count() <= MAX_CHARS);
        let turkish = "İŞÇĞÜÖ".repeat(10_000);
        assert_eq!(clean(&turkish).chars().count(), MAX_CHARS);
        assert!(fold(&turkish).chars().count() <= MAX_CHARS);
    }

    #[test]
    fn fold_is_idempotent() {
        for s in [
            "İSTANBUL'a gittim!!",
            "çokkkk güzel 🙏🙏",
            "Ｋａｒｇｏｍ nerde",
            "IŞIK",
            "saat 09:00",
        ] {
            let once = fold(s);
            assert_eq!(fold(&once), once, "{s}");
        }
    }
}
