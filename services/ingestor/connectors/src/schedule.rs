//! Pure scheduling arithmetic for the ingestor's scheduler: adaptive jittered poll intervals,
//! exponential backoff with full jitter, and the wait a rate limit imposes. No tasks, no clocks
//! read here: randomness and "now" are passed in, so every rule is unit-tested deterministically.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::error::ConnectorError;
use crate::outcome::RateLimitState;

/// How often one watch is polled, adapting to its activity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollIntervalPolicy {
    /// Shortest interval (busy sources).
    pub min: Duration,
    /// Longest interval (quiet sources).
    pub max: Duration,
    /// New posts per poll the policy aims for: more shortens the interval, fewer lengthens it.
    pub target_posts_per_poll: f64,
    /// Relative jitter (0.2 = ±20 %), so watches created together do not poll in lockstep.
    pub jitter: f64,
}

impl Default for PollIntervalPolicy {
    fn default() -> Self {
        Self { min: Duration::from_secs(30), max: Duration::from_secs(900), target_posts_per_poll: 20.0, jitter: 0.2 }
    }
}

impl PollIntervalPolicy {
    /// The interval before the next poll, given the previous (un-jittered) interval and how many
    /// new posts the last poll returned. Returns `(base, jittered)`: keep `base` for the next call,
    /// sleep `jittered`.
    ///
    /// The base moves by the ratio target/observed, bounded to ×0.5..×2 per poll so one burst or one
    /// quiet poll does not swing it to an extreme; no posts doubles it.
    pub fn next_interval<R: Rng + ?Sized>(
        &self,
        previous: Duration,
        new_posts: usize,
        rng: &mut R,
    ) -> (Duration, Duration) {
        let (min, max) = (self.min.min(self.max), self.max.max(self.min));
        let previous = previous.clamp(min, max);
        let factor = if new_posts == 0 { 2.0 } else { (self.target_posts_per_poll / new_posts as f64).clamp(0.5, 2.0) };
        let base =
            Duration::from_secs_f64((previous.as_secs_f64() * factor).clamp(min.as_secs_f64(), max.as_secs_f64()));
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = if jitter > 0.0 { rng.random_range(-jitter..=jitter) } else { 0.0 };
        let jittered =
            Duration::from_secs_f64((base.as_secs_f64() * (1.0 + spread)).clamp(min.as_secs_f64(), max.as_secs_f64()));
        (base, jittered)
    }
}

/// Exponential backoff with full jitter (a uniform wait in `[0, min(max, base·2^(failures-1))]`),
/// which spreads retries of many failing sources instead of synchronising them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first retry.
    pub base: Duration,
    /// Largest ceiling.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_secs(5), max: Duration::from_secs(15 * 60) }
    }
}

