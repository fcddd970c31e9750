//! The French rules one by one: each test compares a text with its minimal variant, so every
//! rule (negation frames, boosters, "mais", elision, accents, caps, punctuation, emoji) can fail
//! on its own.

use murmur_lexicon::{Language, SentimentAnalyzer};

fn compound(text: &str) -> f64 {
    SentimentAnalyzer::new().score(text, Language::Fr).compound
}

#[test]
fn ne_pas_negates_the_verb_inside_and_the_word_after() {
    assert!(compound("j'aime ce film") > 0.0);
    assert!(compound("je n'aime pas ce film") < 0.0);
    assert!(compound("ce film est bon") > 0.0);
    assert!(compound("ce film n'est pas bon") < 0.0);
    assert!(compound("ce film n'est pas très bon") < 0.0);
}

#[test]
fn other_negation_frames() {
    assert!(compound("je n'aime jamais ce genre de film") < 0.0);
    assert!(compound("je n'aime plus ce film") < 0.0);
    assert!(compound("je n'aime pas du tout ce film") < 0.0);
    assert!(compound("aucun problème") > compound("un problème"));
}

#[test]
fn ne_que_is_restrictive_not_negative() {
    assert!(compound("je n'aime que ce film") > 0.0);
}

#[test]
fn spoken_negation_without_ne() {
    assert!(compound("j'aime pas ce film") < 0.0);
    assert!(compound("c'est pas bon") < 0.0);
    assert!(compound("pas du tout content") < 0.0);
}

#[test]
fn boosters_and_dampeners() {
    assert!(compound("ce film est très bon") > compound("ce film est bon"));
    assert!(compound("ce film est vraiment bon") > compound("ce film est bon"));
    assert!(compound("ce film est trop bien") > compound("ce film est bien"));
    assert!(compound("ce film est super bon") > compound("ce film est bon"));
    assert!(compound("ce film est un peu bon") < compound("ce film est bon"));
    assert!(compound("ce film est assez bon") < compound("ce film est bon"));
}

#[test]
fn mais_shifts_weight_to_the_second_clause() {
    assert!(compound("le début est génial mais la fin est horrible") < 0.0);
    assert!(compound("le début est horrible mais la fin est géniale") > 0.0);
}

#[test]
fn elision_exposes_the_word() {
    assert!(compound("j'adore") > 0.0);
    assert!(compound("c'est l'horreur") < 0.0);
    assert!(compound("c\u{2019}est l\u{2019}horreur") < 0.0, "typographic apostrophe");
    assert!(compound("qu'il est beau") > 0.0);
}

#[test]
fn accents_are_optional() {
    assert_eq!(compound("c'est génial"), compound("c'est genial"));
    assert!(compound("c'est genial") > 0.0);
    assert_eq!(compound("quel désastre"), compound("quel desastre"));
    assert!(compound("quel desastre") < 0.0);
}

#[test]
fn caps_and_punctuation_emphasis() {
    assert!(compound("ce film est GÉNIAL vraiment") > compound("ce film est génial vraiment"));
    assert!(compound("ce film est génial!!!") > compound("ce film est génial"));
    assert!(compound("ce film est nul!!!") < compound("ce film est nul"));
}

#[test]
fn emoji_and_emoticons() {
    assert!(compound("😁") > 0.0);
    assert!(compound("😢") < 0.0);
    assert!(compound("à demain :)") > 0.0);
    assert!(compound("à demain :(") < 0.0);
}

#[test]
fn fixed_expressions() {
    assert!(compound("pas mal ce film") > 0.0);
    assert!(compound("mort de rire") > 0.0);
    assert!(compound("n'importe quoi") < 0.0);
}
