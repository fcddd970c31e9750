//! Replay connector: reads a JSONL file of normalised posts at a chosen speed, for demos,
//! benchmarks and tests. A malformed line is an item error; the rest continues. The file may
//! grow while it is replayed (a later poll picks up appended lines).
//!
//! Format: one JSON object per line ([`ReplayRecord`]), e.g.
//! `{"id":"reddit:t1_b","platform":"reddit","channel":"rust","kind":"reply","author":"alice",
//! "parent_id":"reddit:t1_a","root_id":"reddit:t3_r","text":"hi @bob #rust","created_at":"2026-01-01T00:00:00Z"}`.
//! Raw `author`/`mentions` are pseudonymised like live data; pre-pseudonymised `author_id` /
//! `mention_ids` are kept as they are.
//!
//! Cursor: `{"offset": <byte offset of the next line>, "line": <its 1-based number - 1>}`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use murmur_proto::events::v1::{Engagement, Platform, Post, PostKind};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};
use tokio::time::Instant;

use crate::error::{ConnectorError, ItemError, ItemErrorKind};
use crate::normalise::{parse_rfc3339, platform_prefix, MentionSyntax, Normaliser, PostDraft};
use crate::outcome::{system_clock, Cursor, PollOutcome, SharedClock};
use crate::watch::WatchSpec;

/// How fast posts are released.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplaySpeed {
    /// No pacing.
    AsFastAsPossible,
    /// A fixed rate.
    PostsPerSecond(f64),
    /// Gaps between `created_at` values divided by this factor (1.0 = real time, 60.0 = an hour per minute).
    TimeScaled(f64),
}

/// Replay settings.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The JSONL file.
    pub path: PathBuf,
    /// Pacing.
    pub speed: ReplaySpeed,
    /// Most posts per poll.
    pub batch_size: usize,
    /// A poll returns once pacing would make it wait longer than this (so polls stay short).
    pub max_batch_wait: Duration,
}

impl ReplayConfig {
    /// As fast as possible, 1,000 posts per poll.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            speed: ReplaySpeed::AsFastAsPossible,
            batch_size: 1000,
            max_batch_wait: Duration::from_secs(1),
        }
    }
}

/// One line of a replay file. Only `id`, `platform` and `created_at` are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplayRecord {
    /// `platform:native_id` (a bare native id gets the platform prefix).
    pub id: String,
    /// `reddit`, `telegram`, `mastodon`, `bluesky` or `x`.
    pub platform: String,
    /// Channel (subreddit, channel username, `#tag`, `instance/#tag`).
    pub channel: String,
    /// `post`, `comment`, `reply` or `forward`; derived from parent/root when absent.
    pub kind: Option<String>,
    /// Raw author handle (pseudonymised on read); absent or empty = deleted/unknown.
    pub author: Option<String>,
    /// Already pseudonymised author id (kept as is; wins over `author`).
    pub author_id: Option<String>,
    /// Parent id (same id space).
    pub parent_id: String,
    /// Root id; empty = the post itself (or the parent for replies).
    pub root_id: String,
    /// Raw mentioned handles (pseudonymised on read).
    pub mentions: Vec<String>,
    /// Already pseudonymised mention ids.
    pub mention_ids: Vec<String>,
    /// Hashtags (merged with those found in the text).
    pub hashtags: Vec<String>,
    /// Text (normalised and capped like live data).
    pub text: String,
    /// Title.
    pub title: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Engagement counters.
    pub engagement: ReplayEngagement,
    /// Channel audience.
    pub channel_audience: Option<i64>,
    /// Permalink.
    pub permalink: String,
    /// Language hint.
    pub language_hint: String,
    /// Forward source.
    pub forwarded_from: String,
    /// Edited flag.
    pub edited: bool,
    /// Deleted-author flag.
    pub author_deleted: bool,
    /// Moderator flag.
    pub author_is_moderator: bool,
}

/// Engagement counters of a replay line.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplayEngagement {
    /// Score.
    pub score: i64,
    /// Replies.
    pub replies: i64,
    /// Views.
    pub views: i64,
    /// Reactions.
    pub reactions: i64,
    /// Forwards.
    pub forwards: i64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct ReplayCursor {
    offset: u64,
    line: u64,
}