impl Backoff {
    /// The ceiling for the n-th consecutive failure (n ≥ 1).
    pub fn ceiling(&self, consecutive_failures: u32) -> Duration {
        let exponent = consecutive_failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// A full-jitter delay for the n-th consecutive failure.
    pub fn delay<R: Rng + ?Sized>(&self, consecutive_failures: u32, rng: &mut R) -> Duration {
        let ceiling = self.ceiling(consecutive_failures).as_secs_f64();
        Duration::from_secs_f64(rng.random_range(0.0..=ceiling))
    }
}

/// The wait after a failed poll: exactly what the platform asked for on a rate limit (never less,
/// never jittered down), otherwise the jittered backoff.
pub fn wait_after_error<R: Rng + ?Sized>(
    error: &ConnectorError,
    consecutive_failures: u32,
    backoff: &Backoff,
    rng: &mut R,
) -> Duration {
    match error.retry_after() {
        Some(retry_after) => retry_after,
        None => backoff.delay(consecutive_failures.max(1), rng),
    }
}

/// The earliest next poll allowed by a rate-limit state at `now`, given the interval the policy
/// wants: the interval, stretched to the window reset when the window is exhausted.
pub fn respect_rate_limit(rate_limit: &RateLimitState, wanted: Duration, now: DateTime<Utc>) -> Duration {
    match rate_limit.wait_before_next(now) {
        Some(wait) => wait.max(wanted),
        None => wanted,
    }
}

/// `now + wait`, saturating.
pub fn next_poll_at(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn policy() -> PollIntervalPolicy {
        PollIntervalPolicy {
            min: Duration::from_secs(10),
            max: Duration::from_secs(600),
            target_posts_per_poll: 10.0,
            jitter: 0.0,
        }
    }

    #[test]
    fn busier_sources_poll_sooner_within_bounds() {
        let mut rng = StdRng::seed_from_u64(1);
        let previous = Duration::from_secs(100);
        let (busy, _) = policy().next_interval(previous, 40, &mut rng);
        let (steady, _) = policy().next_interval(previous, 10, &mut rng);
        let (quiet, _) = policy().next_interval(previous, 0, &mut rng);
        assert_eq!(busy, Duration::from_secs(50));
        assert_eq!(steady, previous);
        assert_eq!(quiet, Duration::from_secs(200));
        let (floor, _) = policy().next_interval(Duration::from_secs(12), 1000, &mut rng);
        assert_eq!(floor, Duration::from_secs(10));
        let (ceiling, _) = policy().next_interval(Duration::from_secs(500), 0, &mut rng);
        assert_eq!(ceiling, Duration::from_secs(600));
    }

    #[test]
    fn jitter_stays_within_its_band_and_is_seeded() {
        let jittery = PollIntervalPolicy { jitter: 0.2, ..policy() };
        let mut rng = StdRng::seed_from_u64(7);
        let mut samples = Vec::new();
        for _ in 0..200 {
            let (base, jittered) = jittery.next_interval(Duration::from_secs(100), 10, &mut rng);
            assert_eq!(base, Duration::from_secs(100));
            assert!(jittered >= Duration::from_secs(80) && jittered <= Duration::from_secs(120), "{jittered:?}");
            samples.push(jittered);
        }
        samples.dedup();
        assert!(samples.len() > 100, "jitter actually varies");
        let mut again = StdRng::seed_from_u64(7);
        assert_eq!(jittery.next_interval(Duration::from_secs(100), 10, &mut again).1, {
            let mut first = StdRng::seed_from_u64(7);
            jittery.next_interval(Duration::from_secs(100), 10, &mut first).1
        });
    }

    #[test]
    fn backoff_ceiling_doubles_and_caps_and_delay_is_within_it() {
        let backoff = Backoff { base: Duration::from_secs(2), max: Duration::from_secs(60) };
        assert_eq!(backoff.ceiling(1), Duration::from_secs(2));
        assert_eq!(backoff.ceiling(4), Duration::from_secs(16));
        assert_eq!(backoff.ceiling(40), Duration::from_secs(60));
        let mut rng = StdRng::seed_from_u64(3);
        let delays: Vec<Duration> = (0..100).map(|_| backoff.delay(3, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(8)));
        assert!(
            delays.iter().any(|d| *d < Duration::from_secs(4)) && delays.iter().any(|d| *d > Duration::from_secs(4))
        );
    }

    #[test]
    fn rate_limits_are_waited_exactly() {
        let mut rng = StdRng::seed_from_u64(0);
        let limited = ConnectorError::RateLimited { platform: "telegram", retry_after: Duration::from_secs(37) };
        assert_eq!(wait_after_error(&limited, 5, &Backoff::default(), &mut rng), Duration::from_secs(37));
        let failed = ConnectorError::Http { platform: "x", status: 503, detail: String::new() };
        assert!(wait_after_error(&failed, 1, &Backoff::default(), &mut rng) <= Duration::from_secs(5));

        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let exhausted = RateLimitState {
            remaining: Some(0),
            limit: Some(300),
            reset_at: Some(now + chrono::Duration::seconds(90)),
        };
        assert_eq!(respect_rate_limit(&exhausted, Duration::from_secs(30), now), Duration::from_secs(90));
        let healthy = RateLimitState { remaining: Some(10), ..exhausted };
        assert_eq!(respect_rate_limit(&healthy, Duration::from_secs(30), now), Duration::from_secs(30));
        assert_eq!(next_poll_at(now, Duration::from_secs(90)), now + chrono::Duration::seconds(90));
    }
}
