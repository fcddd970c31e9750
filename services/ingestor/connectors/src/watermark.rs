//! Cursor state for sources that list newest first and page towards older items (Reddit
//! listings, `t.me/s` previews, X recent search): a high-water mark of numeric ids plus the ids
//! already emitted by an interrupted walk.
//!
//! A poll walks from the newest page down until it meets an id at or below the mark. Only a
//! completed walk moves the mark; an interrupted one (rate limit, 5xx on page 3) keeps it and
//! remembers what it emitted, so the next poll fetches the missing older items without emitting
//! the newer ones twice. Anchoring on ids rather than on Reddit's `before=<fullname>` survives the
//! anchor being deleted (a deleted anchor makes `before` return nothing forever).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Most ids remembered from interrupted walks; beyond it the oldest are forgotten (downstream is
/// idempotent, so a rare duplicate is harmless, while an unbounded cursor is not).
const SEEN_CAP: usize = 2_000;

/// Persisted per listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WatermarkState {
    /// Every id at or below this was covered by a completed walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_water: Option<u64>,
    /// Ids above the mark already emitted by an interrupted walk.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub emitted: BTreeSet<u64>,
}

/// What to do with one listed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// New: emit it.
    New,
    /// Already emitted (earlier page of this walk, or an interrupted walk).
    Duplicate,
    /// At or below the mark: the walk has reached known territory.
    Old,
}

/// One walk over a listing.
#[derive(Debug)]
pub(crate) struct Walk {
    state: WatermarkState,
    this_walk: BTreeSet<u64>,
    newest: Option<u64>,
    reached_old: bool,
}

impl Walk {
    pub fn start(state: WatermarkState) -> Self {
        Self { state, this_walk: BTreeSet::new(), newest: None, reached_old: false }
    }

    /// True on the very first poll of a source (no mark yet).
    pub fn is_first(&self) -> bool {
        self.state.high_water.is_none()
    }

    pub fn reached_old(&self) -> bool {
        self.reached_old
    }

    pub fn classify(&mut self, id: u64) -> Seen {
        if self.state.high_water.is_some_and(|mark| id <= mark) {
            self.reached_old = true;
            return Seen::Old;
        }
        self.newest = self.newest.max(Some(id));
        if self.state.emitted.contains(&id) || !self.this_walk.insert(id) {
            return Seen::Duplicate;
        }
        Seen::New
    }

    /// The state to persist: `completed` when the walk reached the mark, the end of the listing,
    /// or its page budget.
    pub fn finish(self, completed: bool) -> WatermarkState {
        if completed {
            let remembered = self.state.emitted.last().copied();
            let high_water = self.state.high_water.max(self.newest).max(remembered);
            return WatermarkState { high_water, emitted: BTreeSet::new() };
        }
        let mut emitted = self.state.emitted;
        emitted.extend(self.this_walk);
        while emitted.len() > SEEN_CAP {
            emitted.pop_first();
        }
        WatermarkState { high_water: self.state.high_water, emitted }
    }
}

/// Reddit base36 ids (`48fbm9`) → number, so ids compare in creation order.
pub(crate) fn base36(id: &str) -> Option<u64> {
    u64::from_str_radix(id, 36).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_walk_keeps_mark_and_remembers_emitted() {
        let mut walk = Walk::start(WatermarkState { high_water: Some(10), emitted: BTreeSet::new() });
        assert_eq!(walk.classify(15), Seen::New);
        assert_eq!(walk.classify(15), Seen::Duplicate);
        let state = walk.finish(false);
        assert_eq!(state.high_water, Some(10));
        let mut resumed = Walk::start(state);
        assert_eq!(resumed.classify(16), Seen::New);
        assert_eq!(resumed.classify(15), Seen::Duplicate);
        assert_eq!(resumed.classify(12), Seen::New);
        assert_eq!(resumed.classify(10), Seen::Old);
        assert!(resumed.reached_old());
        let done = resumed.finish(true);
        assert_eq!(done, WatermarkState { high_water: Some(16), emitted: BTreeSet::new() });
    }

    #[test]
    fn base36_orders_reddit_ids() {
        assert!(base36("48fbm9") > base36("48f6io"));
        assert_eq!(base36("not valid!"), None);
    }
}
