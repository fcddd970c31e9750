//! Member roles in a community: creator, moderator, relay/bridge, power user.
//!
//! - **creator**: the member with the most posts that received a reply from another member (the one others
//!   answer); ties by more thread starts, then lowest actor id. Without any member-to-member reply, the
//!   member who started the most threads (ties: lowest id); `None` when no member posted.
//! - **moderator**: when any member's post carries the platform moderator flag, exactly the flagged members.
//!   Otherwise by behaviour: replied in at least `moderator_min_threads` distinct threads started by others,
//!   at least `moderator_min_reply_share` of their posts are replies, and an in-degree (distinct members
//!   replying to or mentioning them) at or above the community's 90th percentile (nearest rank) and ≥ 1.
//! - **relay/bridge**: linked (reply or mention, either direction, whole window) to members of at least
//!   `bridge_min_other_communities` other communities. The participation coefficient
//!   `P = 1 − Σ_s (k_s / k)²` (Guimerà & Amaral 2005; k_s neighbours in community s, unassigned neighbours
//!   form their own group) is reported alongside.
//! - **power user**: among the top `power_user_top_share` (default 5%, at least one member) both by posts
//!   and by in-degree, with at least `power_user_min_posts` posts and an in-degree ≥ 1. "Top share" uses
//!   the value at rank `ceil(share·n)` as threshold, so ties at the boundary are all included.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::group::{interaction_targets, WindowContext};
use crate::types::{ActorId, CommunityId};

/// A role a member can hold (several at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The member others answer the most.
    Creator,
    /// Platform-flagged or behaving as one.
    Moderator,
    /// Links the community to others.
    Bridge,
    /// Top activity and in-degree.
    PowerUser,
}

/// A member with at least one role and the figures behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRoles {
    /// The member.
    pub actor: ActorId,
    /// Roles held, sorted.
    pub roles: Vec<Role>,
    /// Posts in the window.
    pub posts: u64,
    /// Distinct members replying to or mentioning this member.
    pub in_degree: u64,
    /// Distinct other communities linked to.
    pub other_communities: u64,
    /// Participation coefficient over the member's neighbours' communities.
    pub participation_coefficient: f64,
}

/// Role thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    /// Distinct threads started by others a behavioural moderator replied in (default 5).
    pub moderator_min_threads: usize,
    /// Share of a behavioural moderator's posts that are replies (default 0.8).
    pub moderator_min_reply_share: f64,
    /// Other communities a bridge links to (default 2).
    pub bridge_min_other_communities: usize,
    /// Top share for power users (default 0.05).
    pub power_user_top_share: f64,
    /// Minimum posts of a power user (default 2).
    pub power_user_min_posts: u64,
}

impl Default for RoleConfig {
    fn default() -> Self {
        RoleConfig {
            moderator_min_threads: 5,
            moderator_min_reply_share: 0.8,
            bridge_min_other_communities: 2,
            power_user_top_share: 0.05,
            power_user_min_posts: 2,
        }
    }
}

/// The creator as defined in the module docs.
pub(crate) fn find_creator(context: &WindowContext<'_>, members: &HashSet<ActorId>) -> Option<ActorId> {
    let mut replied_posts: HashMap<ActorId, HashSet<&str>> = HashMap::new();
    let mut thread_starts: HashMap<ActorId, u64> = HashMap::new();
    for post in context.member_posts(members) {
        if post.parent_post_id.is_none() {
            *thread_starts.entry(post.author).or_default() += 1;
        }
        let Some(parent_author) = post.parent_author else {
            continue;
        };
        let is_member_reply = members.contains(&post.author) && members.contains(&parent_author);
        if is_member_reply && parent_author != post.author {
            if let Some(parent_id) = post.parent_post_id.as_deref() {
                replied_posts.entry(parent_author).or_default().insert(parent_id);
            }
        }
    }
    let best_by_replies = replied_posts
        .iter()
        .map(|(actor, posts)| (posts.len() as u64, thread_starts.get(actor).copied().unwrap_or(0), *actor))
        .max_by(|left, right| left.0.cmp(&right.0).then(left.1.cmp(&right.1)).then(right.2.cmp(&left.2)));
    if let Some((_, _, actor)) = best_by_replies {
        return Some(actor);
    }
    thread_starts.iter().max_by(|left, right| left.1.cmp(right.1).then(right.0.cmp(left.0))).map(|(actor, _)| *actor)
}

