//! Normalisation of platform items into `murmur.events.v1.Post`.
//!
//! Connectors fill a [`PostDraft`] with what the platform says (raw handles, raw text, native
//! ids already put in the `platform:native_id` space) and [`Normaliser::finish`] applies the
//! rules that must be identical for every platform: text normalisation and cap, hashtag and
//! mention extraction, pseudonymisation of every account handle.
//!
//! - [`text`]: NFC, invisible/control characters removed, size cap.
//! - [`extract`]: hashtags and mentions from plain text.
//! - [`html`]: HTML fragments to text.
//! - [`pseudonym`]: the keyed hash of handles.

pub mod extract;
pub mod html;
pub mod pseudonym;
pub mod text;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use murmur_proto::events::v1::{Engagement, Platform, Post, PostKind};

use self::extract::push_unique;
use self::pseudonym::Pseudonymiser;
use self::text::{normalise_text, DEFAULT_TEXT_CAP_BYTES};

/// The id prefix of a platform (`reddit`, `telegram`, `mastodon`, `bluesky`, `x`).
pub fn platform_prefix(platform: Platform) -> &'static str {
    match platform {
        Platform::Reddit => "reddit",
        Platform::Telegram => "telegram",
        Platform::Mastodon => "mastodon",
        Platform::Bluesky => "bluesky",
        Platform::X => "x",
        Platform::Unspecified => "unknown",
    }
}

/// `platform:native_id`, the id space of `Post.id`, `parent_id` and `root_id`.
pub fn post_id(platform: Platform, native_id: &str) -> String {
    format!("{}:{native_id}", platform_prefix(platform))
}

/// How mentions are spelled in this platform's plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionSyntax {
    /// `u/name` (Reddit).
    RedditUser,
    /// `@name` (Telegram, X, Mastodon text).
    At,
    /// Mentions come only from structured data (Bluesky facets carry DIDs, not handles in text).
    StructuredOnly,
}

/// What a connector knows about one item before normalisation.
#[derive(Debug, Clone)]
pub struct PostDraft {
    /// Platform.
    pub platform: Platform,
    /// Full id (`platform:native_id`).
    pub id: String,
    /// Subreddit, channel username, `#tag` or `instance/#tag`.
    pub channel: String,
    /// Kind within the thread.
    pub kind: PostKind,
    /// Raw author handle (or stable account id); `None` when deleted/unknown.
    pub author_handle: Option<String>,
    /// True when the platform reports the author as deleted.
    pub author_deleted: bool,
    /// True for moderators/admins.
    pub author_is_moderator: bool,
    /// Full parent id, empty for thread starters.
    pub parent_id: String,
    /// Full root id (equals `id` for thread starters).
    pub root_id: String,
    /// Mentioned handles from structured data (raw; pseudonymised later).
    pub mention_handles: Vec<String>,
    /// Hashtags from structured data (with or without `#`, any case).
    pub hashtags: Vec<String>,
    /// Raw text (already HTML-stripped where the platform sends HTML).
    pub text: String,
    /// Title (Reddit submissions).
    pub title: String,
    /// Creation time.
    pub created_at: Option<DateTime<Utc>>,
    /// Engagement counters.
    pub engagement: Engagement,
    /// Channel audience size.
    pub channel_audience: Option<i64>,
    /// Link to the item.
    pub permalink: String,
    /// BCP-47 language hint.
    pub language_hint: String,
    /// For forwards, the source channel/account.
    pub forwarded_from: String,
    /// True when edited.
    pub edited: bool,
    /// How mentions are written in the text.
    pub mention_syntax: MentionSyntax,
}

impl PostDraft {
    /// A thread-starter draft with empty optional fields; connectors then set what they know.
    pub fn new(platform: Platform, id: String, channel: impl Into<String>) -> Self {
        Self {
            platform,
            root_id: id.clone(),
            id,
            channel: channel.into(),
            kind: PostKind::Post,
            author_handle: None,
            author_deleted: false,
            author_is_moderator: false,
            parent_id: String::new(),
            mention_handles: Vec::new(),
            hashtags: Vec::new(),
            text: String::new(),
            title: String::new(),
            created_at: None,
            engagement: Engagement::default(),
            channel_audience: None,
            permalink: String::new(),
            language_hint: String::new(),
            forwarded_from: String::new(),
            edited: false,
            mention_syntax: MentionSyntax::At,
        }
    }

    /// Sets parent and root, and the kind that follows (`Comment` when the parent is the root,
    /// `Reply` otherwise). An empty root falls back to the parent (oldest known ancestor).
    pub fn set_reply(&mut self, parent_id: String, root_id: String) {
        let root_id = if root_id.is_empty() { parent_id.clone() } else { root_id };
        self.kind = if parent_id == root_id { PostKind::Comment } else { PostKind::Reply };
        self.parent_id = parent_id;
        self.root_id = root_id;
    }
}

/// Shared normalisation settings: the pseudonymiser and the text cap.
#[derive(Debug, Clone)]
pub struct Normaliser {
    pseudonymiser: Arc<Pseudonymiser>,
    text_cap_bytes: usize,
}

impl Normaliser {
    /// A normaliser with the default 16 KiB text cap.
    pub fn new(pseudonymiser: Pseudonymiser) -> Self {
        Self { pseudonymiser: Arc::new(pseudonymiser), text_cap_bytes: DEFAULT_TEXT_CAP_BYTES }
    }

