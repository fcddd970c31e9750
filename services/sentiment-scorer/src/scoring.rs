//! Turns a post (or a bare text) into language + sentiment with the lexicon model.

use murmur_lexicon::{Label, Language, PolarityScores, SentimentAnalyzer};
use murmur_proto::events::v1::{Post, ScoredPost, SentimentLabel, SentimentScore};

/// Name of the lexicon model in `ScoredPost.sentiment.model` and `ListModels`.
pub const LEXICON_MODEL: &str = "lexicon-vader";

/// Language + sentiment of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextScore {
    /// ISO 639-1 code, or `und` when unknown/unsupported.
    pub language: &'static str,
    /// Whether the language came from the platform's hint.
    pub language_from_hint: bool,
    /// The sentiment.
    pub sentiment: SentimentScore,
}

/// The lexicon scorer with the service's input cap.
#[derive(Debug, Clone)]
pub struct Scorer {
    analyzer: SentimentAnalyzer,
    max_text_bytes: usize,
}

impl Scorer {
    /// A scorer that looks at no more than `max_text_bytes` of each text (longer texts are cut
    /// at a character boundary: sentiment is decided by the beginning of a very long post, and
    /// the cap keeps one huge post from stalling a partition).
    pub fn new(max_text_bytes: usize) -> Self {
        Self { analyzer: SentimentAnalyzer::new(), max_text_bytes: max_text_bytes.max(1) }
    }

    /// Scores `text`, using `language_hint` when it names a supported language.
    pub fn score_text(&self, text: &str, language_hint: &str) -> TextScore {
        let text = truncate_at_char_boundary(text, self.max_text_bytes);
        let hint = Some(language_hint.trim()).filter(|hint| !hint.is_empty());
        let hinted_language = hint.and_then(Language::from_hint);
        let (language, scores) = self.analyzer.score_auto(text, hint);
        TextScore {
            language: language_code(language),
            language_from_hint: hinted_language.is_some_and(|hinted| hinted == language),
            sentiment: sentiment_score(&scores),
        }
    }

    /// Scores a post's title and text together.
    pub fn score_post(&self, post: Post) -> ScoredPost {
        let text_score = if post.title.is_empty() {
            self.score_text(&post.text, &post.language_hint)
        } else {
            self.score_text(&format!("{}\n{}", post.title, post.text), &post.language_hint)
        };
        ScoredPost {
            post: Some(post),
            language: text_score.language.to_string(),
            sentiment: Some(text_score.sentiment),
            embedding: Vec::new(),
            scored_at: Some(now_timestamp()),
            language_from_hint: text_score.language_from_hint,
        }
    }
}

fn language_code(language: Language) -> &'static str {
    match language {
        Language::Unknown => "und",
        other => other.code(),
    }
}

/// Maps VADER scores to the wire type. Confidence of the lexicon model: for a polar label,
/// `|compound|`; for neutral, how far the compound is from the ±0.05 thresholds
/// (`1 − |compound| / 0.05`). Both lie in [0, 1].
pub fn sentiment_score(scores: &PolarityScores) -> SentimentScore {
    let label = SentimentAnalyzer::label(scores.compound);
    let confidence = match label {
        Label::Neutral => 1.0 - scores.compound.abs() / murmur_lexicon::POSITIVE_THRESHOLD,
        Label::Positive | Label::Negative => scores.compound.abs(),
    };
    SentimentScore {
        compound: scores.compound,
        positive: scores.positive,
        neutral: scores.neutral,
        negative: scores.negative,
        label: match label {
            Label::Negative => SentimentLabel::Negative,
            Label::Neutral => SentimentLabel::Neutral,
            Label::Positive => SentimentLabel::Positive,
        } as i32,
        confidence: confidence.clamp(0.0, 1.0),
        model: LEXICON_MODEL.to_string(),
    }
}

fn truncate_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn now_timestamp() -> prost_types::Timestamp {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp { seconds: now.as_secs() as i64, nanos: now.subsec_nanos() as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_french_posts_get_language_and_polarity() {
        let scorer = Scorer::new(64 * 1024);
        let english = scorer.score_text("I absolutely love this community, you are all great!", "");
        assert_eq!(english.language, "en");
        assert_eq!(english.sentiment.label, SentimentLabel::Positive as i32);
        let french = scorer.score_text("Je n'aime pas du tout cette nouvelle version, quelle horreur", "");
        assert_eq!(french.language, "fr");
        assert_eq!(french.sentiment.label, SentimentLabel::Negative as i32);
        assert_eq!(french.sentiment.model, LEXICON_MODEL);
    }

    #[test]
    fn a_supported_hint_is_used_and_reported() {
        let scorer = Scorer::new(1024);
        let hinted = scorer.score_text("ok", "fr");
        assert_eq!(hinted.language, "fr");
        assert!(hinted.language_from_hint);
        let unsupported_hint = scorer.score_text("ok", "de");
        assert!(!unsupported_hint.language_from_hint);
    }

    #[test]
    fn bad_input_gets_a_defined_result() {
        let scorer = Scorer::new(64 * 1024);
        for text in
            ["", "\u{200b}\u{202e}\u{0007}", "🙂🙂🙂", "https://example.org/x https://t.co/y", "Привет мир 你好"]
        {
            let scored = scorer.score_text(text, "");
            assert!((-1.0..=1.0).contains(&scored.sentiment.compound), "{text:?}");
            assert!((0.0..=1.0).contains(&scored.sentiment.confidence), "{text:?}");
        }
        let huge = "great ".repeat(200_000);
        let scored = scorer.score_text(&huge, "en");
        assert_eq!(scored.sentiment.label, SentimentLabel::Positive as i32);
        let cut = truncate_at_char_boundary("ééé", 3);
        assert_eq!(cut, "é");
    }

    #[test]
    fn posts_keep_their_content_and_title_counts() {
        let scorer = Scorer::new(1024);
        let post = Post {
            id: "reddit:t3_x".into(),
            title: "Terrible awful day".into(),
            text: "".into(),
            ..Default::default()
        };
        let scored = scorer.score_post(post.clone());
        assert_eq!(scored.post.as_ref(), Some(&post));
        assert_eq!(scored.sentiment.as_ref().map(|s| s.label), Some(SentimentLabel::Negative as i32));
        assert!(scored.scored_at.is_some());
    }
}
