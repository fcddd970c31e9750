//! Deterministic synthetic scored posts for benchmarks: `communities` groups of `community_size`
//! actors who mostly reply to each other in their own channel, with their own vocabulary.

use murmur_proto::events::v1::{Engagement, Platform, Post, PostKind, ScoredPost, SentimentScore};

/// Shape of the synthetic stream.
#[derive(Debug, Clone)]
pub struct SyntheticStream {
    /// Number of groups.
    pub communities: usize,
    /// Actors per group.
    pub community_size: usize,
    /// Event time of the first post (ms).
    pub start_ms: i64,
    /// Event time between consecutive posts (ms).
    pub spacing_ms: i64,
    /// Seed.
    pub seed: u64,
}

const COMMON: &[&str] = &["today", "really", "think", "people", "great", "new", "thanks", "week", "look", "good"];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

impl SyntheticStream {
    /// Posts `first..first + count` of the stream (the same index always gives the same post).
    pub fn posts(&self, first: u64, count: usize) -> Vec<ScoredPost> {
        (first..first + count as u64).map(|index| self.post(index)).collect()
    }

    /// Post number `index`.
    pub fn post(&self, index: u64) -> ScoredPost {
        let mut rng = Rng(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let community = (index % self.communities.max(1) as u64) as usize;
        let member = rng.below(self.community_size);
        let author = format!("actor-{community}-{member}");
        let channel = format!("niche{}", community % 64);
        let created_ms = self.start_ms + index as i64 * self.spacing_ms;
        // Thread starters every fourth post of a community; others reply to a recent post of it.
        let round = index / self.communities.max(1) as u64;
        let (kind, parent_id, root_id) = if round.is_multiple_of(4) {
            (PostKind::Post, String::new(), format!("reddit:s{index}"))
        } else {
            let back = 1 + rng.below(3) as u64;
            let parent = index.saturating_sub(back * self.communities.max(1) as u64);
            let root = index - (round % 4) * self.communities.max(1) as u64;
            (PostKind::Comment, format!("reddit:s{parent}"), format!("reddit:s{root}"))
        };
        let words: Vec<String> = (0..8)
            .map(|slot| {
                if slot % 2 == 0 {
                    format!("topic{community}w{}", rng.below(6))
                } else {
                    COMMON[rng.below(COMMON.len())].to_string()
                }
            })
            .collect();
        let post = Post {
            id: format!("reddit:s{index}"),
            platform: Platform::Reddit as i32,
            channel,
            kind: kind as i32,
            author_id: author,
            parent_id,
            root_id,
            mentions: if rng.below(10) == 0 {
                vec![format!("actor-{community}-{}", rng.below(self.community_size))]
            } else {
                Vec::new()
            },
            hashtags: vec![format!("tag{community}")],
            text: words.join(" "),
            created_at: Some(prost_types::Timestamp {
                seconds: created_ms.div_euclid(1000),
                nanos: (created_ms.rem_euclid(1000) * 1_000_000) as i32,
            }),
            observed_at: Some(prost_types::Timestamp {
                seconds: created_ms.div_euclid(1000) + 1,
                nanos: (created_ms.rem_euclid(1000) * 1_000_000) as i32,
            }),
            engagement: Some(Engagement {
                score: rng.below(20) as i64,
                replies: rng.below(5) as i64,
                ..Engagement::default()
            }),
            ..Post::default()
        };
        let compound = (rng.below(200) as f64 - 100.0) / 100.0;
        ScoredPost {
            post: Some(post),
            language: "en".to_string(),
            sentiment: Some(SentimentScore {
                compound,
                model: "lexicon-vader".to_string(),
                ..SentimentScore::default()
            }),
            ..ScoredPost::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_deterministic_and_replies_point_back() {
        let stream = SyntheticStream { communities: 10, community_size: 50, start_ms: 0, spacing_ms: 10, seed: 7 };
        assert_eq!(stream.post(1234), stream.post(1234));
        let posts = stream.posts(0, 200);
        let ids: std::collections::HashSet<String> =
            posts.iter().filter_map(|post| post.post.as_ref().map(|post| post.id.clone())).collect();
        let replies: Vec<&Post> =
            posts.iter().filter_map(|post| post.post.as_ref()).filter(|post| !post.parent_id.is_empty()).collect();
        assert!(replies.len() > 100);
        assert!(replies.iter().all(|reply| ids.contains(&reply.parent_id) && ids.contains(&reply.root_id)));
    }
}
