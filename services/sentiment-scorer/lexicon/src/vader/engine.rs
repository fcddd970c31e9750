//! The language-independent VADER algorithm (Hutto & Gilbert 2014), written to reproduce the
//! reference `vaderSentiment` 3.3.2 step by step, including its quirks (the order-dependent
//! `_but_check`, `_least_check`, the "never so"/"without doubt" cases, the special idioms that
//! only run three words into a text).
//!
//! The engine works on pre-annotated tokens ([`Tok`]): each language module tokenises and looks
//! words up once, so the rules below only compare tags and numbers.

use rustc_hash::FxHashMap;

use super::rules::{Phrase, Rules, Tag, WordInfo};
use super::PolarityScores;

/// Empirically derived mean intensity increase of a booster word (reference `B_INCR`).
pub(crate) const B_INCR: f64 = 0.293;
/// Mean intensity decrease of a dampener (reference `B_DECR`).
pub(crate) const B_DECR: f64 = -0.293;
/// Increase for a word in ALL CAPS among mixed-case words (reference `C_INCR`).
const C_INCR: f64 = 0.733;
/// Scalar applied to a negated valence (reference `N_SCALAR`).
const N_SCALAR: f64 = -0.74;
/// Normalisation constant approximating the maximum expected sum (reference `alpha`).
const ALPHA: f64 = 15.0;

/// One annotated token.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tok {
    pub(crate) info: WordInfo,
    /// Python `str.isupper()` of the token as written.
    pub(crate) upper: bool,
}

/// Emphasis from `!` (up to four) and `?` (two or more) in the text (reference
/// `_punctuation_emphasis`).
pub(crate) fn punctuation_emphasis(exclamations: usize, questions: usize) -> f64 {
    let ep_amplifier = exclamations.min(4) as f64 * 0.292;
    let qm_amplifier = match questions {
        0 | 1 => 0.0,
        2 | 3 => questions as f64 * 0.18,
        _ => 0.96,
    };
    ep_amplifier + qm_amplifier
}

/// Scores annotated tokens; `emphasis` comes from [`punctuation_emphasis`].
pub(crate) fn score_tokens(rules: &Rules, toks: &[Tok], emphasis: f64) -> PolarityScores {
    let upper_count = toks.iter().filter(|tok| tok.upper).count();
    let mixed_case = 0 < toks.len() - upper_count && toks.len() - upper_count < toks.len();
    let scorer = Scorer { rules, toks, mixed_case };
    let mut sentiments = Vec::with_capacity(toks.len());
    for i in 0..toks.len() {
        let info = toks[i].info;
        // Boosters and "kind of" modify their neighbours but carry no valence themselves.
        if info.booster.is_some() || (i + 1 < toks.len() && info.tag == Tag::Kind && toks[i + 1].info.tag == Tag::Of) {
            sentiments.push(0.0);
            continue;
        }
        sentiments.push(scorer.valence(i));
    }
    but_check(toks, &mut sentiments);
    score_valence(&sentiments, emphasis)
}

struct Scorer<'a> {
    rules: &'a Rules,
    toks: &'a [Tok],
    /// Some but not all tokens are ALL CAPS (reference `allcap_differential`).
    mixed_case: bool,
}