    /// Changes the text cap (bytes of UTF-8, at least 64).
    pub fn with_text_cap(mut self, text_cap_bytes: usize) -> Self {
        self.text_cap_bytes = text_cap_bytes.max(64);
        self
    }

    /// The configured text cap.
    pub fn text_cap_bytes(&self) -> usize {
        self.text_cap_bytes
    }

    /// The pseudonymiser.
    pub fn pseudonymiser(&self) -> &Pseudonymiser {
        &self.pseudonymiser
    }

    /// Pseudonymous id of a handle on a platform.
    pub fn author_id(&self, platform: Platform, handle: &str) -> String {
        self.pseudonymiser.pseudonymise(platform_prefix(platform), handle)
    }

    /// Applies text normalisation, extraction and pseudonymisation.
    pub fn finish(&self, draft: PostDraft, observed_at: DateTime<Utc>) -> Post {
        let prefix = platform_prefix(draft.platform);
        let body = normalise_text(&draft.text, self.text_cap_bytes);
        let title = normalise_text(&draft.title, self.text_cap_bytes.min(1024));

        let mut hashtags = Vec::new();
        for tag in &draft.hashtags {
            let tag = tag.trim().trim_start_matches('#').to_lowercase();
            if !tag.is_empty() {
                push_unique(&mut hashtags, tag);
            }
        }
        for source in [&title.text, &body.text] {
            for tag in extract::extract_hashtags(source) {
                push_unique(&mut hashtags, tag);
            }
        }

        let mut handles: Vec<String> = Vec::new();
        let mut push_handle = |handle: &str| {
            let canonical = handle.trim().trim_start_matches('@').to_lowercase();
            if !canonical.is_empty() {
                push_unique(&mut handles, canonical);
            }
        };
        draft.mention_handles.iter().for_each(|handle| push_handle(handle));
        let from_text = match draft.mention_syntax {
            MentionSyntax::RedditUser => extract::extract_reddit_mentions(&body.text),
            MentionSyntax::At => extract::extract_at_mentions(&body.text),
            MentionSyntax::StructuredOnly => Vec::new(),
        };
        from_text.iter().for_each(|handle| push_handle(handle));
        let mentions = handles.iter().map(|handle| self.pseudonymiser.pseudonymise(prefix, handle)).collect();

        let author_id = match (&draft.author_handle, draft.author_deleted) {
            (Some(handle), false) if !handle.is_empty() => self.pseudonymiser.pseudonymise(prefix, handle),
            _ => String::new(),
        };

        Post {
            id: draft.id,
            platform: draft.platform as i32,
            channel: draft.channel,
            kind: draft.kind as i32,
            author_id,
            parent_id: draft.parent_id,
            root_id: draft.root_id,
            mentions,
            hashtags,
            text: body.text,
            created_at: draft.created_at.map(to_timestamp),
            observed_at: Some(to_timestamp(observed_at)),
            engagement: Some(draft.engagement),
            channel_audience: draft.channel_audience,
            permalink: draft.permalink,
            language_hint: draft.language_hint,
            forwarded_from: draft.forwarded_from,
            edited: draft.edited,
            author_deleted: draft.author_deleted,
            author_is_moderator: draft.author_is_moderator,
            title: title.text,
            text_truncated: body.truncated,
        }
    }
}

/// `chrono` → protobuf timestamp.
pub fn to_timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// Unix seconds (possibly fractional, as Reddit sends them) → UTC time.
pub fn from_unix_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() {
        return None;
    }
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9) as u32;
    DateTime::from_timestamp(whole as i64, nanos)
}

/// RFC 3339 → UTC time.
pub fn parse_rfc3339(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value).ok().map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_pseudonymises_extracts_and_normalises() {
        let normaliser = Normaliser::new(Pseudonymiser::dev()).with_text_cap(64);
        let mut draft = PostDraft::new(Platform::Reddit, post_id(Platform::Reddit, "t1_b"), "rust");
        draft.author_handle = Some("Alice".into());
        draft.text = format!("hi u/Bob about #Rust\u{200B} {}", "x".repeat(100));
        draft.mention_syntax = MentionSyntax::RedditUser;
        draft.set_reply("reddit:t1_a".into(), "reddit:t3_r".into());
        let post = normaliser.finish(draft, Utc::now());
        let pseudonymiser = Pseudonymiser::dev();
        assert_eq!(post.author_id, pseudonymiser.pseudonymise("reddit", "alice"));
        assert_eq!(post.mentions, vec![pseudonymiser.pseudonymise("reddit", "bob")]);
        assert_eq!(post.hashtags, vec!["rust"]);
        assert_eq!(post.kind, PostKind::Reply as i32);
        assert!(post.text_truncated);
        assert_eq!(post.text.len(), 64);
    }

    #[test]
    fn deleted_author_has_empty_id() {
        let normaliser = Normaliser::new(Pseudonymiser::dev());
        let mut draft = PostDraft::new(Platform::Reddit, "reddit:t3_a".into(), "rust");
        draft.author_handle = Some("[deleted]".into());
        draft.author_deleted = true;
        let post = normaliser.finish(draft, Utc::now());
        assert!(post.author_id.is_empty());
        assert!(post.author_deleted);
        assert_eq!(post.root_id, "reddit:t3_a");
    }
}
