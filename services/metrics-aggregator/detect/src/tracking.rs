//! Community tracking across snapshots: stable ids and lifecycle events.
//!
//! Leiden labels are arbitrary per run; the tracker matches each snapshot's communities to the
//! previous snapshot's by member overlap and gives them stable [`CommunityId`]s (allocated here,
//! increasing, never reused). With `P` a previous community, `C` a current one:
//!
//! - **Jaccard** `J(P, C) = |P ∩ C| / |P ∪ C|`; **containment** of `P` in `C`:
//!   `|P ∩ C| / |P|` (share of `P`'s members now in `C`).
//!
//! Rules, applied in this order (ties broken by larger overlap, then smaller id / label, so the
//! result is deterministic):
//!
//! 1. **Continuation.** Pairs with `J ≥ match_threshold` are matched one-to-one, best Jaccard
//!    first; `C` keeps `P`'s id.
//! 2. **Merge.** An unmatched `P` whose largest share (containment `≥ containment_threshold`) went
//!    into one `C` was absorbed by it. If `C` then holds two or more previous communities (its match
//!    plus absorbed ones) it emits `Merged` with them as related ids; an unmatched `C` that absorbed
//!    exactly one `P` is that community continuing after a large change (keeps its id).
//! 3. **Split.** An unmatched `C` made mostly of one `P`'s former members
//!    (`|P ∩ C| / |C| ≥ containment_threshold`) split off `P`: it gets a new id and `P` emits
//!    `Split` listing the new parts (`P` itself may continue or not).
//! 4. **Born / Dissolved.** Any other unmatched `C` is `Born`; any other unmatched `P` is
//!    `Dissolved`.
//! 5. **Size change** of each continuing community: `g = (|C| − |P|) / |P|`; `Growing` when
//!    `g > growth_threshold`, `Shrinking` when `g < −shrink_threshold`, else `Stable`.
//!
//! Only communities of at least `min_tracked_size` members are tracked (smaller ones get no id).
//! A **micro-community** is one whose size is within `[micro_min_size, micro_max_size]`
//! (default 50–5000); every event says whether its community is one.

use std::collections::HashMap;

use crate::types::{ActorId, CommunityId};

/// Thresholds of the tracker.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TrackerConfig {
    /// Minimum Jaccard similarity for a current community to continue a previous one.
    pub match_threshold: f64,
    /// Minimum containment for merges and splits.
    pub containment_threshold: f64,
    /// Relative growth above which a continuing community is `Growing`.
    pub growth_threshold: f64,
    /// Relative shrinkage above which a continuing community is `Shrinking`.
    pub shrink_threshold: f64,
    /// Communities smaller than this are ignored.
    pub min_tracked_size: usize,
    /// Smallest micro-community.
    pub micro_min_size: usize,
    /// Largest micro-community.
    pub micro_max_size: usize,
}

impl Default for TrackerConfig {
    /// Jaccard 0.3 (Greene, Doyle & Cunningham 2010 found 0.3 robust), containment 0.5, ±20 %
    /// size change, track from 3 members, micro band 50–5000.
    fn default() -> Self {
        Self {
            match_threshold: 0.3,
            containment_threshold: 0.5,
            growth_threshold: 0.2,
            shrink_threshold: 0.2,
            min_tracked_size: 3,
            micro_min_size: 50,
            micro_max_size: 5000,
        }
    }
}

impl TrackerConfig {
    /// Whether `size` is within the micro-community band.
    pub fn is_micro(&self, size: usize) -> bool {
        (self.micro_min_size..=self.micro_max_size).contains(&size)
    }
}

/// Kind of lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecycleEventKind {
    /// A community with no predecessor.
    Born,
    /// Continuing, grew by more than the growth threshold.
    Growing,
    /// Continuing, shrank by more than the shrink threshold.
    Shrinking,
    /// Continuing, size within the thresholds.
    Stable,
    /// Holds two or more previous communities (`related`: the previous ids it absorbed).
    Merged,
    /// Parts of it became new communities (`related`: the new parts' ids).
    Split,
    /// Gone: no continuation, not merged.
    Dissolved,
}

