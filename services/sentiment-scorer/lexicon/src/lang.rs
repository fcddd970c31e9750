//! Language identification restricted to the languages the scorer supports.
//!
//! Restricting the detector (whatlang with an allowlist) to the supported languages is what
//! makes it accurate on tweets: with 70 candidate languages a ten-word English tweet is easily
//! mistaken for Dutch or Latin, with two it almost never is. A vote on function words settles
//! the clear cases first (faster than the trigram model, and more accurate on tweets). Texts in
//! another script (Cyrillic, Arabic, CJK…) or with no letters at all are [`Language::Unknown`].

use std::fmt;
use std::sync::LazyLock;

use whatlang::{Detector, Lang, Script};

/// A language the scorer distinguishes. Adding one means adding a variant here, its entry in
/// [`Language::SUPPORTED`], its whatlang code in `to_whatlang`, and a rule set in the scorer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Language {
    /// English.
    En,
    /// French.
    Fr,
    /// Not identified or not supported; scored with the English rules as a fallback (emoji,
    /// emoticons and English loanwords still carry sentiment), never dropped.
    Unknown,
}

impl Language {
    /// The languages with their own lexicon and rules.
    pub const SUPPORTED: [Language; 2] = [Language::En, Language::Fr];

    /// ISO 639-1 code (`"und"` for [`Language::Unknown`], the BCP 47 code for undetermined).
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
            Language::Unknown => "und",
        }
    }

    /// Parses a platform language hint such as `"en"`, `"EN"`, `"fr-CA"`, `"fr_FR"`, `"eng"` or
    /// `"fra"`; `None` when absent from the supported languages.
    pub fn from_hint(hint: &str) -> Option<Language> {
        let primary = hint.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "en" | "eng" | "english" => Some(Language::En),
            "fr" | "fra" | "fre" | "french" => Some(Language::Fr),
            _ => None,
        }
    }

    fn to_whatlang(self) -> Option<Lang> {
        match self {
            Language::En => Some(Lang::Eng),
            Language::Fr => Some(Lang::Fra),
            Language::Unknown => None,
        }
    }

    fn from_whatlang(lang: Lang) -> Language {
        Language::SUPPORTED
            .into_iter()
            .find(|language| language.to_whatlang() == Some(lang))
            .unwrap_or(Language::Unknown)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code())
    }
}

static DETECTOR: LazyLock<Detector> = LazyLock::new(|| {
    Detector::with_allowlist(Language::SUPPORTED.iter().filter_map(|language| language.to_whatlang()).collect())
});

/// Identifies the language of `text`.
///
/// A supported platform `hint` wins (platforms know the author's setting and the detector is
/// weakest exactly on the short texts where a hint exists); an unsupported hint is ignored
/// rather than forcing [`Language::Unknown`], because users often leave it at a default.
/// Without a usable hint the text is classified among the supported languages when it is
/// written in the Latin script, and [`Language::Unknown`] otherwise.
pub fn detect_language(text: &str, hint: Option<&str>) -> Language {
    if let Some(language) = hint.and_then(Language::from_hint) {
        return language;
    }
    // Only the letters matter; bounding the sample keeps a 1 MB text as cheap as a long post.
    let sample = bounded_prefix(text, 4096);
    if let Some(language) = stopword_vote(sample) {
        return language;
    }
    match DETECTOR.detect(sample) {
        Some(info) if info.script() == Script::Latin => Language::from_whatlang(info.lang()),
        _ => Language::Unknown,
    }
}

