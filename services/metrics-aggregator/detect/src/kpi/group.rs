//! The figures communities and channels share, computed over a [`GroupScope`]: who the members are, which
//! posts are theirs and which owned-account posts are in their conversations.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{ratio, GroupKpis, KpiConfig, KpiInput, PostRecord, SentimentKpis};
use crate::types::{ActorId, CommunityId};

/// Indexes over the window's posts, built once and shared by every community and channel.
pub(crate) struct WindowContext<'a> {
    pub posts: &'a [PostRecord],
    pub membership: &'a HashMap<ActorId, CommunityId>,
    pub owned_accounts: &'a HashSet<ActorId>,
    /// Depth of each post in its reply tree.
    depth_by_id: HashMap<&'a str, u32>,
    /// Direct replies of each post id (indices into `posts`).
    children: HashMap<&'a str, Vec<usize>>,
    /// Posts of each author (indices into `posts`).
    pub posts_by_author: HashMap<ActorId, Vec<usize>>,
    /// Undirected interaction neighbours of each actor over the whole window.
    pub neighbours: HashMap<ActorId, BTreeSet<ActorId>>,
    channels: BTreeSet<&'a str>,
    /// Posts of each channel (indices into `posts`).
    posts_by_channel: HashMap<&'a str, Vec<usize>>,
    /// Posts by owned accounts (indices into `posts`).
    owned_post_indices: Vec<usize>,
    /// Author of each thread starter in the window, by post id.
    pub thread_starter: HashMap<&'a str, ActorId>,
}

/// Actors a post interacts with: the parent's author and the mentioned actors, never the author itself.
pub(crate) fn interaction_targets(post: &PostRecord) -> Vec<ActorId> {
    let mut targets: Vec<ActorId> = Vec::new();
    for target in post.parent_author.iter().chain(post.mentions.iter()) {
        if *target != post.author && !targets.contains(target) {
            targets.push(*target);
        }
    }
    targets
}

impl<'a> WindowContext<'a> {
    pub fn new(input: &KpiInput<'a>, config: &'a KpiConfig) -> WindowContext<'a> {
        let posts = input.posts;
        let mut index_by_id: HashMap<&str, usize> = HashMap::with_capacity(posts.len());
        let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut posts_by_author: HashMap<ActorId, Vec<usize>> = HashMap::new();
        let mut neighbours: HashMap<ActorId, BTreeSet<ActorId>> = HashMap::new();
        let mut channels: BTreeSet<&str> = BTreeSet::new();
        let mut posts_by_channel: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut owned_post_indices = Vec::new();
        let mut thread_starter: HashMap<&str, ActorId> = HashMap::new();
        for (index, post) in posts.iter().enumerate() {
            posts_by_channel.entry(post.channel.as_str()).or_default().push(index);
            if config.owned_accounts.contains(&post.author) {
                owned_post_indices.push(index);
            }
            if post.parent_post_id.is_none() {
                thread_starter.insert(post.post_id.as_str(), post.author);
            }
            index_by_id.insert(post.post_id.as_str(), index);
            if let Some(parent) = post.parent_post_id.as_deref() {
                children.entry(parent).or_default().push(index);
            }
            posts_by_author.entry(post.author).or_default().push(index);
            for target in interaction_targets(post) {
                neighbours.entry(post.author).or_default().insert(target);
                neighbours.entry(target).or_default().insert(post.author);
            }
            channels.insert(post.channel.as_str());
        }
        let depths = compute_depths(posts, &index_by_id);
        let depth_by_id = posts.iter().map(|post| post.post_id.as_str()).zip(depths).collect();
        WindowContext {
            posts,
            membership: input.membership,
            owned_accounts: &config.owned_accounts,
            depth_by_id,
            children,
            posts_by_author,
            neighbours,
            channels,
            posts_by_channel,
            owned_post_indices,
            thread_starter,
        }
    }

    /// The posts written by `members`, in window order (via the author index: no scan of the window).
    pub fn member_posts(&self, members: &HashSet<ActorId>) -> Vec<&'a PostRecord> {
        let mut indices: Vec<usize> =
            members.iter().filter_map(|member| self.posts_by_author.get(member)).flatten().copied().collect();
        indices.sort_unstable();
        indices.into_iter().map(|index| &self.posts[index]).collect()
    }

    pub fn channel_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.channels.iter().copied()
    }

    fn depth_of(&self, post: &PostRecord) -> u32 {
        self.depth_by_id.get(post.post_id.as_str()).copied().unwrap_or(0)
    }
}

