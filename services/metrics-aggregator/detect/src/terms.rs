//! Term extraction for weak signals and community themes.
//!
//! A post becomes a bounded, de-duplicated list of terms:
//! - **hashtags**, lowercased and accent-folded, kept with their `#` so `#vote` and `vote` stay distinct
//!   (a hashtag is a deliberate label, a word is not);
//! - **normalised 1–3-grams** of the text: NFKC (so full-width and ligature forms collapse), lowercase,
//!   accents folded (`élection`, `election` and `ÉLECTION` are one term — French posts are written with and
//!   without accents on phones), with URLs, `@mentions`, numbers and punctuation stripped.
//!
//! Stop-words are per language (English and French lists embedded below, folded the same way as the text).
//! A unigram that is a stop-word is dropped; an n-gram that *starts or ends* with a stop-word is dropped
//! (`price of oil` is kept, `price of` is not). Sentence punctuation breaks n-grams so
//! they never straddle two clauses. French elisions (`l'`, `d'`, `qu'`) are split off and dropped.
//!
//! The number of terms per post is capped (hashtags first, then unigrams, bigrams, trigrams) so a long post
//! cannot flood the signal state.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault};

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Language of a post, used to pick stop-words. `Unknown` applies the union of every list, which is the
/// safe choice for mixed EN/FR streams (a French stop-word is never a useful English term and vice versa).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Language {
    /// English stop-words.
    English,
    /// French stop-words.
    French,
    /// No reliable hint: union of all lists.
    Unknown,
}

impl Language {
    /// Maps a platform language hint (`"en"`, `"fr-FR"`, `"French"`, …) to a language; anything else is
    /// `Unknown`.
    pub fn from_hint(hint: &str) -> Language {
        let lowered = hint.trim().to_ascii_lowercase();
        let primary_subtag = lowered.split(['-', '_']).next().unwrap_or("");
        match primary_subtag {
            "en" | "eng" | "english" => Language::English,
            "fr" | "fra" | "fre" | "french" | "francais" | "français" => Language::French,
            _ => Language::Unknown,
        }
    }

    /// Short code (`en`, `fr`, empty when unknown), as carried by the `WeakSignal.language` field.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::French => "fr",
            Language::Unknown => "",
        }
    }
}

/// Settings of the term extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermConfig {
    /// Longest n-gram produced (1 to 3; values outside are clamped).
    pub max_ngram_length: usize,
    /// Upper bound on the terms kept per post (hashtags first, then 1-, 2-, 3-grams).
    pub max_terms_per_post: usize,
    /// Tokens shorter than this (in characters) are dropped: single letters are elisions or noise.
    pub min_token_chars: usize,
    /// Tokens longer than this are dropped: they are hashes, base64 or keyboard mashing.
    pub max_token_chars: usize,
}

impl Default for TermConfig {
    fn default() -> Self {
        TermConfig { max_ngram_length: 3, max_terms_per_post: 48, min_token_chars: 2, max_token_chars: 40 }
    }
}

/// Extracts terms from posts. Build once (the stop-word sets are folded at construction) and share.
#[derive(Debug, Clone)]
pub struct TermExtractor {
    config: TermConfig,
    english_stop_words: HashSet<String>,
    french_stop_words: HashSet<String>,
}

impl Default for TermExtractor {
    fn default() -> Self {
        TermExtractor::new(TermConfig::default())
    }
}

/// One token of a clause after normalisation, with whether it is a stop-word for the post's language.
struct Token {
    text: String,
    is_stop_word: bool,
}