#[derive(Debug)]
struct Pacer {
    origin: Instant,
    released: u64,
    first_created: Option<DateTime<Utc>>,
    expected_offset: u64,
}

/// Replays a JSONL file.
#[derive(Debug)]
pub struct ReplayConnector {
    config: ReplayConfig,
    normaliser: Normaliser,
    clock: SharedClock,
    pacer: Mutex<Option<Pacer>>,
}

impl ReplayConnector {
    /// Builds the connector.
    pub fn new(config: ReplayConfig, normaliser: Normaliser) -> Result<Self, ConnectorError> {
        let valid_speed = match config.speed {
            ReplaySpeed::AsFastAsPossible => true,
            ReplaySpeed::PostsPerSecond(rate) | ReplaySpeed::TimeScaled(rate) => rate.is_finite() && rate > 0.0,
        };
        if !valid_speed || config.batch_size == 0 {
            return Err(ConnectorError::Config("replay speed must be > 0 and batch_size ≥ 1".into()));
        }
        Ok(Self { config, normaliser, clock: system_clock(), pacer: Mutex::new(None) })
    }

    /// Replaces the clock used for `observed_at` (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Reads the next batch.
    pub async fn poll(&self, watch: &WatchSpec, cursor: Option<&Cursor>) -> Result<PollOutcome, ConnectorError> {
        if *watch != WatchSpec::Replay {
            return Err(ConnectorError::UnsupportedWatch { platform: "replay", watch: watch.to_string() });
        }
        let mut position: ReplayCursor = Cursor::decode(cursor)?;
        let path_text = self.config.path.display().to_string();
        let io_error = |source| ConnectorError::Io { path: path_text.clone(), source };
        let mut file = tokio::fs::File::open(&self.config.path).await.map_err(io_error)?;
        file.seek(std::io::SeekFrom::Start(position.offset)).await.map_err(io_error)?;
        let mut reader = BufReader::new(file);
        let mut outcome = PollOutcome::default();
        let mut line_bytes = Vec::new();
        let batch_started = Instant::now();
        self.sync_pacer(position.offset, batch_started);
        while outcome.posts.len() < self.config.batch_size {
            line_bytes.clear();
            let read = reader.read_until(b'\n', &mut line_bytes).await.map_err(io_error)?;
            if read == 0 {
                break;
            }
            let line_number = position.line + 1;
            let line = String::from_utf8_lossy(&line_bytes);
            if matches!(line, std::borrow::Cow::Owned(_)) {
                outcome.item_errors.push(ItemError::new(
                    ItemErrorKind::InvalidUtf8,
                    format!("line {line_number}"),
                    "decoded lossily",
                ));
            }
            let trimmed = line.trim();
            if trimmed.is_empty() {
                position = ReplayCursor { offset: position.offset + read as u64, line: line_number };
                continue;
            }
            let post = serde_json::from_str::<ReplayRecord>(trimmed)
                .map_err(|error| error.to_string())
                .and_then(|record| self.record_post(record));
            let post = match post {
                Ok(post) => post,
                Err(reason) => {
                    outcome.item_errors.push(ItemError::new(
                        ItemErrorKind::Malformed,
                        format!("line {line_number}"),
                        reason,
                    ));
                    position = ReplayCursor { offset: position.offset + read as u64, line: line_number };
                    continue;
                }
            };
            let due = self.due(&post);
            if let Some(due) = due {
                let too_late = due > batch_started + self.config.max_batch_wait;
                if too_late && !outcome.posts.is_empty() {
                    break; // not consumed: the cursor stays before this line
                }
                tokio::time::sleep_until(due).await;
            }
            position = ReplayCursor { offset: position.offset + read as u64, line: line_number };
            self.released();
            outcome.posts.push(post);
        }
        self.released_up_to(position.offset);
        outcome.next_cursor = Cursor::encode(&position)?;
        Ok(outcome)
    }

