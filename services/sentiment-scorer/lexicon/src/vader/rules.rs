//! Language rules for the VADER engine: one merged word table (valence, booster, negator,
//! structural role) plus the multi-word phrases, built once per language from embedded data.
//!
//! Merging everything a token can be into one [`WordInfo`] means the hot path does a single
//! hash lookup per token instead of one per rule.

use rustc_hash::FxHashMap;

/// Structural role of a word in the VADER rules, independent of the language's spelling
/// (English "but" and French "mais" are both [`Tag::But`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Tag {
    #[default]
    None,
    /// "no": negates the next lexicon words instead of carrying its own valence.
    No,
    /// First word of "kind of" (dampener spelled as two tokens).
    Kind,
    /// Second word of "kind of".
    Of,
    /// "least": negates the next word unless preceded by [`Tag::At`] or [`Tag::Very`].
    Least,
    At,
    Very,
    /// "never": "never so good" boosts instead of negating.
    Never,
    So,
    This,
    /// "without doubt" keeps the valence instead of negating it.
    Without,
    Doubt,
    /// Contrastive conjunction: halves what precedes it and boosts what follows by half.
    But,
    Or,
    Nor,
}

/// Everything the engine needs to know about one (lowercased) word.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WordInfo {
    /// Valence from the sentiment lexicon.
    pub(crate) valence: Option<f64>,
    /// Scalar when the word is a booster (positive) or dampener (negative).
    pub(crate) booster: Option<f64>,
    /// Whether the word negates a lexicon word up to three tokens after it.
    pub(crate) negator: bool,
    pub(crate) tag: Tag,
    /// Non-zero id when the word occurs in a multi-word phrase (special cases, phrase boosters),
    /// so phrase matching compares integers rather than strings.
    pub(crate) phrase_word: u32,
}

/// A multi-word phrase (as word ids) and its value.
#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    pub(crate) words: Vec<u32>,
    pub(crate) value: f64,
}

/// The complete rule set of one language.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    words: FxHashMap<String, WordInfo>,
    next_phrase_word: u32,
    /// Phrases whose presence around a lexicon word replaces its valence ("the shit", "yeah right").
    pub(crate) special_cases: Vec<Phrase>,
    /// Multi-word boosters/dampeners ("kind of", "sort of").
    pub(crate) phrase_boosters: Vec<Phrase>,
    /// A substring that makes any word a negator (English "n't").
    pub(crate) negation_infix: Option<&'static str>,
}

impl Rules {
    fn entry(&mut self, word: &str) -> &mut WordInfo {
        self.words.entry(word.to_owned()).or_default()
    }

    /// Sets the lexicon valence of `word`; a later call overrides an earlier one, as in the
    /// reference's dict construction.
    pub(crate) fn set_valence(&mut self, word: &str, valence: f64) {
        self.entry(word).valence = Some(valence);
    }

    /// Removes `word` from the valence lexicon (its other roles stay).
    pub(crate) fn remove_valence(&mut self, word: &str) {
        if let Some(info) = self.words.get_mut(word) {
            info.valence = None;
        }
    }

    pub(crate) fn set_booster(&mut self, word: &str, scalar: f64) {
        self.entry(word).booster = Some(scalar);
    }

    pub(crate) fn set_negator(&mut self, word: &str) {
        self.entry(word).negator = true;
    }

    pub(crate) fn set_tag(&mut self, word: &str, tag: Tag) {
        self.entry(word).tag = tag;
    }

    fn phrase_ids(&mut self, phrase: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for word in phrase.split(' ') {
            let existing = self.words.get(word).map_or(0, |info| info.phrase_word);
            let id = if existing != 0 {
                existing
            } else {
                self.next_phrase_word += 1;
                let id = self.next_phrase_word;
                self.entry(word).phrase_word = id;
                id
            };
            ids.push(id);
        }
        ids
    }

    /// Adds a special-case phrase (words separated by single spaces).
    pub(crate) fn add_special_case(&mut self, phrase: &str, value: f64) {
        let words = self.phrase_ids(phrase);
        self.special_cases.push(Phrase { words, value });
    }

    /// Adds a multi-word booster/dampener (words separated by single spaces).
    pub(crate) fn add_phrase_booster(&mut self, phrase: &str, scalar: f64) {
        let words = self.phrase_ids(phrase);
        self.phrase_boosters.push(Phrase { words, value: scalar });
    }

    /// Looks up a lowercased word.
    #[inline]
    pub(crate) fn lookup(&self, lower: &str) -> WordInfo {
        let mut info = self.words.get(lower).copied().unwrap_or_default();
        if let Some(infix) = self.negation_infix {
            if !info.negator && lower.contains(infix) {
                info.negator = true;
            }
        }
        info
    }
}

/// Parses the reference lexicon format (`word<TAB>mean<TAB>...` per line) like the reference
/// `make_lex_dict`, yielding `(word, valence)`; malformed lines are skipped.
pub(crate) fn parse_tab_lexicon(data: &str) -> impl Iterator<Item = (&str, f64)> {
    data.lines().filter_map(|line| {
        let mut fields = line.trim().split('\t');
        let word = fields.next()?;
        let valence = fields.next()?.trim().parse::<f64>().ok()?;
        (!word.is_empty()).then_some((word, valence))
    })
}