impl TermExtractor {
    /// Builds an extractor; stop-word lists go through the same normalisation as post text.
    pub fn new(config: TermConfig) -> TermExtractor {
        let fold_list = |words: &[&str]| words.iter().map(|word| normalise_word(word)).collect::<HashSet<String>>();
        TermExtractor {
            config,
            english_stop_words: fold_list(ENGLISH_STOP_WORDS),
            french_stop_words: fold_list(FRENCH_STOP_WORDS),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &TermConfig {
        &self.config
    }

    /// Whether `normalised_word` (already folded) is a stop-word for `language`.
    pub fn is_stop_word(&self, normalised_word: &str, language: Language) -> bool {
        match language {
            Language::English => self.english_stop_words.contains(normalised_word),
            Language::French => self.french_stop_words.contains(normalised_word),
            Language::Unknown => {
                self.english_stop_words.contains(normalised_word) || self.french_stop_words.contains(normalised_word)
            }
        }
    }

    /// Terms of one post: hashtags found in `text` plus the platform's `hashtags` (deduplicated, `#`-prefixed),
    /// then the normalised 1–3-grams of `text`. Deterministic order, no duplicates, at most
    /// `max_terms_per_post` entries.
    pub fn extract(&self, text: &str, hashtags: &[String], language: Language) -> Vec<String> {
        let mut terms = PostTerms::new(self.config.max_terms_per_post);
        let clauses = self.clauses(text, language);
        let text_hashtags = extract_inline_hashtags(text);
        for raw_hashtag in hashtags.iter().map(String::as_str).chain(text_hashtags.iter().map(String::as_str)) {
            let folded = normalise_word(raw_hashtag.trim_start_matches('#'));
            let cleaned: String =
                folded.chars().filter(|character| character.is_alphanumeric() || *character == '_').collect();
            if !cleaned.is_empty() && cleaned.chars().any(char::is_alphabetic) {
                terms.push(&format!("#{cleaned}"));
            }
        }

        let longest = self.config.max_ngram_length.clamp(1, 3);
        // One buffer for every candidate n-gram: only the terms kept are allocated.
        let mut joined = String::new();
        for ngram_length in 1..=longest {
            for clause in &clauses {
                if clause.len() < ngram_length {
                    continue;
                }
                for window in clause.windows(ngram_length) {
                    if terms.is_full() {
                        return terms.into_vec();
                    }
                    let starts_with_stop = window.first().is_some_and(|token| token.is_stop_word);
                    let ends_with_stop = window.last().is_some_and(|token| token.is_stop_word);
                    if starts_with_stop || ends_with_stop {
                        continue;
                    }
                    joined.clear();
                    for (position, token) in window.iter().enumerate() {
                        if position > 0 {
                            joined.push(' ');
                        }
                        joined.push_str(&token.text);
                    }
                    terms.push(&joined);
                }
            }
        }
        terms.into_vec()
    }

    /// Splits text into clauses of normalised tokens. URLs, mentions and hashtags are removed (hashtags are
    /// handled separately); sentence punctuation ends a clause; numbers and too short/long tokens are dropped
    /// but do not end a clause (so `the 2 cats` still yields `cats` and no n-gram over the gap).
    fn clauses(&self, text: &str, language: Language) -> Vec<Vec<Token>> {
        let mut clauses: Vec<Vec<Token>> = Vec::new();
        let mut current_clause: Vec<Token> = Vec::new();
        for raw_chunk in text.split_whitespace() {
            if is_url(raw_chunk) || raw_chunk.starts_with('@') || raw_chunk.starts_with('#') {
                // Removing them mid-clause must not glue the words around them into an n-gram.
                flush_clause(&mut current_clause, &mut clauses);
                continue;
            }
            let normalised_chunk = normalise_word(raw_chunk);
            let mut word = String::new();
            for character in normalised_chunk.chars() {
                if character.is_alphanumeric() {
                    word.push(character);
                    continue;
                }
                // Elisions (l', d', qu') and hyphens split words but not clauses.
                self.push_word(&mut word, language, &mut current_clause, &mut clauses);
                let is_word_joiner = matches!(character, '\'' | '’' | '-' | '‐' | '_');
                if !is_word_joiner {
                    flush_clause(&mut current_clause, &mut clauses);
                }
            }
            self.push_word(&mut word, language, &mut current_clause, &mut clauses);
        }
        flush_clause(&mut current_clause, &mut clauses);
        clauses
    }

    fn push_word(&self, word: &mut String, language: Language, clause: &mut Vec<Token>, clauses: &mut Vec<Vec<Token>>) {
        if word.is_empty() {
            return;
        }
        let taken = std::mem::take(word);
        let character_count = taken.chars().count();
        if taken.chars().any(|character| character.is_numeric()) {
            // A number is not a term and would make n-grams like `covid 19 vaccine` vocabulary noise.
            flush_clause(clause, clauses);
            return;
        }
        if character_count < self.config.min_token_chars || character_count > self.config.max_token_chars {
            // Elided articles (l, d, j) are stop-words in all but name: treat them as such so
            // `l'essence` does not start an n-gram with a gap.
            if character_count < self.config.min_token_chars {
                clause.push(Token { text: taken, is_stop_word: true });
            } else {
                flush_clause(clause, clauses);
            }
            return;
        }
        let is_stop_word = self.is_stop_word(&taken, language);
        clause.push(Token { text: taken, is_stop_word });
    }
}

/// The terms of one post in first-seen order, without duplicates, at most `capacity` of them.
/// Duplicates are found through the terms' hashes, so a candidate seen before costs no allocation.
struct PostTerms {
    terms: Vec<String>,
    /// Hash of a term → index of the first term with that hash.
    first_with_hash: HashMap<u64, usize>,
    capacity: usize,
}

impl PostTerms {
    fn new(capacity: usize) -> Self {
        PostTerms { terms: Vec::new(), first_with_hash: HashMap::new(), capacity }
    }

    fn is_full(&self) -> bool {
        self.terms.len() >= self.capacity
    }

    fn push(&mut self, term: &str) {
        if self.is_full() || term.is_empty() {
            return;
        }
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(term);
        match self.first_with_hash.get(&hash) {
            Some(&index) if self.terms[index] == term => return,
            // Two terms with one hash (never seen in practice): compare with every term.
            Some(_) if self.terms.iter().any(|kept| kept == term) => return,
            Some(_) => {}
            None => {
                self.first_with_hash.insert(hash, self.terms.len());
            }
        }
        self.terms.push(term.to_string());
    }

    fn into_vec(self) -> Vec<String> {
        self.terms
    }
}

fn flush_clause(clause: &mut Vec<Token>, clauses: &mut Vec<Vec<Token>>) {
    if !clause.is_empty() {
        clauses.push(std::mem::take(clause));
    }
}

fn is_url(chunk: &str) -> bool {
    let trimmed = chunk.trim_start_matches(['(', '<', '[', '"']).as_bytes();
    ["http://", "https://", "www."]
        .iter()
        .any(|prefix| trimmed.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes())))
}

