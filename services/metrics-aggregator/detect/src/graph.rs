//! Windowed interaction graph: who talks to whom, recently.
//!
//! Nodes are actors (pseudonymous authors, or Telegram channels when a forward or mention links
//! two channels), interned to dense [`ActorId`]s. An interaction `src → dst` (a reply, a mention,
//! a channel→channel forward) adds to the undirected pair `{src, dst}`:
//!
//! - a **decayed weight**: an interaction of weight `w` at time `t` is worth
//!   `w · m_kind · 2^(−(now − t) / half_life)` at time `now` (`m_kind` the configured multiplier of
//!   its kind). Because decay is exponential the pair keeps a single value and the time it refers
//!   to: on a new interaction at `t ≥ t_ref`, `W ← W · 2^(−(t − t_ref)/half_life) + w·m_kind`,
//!   `t_ref ← t`; an out-of-order one (`t < t_ref`) adds `w · m_kind · 2^(−(t_ref − t)/half_life)`.
//! - **directed counts** (`src → dst` and `dst → src` interactions) for reciprocity and
//!   in-degree queries.
//!
//! **Window.** A pair whose latest interaction is older than `now − window` is evicted (its older
//! interactions are then worth at most `2^(−window/half_life)` of their weight anyway), and an
//! actor with no interaction in the window is forgotten by the interner: if it comes back it gets a
//! fresh id (ids are never reused). [`InteractionGraph::evict_expired`] does it; [`snapshot`]
//! calls it first.
//!
//! **Memory.** One 32-byte record per live pair in a slab (freed slots reused), a hash index from
//! the pair key to its slot, and per actor a last-seen time and an in-degree counter; the
//! interner holds each live name once (plus its hash-map entry). [`InteractionGraph::memory_bytes`]
//! reports it.
//!
//! **Snapshots.** [`snapshot`] builds the [`CsrGraph`] Leiden runs on, over the actors that have at
//! least one live pair, with weights decayed to `now`, plus the node ↔ actor mapping and the actors
//! touched since the previous snapshot (the warm-start hints).
//!
//! [`snapshot`]: InteractionGraph::snapshot

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::leiden::{CsrGraph, UNASSIGNED};
use crate::types::{ActorId, CommunityId, TimestampMs};

/// What an interaction is; each kind has its own weight multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum InteractionKind {
    /// `src` replied to a post of `dst`.
    Reply,
    /// `src` mentioned `dst`.
    Mention,
    /// Channel `src` forwarded a post of channel `dst` (Telegram).
    Forward,
}

/// Decay, window and per-kind weights of the graph.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GraphConfig {
    /// Time after which an interaction counts half (must be positive).
    pub half_life_ms: i64,
    /// Pairs and actors without an interaction in the last `window_ms` are evicted.
    pub window_ms: i64,
    /// Multiplier of a reply's weight.
    pub reply_multiplier: f64,
    /// Multiplier of a mention's weight.
    pub mention_multiplier: f64,
    /// Multiplier of a forward's weight.
    pub forward_multiplier: f64,
}

impl Default for GraphConfig {
    /// One-day half-life, seven-day window; replies count fully, mentions and forwards half
    /// (a reply is a conversation, a mention or a forward only a pointer).
    fn default() -> Self {
        Self {
            half_life_ms: 24 * 3600 * 1000,
            window_ms: 7 * 24 * 3600 * 1000,
            reply_multiplier: 1.0,
            mention_multiplier: 0.5,
            forward_multiplier: 0.5,
        }
    }
}

impl GraphConfig {
    fn multiplier(&self, kind: InteractionKind) -> f64 {
        match kind {
            InteractionKind::Reply => self.reply_multiplier,
            InteractionKind::Mention => self.mention_multiplier,
            InteractionKind::Forward => self.forward_multiplier,
        }
    }

    /// `2^(−elapsed / half_life)`; elapsed times below zero count as zero.
    pub fn decay_factor(&self, elapsed_ms: i64) -> f64 {
        if self.half_life_ms <= 0 {
            return 1.0;
        }
        (-(elapsed_ms.max(0) as f64) / self.half_life_ms as f64).exp2()
    }
}

