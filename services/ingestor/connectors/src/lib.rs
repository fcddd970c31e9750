//! Platform connectors (Reddit, Telegram, Mastodon, Bluesky, X, replay) and normalisation into
//! murmur `Post` events.
//!
//! Layout:
//! - [`connector`]: the [`Connector`] trait and the [`AnyConnector`] enum the service dispatches on.
//! - [`watch`]: validated watch targets ([`SubredditName`], [`ChannelUsername`], [`Hashtag`]).
//! - [`outcome`]: [`PollOutcome`], [`Cursor`], [`RateLimitState`], the injected [`Clock`].
//! - [`error`]: [`ConnectorError`] (request level) and [`ItemError`] (one bad item, counted).
//! - [`normalise`]: text rules, extraction, [`Pseudonymiser`].
//! - one module per platform: [`reddit`], [`mastodon`], [`telegram`], [`bluesky`], [`x`], [`replay`].
//! - [`schedule`]: pure scheduling arithmetic (adaptive jittered intervals, backoff, rate-limit waits).
//!
//! Connectors do no scheduling, storage or publishing: a poll takes a watch and the last stored
//! cursor and returns new posts plus the cursor to store once they are acknowledged.

pub mod bluesky;
pub mod connector;
pub mod error;
pub mod http;
pub mod mastodon;
pub mod normalise;
pub mod outcome;
pub mod reddit;
pub mod replay;
pub mod schedule;
pub mod secret;
pub mod telegram;
pub mod watch;
mod watermark;
pub mod x;

pub use connector::{AnyConnector, Connector};
pub use error::{ConnectorError, ItemError, ItemErrorKind};
pub use http::HttpSettings;
pub use normalise::pseudonym::{PseudonymKeyError, Pseudonymiser};
pub use normalise::Normaliser;
pub use outcome::{Clock, Cursor, FixedClock, PollOutcome, RateLimitState, SharedClock, SystemClock};
pub use secret::Secret;
pub use watch::{ChannelUsername, Hashtag, SubredditName, WatchParseError, WatchSpec};