/// `#tags` written in the text (the platform list may miss them, e.g. Telegram).
fn extract_inline_hashtags(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|chunk| chunk.strip_prefix('#'))
        .map(|tag| tag.chars().take_while(|character| character.is_alphanumeric() || *character == '_').collect())
        .filter(|tag: &String| !tag.is_empty())
        .collect()
}

/// NFKC, lowercase, then accent folding (NFD and drop combining marks). NFKC first so compatibility forms
/// (`ﬁ`, full-width letters) become plain letters before folding; `œ`/`æ` are expanded because French
/// writes `coeur` and `cœur` interchangeably.
pub fn normalise_word(word: &str) -> String {
    if word.is_ascii() {
        // NFKC and NFD are the identity on ASCII: skip both passes on the common case.
        return word.to_ascii_lowercase();
    }
    let lowered: String = word.nfkc().flat_map(char::to_lowercase).collect();
    let mut folded = String::with_capacity(lowered.len());
    for character in lowered.nfd() {
        if is_combining_mark(character) {
            continue;
        }
        match character {
            'œ' => folded.push_str("oe"),
            'æ' => folded.push_str("ae"),
            'ß' => folded.push_str("ss"),
            '’' | 'ʼ' => folded.push('\''),
            other => folded.push(other),
        }
    }
    folded
}