/// One lifecycle event.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    /// What happened.
    pub kind: LifecycleEventKind,
    /// The community concerned (for `Dissolved` and `Split`, the previous community's id).
    pub community: CommunityId,
    /// Other communities involved, sorted (see [`LifecycleEventKind`]).
    pub related: Vec<CommunityId>,
    /// Current size (0 for `Dissolved`).
    pub size: usize,
    /// Previous size (0 for `Born`).
    pub previous_size: usize,
    /// Whether the community (current size, or previous size when dissolved) is a micro-community.
    pub is_micro: bool,
}

/// A community of the latest snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedCommunity {
    /// Stable id.
    pub id: CommunityId,
    /// Leiden label it had in this snapshot.
    pub label: u32,
    /// Members, sorted.
    pub members: Vec<ActorId>,
    /// Whether its size is within the micro band.
    pub is_micro: bool,
}

/// Result of one tracking step.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingUpdate {
    /// Tracked communities, sorted by id.
    pub communities: Vec<TrackedCommunity>,
    /// Events, sorted by community id then kind.
    pub events: Vec<LifecycleEvent>,
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackingError {
    /// `members` and `labels` differ in length.
    LengthMismatch { members: usize, labels: usize },
    /// An actor appears twice.
    DuplicateMember(ActorId),
}

/// Tracks communities across snapshots.
#[derive(Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CommunityTracker {
    config: TrackerConfig,
    next_id: CommunityId,
    community_of_actor: HashMap<ActorId, CommunityId>,
    size_of_community: HashMap<CommunityId, usize>,
}

impl CommunityTracker {
    /// A tracker with no history; ids start at 1.
    pub fn new(config: TrackerConfig) -> Self {
        Self { config, next_id: 1, ..Self::default() }
    }

    /// Stable community of each actor after the latest update (the warm-start input).
    pub fn community_of_actor(&self) -> &HashMap<ActorId, CommunityId> {
        &self.community_of_actor
    }