/// Members holding at least one role, sorted by actor id.
pub(crate) fn assign_roles(
    context: &WindowContext<'_>,
    members: &HashSet<ActorId>,
    community: CommunityId,
    creator: Option<ActorId>,
    config: &RoleConfig,
) -> Vec<MemberRoles> {
    let mut sorted_members: Vec<ActorId> = members.iter().copied().collect();
    sorted_members.sort_unstable();
    let mut in_links: HashMap<ActorId, HashSet<ActorId>> = HashMap::new();
    let mut posts_count: HashMap<ActorId, u64> = HashMap::new();
    let mut replies_count: HashMap<ActorId, u64> = HashMap::new();
    let mut threads_replied_of_others: HashMap<ActorId, HashSet<&str>> = HashMap::new();
    let thread_starter = &context.thread_starter;
    let mut any_moderator_flag = false;
    let mut flagged: HashSet<ActorId> = HashSet::new();
    for post in context.member_posts(members) {
        *posts_count.entry(post.author).or_default() += 1;
        if post.author_is_moderator {
            any_moderator_flag = true;
            flagged.insert(post.author);
        }
        if post.parent_post_id.is_some() {
            *replies_count.entry(post.author).or_default() += 1;
            let started_by_other = thread_starter.get(post.thread_id()).is_none_or(|starter| *starter != post.author);
            if started_by_other {
                threads_replied_of_others.entry(post.author).or_default().insert(post.thread_id());
            }
        }
        for target in interaction_targets(post) {
            if members.contains(&target) {
                in_links.entry(target).or_default().insert(post.author);
            }
        }
    }
    let in_degree = |actor: &ActorId| in_links.get(actor).map_or(0, |sources| sources.len() as u64);
    let posts_of = |actor: &ActorId| posts_count.get(actor).copied().unwrap_or(0);

    let mut sorted_in_degrees: Vec<u32> = sorted_members.iter().map(|actor| in_degree(actor) as u32).collect();
    sorted_in_degrees.sort_unstable();
    let in_degree_p90 = u64::from(super::group::nearest_rank(&sorted_in_degrees, 0.9));
    let top_count = ((config.power_user_top_share * sorted_members.len() as f64).ceil() as usize).max(1);
    let threshold_at_top = |mut values: Vec<u64>| -> u64 {
        values.sort_unstable_by(|left, right| right.cmp(left));
        values.get(top_count.min(values.len()).saturating_sub(1)).copied().unwrap_or(u64::MAX)
    };
    let posts_threshold = threshold_at_top(sorted_members.iter().map(posts_of).collect());
    let in_degree_threshold = threshold_at_top(sorted_members.iter().map(in_degree).collect());

    let mut result = Vec::new();
    for actor in &sorted_members {
        let mut roles = Vec::new();
        if creator == Some(*actor) {
            roles.push(Role::Creator);
        }
        let is_moderator = if any_moderator_flag {
            flagged.contains(actor)
        } else {
            let posts = posts_of(actor);
            let reply_share = super::ratio(replies_count.get(actor).copied().unwrap_or(0), posts);
            let threads = threads_replied_of_others.get(actor).map_or(0, HashSet::len);
            threads >= config.moderator_min_threads
                && reply_share >= config.moderator_min_reply_share
                && in_degree(actor) >= in_degree_p90.max(1)
        };
        if is_moderator {
            roles.push(Role::Moderator);
        }
        let (other_communities, participation_coefficient) = bridging(context, *actor, community);
        if other_communities >= config.bridge_min_other_communities as u64 {
            roles.push(Role::Bridge);
        }
        let is_power_user = posts_of(actor) >= posts_threshold.max(config.power_user_min_posts)
            && in_degree(actor) >= in_degree_threshold.max(1);
        if is_power_user {
            roles.push(Role::PowerUser);
        }
        if !roles.is_empty() {
            result.push(MemberRoles {
                actor: *actor,
                roles,
                posts: posts_of(actor),
                in_degree: in_degree(actor),
                other_communities,
                participation_coefficient,
            });
        }
    }
    result
}

/// Distinct other communities among `actor`'s neighbours, and its participation coefficient.
fn bridging(context: &WindowContext<'_>, actor: ActorId, own_community: CommunityId) -> (u64, f64) {
    let Some(neighbours) = context.neighbours.get(&actor) else {
        return (0, 0.0);
    };
    if neighbours.is_empty() {
        return (0, 0.0);
    }
    // Unassigned neighbours share one `None` group: they are outside every community.
    let mut per_community: BTreeMap<Option<CommunityId>, u64> = BTreeMap::new();
    for neighbour in neighbours {
        *per_community.entry(context.membership.get(neighbour).copied()).or_default() += 1;
    }
    let other_communities = per_community
        .keys()
        .filter(|community| community.is_some_and(|community_id| community_id != own_community))
        .count() as u64;
    let total = neighbours.len() as f64;
    let concentration: f64 = per_community.values().map(|count| (*count as f64 / total).powi(2)).sum();
    (other_communities, 1.0 - concentration)
}