/// Depth of every post: distance to its thread root through parents present in the window; a parent outside
/// the window adds one final step (the post is at least a reply). Iterative with memoisation; a malformed
/// cycle stops after `posts.len()` steps instead of looping.
fn compute_depths(posts: &[PostRecord], index_by_id: &HashMap<&str, usize>) -> Vec<u32> {
    let mut depths: Vec<Option<u32>> = vec![None; posts.len()];
    for start in 0..posts.len() {
        if depths[start].is_some() {
            continue;
        }
        let mut path: Vec<usize> = Vec::new();
        let mut current = start;
        let mut base_depth: u32 = 0;
        loop {
            if let Some(known) = depths[current] {
                base_depth = known;
                break;
            }
            path.push(current);
            if path.len() > posts.len() {
                break;
            }
            match posts[current].parent_post_id.as_deref() {
                None => {
                    // `current` is a root: depth 0; it is the last element of the path.
                    path.pop();
                    depths[current] = Some(0);
                    base_depth = 0;
                    break;
                }
                Some(parent_id) => match index_by_id.get(parent_id) {
                    Some(parent_index) if *parent_index != current => current = *parent_index,
                    _ => {
                        // Parent outside the window: this post is a reply of unknown depth, at least 1.
                        path.pop();
                        depths[current] = Some(1);
                        base_depth = 1;
                        break;
                    }
                },
            }
        }
        for (steps_from_end, index) in path.iter().rev().enumerate() {
            depths[*index] = Some(base_depth + steps_from_end as u32 + 1);
        }
    }
    depths.into_iter().map(|depth| depth.unwrap_or(0)).collect()
}

/// The actors and posts a group's KPIs are computed over.
pub(crate) struct GroupScope<'a> {
    pub members: HashSet<ActorId>,
    pub member_posts: Vec<&'a PostRecord>,
    pub owned_posts: Vec<&'a PostRecord>,
    pub active_members: HashSet<ActorId>,
    pub creator: Option<ActorId>,
}

impl<'a> GroupScope<'a> {
    /// Members' posts, and the owned-account posts in the threads where a member posted.
    pub fn for_community(
        context: &WindowContext<'a>,
        members: &HashSet<ActorId>,
        creator: Option<ActorId>,
    ) -> GroupScope<'a> {
        let member_posts: Vec<&PostRecord> = context.member_posts(members);
        let threads: HashSet<&str> = member_posts.iter().map(|post| post.thread_id()).collect();
        let owned_posts = context
            .owned_post_indices
            .iter()
            .map(|index| &context.posts[*index])
            .filter(|post| threads.contains(post.thread_id()))
            .collect();
        let active_members = member_posts.iter().map(|post| post.author).collect();
        GroupScope { members: members.clone(), member_posts, owned_posts, active_members, creator }
    }

    /// A channel's non-owned authors in the window are its members.
    pub fn for_channel(context: &WindowContext<'a>, channel: &str) -> GroupScope<'a> {
        let mut member_posts = Vec::new();
        let mut owned_posts = Vec::new();
        let indices = context.posts_by_channel.get(channel).map(Vec::as_slice).unwrap_or_default();
        for post in indices.iter().map(|index| &context.posts[*index]) {
            if context.owned_accounts.contains(&post.author) {
                owned_posts.push(post);
            } else {
                member_posts.push(post);
            }
        }
        let members: HashSet<ActorId> = member_posts.iter().map(|post| post.author).collect();
        GroupScope { active_members: members.clone(), members, member_posts, owned_posts, creator: None }
    }
}

