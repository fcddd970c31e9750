//! Bounded-memory counting for the long tail of the vocabulary.
//!
//! [`CountMinSketch`] is a count-min sketch (Cormode & Muthukrishnan 2005) with *conservative update*
//! (Estan & Varghese 2002): on an increment only the cells holding the current minimum are raised, which
//! keeps every estimate an upper bound of the true count while shrinking the over-estimate. With width `w`
//! and depth `d`, an estimate exceeds the truth by more than `e/w · N` (N = total increments) with
//! probability at most `e^-d`.
//!
//! [`HashedBaselines`] extends each cell with an EWMA/EWMVar pair, as SigniTrend (Schubert, Weiler &
//! Kriegel 2014) does: every bucket, each cell's count updates that cell's moving average and variance, so a
//! term that is not tracked exactly still has a (collision-inflated, hence conservative) baseline: the
//! minimum over its cells. That lets a rare term be judged significant at its first burst and promoted into
//! the exact tracked set, whatever the size of the vocabulary.
//!
//! Hashing is FNV-1a 64 followed by a SplitMix64 finaliser, with Kirsch–Mitzenmacher double hashing for the
//! rows: stable across runs and platforms (never `RandomState`), so replays give identical results.

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Stable 64-bit hash of bytes: FNV-1a then SplitMix64's finaliser (FNV alone mixes low bits poorly).
pub fn stable_hash64(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    splitmix64_finalise(hash)
}

fn splitmix64_finalise(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Column index of `hash` in row `row` of a sketch `width` wide (double hashing: h1 + row·h2).
fn column(hash: u64, row: usize, width: usize) -> usize {
    let first = hash & 0xffff_ffff;
    // Forcing h2 odd keeps the row sequence from collapsing when h2 shares factors with a power-of-two width.
    let second = (hash >> 32) | 1;
    let combined = first.wrapping_add((row as u64).wrapping_mul(second));
    (combined % width as u64) as usize
}

/// Count-min sketch with conservative update over `u32` counters.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CountMinSketch {
    width: usize,
    depth: usize,
    cells: Vec<u32>,
    total: u64,
}

impl CountMinSketch {
    /// A sketch `width` columns by `depth` rows (each at least 1). Error bound: `e/width · total` with
    /// probability `1 − e^-depth`.
    pub fn new(width: usize, depth: usize) -> CountMinSketch {
        let width = width.max(1);
        let depth = depth.max(1);
        CountMinSketch { width, depth, cells: vec![0; width * depth], total: 0 }
    }

    /// Adds one occurrence of `key` (conservative update) and returns the new estimate.
    pub fn increment(&mut self, key: &[u8]) -> u32 {
        self.increment_hash(stable_hash64(key))
    }

    /// As [`CountMinSketch::increment`] with a precomputed [`stable_hash64`].
    pub fn increment_hash(&mut self, hash: u64) -> u32 {
        self.total += 1;
        let current_minimum = self.estimate_hash(hash);
        let raised = current_minimum.saturating_add(1);
        for row in 0..self.depth {
            let index = row * self.width + column(hash, row, self.width);
            // Conservative update: only cells below the new estimate move, so no cell over-counts more
            // than the plain count-min would.
            if self.cells[index] < raised {
                self.cells[index] = raised;
            }
        }
        raised
    }

    /// Upper-bound estimate of `key`'s count.
    pub fn estimate(&self, key: &[u8]) -> u32 {
        self.estimate_hash(stable_hash64(key))
    }

    /// As [`CountMinSketch::estimate`] with a precomputed hash.
    pub fn estimate_hash(&self, hash: u64) -> u32 {
        (0..self.depth).map(|row| self.cells[row * self.width + column(hash, row, self.width)]).min().unwrap_or(0)
    }

    /// Total increments since the last reset (the `N` of the error bound).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The additive error bound `e/width · total` that holds with probability `1 − e^-depth`.
    pub fn error_bound(&self) -> f64 {
        std::f64::consts::E / self.width as f64 * self.total as f64
    }

    /// Zeroes every counter (start of a new bucket).
    pub fn reset(&mut self) {
        self.cells.iter_mut().for_each(|cell| *cell = 0);
        self.total = 0;
    }

    /// Bytes held by the counters.
    pub fn memory_bytes(&self) -> usize {
        self.cells.len() * std::mem::size_of::<u32>()
    }

    fn cell_indices(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        (0..self.depth).map(move |row| row * self.width + column(hash, row, self.width))
    }
}