/// Why an interaction was not recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum InteractionRejected {
    /// `src == dst`: talking to oneself says nothing about communities.
    SelfInteraction,
    /// The weight is not finite and positive.
    InvalidWeight(f64),
    /// An actor id the interner never issued or has forgotten.
    UnknownActor(ActorId),
    /// Older than the window at the graph's latest time: it would be evicted at once.
    OutsideWindow,
}

/// Fast non-cryptographic hasher for integer keys (FxHash's multiply-rotate); the keys are ours
/// (dense ids), so HashDoS is not a concern.
#[derive(Debug, Default, Clone, Copy)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IntegerHasher {
    hash: u64,
}

impl Hasher for IntegerHasher {
    fn finish(&self) -> u64 {
        self.hash
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(byte as u64);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.hash = (self.hash.rotate_left(5) ^ value).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
    fn write_u32(&mut self, value: u32) {
        self.write_u64(value as u64);
    }
}

type IntegerMap<K, V> = HashMap<K, V, BuildHasherDefault<IntegerHasher>>;

/// Maps pseudonymous actor strings to dense [`ActorId`]s (in order of first appearance) and back.
#[derive(Debug, Default, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ActorInterner {
    id_of_name: HashMap<Box<str>, ActorId>,
    name_of_id: Vec<Option<Box<str>>>,
}

impl ActorInterner {
    /// Id of `name`, allocating the next id the first time it is seen.
    pub fn intern(&mut self, name: &str) -> ActorId {
        if let Some(&id) = self.id_of_name.get(name) {
            return id;
        }
        let id = self.name_of_id.len() as ActorId;
        self.name_of_id.push(Some(name.into()));
        self.id_of_name.insert(name.into(), id);
        id
    }

    /// Id of `name` if it is known.
    pub fn get(&self, name: &str) -> Option<ActorId> {
        self.id_of_name.get(name).copied()
    }

    /// Name of `id` unless it was never issued or has been forgotten.
    pub fn name(&self, id: ActorId) -> Option<&str> {
        self.name_of_id.get(id as usize).and_then(|name| name.as_deref())
    }

    /// Number of ids ever issued (the id space; forgotten ids are not reused).
    pub fn issued_count(&self) -> usize {
        self.name_of_id.len()
    }

    /// Number of names currently known.
    pub fn live_count(&self) -> usize {
        self.id_of_name.len()
    }

    /// Forgets `id`'s name (the id itself is never reissued).
    pub fn forget(&mut self, id: ActorId) {
        if let Some(slot) = self.name_of_id.get_mut(id as usize) {
            if let Some(name) = slot.take() {
                self.id_of_name.remove(&name);
            }
        }
    }

    /// Bytes held: names, the hash index (entries + a control byte, at its capacity) and the vector.
    pub fn memory_bytes(&self) -> usize {
        let names: usize = self.name_of_id.iter().flatten().map(|name| name.len()).sum();
        let index_entry = std::mem::size_of::<(Box<str>, ActorId)>() + 1;
        names * 2
            + self.id_of_name.capacity() * index_entry
            + self.name_of_id.capacity() * std::mem::size_of::<Option<Box<str>>>()
    }
}

/// One live pair `{low, high}` (`low < high`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct PairRecord {
    low: ActorId,
    high: ActorId,
    /// Decayed weight as of `reference_time`, f32: 7 significant digits are plenty for a weight.
    weight: f32,
    /// Interactions `low → high` in the window (saturating).
    low_to_high: u32,
    /// Interactions `high → low` in the window (saturating).
    high_to_low: u32,
    reference_time: TimestampMs,
}

const FREE_SLOT: ActorId = ActorId::MAX;

/// Per-actor state.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct ActorState {
    last_seen: TimestampMs,
    /// Distinct actors with at least one interaction towards this one in a live pair.
    in_degree: u32,
    /// Live pairs this actor belongs to; 0 means it is absent from snapshots.
    pair_count: u32,
    live: bool,
    touched: bool,
}

