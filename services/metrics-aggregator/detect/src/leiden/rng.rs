//! A small seeded pseudo-random generator (SplitMix64 seeding a xoshiro256** state).
//!
//! Leiden needs randomness for node orders and for the randomised merge in the refinement phase,
//! and murmur needs runs to be reproducible: the same graph and seed must give the same partition
//! on every machine. A tiny self-contained generator keeps that promise without a global RNG and
//! without tying the results to the stream of an external crate's version.

/// Deterministic xoshiro256** generator; the seed is expanded with SplitMix64 as its authors advise.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: [u64; 4],
}

impl SeededRng {
    /// Creates a generator whose whole output is a function of `seed`.
    pub fn new(seed: u64) -> Self {
        let mut splitmix_state = seed;
        let mut next_splitmix = || {
            splitmix_state = splitmix_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = splitmix_state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let state = [next_splitmix(), next_splitmix(), next_splitmix(), next_splitmix()];
        Self { state }
    }

    /// Next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.state[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let shifted = self.state[1] << 17;
        self.state[2] ^= self.state[0];
        self.state[3] ^= self.state[1];
        self.state[1] ^= self.state[2];
        self.state[0] ^= self.state[3];
        self.state[2] ^= shifted;
        self.state[3] = self.state[3].rotate_left(45);
        result
    }

    /// Uniform float in `[0, 1)` built from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[0, bound)`; `bound` must be positive. Uses Lemire's multiply-shift,
    /// whose tiny bias (below 2^-32 for our sizes) does not matter for shuffling node orders.
    pub fn below(&mut self, bound: usize) -> usize {
        debug_assert!(bound > 0);
        (((self.next_u64() >> 32) * bound as u64) >> 32) as usize
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.below(index + 1);
            items.swap(index, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeededRng;

    #[test]
    fn same_seed_same_stream_and_different_seed_different_stream() {
        let mut first = SeededRng::new(42);
        let mut second = SeededRng::new(42);
        let mut third = SeededRng::new(43);
        let first_values: Vec<u64> = (0..8).map(|_| first.next_u64()).collect();
        let second_values: Vec<u64> = (0..8).map(|_| second.next_u64()).collect();
        let third_values: Vec<u64> = (0..8).map(|_| third.next_u64()).collect();
        assert_eq!(first_values, second_values);
        assert_ne!(first_values, third_values);
    }

    #[test]
    fn below_stays_in_range_and_floats_in_unit_interval() {
        let mut rng = SeededRng::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let value = rng.below(5);
            assert!(value < 5);
            seen[value] = true;
            let float = rng.next_f64();
            assert!((0.0..1.0).contains(&float));
        }
        assert!(seen.iter().all(|was_seen| *was_seen));
    }
}