/// Moving average and variance of one counter, updated once per bucket (SigniTrend's EWMA/EWMVar), with
/// the total weight of the observations so far for bias correction.
///
/// Started at zero, a plain EWMA needs a few half-lives to reach a stable term's level, and every stable
/// term would look significant meanwhile. As Adam's optimiser does, the estimates are divided by
/// `weight = 1 − (1 − α)^t` (t = buckets folded in), which makes them unbiased from the first bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MovingBaseline {
    /// Exponentially weighted moving average of the per-bucket count (uncorrected).
    pub mean: f64,
    /// Exponentially weighted moving variance of the per-bucket count (uncorrected).
    pub variance: f64,
    /// `1 − (1 − α)^t`: weight of the observations folded in.
    pub weight: f64,
}

impl MovingBaseline {
    /// Folds one bucket's `count` in with smoothing factor `alpha` (West 1979 incremental form, as in
    /// SigniTrend): `Δ = x − mean; mean += α·Δ; var = (1 − α)·(var + α·Δ²)`; `weight += α·(1 − weight)`.
    /// The first observation seeds the raw mean too, so Δ is not measured against an arbitrary zero.
    pub fn update(&mut self, count: f64, alpha: f64) {
        if self.weight <= 0.0 {
            self.mean = count * alpha;
            self.variance = 0.0;
            self.weight = alpha;
            return;
        }
        let delta = count - self.corrected_mean();
        self.mean += alpha * (count - self.mean);
        self.variance = (1.0 - alpha) * (self.variance + alpha * delta * delta);
        self.weight += alpha * (1.0 - self.weight);
    }

    /// Bias-corrected mean (`mean / weight`; 0 before any observation).
    pub fn corrected_mean(&self) -> f64 {
        if self.weight <= 0.0 {
            return 0.0;
        }
        self.mean / self.weight
    }

    /// Bias-corrected standard deviation (`sqrt(variance / weight)`).
    pub fn std_dev(&self) -> f64 {
        if self.weight <= 0.0 {
            return 0.0;
        }
        (self.variance.max(0.0) / self.weight).sqrt()
    }

    /// SigniTrend significance of `count` against this baseline: `(x − mean) / max(std, β)`. β keeps rare
    /// terms (mean and variance near zero) from producing huge scores out of one or two posts.
    pub fn significance(&self, count: f64, beta: f64) -> f64 {
        (count - self.corrected_mean()) / self.std_dev().max(beta).max(f64::MIN_POSITIVE)
    }
}

/// Smoothing factor for a half-life given in buckets: `α = 1 − 2^(−1/half_life)`, so an observation's
/// weight halves every `half_life` buckets.
pub fn alpha_from_half_life(half_life_buckets: f64) -> f64 {
    if !half_life_buckets.is_finite() || half_life_buckets <= 0.0 {
        return 1.0;
    }
    1.0 - 0.5_f64.powf(1.0 / half_life_buckets)
}

/// A count-min sketch of the current bucket plus a moving baseline per cell: significance for any term,
/// tracked or not, in fixed memory.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HashedBaselines {
    counts: CountMinSketch,
    baselines: Vec<MovingBaseline>,
}

impl HashedBaselines {
    /// `width × depth` cells, each with a counter and a baseline.
    pub fn new(width: usize, depth: usize) -> HashedBaselines {
        let counts = CountMinSketch::new(width, depth);
        let cell_count = counts.cells.len();
        HashedBaselines { counts, baselines: vec![MovingBaseline::default(); cell_count] }
    }

    /// Counts one occurrence of the term with hash `hash` in the current bucket; returns the estimate.
    pub fn increment_hash(&mut self, hash: u64) -> u32 {
        self.counts.increment_hash(hash)
    }

    /// Estimated count in the current bucket and the conservative baseline (cell-wise minimum mean and
    /// variance: collisions only ever add, so the minimum is closest to the term's own history).
    pub fn estimate_hash(&self, hash: u64) -> (u32, MovingBaseline) {
        let count = self.counts.estimate_hash(hash);
        let mut baseline = MovingBaseline { mean: f64::INFINITY, variance: f64::INFINITY, weight: 0.0 };
        for index in self.counts.cell_indices(hash) {
            let cell = self.baselines[index];
            baseline.mean = baseline.mean.min(cell.mean);
            baseline.variance = baseline.variance.min(cell.variance);
            // Every cell is updated every bucket, so all share one weight.
            baseline.weight = cell.weight;
        }
        if !baseline.mean.is_finite() {
            baseline = MovingBaseline::default();
        }
        (count, baseline)
    }

    /// Ends the bucket: every cell's baseline absorbs its count, then counters reset.
    pub fn close_bucket(&mut self, alpha: f64) {
        for (baseline, count) in self.baselines.iter_mut().zip(self.counts.cells.iter()) {
            baseline.update(f64::from(*count), alpha);
        }
        self.counts.reset();
    }

