//! What a poll returns: the posts, the cursor to store once they are published, the rate-limit
//! state, and the item errors counted along the way. Also the injected [`Clock`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use murmur_proto::events::v1::Post;

use crate::error::{ConnectorError, ItemError};

/// An opaque, serialisable position in a source. Store it as a string (Postgres `text`) after the
/// broker acknowledged the posts of the poll that returned it, and hand it back to the next poll.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a stored cursor.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The string to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Serialises a connector's private cursor state.
    pub(crate) fn encode<T: serde::Serialize>(state: &T) -> Result<Self, ConnectorError> {
        serde_json::to_string(state).map(Self).map_err(|error| ConnectorError::BadCursor(error.to_string()))
    }

    /// Decodes a connector's private cursor state; `None` or an empty cursor gives the default.
    pub(crate) fn decode<T: serde::de::DeserializeOwned + Default>(
        cursor: Option<&Cursor>,
    ) -> Result<T, ConnectorError> {
        match cursor {
            None => Ok(T::default()),
            Some(cursor) if cursor.0.trim().is_empty() => Ok(T::default()),
            Some(cursor) => {
                serde_json::from_str(&cursor.0).map_err(|error| ConnectorError::BadCursor(error.to_string()))
            }
        }
    }
}

/// The platform's rate-limit state as of the last response (fields the platform does not send stay `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitState {
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Window size, when announced.
    pub limit: Option<u64>,
    /// When the window resets.
    pub reset_at: Option<DateTime<Utc>>,
}

impl RateLimitState {
    /// How long to wait before the next request: the time to reset when the window is exhausted.
    pub fn wait_before_next(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.remaining != Some(0) {
            return None;
        }
        let reset_at = self.reset_at?;
        (reset_at - now).to_std().ok().filter(|wait| !wait.is_zero())
    }

    /// Keeps the newer information of two states (later responses win field by field).
    pub(crate) fn merge(self, newer: RateLimitState) -> RateLimitState {
        RateLimitState {
            remaining: newer.remaining.or(self.remaining),
            limit: newer.limit.or(self.limit),
            reset_at: newer.reset_at.or(self.reset_at),
        }
    }
}

/// The result of one poll of one watch.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// New posts, oldest first, each seen once per poll.
    pub posts: Vec<Post>,
    /// Cursor covering `posts`: store it only after they were acknowledged by the broker.
    pub next_cursor: Cursor,
    /// Rate-limit state after the last request.
    pub rate_limit: RateLimitState,
    /// Items that could not be normalised (counted and reported; the rest of the page is kept).
    pub item_errors: Vec<ItemError>,
    /// Requests made.
    pub requests: u32,
    /// A request error after some pages were already fetched: the posts above are kept and the
    /// cursor makes the next poll fetch what is missing. The scheduler should back off as it
    /// would for the error (e.g. `RateLimited { retry_after }`).
    pub stopped_early: Option<ConnectorError>,
}

impl PollOutcome {
    /// Sorts posts oldest first (stable), so they are published in creation order.
    pub(crate) fn sort_posts(&mut self) {
        self.posts.sort_by_key(|post| post.created_at.map(|ts| (ts.seconds, ts.nanos)).unwrap_or((i64::MIN, 0)));
    }
}

/// Source of "now", injected so tests control observed_at and rate-limit arithmetic.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock frozen at one instant (tests, replays).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The default clock.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}