/// The windowed, decayed interaction graph.
#[derive(Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InteractionGraph {
    config: GraphConfig,
    interner: ActorInterner,
    actors: Vec<ActorState>,
    pairs: Vec<PairRecord>,
    free_pair_slots: Vec<u32>,
    pair_slot_of_key: IntegerMap<u64, u32>,
    touched_actors: Vec<ActorId>,
    latest_time: TimestampMs,
}

/// What Leiden needs from the graph at one instant.
#[derive(Debug, Clone)]
pub struct GraphSnapshot {
    /// The graph over the live actors, weights decayed to the snapshot time.
    pub graph: CsrGraph,
    /// Actor of each CSR node.
    pub node_actors: Vec<ActorId>,
    /// CSR nodes whose actor had an interaction since the previous snapshot (sorted).
    pub touched_nodes: Vec<u32>,
}

impl GraphSnapshot {
    /// Warm-start labels for Leiden: each node's previous community (by actor), or
    /// [`UNASSIGNED`]. Community ids are mapped to dense `u32` labels.
    pub fn warm_start_labels(&self, previous_community_of_actor: &HashMap<ActorId, CommunityId>) -> Vec<u32> {
        let mut label_of_community: HashMap<CommunityId, u32> = HashMap::new();
        self.node_actors
            .iter()
            .map(|actor| match previous_community_of_actor.get(actor) {
                Some(&community) => {
                    let next_label = label_of_community.len() as u32;
                    *label_of_community.entry(community).or_insert(next_label)
                }
                None => UNASSIGNED,
            })
            .collect()
    }
}

fn pair_key(low: ActorId, high: ActorId) -> u64 {
    ((low as u64) << 32) | high as u64
}

impl InteractionGraph {
    /// Empty graph with `config`.
    pub fn new(config: GraphConfig) -> Self {
        Self { config, ..Self::default() }
    }

    /// Empty graph with room for `actor_count` actors and `pair_count` pairs, so a service that
    /// knows its scale avoids the doubling growth of vectors and hash tables (up to 2× memory).
    pub fn with_capacity(config: GraphConfig, actor_count: usize, pair_count: usize) -> Self {
        let mut graph = Self::new(config);
        graph.actors.reserve_exact(actor_count);
        graph.pairs.reserve_exact(pair_count);
        graph.pair_slot_of_key.reserve(pair_count);
        graph.interner.id_of_name.reserve(actor_count);
        graph.interner.name_of_id.reserve_exact(actor_count);
        graph
    }

    /// The configuration.
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// The actor interner (names ↔ ids).
    pub fn interner(&self) -> &ActorInterner {
        &self.interner
    }

    /// Interns `name` and marks the actor live (an author who posts without interacting is
    /// still known, but appears in snapshots only once it has a live pair).
    pub fn actor(&mut self, name: &str, time: TimestampMs) -> ActorId {
        let id = self.interner.intern(name);
        if self.actors.len() <= id as usize {
            self.actors.resize(id as usize + 1, ActorState::default());
        }
        let state = &mut self.actors[id as usize];
        if !state.live || time > state.last_seen {
            state.last_seen = time;
        }
        state.live = true;
        id
    }