/// English stop-words: function words plus social-media filler. Our own list (no licence constraints).
#[rustfmt::skip]
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "aren", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "cannot",
    "could", "couldn", "did", "didn", "do", "does", "doesn", "doing", "don", "down", "during", "each", "few",
    "for", "from", "further", "had", "hadn", "has", "hasn", "have", "haven", "having", "he", "her", "here",
    "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "isn", "it", "its",
    "itself", "just", "ll", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "re", "same", "she",
    "should", "shouldn", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "ve",
    "very", "was", "wasn", "we", "were", "weren", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "won", "would", "wouldn", "you", "your", "yours", "yourself", "yourselves", "also",
    "get", "got", "like", "one", "really", "still", "even", "much", "many", "us", "let", "lets", "im", "ive",
    "youre", "dont", "doesnt", "didnt", "cant", "wont", "isnt", "thats", "theres", "yes", "yeah", "ok", "okay",
    "lol", "rt", "via", "amp", "new", "may", "might", "must", "shall", "every", "another", "ever", "never",
    "since", "though", "yet", "anyone", "everyone", "someone", "something", "anything", "nothing", "thing",
    "things", "way", "well", "back", "go", "going", "make", "made", "know", "think", "see", "say", "said",
];

/// French stop-words: articles, pronouns, auxiliaries (être/avoir forms), prepositions, conjunctions and
/// common adverbs. Written with accents; folded at construction like post text.
#[rustfmt::skip]
const FRENCH_STOP_WORDS: &[&str] = &[
    "a", "à", "afin", "ai", "aie", "aient", "ainsi", "alors", "as", "au", "aucun", "aucune", "aujourd",
    "auquel", "aura", "aurai", "auront", "aussi", "autre", "autres", "aux", "avaient", "avais", "avait",
    "avant", "avec", "avez", "aviez", "avions", "avoir", "avons", "ayant", "bah", "beaucoup", "bien", "bon",
    "c", "ça", "car", "ce", "ceci", "cela", "celle", "celles", "celui", "cependant", "ces", "cet", "cette",
    "ceux", "chaque", "chez", "ci", "comme", "comment", "d", "dans", "de", "dedans", "dehors", "déjà", "depuis",
    "des", "donc", "dont", "du", "elle", "elles", "en", "encore", "entre", "es", "est", "et", "étaient",
    "étais", "était", "étant", "été", "être", "eu", "eux", "fait", "faire", "fais", "font", "fut", "ici", "il",
    "ils", "j", "je", "jamais", "juste", "l", "la", "là", "le", "les", "leur", "leurs", "lui", "m", "ma",
    "mais", "me", "même", "mêmes", "mes", "moi", "mon", "n", "ne", "ni", "non", "nos", "notre", "nous", "on",
    "ont", "ou", "où", "oui", "par", "parce", "pas", "peu", "peut", "plus", "pour", "pourquoi", "qu", "quand",
    "que", "quel", "quelle", "quelles", "quels", "qui", "quoi", "s", "sa", "sans", "se", "sera", "serai",
    "seront", "ses", "si", "sien", "sienne", "soi", "soit", "sommes", "son", "sont", "sous", "suis", "sur", "t",
    "ta", "te", "tes", "toi", "ton", "tous", "tout", "toute", "toutes", "très", "trop", "tu", "un", "une", "va",
    "vais", "vas", "vers", "voilà", "vos", "votre", "vous", "vu", "y", "ya", "cest", "jai", "etc", "mdr", "lol",
    "ptdr", "genre", "truc", "faut", "fois", "chose", "choses", "dire", "dit", "tres", "puis", "voir", "veut",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_terms_keep_the_first_of_each_term_in_order_up_to_the_capacity() {
        let mut terms = PostTerms::new(3);
        for term in ["b", "a", "b", "", "a", "c", "d", "c"] {
            terms.push(term);
        }
        assert!(terms.is_full());
        assert_eq!(terms.into_vec(), vec!["b", "a", "c"]);
    }

    #[test]
    fn urls_are_recognised_whatever_their_case_and_opening_bracket() {
        for url in ["http://x.fr", "HTTPS://X.FR/a", "(www.example.com)", "<Https://a>", "\"www.a"] {
            assert!(is_url(url), "{url}");
        }
        for word in ["www", "wwwx.fr", "https", "ftp://x", "", "é"] {
            assert!(!is_url(word), "{word}");
        }
    }

    fn extract(text: &str, language: Language) -> Vec<String> {
        TermExtractor::default().extract(text, &[], language)
    }

    #[test]
    fn english_text_yields_ngrams_without_stop_word_edges() {
        let terms = extract("The new battery recall is spreading fast!", Language::English);
        assert!(terms.contains(&"battery".to_string()));
        assert!(terms.contains(&"battery recall".to_string()));
        // `recall is spreading`: a stop-word in the middle is allowed.
        assert!(terms.contains(&"recall is spreading".to_string()));
        // Starts/ends with a stop-word: dropped.
        assert!(!terms.iter().any(|term| term.starts_with("the ") || term.ends_with(" is")));
        assert!(!terms.contains(&"the".to_string()));
        assert!(!terms.contains(&"is".to_string()));
    }

    #[test]
    fn french_accents_elisions_and_stop_words_are_normalised() {
        let with_accents = extract("L'ÉLECTION du maire à Besançon : quelle élection !", Language::French);
        let without_accents = extract("l'election du maire a Besancon : quelle election !", Language::French);
        assert_eq!(with_accents, without_accents);
        assert!(with_accents.contains(&"election".to_string()));
        assert!(with_accents.contains(&"besancon".to_string()));
        assert!(with_accents.contains(&"election du maire".to_string()));
        // `du`, `a`, `quelle`, the elided `l` never appear as terms or as n-gram edges.
        for term in &with_accents {
            for stop in ["du", "a", "quelle", "l"] {
                assert!(term.split(' ').next() != Some(stop), "{term}");
                assert!(term.split(' ').next_back() != Some(stop), "{term}");
            }
        }
        // The colon ends a clause: no n-gram spans it.
        assert!(!with_accents.iter().any(|term| term.contains("besancon quelle")));
    }

    #[test]
    fn urls_mentions_numbers_and_hashtags_are_handled() {
        let terms = TermExtractor::default().extract(
            "Check https://example.com/x @bob@mastodon.social price 2024 #Réforme #réforme spike",
            &["Retraites".to_string()],
            Language::English,
        );
        assert!(terms.contains(&"#retraites".to_string()));
        assert!(terms.contains(&"#reforme".to_string()));
        assert_eq!(terms.iter().filter(|term| term.as_str() == "#reforme").count(), 1);
        assert!(!terms.iter().any(|term| term.contains("http") || term.contains("example") || term.contains("bob")));
        assert!(!terms.iter().any(|term| term.contains("2024")));
        assert!(terms.contains(&"price".to_string()));
        assert!(terms.contains(&"spike".to_string()));
        // The hashtag in between breaks the clause: no `price spike` glued across removed tokens.
        assert!(!terms.contains(&"price spike".to_string()));
        // Hashtags come first.
        assert!(terms[0].starts_with('#'));
    }

    #[test]
    fn terms_per_post_are_bounded() {
        let long_text: String =
            (0..500).map(|index| format!("word{} ", char::from(b'a' + (index % 26) as u8))).collect();
        let alphabet_text: String = (0..200)
            .map(|index| format!("tok{}{} ", (b'a' + (index % 26) as u8) as char, (b'a' + (index / 26) as u8) as char))
            .collect();
        let extractor = TermExtractor::new(TermConfig { max_terms_per_post: 10, ..TermConfig::default() });
        // `word` tokens contain no digits here, so they are real tokens.
        assert!(extractor.extract(&long_text, &[], Language::English).len() <= 10);
        assert_eq!(extractor.extract(&alphabet_text, &[], Language::English).len(), 10);
    }

    #[test]
    fn language_hints_map_to_languages() {
        assert_eq!(Language::from_hint("fr-FR"), Language::French);
        assert_eq!(Language::from_hint("EN"), Language::English);
        assert_eq!(Language::from_hint(""), Language::Unknown);
        assert_eq!(Language::from_hint("de"), Language::Unknown);
    }

    #[test]
    fn unknown_language_uses_both_lists_and_nfkc_folds_compatibility_forms() {
        let terms = extract("ﬁnance the les ＡＢＣ cœur", Language::Unknown);
        assert!(terms.contains(&"finance".to_string()));
        assert!(terms.contains(&"abc".to_string()));
        assert!(terms.contains(&"coeur".to_string()));
        assert!(!terms.contains(&"the".to_string()));
        assert!(!terms.contains(&"les".to_string()));
    }
}