    fn allocate_id(&mut self) -> CommunityId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Matches a new partition (`labels[i]` is the community of `members[i]`) to the previous
    /// one and returns stable ids and events.
    pub fn update(&mut self, members: &[ActorId], labels: &[u32]) -> Result<TrackingUpdate, TrackingError> {
        if members.len() != labels.len() {
            return Err(TrackingError::LengthMismatch { members: members.len(), labels: labels.len() });
        }
        let config = self.config.clone();
        // Current communities (label → sorted members), only those large enough.
        let mut members_of_label: HashMap<u32, Vec<ActorId>> = HashMap::new();
        for (&actor, &label) in members.iter().zip(labels) {
            members_of_label.entry(label).or_default().push(actor);
        }
        let mut current: Vec<(u32, Vec<ActorId>)> =
            members_of_label.into_iter().filter(|(_, group)| group.len() >= config.min_tracked_size).collect();
        current.sort_unstable_by_key(|(label, _)| *label);
        let mut seen_actor: HashMap<ActorId, ()> = HashMap::with_capacity(members.len());
        for (_, group) in current.iter_mut() {
            group.sort_unstable();
            for &actor in group.iter() {
                if seen_actor.insert(actor, ()).is_some() {
                    return Err(TrackingError::DuplicateMember(actor));
                }
            }
        }

        // overlaps[j]: previous id → |P ∩ C_j|.
        let overlaps: Vec<Vec<(CommunityId, usize)>> = current
            .iter()
            .map(|(_, group)| {
                let mut counts: HashMap<CommunityId, usize> = HashMap::new();
                for actor in group {
                    if let Some(&previous) = self.community_of_actor.get(actor) {
                        *counts.entry(previous).or_insert(0) += 1;
                    }
                }
                let mut counts: Vec<(CommunityId, usize)> = counts.into_iter().collect();
                counts.sort_unstable();
                counts
            })
            .collect();
        // Taken out of `self` so ids can be allocated below; rebuilt at the end.
        let previous_sizes = std::mem::take(&mut self.size_of_community);
        let previous_size = |id: CommunityId| previous_sizes.get(&id).copied().unwrap_or(0);

        // 1. Continuation by Jaccard, best first.
        let mut candidate_pairs: Vec<(f64, CommunityId, usize)> = Vec::new();
        for (index, counts) in overlaps.iter().enumerate() {
            for &(previous, overlap) in counts {
                let union = previous_size(previous) + current[index].1.len() - overlap;
                let jaccard = overlap as f64 / union as f64;
                if jaccard >= config.match_threshold {
                    candidate_pairs.push((jaccard, previous, index));
                }
            }
        }
        candidate_pairs.sort_by(|first, second| {
            second.0.total_cmp(&first.0).then(first.1.cmp(&second.1)).then(first.2.cmp(&second.2))
        });
        let mut predecessor_of: Vec<Option<CommunityId>> = vec![None; current.len()];
        let mut successor_of: HashMap<CommunityId, usize> = HashMap::new();
        for &(_, previous, index) in &candidate_pairs {
            if predecessor_of[index].is_none() && !successor_of.contains_key(&previous) {
                predecessor_of[index] = Some(previous);
                successor_of.insert(previous, index);
            }
        }

        // 2. Merges: unmatched previous communities absorbed by one current community.
        let mut previous_ids: Vec<CommunityId> = previous_sizes.keys().copied().collect();
        previous_ids.sort_unstable();
        let mut best_target_of_previous: HashMap<CommunityId, (usize, usize)> = HashMap::new();
        for (index, counts) in overlaps.iter().enumerate() {
            for &(previous, overlap) in counts {
                let entry = best_target_of_previous.entry(previous).or_insert((index, overlap));
                if overlap > entry.1 {
                    *entry = (index, overlap);
                }
            }
        }
        let mut absorbed_by: Vec<Vec<CommunityId>> = vec![Vec::new(); current.len()];
        let mut absorbed: HashMap<CommunityId, usize> = HashMap::new();
        for &previous in &previous_ids {
            if successor_of.contains_key(&previous) {
                continue;
            }
            if let Some(&(index, overlap)) = best_target_of_previous.get(&previous) {
                let containment = overlap as f64 / previous_size(previous).max(1) as f64;
                if containment >= config.containment_threshold {
                    absorbed_by[index].push(previous);
                    absorbed.insert(previous, index);
                }
            }
        }
        let mut merged_from: Vec<Vec<CommunityId>> = vec![Vec::new(); current.len()];
        for index in 0..current.len() {
            let mut sources = absorbed_by[index].clone();
            if predecessor_of[index].is_none() && sources.len() == 1 {
                // One community that changed a lot: a continuation, not a merge.
                predecessor_of[index] = Some(sources[0]);
                successor_of.insert(sources[0], index);
                continue;
            }
            if sources.is_empty() {
                continue;
            }
            if let Some(previous) = predecessor_of[index] {
                sources.push(previous);
            }
            sources.sort_unstable();
            merged_from[index] = sources;
        }

        // 3. Splits, 4. births: ids for the communities without a predecessor.
        let mut ids: Vec<CommunityId> = vec![0; current.len()];
        let mut split_parts: HashMap<CommunityId, Vec<CommunityId>> = HashMap::new();
        let mut born: Vec<usize> = Vec::new();
        for index in 0..current.len() {
            if let Some(previous) = predecessor_of[index] {
                ids[index] = previous;
                continue;
            }
            ids[index] = self.allocate_id();
            let size = current[index].1.len();
            let largest_source = overlaps[index]
                .iter()
                .filter(|(previous, _)| !absorbed.contains_key(previous))
                .max_by(|first, second| first.1.cmp(&second.1).then(second.0.cmp(&first.0)));
            match largest_source {
                Some(&(previous, overlap))
                    if merged_from[index].is_empty()
                        && overlap as f64 / size as f64 >= config.containment_threshold =>
                {
                    split_parts.entry(previous).or_default().push(ids[index]);
                }
                _ if merged_from[index].is_empty() => born.push(index),
                _ => {}
            }
        }

        let mut events = Vec::new();
        for index in 0..current.len() {
            let size = current[index].1.len();
            let is_micro = config.is_micro(size);
            if born.contains(&index) {
                events.push(event(LifecycleEventKind::Born, ids[index], Vec::new(), size, 0, is_micro));
            }
            if !merged_from[index].is_empty() {
                let related = merged_from[index].iter().copied().filter(|&id| id != ids[index]).collect();
                let before = merged_from[index].iter().map(|&id| previous_size(id)).sum();
                events.push(event(LifecycleEventKind::Merged, ids[index], related, size, before, is_micro));
            }
            if let Some(previous) = predecessor_of[index] {
                let before = previous_size(previous);
                let growth = (size as f64 - before as f64) / before.max(1) as f64;
                let kind = if growth > config.growth_threshold {
                    LifecycleEventKind::Growing
                } else if growth < -config.shrink_threshold {
                    LifecycleEventKind::Shrinking
                } else {
                    LifecycleEventKind::Stable
                };
                events.push(event(kind, ids[index], Vec::new(), size, before, is_micro));
            }
        }
        for &previous in &previous_ids {
            let before = previous_size(previous);
            if let Some(parts) = split_parts.get(&previous) {
                let mut related = parts.clone();
                related.sort_unstable();
                let size = successor_of.get(&previous).map_or(0, |&index| current[index].1.len());
                events.push(event(LifecycleEventKind::Split, previous, related, size, before, config.is_micro(before)));
            } else if !successor_of.contains_key(&previous) && !absorbed.contains_key(&previous) {
                events.push(event(
                    LifecycleEventKind::Dissolved,
                    previous,
                    Vec::new(),
                    0,
                    before,
                    config.is_micro(before),
                ));
            }
        }
        events.sort_by(|first, second| first.community.cmp(&second.community).then(first.kind.cmp(&second.kind)));

        self.community_of_actor.clear();
        let mut communities = Vec::with_capacity(current.len());
        for (index, (label, group)) in current.into_iter().enumerate() {
            for &actor in &group {
                self.community_of_actor.insert(actor, ids[index]);
            }
            self.size_of_community.insert(ids[index], group.len());
            communities.push(TrackedCommunity {
                id: ids[index],
                label,
                is_micro: config.is_micro(group.len()),
                members: group,
            });
        }
        communities.sort_unstable_by_key(|community| community.id);
        Ok(TrackingUpdate { communities, events })
    }
}