    /// Records one interaction `source → target` of `kind` and `weight` at `time`.
    pub fn add_interaction(
        &mut self,
        source: ActorId,
        target: ActorId,
        kind: InteractionKind,
        weight: f64,
        time: TimestampMs,
    ) -> Result<(), InteractionRejected> {
        if source == target {
            return Err(InteractionRejected::SelfInteraction);
        }
        if !(weight.is_finite() && weight > 0.0) {
            return Err(InteractionRejected::InvalidWeight(weight));
        }
        for actor in [source, target] {
            if !self.actors.get(actor as usize).is_some_and(|state| state.live) {
                return Err(InteractionRejected::UnknownActor(actor));
            }
        }
        if time < self.latest_time.saturating_sub(self.config.window_ms) {
            return Err(InteractionRejected::OutsideWindow);
        }
        self.latest_time = self.latest_time.max(time);
        let contribution = weight * self.config.multiplier(kind);
        let (low, high) = if source < target { (source, target) } else { (target, source) };
        let key = pair_key(low, high);
        let slot = match self.pair_slot_of_key.get(&key) {
            Some(&slot) => slot,
            None => {
                let record =
                    PairRecord { low, high, weight: 0.0, low_to_high: 0, high_to_low: 0, reference_time: time };
                let slot = match self.free_pair_slots.pop() {
                    Some(slot) => {
                        self.pairs[slot as usize] = record;
                        slot
                    }
                    None => {
                        self.pairs.push(record);
                        (self.pairs.len() - 1) as u32
                    }
                };
                self.pair_slot_of_key.insert(key, slot);
                self.actors[low as usize].pair_count += 1;
                self.actors[high as usize].pair_count += 1;
                slot
            }
        };
        let record = &mut self.pairs[slot as usize];
        if time >= record.reference_time {
            let factor = self.config.decay_factor(time - record.reference_time);
            record.weight = (record.weight as f64 * factor + contribution) as f32;
            record.reference_time = time;
        } else {
            let factor = self.config.decay_factor(record.reference_time - time);
            record.weight = (record.weight as f64 + contribution * factor) as f32;
        }
        let direction_count = if source == low { &mut record.low_to_high } else { &mut record.high_to_low };
        if *direction_count == 0 {
            self.actors[target as usize].in_degree += 1;
        }
        *direction_count = direction_count.saturating_add(1);
        for actor in [source, target] {
            let state = &mut self.actors[actor as usize];
            state.last_seen = state.last_seen.max(time);
            if !state.touched {
                state.touched = true;
                self.touched_actors.push(actor);
            }
        }
        Ok(())
    }

    /// Convenience: interns both names and records the interaction.
    pub fn add_named_interaction(
        &mut self,
        source_name: &str,
        target_name: &str,
        kind: InteractionKind,
        weight: f64,
        time: TimestampMs,
    ) -> Result<(ActorId, ActorId), InteractionRejected> {
        let source = self.actor(source_name, time);
        let target = self.actor(target_name, time);
        self.add_interaction(source, target, kind, weight, time)?;
        Ok((source, target))
    }

    /// Decayed weight of the pair `{first, second}` at `now` (0 when absent).
    pub fn pair_weight(&self, first: ActorId, second: ActorId, now: TimestampMs) -> f64 {
        let (low, high) = if first < second { (first, second) } else { (second, first) };
        match self.pair_slot_of_key.get(&pair_key(low, high)) {
            Some(&slot) => {
                let record = &self.pairs[slot as usize];
                record.weight as f64 * self.config.decay_factor(now - record.reference_time)
            }
            None => 0.0,
        }
    }

    /// Interactions `source → target` in live pairs.
    pub fn directed_count(&self, source: ActorId, target: ActorId) -> u32 {
        let (low, high) = if source < target { (source, target) } else { (target, source) };
        match self.pair_slot_of_key.get(&pair_key(low, high)) {
            Some(&slot) => {
                let record = &self.pairs[slot as usize];
                if source == low {
                    record.low_to_high
                } else {
                    record.high_to_low
                }
            }
            None => 0,
        }
    }

    /// Whether both `first → second` and `second → first` happened within the window.
    pub fn is_reciprocal(&self, first: ActorId, second: ActorId) -> bool {
        self.directed_count(first, second) > 0 && self.directed_count(second, first) > 0
    }

    /// Distinct actors that interacted towards `actor` in live pairs.
    pub fn in_degree(&self, actor: ActorId) -> u32 {
        self.actors.get(actor as usize).map_or(0, |state| state.in_degree)
    }

    /// Number of live pairs.
    pub fn pair_count(&self) -> usize {
        self.pair_slot_of_key.len()
    }

    /// Number of actors currently known (live).
    pub fn live_actor_count(&self) -> usize {
        self.interner.live_count()
    }

    /// Actors with an interaction since the last snapshot, in order of first touch.
    pub fn touched_since_snapshot(&self) -> &[ActorId] {
        &self.touched_actors
    }

