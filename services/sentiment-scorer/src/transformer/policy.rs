//! Which posts the transformer scores. The lexicon is about a thousand times cheaper, and it is
//! reliable when it finds strong sentiment words; the transformer earns its cost on the texts the
//! lexicon cannot decide (no sentiment words, mixed signals, weak compound scores).

use murmur_proto::events::v1::SentimentScore;

/// `MURMUR_TRANSFORMER_POLICY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransformerPolicy {
    /// Only posts the lexicon finds ambiguous: weak compound or low confidence.
    Ambiguous,
    /// Every post.
    All,
    /// No post: the transformer only computes embeddings, when they are published.
    Off,
}

impl TransformerPolicy {
    /// Name used in settings and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            TransformerPolicy::Ambiguous => "ambiguous",
            TransformerPolicy::All => "all",
            TransformerPolicy::Off => "off",
        }
    }
}

/// Decides from the lexicon's score whether the transformer should score a post.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoutingPolicy {
    pub policy: TransformerPolicy,
    /// Under [`TransformerPolicy::Ambiguous`], posts whose `|compound|` is below this go to the
    /// transformer.
    pub ambiguous_below_compound: f64,
    /// Under [`TransformerPolicy::Ambiguous`], posts whose lexicon confidence is below this go
    /// to the transformer too.
    pub ambiguous_below_confidence: f64,
}

impl RoutingPolicy {
    /// Whether the transformer should score a post the lexicon scored as `lexicon`.
    pub fn routes(&self, lexicon: &SentimentScore) -> bool {
        match self.policy {
            TransformerPolicy::Off => false,
            TransformerPolicy::All => true,
            TransformerPolicy::Ambiguous => {
                lexicon.compound.abs() < self.ambiguous_below_compound
                    || lexicon.confidence < self.ambiguous_below_confidence
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(compound: f64, confidence: f64) -> SentimentScore {
        SentimentScore { compound, confidence, ..Default::default() }
    }

    #[test]
    fn each_policy_routes_what_it_says() {
        let policy = |policy| RoutingPolicy { policy, ambiguous_below_compound: 0.5, ambiguous_below_confidence: 0.3 };
        let strong = lexicon(0.9, 0.9);
        let weak = lexicon(-0.2, 0.2);
        let unsure_neutral = lexicon(0.04, 0.2);
        assert!(!policy(TransformerPolicy::Off).routes(&weak));
        assert!(policy(TransformerPolicy::All).routes(&strong));
        let ambiguous = policy(TransformerPolicy::Ambiguous);
        assert!(!ambiguous.routes(&strong));
        assert!(ambiguous.routes(&weak));
        assert!(ambiguous.routes(&unsure_neutral));
        assert!(ambiguous.routes(&lexicon(0.0, 1.0)), "no sentiment words at all is ambiguous");
        assert!(ambiguous.routes(&lexicon(-0.6, 0.1)), "low confidence alone routes");
    }
}
