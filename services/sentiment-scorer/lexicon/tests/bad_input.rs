//! Hostile input: every case gets a defined result, no panic, and bounded work (a 1 MB text
//! goes through the scorers and the language detector in linear time; a quadratic step would
//! make this test run for minutes).

use murmur_lexicon::{detect_language, Label, Language, PolarityScores, SentimentAnalyzer};

fn assert_well_formed(scores: PolarityScores, what: &str) {
    assert!(scores.compound.is_finite() && (-1.0..=1.0).contains(&scores.compound), "{what}: {scores:?}");
    for part in [scores.positive, scores.neutral, scores.negative] {
        assert!(part.is_finite() && (0.0..=1.0).contains(&part), "{what}: {scores:?}");
    }
}

fn score_all(text: &str, what: &str) -> [PolarityScores; 3] {
    let analyzer = SentimentAnalyzer::new();
    let scores = [Language::En, Language::Fr, Language::Unknown].map(|language| analyzer.score(text, language));
    for one in scores {
        assert_well_formed(one, what);
    }
    let _ = detect_language(text, None);
    scores
}

#[test]
fn empty_and_blank_text_score_zero() {
    for text in ["", "   ", "\n\t\r", "\u{3000}"] {
        for scores in score_all(text, "blank") {
            assert_eq!(scores, PolarityScores::default());
        }
        assert_eq!(detect_language(text, None), Language::Unknown);
    }
}

#[test]
fn one_megabyte_text_is_scored() {
    // Many lexicon words and a "but" exercise every rule, including the contrastive step
    // whose reference implementation is quadratic.
    let sentence = "I love this but the ending was TERRIBLE!! c'est génial, je n'aime pas 😀 ";
    let text = sentence.repeat(1_048_576 / sentence.len() + 1);
    assert!(text.len() >= 1_048_576);
    let [english, french, _] = score_all(&text, "1 MB");
    assert!(english.compound.abs() > 0.0);
    assert!(french.compound.abs() > 0.0);
    assert_ne!(detect_language(&text, None), Language::Unknown);
}

#[test]
fn one_megabyte_without_spaces_is_scored() {
    let text = "a".repeat(1_048_576);
    for scores in score_all(&text, "1 MB single token") {
        assert_eq!(scores.compound, 0.0);
    }
}

#[test]
fn control_and_zero_width_characters() {
    let texts = [
        "good\u{0}\u{1}\u{7f} day",
        "go\u{200b}od day",
        "\u{200d}\u{feff}\u{2060}",
        "great\u{1c}day\u{1f}",
        "\u{202e}reversed great",
        "l'\u{200b}",
        "n'",
        "'''",
    ];
    for text in texts {
        score_all(text, text);
    }
    // Python splits on U+001C..U+001F like on spaces; the reference finds "great" here.
    assert!(SentimentAnalyzer::new().score("great\u{1c}day", Language::En).compound > 0.0);
}

#[test]
fn only_emoji() {
    let analyzer = SentimentAnalyzer::new();
    assert!(analyzer.score("😀😀😀", Language::En).compound > 0.0);
    assert!(analyzer.score("😀😀😀", Language::Fr).compound > 0.0);
    assert_eq!(detect_language("😀😀😀", None), Language::Unknown);
    // Multi-code-point emoji (skin tone, ZWJ sequences, flags) are defined too.
    score_all("👍🏽 👨‍👩‍👧 🇫🇷", "emoji sequences");
}

#[test]
fn only_urls_are_neutral() {
    let text = "http://example.com https://t.co/AbC?x=1&y=2 www.example.org/path";
    for scores in score_all(text, "urls") {
        assert_eq!(SentimentAnalyzer::label(scores.compound), Label::Neutral);
    }
}

#[test]
fn mixed_scripts() {
    let text = "Привет good 你好 bien مرحبا 😀 שלום";
    score_all(text, "mixed scripts");
    assert!(SentimentAnalyzer::new().score(text, Language::En).compound > 0.0);
    assert_eq!(detect_language("Привет, как дела? Всё хорошо, спасибо", None), Language::Unknown);
}

#[test]
fn lossy_decoded_invalid_utf8_is_scored() {
    // Invalid bytes never reach the scorer as `&str`; callers decode lossily (U+FFFD).
    let text = String::from_utf8_lossy(b"great \xff\xfe day \xc3");
    score_all(&text, "lossy");
}