    /// A cursor that does not continue the previous poll (restart, another file) restarts pacing.
    fn sync_pacer(&self, offset: u64, now: Instant) {
        let mut guard = self.pacer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.as_ref().is_none_or(|pacer| pacer.expected_offset != offset) {
            *guard = Some(Pacer { origin: now, released: 0, first_created: None, expected_offset: offset });
        }
    }

    fn released_up_to(&self, offset: u64) {
        let mut guard = self.pacer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(pacer) = guard.as_mut() {
            pacer.expected_offset = offset;
        }
    }

    /// When this post may be released; `None` = now.
    fn due(&self, post: &Post) -> Option<Instant> {
        let mut guard = self.pacer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let pacer = guard.as_mut()?;
        match self.config.speed {
            ReplaySpeed::AsFastAsPossible => None,
            ReplaySpeed::PostsPerSecond(rate) => {
                Some(pacer.origin + Duration::from_secs_f64(pacer.released as f64 / rate))
            }
            ReplaySpeed::TimeScaled(factor) => {
                let created =
                    post.created_at.as_ref().and_then(|ts| DateTime::from_timestamp(ts.seconds, ts.nanos as u32))?;
                let first = *pacer.first_created.get_or_insert(created);
                let offset = (created - first).to_std().unwrap_or(Duration::ZERO);
                Some(pacer.origin + offset.div_f64(factor))
            }
        }
    }

    fn released(&self) {
        let mut guard = self.pacer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(pacer) = guard.as_mut() {
            pacer.released += 1;
        }
    }

    fn record_post(&self, record: ReplayRecord) -> Result<Post, String> {
        let platform = parse_platform(&record.platform)?;
        if record.id.trim().is_empty() {
            return Err("missing id".into());
        }
        let created_at = parse_rfc3339(&record.created_at)
            .ok_or_else(|| format!("created_at {:?} is not RFC 3339", record.created_at))?;
        let prefix = format!("{}:", platform_prefix(platform));
        let id = if record.id.starts_with(&prefix) { record.id.clone() } else { format!("{prefix}{}", record.id) };
        let mut draft = PostDraft::new(platform, id.clone(), record.channel);
        if !record.parent_id.is_empty() {
            draft.set_reply(record.parent_id, record.root_id);
        } else if !record.root_id.is_empty() {
            draft.root_id = record.root_id;
        }
        if let Some(kind) = record.kind.as_deref() {
            draft.kind = parse_kind(kind)?;
        }
        draft.author_deleted = record.author_deleted;
        draft.author_handle = record.author.filter(|author| !author.is_empty());
        draft.author_is_moderator = record.author_is_moderator;
        draft.mention_handles = record.mentions;
        draft.hashtags = record.hashtags;
        draft.text = record.text;
        draft.title = record.title;
        draft.created_at = Some(created_at);
        let engagement = record.engagement;
        draft.engagement = Engagement {
            score: engagement.score,
            replies: engagement.replies,
            views: engagement.views,
            reactions: engagement.reactions,
            forwards: engagement.forwards,
        };
        draft.channel_audience = record.channel_audience;
        draft.permalink = record.permalink;
        draft.language_hint = record.language_hint;
        draft.forwarded_from = record.forwarded_from;
        draft.edited = record.edited;
        draft.mention_syntax = MentionSyntax::StructuredOnly;
        let mut post = self.normaliser.finish(draft, self.clock.now());
        if let Some(author_id) = record.author_id.filter(|author_id| !author_id.is_empty()) {
            post.author_id = author_id;
        }
        post.mentions.extend(record.mention_ids);
        Ok(post)
    }
}

fn parse_platform(name: &str) -> Result<Platform, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "reddit" => Ok(Platform::Reddit),
        "telegram" => Ok(Platform::Telegram),
        "mastodon" => Ok(Platform::Mastodon),
        "bluesky" => Ok(Platform::Bluesky),
        "x" | "twitter" => Ok(Platform::X),
        other => Err(format!("unknown platform {other:?}")),
    }
}

fn parse_kind(name: &str) -> Result<PostKind, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "post" => Ok(PostKind::Post),
        "comment" => Ok(PostKind::Comment),
        "reply" => Ok(PostKind::Reply),
        "forward" => Ok(PostKind::Forward),
        other => Err(format!("unknown kind {other:?}")),
    }
}