    /// Evicts pairs whose latest interaction is before `now − window` and forgets actors not
    /// seen since then. Returns `(pairs_evicted, actors_forgotten)`.
    pub fn evict_expired(&mut self, now: TimestampMs) -> (usize, usize) {
        let horizon = now.saturating_sub(self.config.window_ms);
        let mut pairs_evicted = 0;
        for slot in 0..self.pairs.len() {
            let record = self.pairs[slot];
            if record.low == FREE_SLOT || record.reference_time >= horizon {
                continue;
            }
            self.pair_slot_of_key.remove(&pair_key(record.low, record.high));
            if record.low_to_high > 0 {
                self.actors[record.high as usize].in_degree -= 1;
            }
            if record.high_to_low > 0 {
                self.actors[record.low as usize].in_degree -= 1;
            }
            self.actors[record.low as usize].pair_count -= 1;
            self.actors[record.high as usize].pair_count -= 1;
            self.pairs[slot].low = FREE_SLOT;
            self.free_pair_slots.push(slot as u32);
            pairs_evicted += 1;
        }
        let mut actors_forgotten = 0;
        for actor in 0..self.actors.len() {
            let state = self.actors[actor];
            if state.live && state.last_seen < horizon && state.pair_count == 0 {
                self.actors[actor] = ActorState::default();
                self.interner.forget(actor as ActorId);
                actors_forgotten += 1;
            }
        }
        self.touched_actors.retain(|&actor| self.actors[actor as usize].live);
        (pairs_evicted, actors_forgotten)
    }

    /// Evicts expired pairs, then builds the CSR snapshot at `now` and resets the touched set.
    pub fn snapshot(&mut self, now: TimestampMs) -> GraphSnapshot {
        self.evict_expired(now);
        let mut node_of_actor = vec![u32::MAX; self.actors.len()];
        let mut node_actors = Vec::new();
        for (actor, state) in self.actors.iter().enumerate() {
            if state.live && state.pair_count > 0 {
                node_of_actor[actor] = node_actors.len() as u32;
                node_actors.push(actor as ActorId);
            }
        }
        let node_count = node_actors.len();
        let mut degree_prefix = vec![0usize; node_count + 1];
        for record in self.pairs.iter().filter(|record| record.low != FREE_SLOT) {
            degree_prefix[node_of_actor[record.low as usize] as usize + 1] += 1;
            degree_prefix[node_of_actor[record.high as usize] as usize + 1] += 1;
        }
        for node in 0..node_count {
            degree_prefix[node + 1] += degree_prefix[node];
        }
        let entry_count = degree_prefix[node_count];
        let mut neighbours = vec![0u32; entry_count];
        let mut weights = vec![0.0f32; entry_count];
        let mut cursor = degree_prefix.clone();
        for record in self.pairs.iter().filter(|record| record.low != FREE_SLOT) {
            let weight = record.weight as f64 * self.config.decay_factor(now - record.reference_time);
            // A weight that decayed to exactly 0 would break Leiden's positive-weight invariant.
            let weight = weight.max(f64::MIN_POSITIVE);
            let low_node = node_of_actor[record.low as usize];
            let high_node = node_of_actor[record.high as usize];
            for (from, to) in [(low_node, high_node), (high_node, low_node)] {
                let position = cursor[from as usize];
                neighbours[position] = to;
                weights[position] = crate::leiden::csr::stored_weight(weight);
                cursor[from as usize] += 1;
            }
        }
        let graph =
            CsrGraph::from_parts(degree_prefix, neighbours, weights, vec![0.0; node_count], vec![1.0; node_count]);
        let mut touched_nodes: Vec<u32> = self
            .touched_actors
            .iter()
            .map(|&actor| node_of_actor[actor as usize])
            .filter(|&node| node != u32::MAX)
            .collect();
        touched_nodes.sort_unstable();
        for &actor in &self.touched_actors {
            self.actors[actor as usize].touched = false;
        }
        self.touched_actors.clear();
        GraphSnapshot { graph, node_actors, touched_nodes }
    }

