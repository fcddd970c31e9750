//! Emergence score: how much a community looks like something new taking shape, in [0, 1].
//!
//! `emergence = (w_g·G + w_c·C + w_r·R) / (w_g + w_c + w_r)` with each component in [0, 1]:
//! - **growth** `G = clamp(growth / growth_saturation, 0, 1)` — growth as `(size_W − size_{W−1}) /
//!   size_{W−1}`; doubling (`growth_saturation` = 1.0) saturates; a community with no previous size (born
//!   this window, non-empty) gets `G = 1`; shrinking gets 0;
//! - **cohesion** `C = ½·m2m + ½·min(1, density / density_saturation)` — member-to-member ratio (0 when the
//!   community has no replies) and density relative to `density_saturation` (default 0.1: in a
//!   50–5000-member community a density of 10% is already very tight);
//! - **recency** `R = 2^(−age / recency_half_life)` — age since the tracker first saw the community
//!   (unknown age counts as 0, i.e. new); halves every `recency_half_life_ms` (default 7 days).
//!
//! Default weights 0.4 / 0.4 / 0.2: growth and cohesion matter most; recency breaks ties toward new groups.

use crate::types::TimestampMs;

/// Weights and saturation points of the emergence score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmergenceConfig {
    /// Weight of growth (default 0.4).
    pub growth_weight: f64,
    /// Weight of cohesion (default 0.4).
    pub cohesion_weight: f64,
    /// Weight of recency (default 0.2).
    pub recency_weight: f64,
    /// Growth at which the growth component saturates (default 1.0 = doubled).
    pub growth_saturation: f64,
    /// Density at which the density half of cohesion saturates (default 0.1).
    pub density_saturation: f64,
    /// Half-life of recency in milliseconds (default 7 days).
    pub recency_half_life_ms: TimestampMs,
}

impl Default for EmergenceConfig {
    fn default() -> Self {
        EmergenceConfig {
            growth_weight: 0.4,
            cohesion_weight: 0.4,
            recency_weight: 0.2,
            growth_saturation: 1.0,
            density_saturation: 0.1,
            recency_half_life_ms: 7 * 24 * 3_600_000,
        }
    }
}

/// What the emergence score is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmergenceInputs {
    /// `(size_W − size_{W−1}) / size_{W−1}`; `None` when there was no previous size.
    pub growth: Option<f64>,
    /// Current size.
    pub size: u64,
    /// Member-to-member ratio; `None` without replies.
    pub member_to_member_ratio: Option<f64>,
    /// Density of the member graph.
    pub density: f64,
    /// Time since the community was born; `None` when unknown.
    pub age_ms: Option<TimestampMs>,
}

/// The emergence score (module docs); always in [0, 1], 0 for an empty community.
pub fn emergence_score(inputs: &EmergenceInputs, config: &EmergenceConfig) -> f64 {
    if inputs.size == 0 {
        return 0.0;
    }
    let growth_component = match inputs.growth {
        None => 1.0,
        Some(growth) => unit(growth / config.growth_saturation.max(f64::MIN_POSITIVE)),
    };
    let member_to_member = unit(inputs.member_to_member_ratio.unwrap_or(0.0));
    let density_component = unit(inputs.density / config.density_saturation.max(f64::MIN_POSITIVE));
    let cohesion_component = 0.5 * member_to_member + 0.5 * density_component;
    let age = inputs.age_ms.unwrap_or(0).max(0) as f64;
    let half_life = config.recency_half_life_ms.max(1) as f64;
    let recency_component = 0.5_f64.powf(age / half_life);
    let weights = [config.growth_weight, config.cohesion_weight, config.recency_weight].map(|weight| weight.max(0.0));
    let weight_sum: f64 = weights.iter().sum();
    if weight_sum <= 0.0 {
        return 0.0;
    }
    let weighted = weights[0] * growth_component + weights[1] * cohesion_component + weights[2] * recency_component;
    unit(weighted / weight_sum)
}

/// Clamps to [0, 1], mapping NaN to 0.
fn unit(value: f64) -> f64 {
    if value.is_nan() {
        return 0.0;
    }
    value.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emergence_matches_hand_computation() {
        let config = EmergenceConfig::default();
        // growth 0.5 → G = 0.5; m2m 0.6, density 0.05 → C = 0.5·0.6 + 0.5·0.5 = 0.55;
        // age = one half-life → R = 0.5. Score = 0.4·0.5 + 0.4·0.55 + 0.2·0.5 = 0.52.
        let inputs = EmergenceInputs {
            growth: Some(0.5),
            size: 80,
            member_to_member_ratio: Some(0.6),
            density: 0.05,
            age_ms: Some(config.recency_half_life_ms),
        };
        assert!((emergence_score(&inputs, &config) - 0.52).abs() < 1e-12);
        // Born now, fully cohesive: 1.0; shrinking, no replies, sparse, old: near 0.
        let born = EmergenceInputs {
            growth: None,
            member_to_member_ratio: Some(1.0),
            density: 0.5,
            age_ms: Some(0),
            ..inputs
        };
        assert!((emergence_score(&born, &config) - 1.0).abs() < 1e-12);
        let old = EmergenceInputs {
            growth: Some(-0.5),
            member_to_member_ratio: None,
            density: 0.0,
            age_ms: Some(100 * config.recency_half_life_ms),
            ..inputs
        };
        assert!(emergence_score(&old, &config) < 1e-6);
        assert_eq!(emergence_score(&EmergenceInputs { size: 0, ..inputs }, &config), 0.0);
    }
}
