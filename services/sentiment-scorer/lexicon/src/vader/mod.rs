//! VADER sentiment scoring: the shared engine ([`engine`]), the per-language rule sets
//! ([`english`], [`french`]) and the public score type.

pub(crate) mod engine;
pub(crate) mod english;
pub(crate) mod pytext;
pub(crate) mod rules;

/// VADER scores of one text.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PolarityScores {
    /// Normalised sum of valences in [-1, 1]; the usual single-number sentiment.
    pub compound: f64,
    /// Proportion of the text's sentiment mass that is positive, in [0, 1].
    pub positive: f64,
    /// Proportion that is neutral, in [0, 1].
    pub neutral: f64,
    /// Proportion that is negative, in [0, 1].
    pub negative: f64,
}

pub(crate) mod french;

/// Forces the lexicons to be parsed now rather than on the first scored text.
pub(crate) fn warm_up() {
    std::sync::LazyLock::force(&english::ENGLISH);
    std::sync::LazyLock::force(&english::EMOJI_DESCRIPTIONS);
    french::warm_up();
}
