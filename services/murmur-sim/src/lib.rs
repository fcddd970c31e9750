//! murmur's stream simulator.
//!
//! - [`generate`]: a seeded, deterministic multi-platform stream (Reddit threads, Telegram
//!   channels with discussion comments and forwards, Mastodon and Bluesky hashtag crowds) with
//!   planted emerging micro-communities and planted weak signals in English and French, written
//!   as the replay connector's JSONL, and its ground truth ([`truth`]) next to it;
//! - [`serve`]: local HTTP servers that release the stream over time in the platforms' own
//!   formats, so the real connectors read it;
//! - [`eval`]: scores detected communities against the ground truth (NMI, best-match F1).

pub mod eval;
pub mod generate;
pub mod serve;
pub mod truth;