impl Scorer<'_> {
    fn tag(&self, index: usize) -> Tag {
        self.toks[index].info.tag
    }

    /// Reference `sentiment_valence` for the token at `i`.
    fn valence(&self, i: usize) -> f64 {
        let toks = self.toks;
        let Some(lexicon_valence) = toks[i].info.valence else {
            return 0.0;
        };
        let mut valence = lexicon_valence;
        // "no" directly before a lexicon word negates it rather than counting itself.
        if toks[i].info.tag == Tag::No && i + 1 < toks.len() && toks[i + 1].info.valence.is_some() {
            valence = 0.0;
        }
        if (i > 0 && self.tag(i - 1) == Tag::No)
            || (i > 1 && self.tag(i - 2) == Tag::No)
            || (i > 2 && self.tag(i - 3) == Tag::No && matches!(self.tag(i - 1), Tag::Or | Tag::Nor))
        {
            valence = lexicon_valence * N_SCALAR;
        }
        if toks[i].upper && self.mixed_case {
            if valence > 0.0 {
                valence += C_INCR;
            } else {
                valence -= C_INCR;
            }
        }
        for start_i in 0..3 {
            if i > start_i && toks[i - (start_i + 1)].info.valence.is_none() {
                let mut scalar = self.scalar_inc_dec(i - (start_i + 1), valence);
                if start_i == 1 && scalar != 0.0 {
                    scalar *= 0.95;
                }
                if start_i == 2 && scalar != 0.0 {
                    scalar *= 0.9;
                }
                valence += scalar;
                valence = self.negation_check(valence, start_i, i);
                if start_i == 2 {
                    valence = self.special_idioms_check(valence, i);
                }
            }
        }
        self.least_check(valence, i)
    }

    /// Reference `scalar_inc_dec`: the booster/dampener effect of the word at `index`.
    fn scalar_inc_dec(&self, index: usize, valence: f64) -> f64 {
        let tok = self.toks[index];
        let Some(booster) = tok.info.booster else {
            return 0.0;
        };
        let mut scalar = if valence < 0.0 { -booster } else { booster };
        if tok.upper && self.mixed_case {
            if valence > 0.0 {
                scalar += C_INCR;
            } else {
                scalar -= C_INCR;
            }
        }
        scalar
    }

    /// Reference `_negation_check`.
    fn negation_check(&self, valence: f64, start_i: usize, i: usize) -> f64 {
        let negated = |index: usize| self.toks[index].info.negator;
        let so_or_this = |index: usize| matches!(self.tag(index), Tag::So | Tag::This);
        match start_i {
            0 if negated(i - 1) => valence * N_SCALAR,
            1 => {
                if self.tag(i - 2) == Tag::Never && so_or_this(i - 1) {
                    valence * 1.25
                } else if self.tag(i - 2) == Tag::Without && self.tag(i - 1) == Tag::Doubt {
                    valence
                } else if negated(i - 2) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            2 => {
                // The reference's operator precedence makes a bare "so"/"this" just before the
                // word boost it too; reproduced on purpose.
                if (self.tag(i - 3) == Tag::Never && so_or_this(i - 2)) || so_or_this(i - 1) {
                    valence * 1.25
                } else if self.tag(i - 3) == Tag::Without
                    && (self.tag(i - 2) == Tag::Doubt || self.tag(i - 1) == Tag::Doubt)
                {
                    valence
                } else if negated(i - 3) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            _ => valence,
        }
    }

    /// Whether the tokens at `indices` spell one of `phrases`; returns its value.
    fn phrase_value(&self, phrases: &[Phrase], indices: &[usize]) -> Option<f64> {
        if indices.iter().any(|&index| self.toks[index].info.phrase_word == 0) {
            return None;
        }
        phrases
            .iter()
            .find(|phrase| {
                phrase.words.len() == indices.len()
                    && phrase.words.iter().zip(indices).all(|(&word, &index)| self.toks[index].info.phrase_word == word)
            })
            .map(|phrase| phrase.value)
    }

    /// Reference `_special_idioms_check` (only reached for `i >= 3`).
    fn special_idioms_check(&self, valence: f64, i: usize) -> f64 {
        let mut valence = valence;
        let special = &self.rules.special_cases;
        let before: [&[usize]; 5] =
            [&[i - 1, i], &[i - 2, i - 1, i], &[i - 2, i - 1], &[i - 3, i - 2, i - 1], &[i - 3, i - 2]];
        if let Some(value) = before.iter().find_map(|indices| self.phrase_value(special, indices)) {
            valence = value;
        }
        let len = self.toks.len();
        if len - 1 > i {
            if let Some(value) = self.phrase_value(special, &[i, i + 1]) {
                valence = value;
            }
        }
        if len - 1 > i + 1 {
            if let Some(value) = self.phrase_value(special, &[i, i + 1, i + 2]) {
                valence = value;
            }
        }
        let boosters = &self.rules.phrase_boosters;
        let n_grams: [&[usize]; 3] = [&[i - 3, i - 2, i - 1], &[i - 3, i - 2], &[i - 2, i - 1]];
        for indices in n_grams {
            if let Some(scalar) = self.phrase_value(boosters, indices) {
                valence += scalar;
            }
        }
        valence
    }

    /// Reference `_least_check`.
    fn least_check(&self, valence: f64, i: usize) -> f64 {
        let toks = self.toks;
        if i > 1 && toks[i - 1].info.valence.is_none() && self.tag(i - 1) == Tag::Least {
            if self.tag(i - 2) != Tag::At && self.tag(i - 2) != Tag::Very {
                return valence * N_SCALAR;
            }
        } else if i > 0 && toks[i - 1].info.valence.is_none() && self.tag(i - 1) == Tag::Least {
            return valence * N_SCALAR;
        }
        valence
    }
}

/// Reference `_but_check`, including its quirk: each value is rewritten at the *first* index
/// holding an equal value (`list.index`), not necessarily its own position.
///
/// Zeros are skipped: rescaling a zero leaves zero, so they cannot change the result. The
/// first-equal-index lookup uses a linear scan over the few non-zero values of a tweet and an
/// index per value for long texts, so a 1 MB text stays O(n log n).
fn but_check(toks: &[Tok], sentiments: &mut [f64]) {
    const LINEAR_LIMIT: usize = 64;
    but_check_with_limit(toks, sentiments, LINEAR_LIMIT);
}

/// [`but_check`] with the non-zero count above which the indexed variant is used.
fn but_check_with_limit(toks: &[Tok], sentiments: &mut [f64], linear_limit: usize) {
    let Some(but_index) = toks.iter().position(|tok| tok.info.tag == Tag::But) else {
        return;
    };
    let rescale = |index: usize, value: f64| -> Option<f64> {
        match index.cmp(&but_index) {
            std::cmp::Ordering::Less => Some(value * 0.5),
            std::cmp::Ordering::Greater => Some(value * 1.5),
            std::cmp::Ordering::Equal => None,
        }
    };
    let nonzero: Vec<usize> = (0..sentiments.len()).filter(|&index| sentiments[index] != 0.0).collect();
    if nonzero.len() <= linear_limit {
        for &position in &nonzero {
            let value = sentiments[position];
            if let Some(&first) = nonzero.iter().find(|&&index| sentiments[index] == value) {
                if let Some(new_value) = rescale(first, value) {
                    sentiments[first] = new_value;
                }
            }
        }
        return;
    }
    // Same algorithm with a per-value ordered index set (keys are the bit patterns of non-zero
    // finite values, for which bit equality is float equality).
    let mut positions_by_value: FxHashMap<u64, std::collections::BTreeSet<usize>> = FxHashMap::default();
    for &index in &nonzero {
        positions_by_value.entry(sentiments[index].to_bits()).or_default().insert(index);
    }
    for &position in &nonzero {
        let value = sentiments[position];
        let first = positions_by_value.get(&value.to_bits()).and_then(|set| set.first().copied());
        let Some(first) = first else { continue };
        let Some(new_value) = rescale(first, value) else { continue };
        if let Some(set) = positions_by_value.get_mut(&value.to_bits()) {
            set.remove(&first);
        }
        positions_by_value.entry(new_value.to_bits()).or_default().insert(first);
        sentiments[first] = new_value;
    }
}

/// Reference `normalize`.
fn normalize(score: f64) -> f64 {
    (score / (score * score + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Reference `score_valence` + `_sift_sentiment_scores`.
fn score_valence(sentiments: &[f64], emphasis: f64) -> PolarityScores {
    if sentiments.is_empty() {
        return PolarityScores::default();
    }
    let mut sum: f64 = sentiments.iter().sum();
    if sum > 0.0 {
        sum += emphasis;
    } else if sum < 0.0 {
        sum -= emphasis;
    }
    let compound = normalize(sum);
    let mut pos_sum = 0.0;
    let mut neg_sum = 0.0;
    let mut neu_count = 0usize;
    for &sentiment in sentiments {
        if sentiment > 0.0 {
            // +1 compensates for neutral words counted as 1.
            pos_sum += sentiment + 1.0;
        }
        if sentiment < 0.0 {
            neg_sum += sentiment - 1.0;
        }
        if sentiment == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += emphasis;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= emphasis;
    }
    let total = pos_sum + neg_sum.abs() + neu_count as f64;
    PolarityScores {
        compound,
        positive: (pos_sum / total).abs(),
        neutral: (neu_count as f64 / total).abs(),
        negative: (neg_sum / total).abs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference `_but_check`, transcribed literally (quadratic), as the oracle.
    fn reference_but_check(but_index: usize, sentiments: &mut [f64]) {
        for position in 0..sentiments.len() {
            let value = sentiments[position];
            let first = sentiments.iter().position(|other| *other == value).unwrap_or(position);
            if first < but_index {
                sentiments[first] = value * 0.5;
            } else if first > but_index {
                sentiments[first] = value * 1.5;
            }
        }
    }

    #[test]
    fn both_but_check_variants_reproduce_the_reference_quirk() {
        // Values repeat and collide after rescaling (3.0 * 0.5 == 1.5), which is where the
        // reference's first-equal-index lookup differs from a plain per-position rescale.
        let pattern = [3.0, 1.5, 0.0, 1.5, -2.0, 0.0, 0.75, -1.0, 2.25, 1.5];
        let values: Vec<f64> = (0..200).map(|index| pattern[(index * 7) % pattern.len()]).collect();
        let but_index = 57;
        let mut toks = vec![Tok::default(); values.len()];
        toks[but_index].info.tag = Tag::But;
        toks[but_index + 40].info.tag = Tag::But;

        let mut expected = values.clone();
        reference_but_check(but_index, &mut expected);
        let mut linear = values.clone();
        but_check_with_limit(&toks, &mut linear, usize::MAX);
        let mut indexed = values.clone();
        but_check_with_limit(&toks, &mut indexed, 0);
        assert_eq!(linear, expected);
        assert_eq!(indexed, expected);
        assert_ne!(
            expected,
            values
                .iter()
                .enumerate()
                .map(|(index, value)| match index.cmp(&but_index) {
                    std::cmp::Ordering::Less => value * 0.5,
                    std::cmp::Ordering::Greater => value * 1.5,
                    std::cmp::Ordering::Equal => *value,
                })
                .collect::<Vec<f64>>(),
            "the fixture should exercise the quirk"
        );
    }

    #[test]
    fn punctuation_emphasis_caps() {
        assert_eq!(punctuation_emphasis(0, 1), 0.0);
        assert!((punctuation_emphasis(9, 0) - 4.0 * 0.292).abs() < 1e-12);
        assert!((punctuation_emphasis(0, 3) - 0.54).abs() < 1e-12);
        assert!((punctuation_emphasis(0, 7) - 0.96).abs() < 1e-12);
    }
}