    /// Bytes held by counters and baselines.
    pub fn memory_bytes(&self) -> usize {
        self.counts.memory_bytes() + self.baselines.len() * std::mem::size_of::<MovingBaseline>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift so the test stream is reproducible without a dependency.
    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn count_min_never_underestimates_and_respects_the_error_bound() {
        let width = 1024;
        let depth = 4;
        let mut sketch = CountMinSketch::new(width, depth);
        let key_count = 5_000usize;
        let mut true_counts = vec![0u32; key_count];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            // Skewed keys: squaring a uniform draw favours small ids, like a Zipf-ish vocabulary.
            let uniform = (next_random(&mut state) % 10_000) as f64 / 10_000.0;
            let key = ((uniform * uniform) * key_count as f64) as usize;
            true_counts[key] += 1;
            sketch.increment(format!("term-{key}").as_bytes());
        }
        // ε·N = e/1024 · 100000 ≈ 265.5; δ = e^-4 ≈ 0.018.
        let bound = sketch.error_bound();
        assert!((bound - std::f64::consts::E / 1024.0 * 100_000.0).abs() < 1e-6);
        let mut keys_over_bound = 0usize;
        for (key, true_count) in true_counts.iter().enumerate() {
            let estimate = sketch.estimate(format!("term-{key}").as_bytes());
            assert!(estimate >= *true_count, "key {key}: estimate {estimate} < true {true_count}");
            if f64::from(estimate - true_count) > bound {
                keys_over_bound += 1;
            }
        }
        let share_over_bound = keys_over_bound as f64 / key_count as f64;
        assert!(share_over_bound <= (-(depth as f64)).exp(), "share over bound {share_over_bound}");
    }

    #[test]
    fn conservative_update_is_exact_without_collisions() {
        let mut sketch = CountMinSketch::new(1 << 16, 4);
        for _ in 0..7 {
            sketch.increment(b"alpha");
        }
        sketch.increment(b"beta");
        assert_eq!(sketch.estimate(b"alpha"), 7);
        assert_eq!(sketch.estimate(b"beta"), 1);
        assert_eq!(sketch.estimate(b"never-seen"), 0);
        sketch.reset();
        assert_eq!(sketch.estimate(b"alpha"), 0);
    }

    #[test]
    fn stable_hash_is_pinned() {
        // Pinned values: a change here would silently change sketch cells and alert ids across releases.
        assert_eq!(stable_hash64(b""), splitmix64_finalise(FNV_OFFSET_BASIS));
        assert_eq!(stable_hash64(b"murmur"), stable_hash64(b"murmur"));
        assert_ne!(stable_hash64(b"murmur"), stable_hash64(b"murmus"));
    }

    #[test]
    fn moving_baseline_follows_west_update_with_bias_correction_and_significance_uses_beta() {
        let alpha = alpha_from_half_life(1.0);
        assert!((alpha - 0.5).abs() < 1e-12);
        let mut baseline = MovingBaseline::default();
        // First x=4: raw mean 2, weight 0.5 → corrected mean 4, variance 0.
        baseline.update(4.0, alpha);
        assert!((baseline.corrected_mean() - 4.0).abs() < 1e-12);
        assert_eq!(baseline.std_dev(), 0.0);
        // x=8: Δ = 8 − 4 = 4; raw mean 2 + 0.5·6 = 5, weight 0.75 → corrected 6.667;
        // raw var 0.5·(0 + 0.5·16) = 4 → corrected 4/0.75 = 5.333, std 2.309.
        baseline.update(8.0, alpha);
        assert!((baseline.corrected_mean() - 5.0 / 0.75).abs() < 1e-12);
        assert!((baseline.std_dev() - (4.0f64 / 0.75).sqrt()).abs() < 1e-12);
        // x = 12: z = (12 − 6.667) / 2.309 = 2.309; with β = 4 the floor applies: 5.333/4 = 1.333.
        let expected_z = (12.0 - 5.0 / 0.75) / (4.0f64 / 0.75).sqrt();
        assert!((baseline.significance(12.0, 1.0) - expected_z).abs() < 1e-12);
        assert!((baseline.significance(12.0, 4.0) - (12.0 - 5.0 / 0.75) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn hashed_baselines_learn_a_stable_rate() {
        let mut hashed = HashedBaselines::new(1 << 12, 4);
        let hash = stable_hash64(b"steady");
        let alpha = alpha_from_half_life(2.0);
        for _ in 0..40 {
            for _ in 0..10 {
                hashed.increment_hash(hash);
            }
            hashed.close_bucket(alpha);
        }
        let (count_now, baseline) = hashed.estimate_hash(hash);
        assert_eq!(count_now, 0);
        assert!((baseline.corrected_mean() - 10.0).abs() < 1e-9, "mean {}", baseline.corrected_mean());
        assert!(baseline.std_dev() < 1e-9);
    }
}