pub(crate) fn compute_group(context: &WindowContext<'_>, scope: &GroupScope<'_>, config: &KpiConfig) -> GroupKpis {
    let size = scope.members.len() as u64;
    let member_posts = &scope.member_posts;

    let mut engagement_sum = 0.0;
    for post in member_posts {
        let audience = post.channel_audience.filter(|audience| *audience > 0).unwrap_or(size).max(1);
        engagement_sum += (post.replies + post.reactions + post.forwards) as f64 / audience as f64;
    }
    let engagement_rate = if member_posts.is_empty() { 0.0 } else { engagement_sum / member_posts.len() as f64 };

    let mut replies = 0u64;
    let mut member_to_member_replies = 0u64;
    let mut directed_edges: HashSet<(ActorId, ActorId)> = HashSet::new();
    for post in member_posts {
        if let Some(parent_author) = post.parent_author.filter(|parent| *parent != post.author) {
            replies += 1;
            let involves_creator =
                scope.creator.is_some_and(|creator| creator == post.author || creator == parent_author);
            if scope.members.contains(&parent_author) && !involves_creator {
                member_to_member_replies += 1;
            }
        }
        for target in interaction_targets(post) {
            if scope.members.contains(&target) {
                directed_edges.insert((post.author, target));
            }
        }
    }
    let reciprocated = directed_edges.iter().filter(|(from, to)| directed_edges.contains(&(*to, *from))).count();
    let undirected_pairs: HashSet<(ActorId, ActorId)> =
        directed_edges.iter().map(|(from, to)| ((*from).min(*to), (*from).max(*to))).collect();
    let possible_pairs = size.saturating_mul(size.saturating_sub(1));
    let density = if possible_pairs == 0 { 0.0 } else { 2.0 * undirected_pairs.len() as f64 / possible_pairs as f64 };

    let mut depths: Vec<u32> = member_posts.iter().map(|post| context.depth_of(post)).collect();
    depths.sort_unstable();
    let thread_depth_mean = if depths.is_empty() {
        0.0
    } else {
        depths.iter().map(|depth| f64::from(*depth)).sum::<f64>() / depths.len() as f64
    };

    let owned_posts = scope.owned_posts.len() as u64;
    let ugc_denominator = owned_posts + member_posts.len() as u64;
    let ugc_ratio = (ugc_denominator > 0).then(|| member_posts.len() as f64 / ugc_denominator as f64);

    let (time_to_sentiment_median_ms, time_to_sentiment_samples) = time_to_sentiment(context, scope, config);

    GroupKpis {
        size,
        active_members: scope.active_members.len() as u64,
        active_participation_rate: ratio(scope.active_members.len() as u64, size),
        member_posts: member_posts.len() as u64,
        owned_posts,
        engagement_rate,
        replies,
        member_to_member_ratio: (replies > 0).then(|| member_to_member_replies as f64 / replies as f64),
        reciprocity: ratio(reciprocated as u64, directed_edges.len() as u64),
        density,
        thread_depth_mean,
        thread_depth_p90: nearest_rank(&depths, 0.9),
        ugc_ratio,
        sentiment: sentiment(member_posts, config),
        time_to_sentiment_median_ms,
        time_to_sentiment_samples,
        retention: None,
        growth: None,
        previous_size: 0,
    }
}

/// Nearest-rank percentile of sorted values: the value at rank `ceil(p·n)` (1-based); 0 when empty.
pub(crate) fn nearest_rank(sorted_values: &[u32], percentile: f64) -> u32 {
    if sorted_values.is_empty() {
        return 0;
    }
    let rank = (percentile * sorted_values.len() as f64).ceil().max(1.0) as usize;
    sorted_values[rank.min(sorted_values.len()) - 1]
}