fn event(
    kind: LifecycleEventKind,
    community: CommunityId,
    related: Vec<CommunityId>,
    size: usize,
    previous_size: usize,
    is_micro: bool,
) -> LifecycleEvent {
    LifecycleEvent { kind, community, related, size, previous_size, is_micro }
}

#[cfg(test)]
// A snapshot is a list of member ranges; a list holding one range is one community, on purpose.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use LifecycleEventKind::*;

    /// Builds `(members, labels)` from groups of actor ranges.
    fn partition(groups: &[std::ops::Range<ActorId>]) -> (Vec<ActorId>, Vec<u32>) {
        let mut members = Vec::new();
        let mut labels = Vec::new();
        for (label, group) in groups.iter().enumerate() {
            for actor in group.clone() {
                members.push(actor);
                labels.push(label as u32 * 10 + 3);
            }
        }
        (members, labels)
    }

    fn step(tracker: &mut CommunityTracker, groups: &[std::ops::Range<ActorId>]) -> TrackingUpdate {
        let (members, labels) = partition(groups);
        tracker.update(&members, &labels).expect("valid partition")
    }

    fn kinds(update: &TrackingUpdate) -> Vec<(LifecycleEventKind, CommunityId, Vec<CommunityId>)> {
        update.events.iter().map(|event| (event.kind, event.community, event.related.clone())).collect()
    }

    fn small_band() -> TrackerConfig {
        TrackerConfig { micro_min_size: 5, micro_max_size: 30, ..TrackerConfig::default() }
    }

    #[test]
    fn birth_growth_stability_and_dissolution() {
        let mut tracker = CommunityTracker::new(small_band());
        let first = step(&mut tracker, &[0..10, 100..102]);
        // The two-member group is below min_tracked_size and not tracked.
        assert_eq!(kinds(&first), vec![(Born, 1, vec![])]);
        assert!(first.events[0].is_micro);
        let grown = step(&mut tracker, &[0..13, 200..206]);
        assert_eq!(kinds(&grown), vec![(Growing, 1, vec![]), (Born, 2, vec![])]);
        assert_eq!((grown.events[0].previous_size, grown.events[0].size), (10, 13));
        let steady = step(&mut tracker, &[0..14, 200..206]);
        assert_eq!(kinds(&steady), vec![(Stable, 1, vec![]), (Stable, 2, vec![])]);
        let shrunk = step(&mut tracker, &[0..9, 500..510]);
        assert_eq!(kinds(&shrunk), vec![(Shrinking, 1, vec![]), (Dissolved, 2, vec![]), (Born, 3, vec![])]);
        // Stable ids follow members.
        assert_eq!(tracker.community_of_actor().get(&4), Some(&1));
    }

    #[test]
    fn two_communities_merging_into_one() {
        let mut tracker = CommunityTracker::new(small_band());
        step(&mut tracker, &[0..10, 10..16]);
        let merged = step(&mut tracker, &[0..16]);
        // Jaccard(1, merged) = 10/16 ≥ 0.3: id 1 continues and absorbs 2.
        assert_eq!(kinds(&merged), vec![(Growing, 1, vec![]), (Merged, 1, vec![2])]);
        assert_eq!(merged.communities.len(), 1);
        assert_eq!(merged.communities[0].id, 1);
    }

    #[test]
    fn three_equal_communities_merging_keep_the_best_match() {
        let mut tracker = CommunityTracker::new(small_band());
        step(&mut tracker, &[0..8, 8..16, 16..24]);
        let merged = step(&mut tracker, &[0..24]);
        // Jaccard 8/24 = 0.33 for each: ties go to the smallest id.
        assert_eq!(kinds(&merged), vec![(Growing, 1, vec![]), (Merged, 1, vec![2, 3])]);
    }

    #[test]
    fn one_community_splitting_into_two() {
        let mut tracker = CommunityTracker::new(small_band());
        step(&mut tracker, &[0..20]);
        let split = step(&mut tracker, &[0..12, 12..20]);
        // 0..12 continues (Jaccard 0.6); 12..20 splits off with a new id.
        assert_eq!(kinds(&split), vec![(Shrinking, 1, vec![]), (Split, 1, vec![2])]);
        assert_eq!(split.communities.iter().map(|community| community.id).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn even_split_into_small_parts_ends_the_original() {
        let mut tracker = CommunityTracker::new(small_band());
        step(&mut tracker, &[0..30]);
        let split = step(&mut tracker, &[0..6, 6..12, 12..18]);
        // Each part has Jaccard 0.2 < 0.3 and containment of the original 0.2 < 0.5: all split off.
        assert_eq!(kinds(&split), vec![(Split, 1, vec![2, 3, 4])]);
        assert_eq!(split.events[0].size, 0);
    }

    #[test]
    fn ids_are_never_reused() {
        let mut tracker = CommunityTracker::new(small_band());
        step(&mut tracker, &[0..5]);
        step(&mut tracker, &[100..105]);
        let third = step(&mut tracker, &[0..5]);
        // Actors 0..5 come back but their community dissolved: a new id, not 1 again.
        assert_eq!(kinds(&third), vec![(Dissolved, 2, vec![]), (Born, 3, vec![])]);
    }

    #[test]
    fn micro_band_is_reported_and_bad_input_is_an_error() {
        let config = TrackerConfig::default();
        assert!(!config.is_micro(49));
        assert!(config.is_micro(50));
        assert!(config.is_micro(5000));
        assert!(!config.is_micro(5001));
        let mut tracker = CommunityTracker::new(config);
        assert_eq!(tracker.update(&[1, 2], &[0]), Err(TrackingError::LengthMismatch { members: 2, labels: 1 }));
        assert_eq!(tracker.update(&[1, 1, 2], &[0, 0, 0]), Err(TrackingError::DuplicateMember(1)));
    }

    #[test]
    fn tracking_is_deterministic() {
        let run = || {
            let mut tracker = CommunityTracker::new(small_band());
            let mut updates = Vec::new();
            for shift in 0..5u32 {
                updates.push(step(&mut tracker, &[shift..10 + shift, 20..26 + shift, 40 + shift * 3..50 + shift * 3]));
            }
            updates
        };
        assert_eq!(run(), run());
    }
}
