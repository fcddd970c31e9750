//! The English VADER rules one by one, through the public API. Exact values are those printed
//! by the reference `vaderSentiment` 3.3.2 for the same sentences (its README examples);
//! the other tests compare a text with its minimal variant, so each rule can fail on its own.

use murmur_lexicon::{Label, Language, PolarityScores, SentimentAnalyzer};

fn score(text: &str) -> PolarityScores {
    SentimentAnalyzer::new().score(text, Language::En)
}

fn compound(text: &str) -> f64 {
    score(text).compound
}

#[test]
fn reference_examples_match_vader_sentiment() {
    // (text, compound, neg, neu, pos) as returned by vaderSentiment 3.3.2 (rounded by it).
    let cases = [
        ("VADER is smart, handsome, and funny.", 0.8316, 0.0, 0.254, 0.746),
        ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342, 0.0, 0.233, 0.767),
        ("VADER is not smart, handsome, nor funny.", -0.7424, 0.646, 0.354, 0.0),
        ("At least it isn't a horrible book.", 0.431, 0.0, 0.678, 0.322),
        ("The book was only kind of good.", 0.3832, 0.0, 0.697, 0.303),
        (
            "The plot was good, but the characters are uncompelling and the dialog is not great.",
            -0.7042,
            0.327,
            0.579,
            0.094,
        ),
        ("Today only kinda sux! But I'll get by, lol", 0.5249, 0.127, 0.556, 0.317),
        ("Make sure you :) or :D today!", 0.8633, 0.0, 0.294, 0.706),
        ("Catch utf-8 emoji such as 💘 and 💋 and 😁", 0.875, 0.0, 0.583, 0.417),
        ("Not bad at all", 0.431, 0.0, 0.513, 0.487),
        ("This movie is the bomb", 0.6124, 0.0, 0.5, 0.5),
        ("I was never so happy", 0.7702, 0.0, 0.413, 0.587),
        ("good good but good good bad", 0.705, 0.274, 0.058, 0.669),
    ];
    for (text, compound, negative, neutral, positive) in cases {
        let scores = score(text);
        assert!((scores.compound - compound).abs() < 1e-4, "{text}: compound {} != {compound}", scores.compound);
        assert!((scores.negative - negative).abs() < 1e-3, "{text}: neg {} != {negative}", scores.negative);
        assert!((scores.neutral - neutral).abs() < 1e-3, "{text}: neu {} != {neutral}", scores.neutral);
        assert!((scores.positive - positive).abs() < 1e-3, "{text}: pos {} != {positive}", scores.positive);
    }
}

#[test]
fn negation_flips_polarity() {
    assert!(compound("the food is good") > 0.0);
    assert!(compound("the food is not good") < 0.0);
    assert!(compound("the food isn't good") < 0.0);
    assert!(compound("the food is never really good") < 0.0);
    assert!(compound("no problem at all") > compound("problem at all"));
}

#[test]
fn boosters_and_dampeners_scale_intensity() {
    assert!(compound("the food is very good") > compound("the food is good"));
    assert!(compound("the food is extremely bad") < compound("the food is bad"));
    assert!(compound("the food is slightly good") < compound("the food is good"));
    assert!(compound("the food is kind of good") < compound("the food is good"));
    assert!(compound("the food is sort of good") < compound("the food is good"));
}

#[test]
fn all_caps_word_among_lowercase_is_emphasised() {
    assert!(compound("the food is GOOD today") > compound("the food is good today"));
    // Everything in caps is shouting, not emphasis: no difference.
    assert_eq!(compound("THE FOOD IS GOOD TODAY"), compound("the food is good today"));
}

#[test]
fn exclamation_and_question_marks_add_emphasis() {
    assert!(compound("the food is good!") > compound("the food is good"));
    assert!(compound("the food is good!!!") > compound("the food is good!"));
    // At most four exclamation marks count.
    assert_eq!(compound("the food is good!!!!"), compound("the food is good!!!!!!!"));
    assert!(compound("the food is good??") > compound("the food is good?"));
    assert!(compound("the food is bad!!") < compound("the food is bad"));
}

#[test]
fn but_shifts_weight_to_the_second_clause() {
    assert!(compound("the food is good but the service is bad") < 0.0);
    assert!(compound("the food is bad but the service is good") > 0.0);
}

#[test]
fn least_negates_unless_at_least() {
    assert!(compound("the least good movie") < 0.0);
    assert!(compound("at least good") > 0.0);
}

#[test]
fn emoji_and_emoticons_carry_sentiment() {
    assert!(compound("😁") > 0.0);
    assert!(compound("😢") < 0.0);
    assert!(compound("see you tomorrow :)") > 0.0);
    assert!(compound("see you tomorrow :(") < 0.0);
    // An emoji glued to a word is separated from the preceding word.
    assert!(compound("tomorrow😁") > 0.0);
}

#[test]
fn idioms_and_special_cases() {
    // Special cases replace the valence of a nearby lexicon word (from the fourth word on).
    assert!(compound("this new album is the shit") > 0.0);
    assert!(compound("this album is shit") < 0.0);
    assert!(compound("it will be the kiss of death") < 0.0);
    assert!(compound("it will be the kiss") > 0.0);
}

#[test]
fn proportions_sum_to_one_and_compound_is_bounded() {
    for text in ["good", "bad bad bad!!!", "meh", "I LOVE IT but I HATE IT", "😀😡"] {
        let scores = score(text);
        assert!((-1.0..=1.0).contains(&scores.compound), "{text}");
        let total = scores.positive + scores.neutral + scores.negative;
        assert!((total - 1.0).abs() < 1e-9, "{text}: proportions sum to {total}");
    }
}

#[test]
fn label_thresholds_follow_vader_convention() {
    assert_eq!(SentimentAnalyzer::label(0.05), Label::Positive);
    assert_eq!(SentimentAnalyzer::label(0.049), Label::Neutral);
    assert_eq!(SentimentAnalyzer::label(-0.049), Label::Neutral);
    assert_eq!(SentimentAnalyzer::label(-0.05), Label::Negative);
}
