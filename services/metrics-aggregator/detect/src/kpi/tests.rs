//! KPI formulas pinned on small hand-computed threads. The expected figures are derived in the comments.

use super::*;

const OWNED: ActorId = 100;

struct PostSpec {
    id: &'static str,
    author: ActorId,
    parent: Option<(&'static str, ActorId)>,
    root: Option<&'static str>,
    channel: &'static str,
    at: TimestampMs,
    sentiment: Option<f64>,
    counters: (u64, u64, u64),
    audience: Option<u64>,
    mentions: Vec<ActorId>,
    terms: Vec<&'static str>,
}

fn spec(id: &'static str, author: ActorId, channel: &'static str, at: TimestampMs) -> PostSpec {
    PostSpec {
        id,
        author,
        parent: None,
        root: None,
        channel,
        at,
        sentiment: None,
        counters: (0, 0, 0),
        audience: None,
        mentions: vec![],
        terms: vec![],
    }
}

impl PostSpec {
    fn reply(mut self, parent_id: &'static str, parent_author: ActorId, root: &'static str) -> PostSpec {
        self.parent = Some((parent_id, parent_author));
        self.root = Some(root);
        self
    }
    fn sentiment(mut self, score: f64) -> PostSpec {
        self.sentiment = Some(score);
        self
    }
    fn counters(mut self, replies: u64, reactions: u64, forwards: u64) -> PostSpec {
        self.counters = (replies, reactions, forwards);
        self
    }
    fn audience(mut self, audience: u64) -> PostSpec {
        self.audience = Some(audience);
        self
    }
    fn mentions(mut self, mentions: Vec<ActorId>) -> PostSpec {
        self.mentions = mentions;
        self
    }
    fn terms(mut self, terms: Vec<&'static str>) -> PostSpec {
        self.terms = terms;
        self
    }
    fn build(self) -> PostRecord {
        PostRecord {
            post_id: self.id.to_string(),
            author: self.author,
            parent_post_id: self.parent.map(|(parent_id, _)| parent_id.to_string()),
            parent_author: self.parent.map(|(_, parent_author)| parent_author),
            root_post_id: self.root.map(str::to_string),
            mentions: self.mentions,
            channel: self.channel.to_string(),
            created_at: self.at,
            sentiment: self.sentiment,
            replies: self.counters.0,
            reactions: self.counters.1,
            forwards: self.counters.2,
            channel_audience: self.audience,
            author_is_moderator: false,
            terms: self.terms.into_iter().map(str::to_string).collect(),
        }
    }
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-9
}

fn config() -> KpiConfig {
    KpiConfig { owned_accounts: [OWNED].into_iter().collect(), ..KpiConfig::default() }
}

/// Community 1 = {1, 2, 3, 4, 7}, community 2 = {5, 6}, community 3 = {9}; 100 is the brand.
///
/// Thread p1 (channel A, audience 100): p1(1) ← p2(2) ← p3(3) ← p4(1); p1 ← p5(2) ← p12(1).
/// Thread p7 (A, brand): p7(100) ← p8(3, +0.4, t=100), p9(2, −0.5, moderator flag).
/// Thread p6 (channel B, no audience): p6(4, mentions 1) ← p10(5). p11(6) replies to an unseen post of 1.
/// p17(9, channel C) mentions 1.
fn scenario_posts() -> Vec<PostRecord> {
    let mut posts = vec![
        spec("p1", 1, "A", 0).sentiment(0.5).counters(3, 5, 2).audience(100).terms(vec!["greve"]).build(),
        spec("p2", 2, "A", 10).reply("p1", 1, "p1").sentiment(0.6).counters(0, 1, 0).audience(100).build(),
        spec("p3", 3, "A", 20).reply("p2", 2, "p1").sentiment(-0.2).audience(100).build(),
        spec("p4", 1, "A", 30).reply("p3", 3, "p1").sentiment(0.0).counters(0, 2, 0).audience(100).build(),
        spec("p5", 2, "A", 40).reply("p1", 1, "p1").sentiment(0.3).audience(100).terms(vec!["greve"]).build(),
        spec("p12", 1, "A", 45).reply("p5", 2, "p1").sentiment(0.2).audience(100).build(),
        spec("p6", 4, "B", 50).counters(1, 1, 0).mentions(vec![1]).terms(vec!["essence"]).build(),
        spec("p7", OWNED, "A", 60).sentiment(0.9).audience(100).build(),
        spec("p8", 3, "A", 100).reply("p7", OWNED, "p7").sentiment(0.4).audience(100).build(),
        spec("p9", 2, "A", 80).reply("p7", OWNED, "p7").sentiment(-0.5).audience(100).build(),
        spec("p10", 5, "B", 70).reply("p6", 4, "p6").sentiment(0.1).terms(vec!["meteo"]).build(),
        spec("p11", 6, "B", 90).reply("ext-1", 1, "ext-root").build(),
        spec("p17", 9, "C", 300).mentions(vec![1]).build(),
    ];
    posts[9].author_is_moderator = true;
    posts
}

#[test]
fn community_kpis_match_hand_computation() {
    let posts = scenario_posts();
    let membership: HashMap<ActorId, CommunityId> =
        [(1, 1), (2, 1), (3, 1), (4, 1), (7, 1), (5, 2), (6, 2), (9, 3), (OWNED, 1)].into_iter().collect();
    let previous = PreviousWindow {
        membership: [(1, 1), (2, 1), (3, 1), (8, 1)].into_iter().collect(),
        active_authors: [1, 3, 8].into_iter().collect(),
        community_sentiment_mean: [(1, 0.0625)].into_iter().collect(),
        ..PreviousWindow::default()
    };
    let kpi_config = config();
    let window_end = 1_000;
    let born_at: HashMap<CommunityId, TimestampMs> =
        [(1, window_end - kpi_config.emergence.recency_half_life_ms)].into_iter().collect();
    let input = KpiInput {
        window_start: 0,
        window_end,
        posts: &posts,
        membership: &membership,
        previous: &previous,
        community_born_at: &born_at,
    };
    let kpis = compute_window_kpis(&input, &kpi_config);
    let community = &kpis.communities[&1];
    let group = &community.group;

    // The brand account is never a member: size 5, members 1–4 posted → 4/5.
    assert_eq!(group.size, 5);
    assert_eq!(group.active_members, 4);
    assert!(close(group.active_participation_rate, 0.8));
    // Member posts p1 p2 p3 p4 p5 p12 p6 p8 p9 = 9; engagement (channel A audience 100, B → size 5):
    // p1 10/100 + p2 1/100 + p4 2/100 + p6 2/5 = 0.1 + 0.01 + 0.02 + 0.4 = 0.53 → 0.53 / 9.
    assert_eq!(group.member_posts, 9);
    assert!(close(group.engagement_rate, 0.53 / 9.0));
    // Creator: posts replied by other members — 1:{p1}, 2:{p2, p5}, 3:{p3} → 2.
    assert_eq!(community.creator, Some(2));
    // Replies by members: p2 p3 p4 p5 p12 p8 p9 = 7; between members without the creator: p4 (1→3) only.
    assert_eq!(group.replies, 7);
    assert!(close(group.member_to_member_ratio.unwrap_or(-1.0), 1.0 / 7.0));
    // Directed member edges: 2→1, 3→2, 1→3, 1→2, 4→1 (mention); reciprocated 2→1 and 1→2 → 2/5.
    assert!(close(group.reciprocity, 0.4));
    // Undirected pairs {1,2} {2,3} {1,3} {1,4} = 4; density 2·4 / (5·4) = 0.4.
    assert!(close(group.density, 0.4));
    // Depths: p1 0, p2 1, p3 2, p4 3, p5 1, p12 2, p6 0, p8 1, p9 1 → mean 11/9; p90 rank ceil(8.1) = 9 → 3.
    assert!(close(group.thread_depth_mean, 11.0 / 9.0));
    assert_eq!(group.thread_depth_p90, 3);
    // Owned posts in the community's threads: p7 → UGC 9 / (1 + 9).
    assert_eq!(group.owned_posts, 1);
    assert!(close(group.ugc_ratio.unwrap_or(-1.0), 0.9));
    // Scored member posts: .5 .6 −.2 0 .3 .2 .4 −.5 → mean 1.3/8 = 0.1625; positive 5/8; negative 2/8;
    // trend 0.1625 − 0.0625 = 0.1.
    assert_eq!(group.sentiment.scored_posts, 8);
    assert!(close(group.sentiment.mean.unwrap_or(-9.0), 0.1625));
    assert!(close(group.sentiment.positive_share, 0.625));
    assert!(close(group.sentiment.negative_share, 0.25));
    assert!(close(group.sentiment.trend.unwrap_or(-9.0), 0.1));
    // TTS: p7 (t=60) first positive member reply p8 (t=100) → 40 ms.
    assert_eq!(group.time_to_sentiment_median_ms, Some(40));
    // Previously active in community 1: {1, 3, 8}; still members and active: 1, 3 → 2/3.
    assert!(close(group.retention.unwrap_or(-1.0), 2.0 / 3.0));
    // Growth (5 − 4) / 4; new members {4, 7} → 2/5; organic: 4's first interaction (p6) mentions 1, an
    // existing member; 7 never interacted → 1/2.
    assert!(close(group.growth.unwrap_or(-1.0), 0.25));
    assert_eq!(community.new_members, 2);
    assert!(close(community.new_member_rate, 0.4));
    assert!(close(community.organic_growth.unwrap_or(-1.0), 0.5));
    // Roles: posts 1:3, 2:3, 3:2, 4:1, 7:0; in-degree 1:{2,4}=2, 2:{3,1}=2, 3:{1}=1. Top 5% of 5 = 1 rank:
    // thresholds posts 3, in-degree 2 → power users 1 and 2. Moderator: the platform flag (p9 by 2).
    // Actor 1's neighbours {2,3,4} in 1, {6} in 2, {9} in 3 → 2 other communities: bridge;
    // P = 1 − (0.6² + 0.2² + 0.2²) = 0.56.
    let roles: Vec<(ActorId, Vec<Role>)> =
        community.roles.iter().map(|member| (member.actor, member.roles.clone())).collect();
    assert_eq!(
        roles,
        vec![(1, vec![Role::Bridge, Role::PowerUser]), (2, vec![Role::Creator, Role::Moderator, Role::PowerUser])]
    );
    assert!(close(community.roles[0].participation_coefficient, 0.56));
    assert_eq!(community.roles[0].other_communities, 2);
    assert_eq!(community.themes.first().map(|(term, _)| term.as_str()), Some("greve"));
    // Emergence: G = 0.25; C = ½·(1/7) + ½·min(1, 0.4/0.1) = 0.5714286; R = 0.5 (one half-life)
    // → 0.4·0.25 + 0.4·0.5714286 + 0.2·0.5 = 0.4285714.
    assert!(close(community.emergence_score, 0.1 + 0.4 * (0.5 / 7.0 + 0.5) + 0.1));

    // Community 2 = {5, 6}: replies p10 → 4 and p11 → 1, both outside → m2m 0/2; no creator.
    let second = &kpis.communities[&2];
    assert_eq!(second.creator, None);
    assert!(close(second.group.member_to_member_ratio.unwrap_or(-1.0), 0.0));
    // p10 depth 1 (parent p6 root), p11 depth 1 (parent outside the window).
    assert!(close(second.group.thread_depth_mean, 1.0));
    // Born this window (no previous members): growth undefined.
    assert_eq!(second.group.growth, None);
}

#[test]
fn channel_kpis_match_hand_computation() {
    let posts = scenario_posts();
    let membership: HashMap<ActorId, CommunityId> = HashMap::new();
    let previous = PreviousWindow {
        channel_authors: [("A".to_string(), [1, 2, 3, 9].into_iter().collect())].into_iter().collect(),
        ..PreviousWindow::default()
    };
    let born_at = HashMap::new();
    let input = KpiInput {
        window_start: 0,
        window_end: 1_000,
        posts: &posts,
        membership: &membership,
        previous: &previous,
        community_born_at: &born_at,
    };
    let kpis = compute_window_kpis(&input, &config());
    assert!(kpis.communities.is_empty());
    let channel_a = &kpis.channels["A"].group;
    // Channel A: authors {1, 2, 3} (brand excluded), member posts 8, brand posts 1 → UGC 8/9.
    assert_eq!(channel_a.size, 3);
    assert!(close(channel_a.ugc_ratio.unwrap_or(-1.0), 8.0 / 9.0));
    // Engagement: (10 + 1 + 2) / 100 over 8 posts = 0.01625.
    assert!(close(channel_a.engagement_rate, 0.13 / 8.0));
    // Retention: previous {1,2,3,9} active now {1,2,3} → 3/4; growth (3 − 4)/4 = −0.25.
    assert!(close(channel_a.retention.unwrap_or(-1.0), 0.75));
    assert!(close(channel_a.growth.unwrap_or(-9.0), -0.25));
    // Channel B has no audience: p6 uses the channel's 3 authors → 2/3, p10 and p11 0 → mean 2/9.
    assert!(close(kpis.channels["B"].group.engagement_rate, 2.0 / 9.0));
}

#[test]
fn time_to_sentiment_is_the_median_delay_to_the_first_positive_member_reply() {
    let posts = vec![
        spec("o1", OWNED, "A", 0).build(),
        spec("r1", 1, "A", 50).reply("o1", OWNED, "o1").sentiment(0.7).build(),
        // 0.05 is positive (threshold inclusive): first positive reply of o1 after 30 ms.
        spec("r2", 2, "A", 30).reply("o1", OWNED, "o1").sentiment(0.05).build(),
        spec("r3", 3, "A", 10).reply("o1", OWNED, "o1").sentiment(-0.3).build(),
        spec("o2", OWNED, "A", 100).build(),
        spec("r4", 1, "A", 140).reply("o2", OWNED, "o2").sentiment(0.9).build(),
        // o3 only gets a neutral reply: not in the sample.
        spec("o3", OWNED, "A", 200).build(),
        spec("r5", 2, "A", 210).reply("o3", OWNED, "o3").sentiment(0.0).build(),
    ];
    let membership: HashMap<ActorId, CommunityId> = [(1, 1), (2, 1), (3, 1)].into_iter().collect();
    let previous = PreviousWindow::default();
    let born_at = HashMap::new();
    let input = KpiInput {
        window_start: 0,
        window_end: 1_000,
        posts: &posts,
        membership: &membership,
        previous: &previous,
        community_born_at: &born_at,
    };
    let kpis = compute_window_kpis(&input, &config());
    let group = &kpis.communities[&1].group;
    // Delays 30 and 40 → median (30 + 40) / 2 = 35.
    assert_eq!(group.time_to_sentiment_median_ms, Some(35));
    assert_eq!(group.time_to_sentiment_samples, 2);
    // UGC: 5 member posts / (3 brand posts + 5) = 0.625.
    assert!(close(group.ugc_ratio.unwrap_or(-1.0), 0.625));
    // No previous window: retention, growth and trend are undefined.
    assert_eq!((group.retention, group.growth, group.sentiment.trend), (None, None, None));
    assert_eq!(kpis.channels["A"].group.time_to_sentiment_median_ms, Some(35));
}

#[test]
fn behavioural_moderator_without_platform_flags() {
    // Member 1 replies in 5 threads started by 2..=6 and is answered by all of them; nobody is flagged.
    let mut posts = Vec::new();
    let starters: [(ActorId, &str, &str); 5] =
        [(2, "s2", "m2"), (3, "s3", "m3"), (4, "s4", "m4"), (5, "s5", "m5"), (6, "s6", "m6")];
    for (index, (starter, root, moderator_reply)) in starters.iter().enumerate() {
        let at = index as i64 * 100;
        posts.push(spec(root, *starter, "A", at).build());
        posts.push(spec(moderator_reply, 1, "A", at + 10).reply(root, *starter, root).build());
    }
    for (index, answer) in ["a2", "a3", "a4", "a5", "a6"].into_iter().enumerate() {
        let (starter, root, moderator_reply) = starters[index];
        posts.push(spec(answer, starter, "A", index as i64 * 100 + 20).reply(moderator_reply, 1, root).build());
    }
    let membership: HashMap<ActorId, CommunityId> = (1..=6).map(|actor| (actor, 1)).collect();
    let previous = PreviousWindow::default();
    let born_at = HashMap::new();
    let input = KpiInput {
        window_start: 0,
        window_end: 1_000,
        posts: &posts,
        membership: &membership,
        previous: &previous,
        community_born_at: &born_at,
    };
    let kpis = compute_window_kpis(&input, &config());
    let moderators: Vec<ActorId> = kpis.communities[&1]
        .roles
        .iter()
        .filter(|member| member.roles.contains(&Role::Moderator))
        .map(|member| member.actor)
        .collect();
    // Actor 1: 5 threads of others, 5/5 posts are replies, in-degree 5 ≥ p90 → moderator; nobody else.
    assert_eq!(moderators, vec![1]);
}

#[test]
fn sentiment_slope_is_least_squares() {
    // Means 0.1, 0.2, 0.3 → slope 0.1 per window; a flat series → 0.
    assert!(close(sentiment_slope(&[0.1, 0.2, 0.3]), 0.1));
    assert!(close(sentiment_slope(&[0.4, 0.4]), 0.0));
    assert_eq!(sentiment_slope(&[0.4]), 0.0);
}
