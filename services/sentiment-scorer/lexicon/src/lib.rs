//! VADER lexicon sentiment scoring in English and French, language identification and
//! evaluation metrics. Pure library: the only data it reads is embedded at compile time.
//!
//! - [`SentimentAnalyzer`] scores a text in a [`Language`] with VADER (Hutto & Gilbert 2014).
//!   English reproduces the reference Python `vaderSentiment` 3.3.2; French runs the same
//!   engine with a French lexicon and French negation, elision and accent rules.
//! - [`detect_language`] identifies the language among the supported ones.
//! - [`eval`] computes macro-recall, macro-F1, accuracy and a confusion matrix.
//!
//! ```
//! use murmur_lexicon::{Label, Language, SentimentAnalyzer};
//!
//! let analyzer = SentimentAnalyzer::new();
//! let (language, scores) = analyzer.score_auto("Je n'aime pas du tout ce film", None);
//! assert_eq!(language, Language::Fr);
//! assert_eq!(SentimentAnalyzer::label(scores.compound), Label::Negative);
//! ```

pub mod eval;
mod lang;
mod vader;

pub use lang::{detect_language, Language};
pub use vader::PolarityScores;

/// Three-class sentiment label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

impl Label {
    /// All labels, in the index order used by confusion matrices.
    pub const ALL: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

    /// Lowercase name as used in the labelled TSVs.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }

    /// Parses `negative`/`neutral`/`positive` (case-insensitive).
    pub fn parse(text: &str) -> Option<Label> {
        Label::ALL.into_iter().find(|label| label.as_str().eq_ignore_ascii_case(text))
    }

    /// Position in [`Label::ALL`].
    pub fn index(self) -> usize {
        match self {
            Label::Negative => 0,
            Label::Neutral => 1,
            Label::Positive => 2,
        }
    }
}

/// The VADER convention: compound ≥ 0.05 is positive, ≤ -0.05 negative, else neutral.
pub const POSITIVE_THRESHOLD: f64 = 0.05;
/// See [`POSITIVE_THRESHOLD`].
pub const NEGATIVE_THRESHOLD: f64 = -0.05;

/// Lexicon sentiment scorer for every supported language.
///
/// Cheap to construct (the lexicons are parsed once per process and shared), `Send + Sync`,
/// meant to be built once and shared across threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SentimentAnalyzer {
    _private: (),
}

impl SentimentAnalyzer {
    /// Creates an analyzer; the first call in a process parses the embedded lexicons
    /// (a few milliseconds).
    pub fn new() -> SentimentAnalyzer {
        vader::warm_up();
        SentimentAnalyzer { _private: () }
    }

    /// VADER scores of `text` in `language`. [`Language::Unknown`] uses the English rules:
    /// emoji, emoticons and English internet words are the most common carriers of sentiment
    /// across languages.
    pub fn score(&self, text: &str, language: Language) -> PolarityScores {
        match language {
            Language::Fr => vader::french::score(text),
            Language::En | Language::Unknown => vader::english::score(text),
        }
    }

    /// Detects the language (see [`detect_language`]) and scores the text in it.
    pub fn score_auto(&self, text: &str, hint: Option<&str>) -> (Language, PolarityScores) {
        let language = detect_language(text, hint);
        (language, self.score(text, language))
    }

    /// Three-class label of a compound score (VADER thresholds ±0.05).
    pub fn label(compound: f64) -> Label {
        if compound >= POSITIVE_THRESHOLD {
            Label::Positive
        } else if compound <= NEGATIVE_THRESHOLD {
            Label::Negative
        } else {
            Label::Neutral
        }
    }
}

#[doc(hidden)]
pub use vader::french::tuning;