fn sentiment(posts: &[&PostRecord], config: &KpiConfig) -> SentimentKpis {
    let scores: Vec<f64> = posts.iter().filter_map(|post| post.sentiment).filter(|score| score.is_finite()).collect();
    if scores.is_empty() {
        return SentimentKpis::default();
    }
    let count = scores.len() as f64;
    SentimentKpis {
        scored_posts: scores.len() as u64,
        mean: Some(scores.iter().sum::<f64>() / count),
        positive_share: scores.iter().filter(|score| **score >= config.positive_threshold).count() as f64 / count,
        negative_share: scores.iter().filter(|score| **score <= config.negative_threshold).count() as f64 / count,
        trend: None,
    }
}

/// Median time from each owned post in scope to its first positive direct reply by a member.
fn time_to_sentiment(context: &WindowContext<'_>, scope: &GroupScope<'_>, config: &KpiConfig) -> (Option<i64>, u64) {
    let mut delays: Vec<i64> = Vec::new();
    for owned_post in &scope.owned_posts {
        let Some(reply_indices) = context.children.get(owned_post.post_id.as_str()) else {
            continue;
        };
        let first_positive = reply_indices
            .iter()
            .map(|index| &context.posts[*index])
            .filter(|reply| scope.members.contains(&reply.author))
            .filter(|reply| reply.sentiment.is_some_and(|score| score >= config.positive_threshold))
            .map(|reply| reply.created_at.saturating_sub(owned_post.created_at).max(0))
            .min();
        if let Some(delay) = first_positive {
            delays.push(delay);
        }
    }
    if delays.is_empty() {
        return (None, 0);
    }
    delays.sort_unstable();
    let middle = delays.len() / 2;
    let median = if delays.len() % 2 == 1 { delays[middle] } else { (delays[middle - 1] + delays[middle]) / 2 };
    (Some(median), delays.len() as u64)
}

/// `|previous_active ∩ active_now| / |previous_active|`; `None` when nobody was active before.
pub(crate) fn retention(previous_active: &HashSet<ActorId>, active_now: &HashSet<ActorId>) -> Option<f64> {
    if previous_active.is_empty() {
        return None;
    }
    let retained = previous_active.iter().filter(|actor| active_now.contains(actor)).count();
    Some(retained as f64 / previous_active.len() as f64)
}

/// `(size − previous) / previous`; `None` without a previous size.
pub(crate) fn growth(size: u64, previous_size: u64) -> Option<f64> {
    (previous_size > 0).then(|| (size as f64 - previous_size as f64) / previous_size as f64)
}

/// New members, and the share of them whose first interaction (earliest post with a target; ties by post
/// id) reached an existing member (in the community in both windows, not owned). `None` without new members.
pub(crate) fn new_and_organic(
    context: &WindowContext<'_>,
    members: &HashSet<ActorId>,
    previous_members: &HashSet<ActorId>,
    owned_accounts: &HashSet<ActorId>,
) -> (u64, Option<f64>) {
    let mut new_member_ids: Vec<ActorId> =
        members.iter().filter(|actor| !previous_members.contains(actor)).copied().collect();
    new_member_ids.sort_unstable();
    if new_member_ids.is_empty() {
        return (0, None);
    }
    let is_existing = |actor: &ActorId| {
        members.contains(actor) && previous_members.contains(actor) && !owned_accounts.contains(actor)
    };
    let mut organic = 0u64;
    for new_member in &new_member_ids {
        let Some(post_indices) = context.posts_by_author.get(new_member) else {
            continue;
        };
        let first_interaction = post_indices
            .iter()
            .map(|index| &context.posts[*index])
            .filter(|post| !interaction_targets(post).is_empty())
            .min_by(|left, right| left.created_at.cmp(&right.created_at).then(left.post_id.cmp(&right.post_id)));
        if first_interaction.is_some_and(|post| interaction_targets(post).iter().any(is_existing)) {
            organic += 1;
        }
    }
    (new_member_ids.len() as u64, Some(organic as f64 / new_member_ids.len() as f64))
}
