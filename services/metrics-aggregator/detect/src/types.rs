//! Types shared by every part of the detection core.

/// Dense integer id of an actor (a pseudonymous author, or a Telegram channel acting as a node).
/// Assigned by an interner in order of first appearance; never reused within a process.
pub type ActorId = u32;

/// Stable id of a tracked community, assigned by the tracker; never reused.
pub type CommunityId = u64;

/// Time in milliseconds since the Unix epoch. The core never reads a clock: callers pass time in.
pub type TimestampMs = i64;

/// Milliseconds in one second, for readable duration arithmetic.
pub const MS_PER_SECOND: i64 = 1_000;
