//! The keyword emergence map (Yoon 2012): visibility × growth quadrants.
//!
//! - **visibility** = share of the bucket's posts that contain the term (`count / posts_in_bucket`);
//!   high when ≥ `high_visibility_share`.
//! - **growth** = increase rate against the recent past:
//!   `(count − mean(previous k buckets)) / max(mean(previous k buckets), 1)`; high when ≥ `high_growth`.
//!   The `max(…, 1)` keeps a term going from 0 to 1 post from reading as infinite growth.
//!
//! | | growth high | growth low |
//! |---|---|---|
//! | visibility low | **weak** (what murmur is for) | latent |
//! | visibility high | strong | fading |

/// Quadrant of the keyword emergence map; same values as the proto's `SignalClass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SignalClass {
    /// Low visibility, high growth.
    Weak,
    /// High visibility, high growth.
    Strong,
    /// Low visibility, low growth.
    Latent,
    /// High visibility, low or negative growth.
    Fading,
}

impl SignalClass {
    /// Lowercase name for logs and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalClass::Weak => "weak",
            SignalClass::Strong => "strong",
            SignalClass::Latent => "latent",
            SignalClass::Fading => "fading",
        }
    }
}

/// Thresholds of the emergence map.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QuadrantThresholds {
    /// Share of posts at or above which a term is visible (default 0.01 = 1% of the bucket's posts).
    pub high_visibility_share: f64,
    /// Growth rate at or above which a term is growing (default 0.5 = +50% over the recent mean).
    pub high_growth: f64,
}

impl Default for QuadrantThresholds {
    fn default() -> Self {
        QuadrantThresholds { high_visibility_share: 0.01, high_growth: 0.5 }
    }
}

/// Visibility of a term: `count / posts_in_bucket` (0 when the bucket is empty).
pub fn visibility(count: u64, posts_in_bucket: u64) -> f64 {
    if posts_in_bucket == 0 {
        return 0.0;
    }
    count as f64 / posts_in_bucket as f64
}

/// Growth rate of `count` against the previous buckets' counts:
/// `(count − mean(previous)) / max(mean(previous), 1)`; with no history the mean is 0.
pub fn growth_rate(count: u64, previous_counts: &[u64]) -> f64 {
    let previous_mean = if previous_counts.is_empty() {
        0.0
    } else {
        previous_counts.iter().sum::<u64>() as f64 / previous_counts.len() as f64
    };
    (count as f64 - previous_mean) / previous_mean.max(1.0)
}

/// The quadrant of (visibility, growth).
pub fn classify(visibility_share: f64, growth: f64, thresholds: &QuadrantThresholds) -> SignalClass {
    let is_visible = visibility_share >= thresholds.high_visibility_share;
    let is_growing = growth >= thresholds.high_growth;
    match (is_visible, is_growing) {
        (false, true) => SignalClass::Weak,
        (true, true) => SignalClass::Strong,
        (false, false) => SignalClass::Latent,
        (true, false) => SignalClass::Fading,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_and_visibility_formulas() {
        // prev mean (1+2+3)/3 = 2 → (8−2)/2 = 3.
        assert!((growth_rate(8, &[1, 2, 3]) - 3.0).abs() < 1e-12);
        // No history: (3 − 0)/max(0,1) = 3.
        assert!((growth_rate(3, &[]) - 3.0).abs() < 1e-12);
        // Declining: prev mean 100 → (60 − 100)/100 = −0.4.
        assert!((growth_rate(60, &[100, 100]) + 0.4).abs() < 1e-12);
        assert!((visibility(25, 1000) - 0.025).abs() < 1e-12);
        assert_eq!(visibility(3, 0), 0.0);
    }

    #[test]
    fn quadrants() {
        let thresholds = QuadrantThresholds::default();
        assert_eq!(classify(0.001, 2.0, &thresholds), SignalClass::Weak);
        assert_eq!(classify(0.05, 2.0, &thresholds), SignalClass::Strong);
        assert_eq!(classify(0.001, 0.0, &thresholds), SignalClass::Latent);
        assert_eq!(classify(0.05, -0.3, &thresholds), SignalClass::Fading);
        // Boundaries are inclusive on the high side.
        assert_eq!(classify(0.01, 0.5, &thresholds), SignalClass::Strong);
    }
}
