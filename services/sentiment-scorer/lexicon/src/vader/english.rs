//! English VADER: the reference lexicons and word lists, and the reference tokenisation
//! (emoji → description, whitespace split, punctuation stripping).

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use super::engine::{self, Tok, B_DECR, B_INCR};
use super::pytext;
use super::rules::{parse_tab_lexicon, Rules, Tag};
use super::PolarityScores;

/// The reference valence lexicon (vaderSentiment 3.3.2, MIT; see `data/README.md`).
const VADER_LEXICON: &str = include_str!("../../data/vader_lexicon.txt");
/// The reference emoji → English description table (vaderSentiment 3.3.2, MIT).
const EMOJI_LEXICON: &str = include_str!("../../data/emoji_utf8_lexicon.txt");

/// Reference `NEGATE`.
const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// Reference `BOOSTER_DICT` boosters (single words).
const BOOSTERS: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

/// Reference `BOOSTER_DICT` dampeners (single words).
const DAMPENERS: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sorta",
    "sortof",
    "sort-of",
];

/// Reference `BOOSTER_DICT` multi-word dampeners.
const PHRASE_DAMPENERS: &[&str] = &["just enough", "kind of", "sort of"];

/// Reference `SPECIAL_CASES` (multi-word; the single-word "badass" can never match a phrase).
const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

/// Words with a structural role in the reference rules.
const TAGS: &[(&str, Tag)] = &[
    ("no", Tag::No),
    ("kind", Tag::Kind),
    ("of", Tag::Of),
    ("least", Tag::Least),
    ("at", Tag::At),
    ("very", Tag::Very),
    ("never", Tag::Never),
    ("so", Tag::So),
    ("this", Tag::This),
    ("without", Tag::Without),
    ("doubt", Tag::Doubt),
    ("but", Tag::But),
    ("or", Tag::Or),
    ("nor", Tag::Nor),
];

/// English rules, parsed once.
pub(crate) static ENGLISH: LazyLock<Rules> = LazyLock::new(build_rules);

/// Emoji (single code point, as the reference matches them) → English description.
pub(crate) static EMOJI_DESCRIPTIONS: LazyLock<FxHashMap<char, &'static str>> =
    LazyLock::new(|| parse_emoji_lexicon(EMOJI_LEXICON));

fn build_rules() -> Rules {
    let mut rules = Rules::default();
    rules.negation_infix = Some("n't");
    for (word, valence) in parse_tab_lexicon(VADER_LEXICON) {
        rules.set_valence(word, valence);
    }
    for word in NEGATE {
        rules.set_negator(word);
    }
    for word in BOOSTERS {
        rules.set_booster(word, B_INCR);
    }
    for word in DAMPENERS {
        rules.set_booster(word, B_DECR);
    }
    for phrase in PHRASE_DAMPENERS {
        rules.add_phrase_booster(phrase, B_DECR);
    }
    for (phrase, value) in SPECIAL_CASES {
        rules.add_special_case(phrase, *value);
    }
    for (word, tag) in TAGS {
        rules.set_tag(word, *tag);
    }
    rules
}

/// Parses `emoji<TAB>description` lines; keys longer than one code point are skipped because
/// the reference compares the table against single characters.
pub(crate) fn parse_emoji_lexicon(data: &str) -> FxHashMap<char, &str> {
    data.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split('\t');
            let emoji = fields.next()?;
            let description = fields.next()?;
            let mut chars = emoji.chars();
            let first = chars.next()?;
            chars.next().is_none().then_some((first, description))
        })
        .collect()
}

/// Replaces each emoji with its description, spacing it from a preceding non-space character
/// exactly as the reference does (a following character is *not* separated).
/// Borrows the input when it holds no emoji (the common case).
pub(crate) fn replace_emoji<'t>(text: &'t str, table: &FxHashMap<char, &str>) -> std::borrow::Cow<'t, str> {
    // Only '©' and '®' are below U+2000 among the table's keys, so pure ASCII never changes.
    if text.is_ascii() || !text.chars().any(|c| table.contains_key(&c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut replaced = String::with_capacity(text.len() + 32);
    let mut prev_space = true;
    for c in text.chars() {
        if let Some(description) = table.get(&c) {
            if !prev_space {
                replaced.push(' ');
            }
            replaced.push_str(description);
            prev_space = false;
        } else {
            replaced.push(c);
            prev_space = c == ' ';
        }
    }
    std::borrow::Cow::Owned(replaced)
}

/// Scores English text exactly like the reference `SentimentIntensityAnalyzer.polarity_scores`
/// (compound unrounded).
pub(crate) fn score(text: &str) -> PolarityScores {
    let rules = &*ENGLISH;
    let text = replace_emoji(text, &EMOJI_DESCRIPTIONS);
    let mut lower_buffer = String::new();
    let toks: Vec<Tok> = pytext::py_split(&text)
        .map(|raw| {
            let token = pytext::strip_punc_if_word(raw);
            let lower = pytext::lower_into(token, &mut lower_buffer);
            Tok { info: rules.lookup(lower), upper: pytext::py_isupper(token) }
        })
        .collect();
    let (exclamations, questions) = count_emphasis(&text);
    engine::score_tokens(rules, &toks, engine::punctuation_emphasis(exclamations, questions))
}

/// Counts `!` and `?` in one pass.
pub(crate) fn count_emphasis(text: &str) -> (usize, usize) {
    text.bytes().fold((0, 0), |(exclamations, questions), byte| match byte {
        b'!' => (exclamations + 1, questions),
        b'?' => (exclamations, questions + 1),
        _ => (exclamations, questions),
    })
}