    /// Bytes held by the graph structure (pair slab, pair index, actor states, touched list,
    /// interner), at capacity. The hash index is estimated from its capacity, its entry size and
    /// one control byte per bucket (hashbrown's layout).
    pub fn memory_bytes(&self) -> usize {
        let pair_index_entry = std::mem::size_of::<(u64, u32)>() + 1;
        self.pairs.capacity() * std::mem::size_of::<PairRecord>()
            + self.free_pair_slots.capacity() * std::mem::size_of::<u32>()
            + self.pair_slot_of_key.capacity() * pair_index_entry
            + self.actors.capacity() * std::mem::size_of::<ActorState>()
            + self.touched_actors.capacity() * std::mem::size_of::<ActorId>()
            + self.interner.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600 * 1000;

    fn hourly_config() -> GraphConfig {
        GraphConfig {
            half_life_ms: HOUR,
            window_ms: 4 * HOUR,
            reply_multiplier: 1.0,
            mention_multiplier: 0.5,
            forward_multiplier: 2.0,
        }
    }

    #[test]
    fn interner_assigns_dense_ids_and_never_reuses_them() {
        let mut interner = ActorInterner::default();
        assert_eq!(interner.intern("alice"), 0);
        assert_eq!(interner.intern("bob"), 1);
        assert_eq!(interner.intern("alice"), 0);
        assert_eq!(interner.name(1), Some("bob"));
        interner.forget(0);
        assert_eq!(interner.get("alice"), None);
        assert_eq!(interner.intern("alice"), 2);
        assert_eq!(interner.live_count(), 2);
        assert_eq!(interner.issued_count(), 3);
    }

    #[test]
    fn weights_decay_by_half_each_half_life_and_accumulate() {
        let mut graph = InteractionGraph::new(hourly_config());
        let (alice, bob) = graph.add_named_interaction("alice", "bob", InteractionKind::Reply, 1.0, 0).expect("ok");
        // A mention (×0.5) of weight 2 one hour later: 1·½ + 2·0.5 = 1.5 at t = 1h.
        graph.add_interaction(bob, alice, InteractionKind::Mention, 2.0, HOUR).expect("ok");
        assert!((graph.pair_weight(alice, bob, HOUR) - 1.5).abs() < 1e-6);
        // Two more hours: 1.5 · ¼ = 0.375.
        assert!((graph.pair_weight(bob, alice, 3 * HOUR) - 0.375).abs() < 1e-6);
        // An out-of-order reply from t = 0.5h is worth 2^(−0.5) at the reference time 1h.
        graph.add_interaction(alice, bob, InteractionKind::Reply, 1.0, HOUR / 2).expect("ok");
        let expected = 1.5 + 0.5f64.sqrt();
        assert!((graph.pair_weight(alice, bob, HOUR) - expected).abs() < 1e-6);
    }

    #[test]
    fn directed_counts_give_reciprocity_and_in_degree() {
        let mut graph = InteractionGraph::new(hourly_config());
        let (alice, bob) = graph.add_named_interaction("alice", "bob", InteractionKind::Reply, 1.0, 0).expect("ok");
        let (carol, _) = graph.add_named_interaction("carol", "bob", InteractionKind::Reply, 1.0, 0).expect("ok");
        assert!(!graph.is_reciprocal(alice, bob));
        graph.add_interaction(bob, alice, InteractionKind::Reply, 1.0, 10).expect("ok");
        assert!(graph.is_reciprocal(alice, bob));
        assert_eq!(graph.in_degree(bob), 2);
        assert_eq!(graph.in_degree(alice), 1);
        assert_eq!(graph.in_degree(carol), 0);
        assert_eq!(graph.directed_count(alice, bob), 1);
    }

    #[test]
    fn invalid_interactions_are_rejected() {
        let mut graph = InteractionGraph::new(hourly_config());
        let alice = graph.actor("alice", 0);
        let bob = graph.actor("bob", 0);
        assert_eq!(
            graph.add_interaction(alice, alice, InteractionKind::Reply, 1.0, 0),
            Err(InteractionRejected::SelfInteraction)
        );
        assert!(matches!(
            graph.add_interaction(alice, bob, InteractionKind::Reply, f64::NAN, 0),
            Err(InteractionRejected::InvalidWeight(_))
        ));
        assert_eq!(
            graph.add_interaction(alice, 77, InteractionKind::Reply, 1.0, 0),
            Err(InteractionRejected::UnknownActor(77))
        );
        graph.add_interaction(alice, bob, InteractionKind::Reply, 1.0, 10 * HOUR).expect("ok");
        assert_eq!(
            graph.add_interaction(alice, bob, InteractionKind::Reply, 1.0, HOUR),
            Err(InteractionRejected::OutsideWindow)
        );
    }

    #[test]
    fn eviction_drops_old_pairs_and_forgets_idle_actors() {
        let mut graph = InteractionGraph::new(hourly_config());
        let (alice, bob) = graph.add_named_interaction("alice", "bob", InteractionKind::Reply, 1.0, 0).expect("ok");
        let (carol, dave) =
            graph.add_named_interaction("carol", "dave", InteractionKind::Forward, 1.0, 3 * HOUR).expect("ok");
        graph.add_interaction(dave, bob, InteractionKind::Reply, 1.0, 3 * HOUR).expect("ok");
        // At 5h the horizon is 1h: alice–bob (last at 0) goes; alice is forgotten, bob stays via dave.
        let (pairs_evicted, actors_forgotten) = graph.evict_expired(5 * HOUR);
        assert_eq!((pairs_evicted, actors_forgotten), (1, 1));
        assert_eq!(graph.pair_weight(alice, bob, 5 * HOUR), 0.0);
        assert_eq!(graph.interner().name(alice), None);
        assert_eq!(graph.in_degree(bob), 1);
        // carol–dave is a forward (×2) from 3h: 2 · 2^(−2) = 0.5 at 5h.
        assert!((graph.pair_weight(carol, dave, 5 * HOUR) - 0.5).abs() < 1e-6);
        assert_eq!(graph.pair_count(), 2);
        // The freed slot is reused.
        let (erin, _) =
            graph.add_named_interaction("erin", "carol", InteractionKind::Reply, 1.0, 5 * HOUR).expect("ok");
        assert_eq!(graph.pairs.len(), 3);
        assert_ne!(erin, alice);
    }

    #[test]
    fn snapshot_builds_decayed_csr_and_reports_touched_actors() {
        let mut graph = InteractionGraph::new(hourly_config());
        graph.add_named_interaction("alice", "bob", InteractionKind::Reply, 1.0, 0).expect("ok");
        graph.add_named_interaction("bob", "carol", InteractionKind::Reply, 4.0, HOUR).expect("ok");
        let lonely = graph.actor("lonely", HOUR);
        assert_eq!(graph.touched_since_snapshot().len(), 3);
        let snapshot = graph.snapshot(2 * HOUR);
        assert_eq!(snapshot.node_actors, vec![0, 1, 2]);
        assert!(!snapshot.node_actors.contains(&lonely));
        assert_eq!(snapshot.touched_nodes, vec![0, 1, 2]);
        // alice–bob: 1 · 2^(−2) = 0.25; bob–carol: 4 · 2^(−1) = 2.
        assert!((snapshot.graph.strength(1) - 2.25).abs() < 1e-6);
        assert!((snapshot.graph.total_edge_weight() - 2.25).abs() < 1e-6);
        assert!(graph.touched_since_snapshot().is_empty());
        graph.add_named_interaction("carol", "alice", InteractionKind::Reply, 1.0, 2 * HOUR).expect("ok");
        let next = graph.snapshot(2 * HOUR);
        assert_eq!(next.touched_nodes, vec![0, 2]);
        let previous: HashMap<ActorId, CommunityId> = [(0, 40), (1, 40), (2, 41)].into_iter().collect();
        assert_eq!(next.warm_start_labels(&previous), vec![0, 0, 1]);
    }
}
