//! The ground truth written next to a simulated stream (`truth.json`): which actors form which
//! planted community from when, which terms rise from when and where they spread, which terms are
//! stable background, and where sentiment turns.
//!
//! Handles are raw (as in the stream); murmur pseudonymises them at the ingestor, so a consumer of
//! the truth maps them with the deployment's key (`Pseudonymiser::pseudonymise(platform, handle)`).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Whether a community was planted (emerging) or is a stable background crowd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommunityKind {
    /// An emerging micro-community: absent before `onset`, its member-to-member interactions grow after.
    Planted,
    /// A background crowd talking at a stable volume for the whole stream (random interactions).
    Stable,
}

/// One community of the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthCommunity {
    /// Short name (the channel's niche).
    pub id: String,
    /// Planted or stable.
    pub kind: CommunityKind,
    /// `reddit`, `telegram`, `mastodon` or `bluesky`.
    pub platform: String,
    /// The channel it lives in, as the stream names it.
    pub channel: String,
    /// `en` or `fr`.
    pub language: String,
    /// First post (RFC 3339).
    pub onset: String,
    /// Raw handles of its members (those who posted at least once).
    pub members: Vec<String>,
    /// Its own vocabulary (niche terms; those of a planted community rise with it).
    pub vocabulary: Vec<String>,
}

/// Where a planted term appears, from when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpreadStep {
    /// Community id (planted or stable).
    pub community: String,
    /// First use there (RFC 3339).
    pub at: String,
}

/// A planted weak signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthSignal {
    /// The term as it appears in text (a word, or `#tag` for a hashtag).
    pub term: String,
    /// `en` or `fr`.
    pub language: String,
    /// First use (RFC 3339).
    pub onset: String,
    /// The community it starts in.
    pub origin: String,
    /// Where it spreads, in order (the origin first).
    pub spread: Vec<SpreadStep>,
}

/// A planted change of a community's mood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthSentimentShift {
    /// Community id.
    pub community: String,
    /// When the mood turns (RFC 3339).
    pub at: String,
    /// Share of positive posts before.
    pub positive_share_before: f64,
    /// Share of positive posts after.
    pub positive_share_after: f64,
}

/// The whole ground truth of one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Seed the stream was generated from.
    pub seed: u64,
    /// Event time of the stream's start (RFC 3339).
    pub start: String,
    /// Event time of its end (RFC 3339).
    pub end: String,
    /// Posts in the stream.
    pub posts: u64,
    /// Planted and stable communities.
    pub communities: Vec<TruthCommunity>,
    /// Planted rising terms.
    pub signals: Vec<TruthSignal>,
    /// Terms of the stable crowds, used at a stable volume all along: they must never fire.
    pub background_terms: Vec<String>,
    /// Planted sentiment shifts.
    pub sentiment_shifts: Vec<TruthSentimentShift>,
}

impl Truth {
    /// Reads `truth.json`.
    pub fn read(path: &Path) -> anyhow::Result<Truth> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The planted communities.
    pub fn planted(&self) -> impl Iterator<Item = &TruthCommunity> {
        self.communities.iter().filter(|community| community.kind == CommunityKind::Planted)
    }

    /// A community by id.
    pub fn community(&self, id: &str) -> Option<&TruthCommunity> {
        self.communities.iter().find(|community| community.id == id)
    }
}