/// Frequent function words that exist in only one of the supported languages.
const ENGLISH_STOPWORDS: &[&str] = &[
    "the", "and", "is", "are", "was", "to", "of", "you", "it", "in", "for", "this", "that", "my", "with", "be", "have",
    "not", "i", "i'm", "on", "at", "but", "your", "we", "they", "what", "just", "can", "will", "he", "she", "all",
    "so", "do", "don't", "it's", "from", "about", "if", "out", "up", "get", "like", "has", "been", "would", "his",
    "her", "an", "or", "one", "when", "who", "me", "there", "tomorrow", "today", "going",
];
/// See [`ENGLISH_STOPWORDS`].
const FRENCH_STOPWORDS: &[&str] = &[
    "le", "la", "les", "de", "des", "et", "est", "un", "une", "du", "je", "pas", "pour", "que", "qui", "dans", "sur",
    "il", "elle", "c'est", "à", "au", "aux", "ce", "cette", "avec", "mais", "ne", "nous", "vous", "ils", "sont", "son",
    "sa", "ses", "leur", "plus", "tout", "très", "on", "j'ai", "d'un", "d'une", "qu'il", "fait", "être", "avoir",
    "été", "comme", "bien", "aussi", "où", "moi", "toi", "mon", "ma", "mes", "quand",
];

/// A quick vote on function words: when one language has at least two more hits than the
/// other, the text is clearly in it and the (much slower) trigram model is skipped. Texts with
/// letters outside Latin-1 are left to the model and its script detection.
fn stopword_vote(sample: &str) -> Option<Language> {
    let mut english = 0usize;
    let mut french = 0usize;
    let mut lower = String::new();
    for word in sample.split(|c: char| !(c.is_alphabetic() || c == '\'' || c == '\u{2019}')) {
        if word.is_empty() {
            continue;
        }
        if word.chars().any(|c| c.is_alphabetic() && c > '\u{ff}' && c != 'œ') {
            return None;
        }
        if word.len() > 8 {
            continue;
        }
        lower.clear();
        lower.extend(word.chars().map(|c| if c == '\u{2019}' { '\'' } else { c }).flat_map(char::to_lowercase));
        english += usize::from(ENGLISH_STOPWORDS.contains(&lower.as_str()));
        french += usize::from(FRENCH_STOPWORDS.contains(&lower.as_str()));
    }
    if english >= french + 2 {
        Some(Language::En)
    } else if french >= english + 2 {
        Some(Language::Fr)
    } else {
        None
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a char boundary.
pub(crate) fn bounded_prefix(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_english_and_french_tweets() {
        assert_eq!(detect_language("I can't believe how good this movie was, totally worth it", None), Language::En);
        assert_eq!(detect_language("Je n'ai jamais vu un film aussi génial, vraiment à voir", None), Language::Fr);
    }

    #[test]
    fn supported_hint_wins_and_unsupported_hint_is_ignored() {
        assert_eq!(detect_language("the weather is lovely today", Some("fr-CA")), Language::Fr);
        assert_eq!(detect_language("the weather is lovely today and I am happy", Some("de")), Language::En);
        assert_eq!(detect_language("the weather is lovely today and I am happy", Some("")), Language::En);
    }

    #[test]
    fn other_scripts_and_no_letters_are_unknown() {
        assert_eq!(detect_language("Привет, как дела? Всё хорошо", None), Language::Unknown);
        assert_eq!(detect_language("今日はとても良い天気ですね", None), Language::Unknown);
        assert_eq!(detect_language("", None), Language::Unknown);
        assert_eq!(detect_language("😀😀 123 !!!", None), Language::Unknown);
    }

    #[test]
    fn stopword_vote_decides_only_clear_cases() {
        assert_eq!(stopword_vote("the cat and the dog"), Some(Language::En));
        assert_eq!(stopword_vote("c\u{2019}est le chat et le chien"), Some(Language::Fr));
        assert_eq!(stopword_vote("Paris Berlin London"), None);
        assert_eq!(stopword_vote("Привет the and the"), None);
    }

    #[test]
    fn hints_parse_common_spellings() {
        assert_eq!(Language::from_hint("EN"), Some(Language::En));
        assert_eq!(Language::from_hint("fr_FR"), Some(Language::Fr));
        assert_eq!(Language::from_hint("fra"), Some(Language::Fr));
        assert_eq!(Language::from_hint("es"), None);
    }

    #[test]
    fn bounded_prefix_respects_char_boundaries() {
        let text = "é".repeat(10);
        assert_eq!(bounded_prefix(&text, 5), "éé");
        assert_eq!(bounded_prefix("abc", 10), "abc");
    }
}
