//! `SourceService`: watch management and source status over gRPC. Watches are validated with
//! the connectors' own parsers so anything accepted here can be polled.

use chrono::{DateTime, Utc};
use murmur_common::kafka::producer::{EventProducer, OutgoingMessage};
use murmur_connectors::normalise::{post_id, MentionSyntax, Normaliser, PostDraft};
use murmur_connectors::{ChannelUsername, Hashtag, SubredditName};
use murmur_proto::api::v1::source_service_server::SourceService;
use murmur_proto::api::v1::{
    CreateWatchRequest, DeleteWatchRequest, DeleteWatchResponse, IngestPostsRequest, IngestPostsResponse,
    ListSourceStatusesRequest, ListSourceStatusesResponse, ListWatchesRequest, ListWatchesResponse, RateLimitState,
    SourceStatus, Watch,
};
use murmur_proto::events::v1::{Platform, Post, PostKind};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::store::{NewWatch, StatusRow, WatchRow, WatchStore};

/// Default page size of list calls.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Largest page size a client may ask for; larger requests are capped.
pub const MAX_PAGE_SIZE: i64 = 500;
/// Poll interval when the request gives none.
pub const DEFAULT_POLL_INTERVAL_MS: i64 = 60_000;
/// Bounds of the poll interval a client may ask for.
pub const POLL_INTERVAL_RANGE_MS: (i64, i64) = (10_000, 24 * 3_600_000);

/// Most posts one `IngestPosts` call may carry.
pub const MAX_INGEST_POSTS: usize = 1_000;

/// Where `IngestPosts` publishes: the same normaliser (pseudonymisation, text rules) and topic as
/// the connectors.
#[derive(Clone)]
pub struct IngestSink {
    /// Normaliser with the deployment's HMAC key.
    pub normaliser: Normaliser,
    /// Producer of the raw-posts topic.
    pub producer: EventProducer,
    /// The raw-posts topic.
    pub topic: String,
}

/// The gRPC service.
pub struct SourceApi {
    store: WatchStore,
    ingest: IngestSink,
}

impl SourceApi {
    /// A service over `store`, publishing pushed posts through `ingest`.
    pub fn new(store: WatchStore, ingest: IngestSink) -> Self {
        Self { store, ingest }
    }
}

fn timestamp_to_utc(timestamp: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
}

/// Normalises a pushed post exactly like a connector's: `author_id` and `mentions` are the
/// platform handles (pseudonymised here, never published raw), text rules and caps apply, ids get
/// the `platform:` prefix when missing.
pub fn normalise_pushed(post: &Post, normaliser: &Normaliser, now: DateTime<Utc>) -> Result<Post, String> {
    let platform = Platform::try_from(post.platform).unwrap_or(Platform::Unspecified);
    if platform == Platform::Unspecified {
        return Err("platform is required".to_string());
    }
    let channel = post.channel.trim();
    if channel.is_empty() {
        return Err("channel is required".to_string());
    }
    let qualify = |id: &str| {
        let prefix = format!("{}:", murmur_connectors::normalise::platform_prefix(platform));
        if id.starts_with(&prefix) {
            id.to_string()
        } else {
            post_id(platform, id)
        }
    };
    let native = post.id.trim();
    if native.is_empty() || native.len() > 256 {
        return Err("id must be 1 to 256 bytes".to_string());
    }
    let mut draft = PostDraft::new(platform, qualify(native), channel);
    if !post.parent_id.trim().is_empty() {
        let root = if post.root_id.trim().is_empty() { String::new() } else { qualify(post.root_id.trim()) };
        draft.set_reply(qualify(post.parent_id.trim()), root);
    }
    if post.kind == PostKind::Forward as i32 {
        draft.kind = PostKind::Forward;
    }
    draft.author_handle = (!post.author_id.is_empty()).then(|| post.author_id.clone());
    draft.author_deleted = post.author_deleted;
    draft.author_is_moderator = post.author_is_moderator;
    draft.mention_handles = post.mentions.clone();
    // Mentions written in the text count too, in the platform's own syntax (as the connectors do).
    draft.mention_syntax = if platform == Platform::Reddit { MentionSyntax::RedditUser } else { MentionSyntax::At };
    draft.hashtags = post.hashtags.clone();
    draft.text = post.text.clone();
    draft.title = post.title.clone();
    draft.created_at = post.created_at.as_ref().and_then(timestamp_to_utc);
    draft.engagement = post.engagement.unwrap_or_default();
    draft.channel_audience = post.channel_audience;
    draft.permalink = post.permalink.clone();
    draft.language_hint = post.language_hint.clone();
    draft.forwarded_from = post.forwarded_from.clone();
    draft.edited = post.edited;
    Ok(normaliser.finish(draft, now))
}

/// Validates and normalises a watch from the API.
pub fn validate_watch(watch: &Watch) -> Result<NewWatch, Status> {
    let platform = Platform::try_from(watch.platform).unwrap_or(Platform::Unspecified);
    let invalid = |what: String| Status::invalid_argument(what);
    let (platform_name, target) = match platform {
        Platform::Reddit => {
            ("reddit", SubredditName::parse(&watch.target).map_err(|e| invalid(e.to_string()))?.as_str().to_string())
        }
        Platform::Telegram if watch.target.trim() == crate::sources::TELEGRAM_BOT_TARGET => {
            ("telegram", crate::sources::TELEGRAM_BOT_TARGET.to_string())
        }
        Platform::Telegram => (
            "telegram",
            ChannelUsername::parse(&watch.target).map_err(|e| invalid(e.to_string()))?.as_str().to_string(),
        ),
        Platform::Mastodon | Platform::Bluesky | Platform::X => {
            let name = match platform {
                Platform::Mastodon => "mastodon",
                Platform::Bluesky => "bluesky",
                _ => "x",
            };
            (name, Hashtag::parse(&watch.target).map_err(|e| invalid(e.to_string()))?.as_str().to_string())
        }
        Platform::Unspecified => {
            return Err(invalid("watch.platform is required (reddit, telegram, mastodon, bluesky or x)".into()))
        }
    };
    let instance = watch.instance.trim().to_ascii_lowercase();
    if platform == Platform::Mastodon {
        if !is_host_name(&instance) {
            return Err(invalid(format!(
                "watch.instance must be a Mastodon host name such as mastodon.social, got `{}`",
                watch.instance
            )));
        }
    } else if !instance.is_empty() {
        return Err(invalid("watch.instance is only used for Mastodon watches".into()));
    }
    let poll_interval_ms = match &watch.poll_interval {
        None => DEFAULT_POLL_INTERVAL_MS,
        Some(duration) => duration.seconds.saturating_mul(1_000).saturating_add(i64::from(duration.nanos / 1_000_000)),
    };
    let (min, max) = POLL_INTERVAL_RANGE_MS;
    if !(min..=max).contains(&poll_interval_ms) {
        return Err(invalid(format!(
            "watch.poll_interval must be between {}s and {}s, got {}ms",
            min / 1_000,
            max / 1_000,
            poll_interval_ms
        )));
    }
    Ok(NewWatch { platform: platform_name.to_string(), target, instance, poll_interval_ms })
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn platform_of(name: &str) -> Platform {
    match name {
        "reddit" => Platform::Reddit,
        "telegram" => Platform::Telegram,
        "mastodon" => Platform::Mastodon,
        "bluesky" => Platform::Bluesky,
        "x" => Platform::X,
        _ => Platform::Unspecified,
    }
}

fn platform_name(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::Reddit => Some("reddit"),
        Platform::Telegram => Some("telegram"),
        Platform::Mastodon => Some("mastodon"),
        Platform::Bluesky => Some("bluesky"),
        Platform::X => Some("x"),
        Platform::Unspecified => None,
    }
}

fn timestamp(time: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: time.timestamp(), nanos: time.timestamp_subsec_nanos() as i32 }
}

fn watch_name(id: i64) -> String {
    format!("watches/{id}")
}

/// Parses `watches/{id}`.
pub fn parse_watch_name(name: &str) -> Result<i64, Status> {
    name.strip_prefix("watches/")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| Status::invalid_argument(format!("name must look like watches/123, got `{name}`")))
}

fn to_watch(row: WatchRow) -> Watch {
    Watch {
        name: watch_name(row.id),
        platform: platform_of(&row.platform) as i32,
        target: row.target,
        instance: row.instance,
        poll_interval: Some(prost_types::Duration {
            seconds: row.poll_interval_ms / 1_000,
            nanos: ((row.poll_interval_ms % 1_000) * 1_000_000) as i32,
        }),
        enabled: row.enabled,
        create_time: Some(timestamp(row.created_at)),
    }
}

fn to_status(row: StatusRow) -> SourceStatus {
    SourceStatus {
        watch_name: watch_name(row.watch_id),
        cursor: row.cursor.unwrap_or_default(),
        last_poll_time: row.last_poll_at.map(timestamp),
        last_success_time: row.last_success_at.map(timestamp),
        last_error: row.last_error.unwrap_or_default(),
        last_error_time: row.last_error_at.map(timestamp),
        next_poll_time: row.next_poll_at.map(timestamp),
        rate_limit: row.rate_limit_remaining.map(|remaining| RateLimitState {
            remaining,
            reset_time: row.rate_limit_reset_at.map(timestamp),
            limited: remaining <= 0,
        }),
        posts_published: row.posts_published,
        errors: row.errors,
        consecutive_failures: row.consecutive_failures,
    }
}

/// AIP-158 page tokens: opaque to clients, the last id of the previous page inside.
fn encode_page_token(last_id: i64) -> String {
    format!("w{last_id:x}")
}

fn decode_page_token(token: &str) -> Result<i64, Status> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .strip_prefix('w')
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| Status::invalid_argument("invalid page_token: pass back the next_page_token you were given"))
}

/// Page size from a request: default when 0, capped at [`MAX_PAGE_SIZE`], error when negative.
fn page_size(requested: i32) -> Result<i64, Status> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        negative if negative < 0 => Err(Status::invalid_argument("page_size must not be negative")),
        positive => Ok(i64::from(positive).min(MAX_PAGE_SIZE)),
    }
}

fn internal(error: sqlx::Error) -> Status {
    tracing::error!(%error, "database error");
    Status::unavailable("the watch store is unavailable, retry later")
}

#[tonic::async_trait]
impl SourceService for SourceApi {
    async fn create_watch(&self, request: Request<CreateWatchRequest>) -> Result<Response<Watch>, Status> {
        let watch = request.into_inner().watch.ok_or_else(|| Status::invalid_argument("watch is required"))?;
        let new_watch = validate_watch(&watch)?;
        let row = self.store.create(&new_watch).await.map_err(internal)?;
        tracing::info!(watch = %watch_name(row.id), platform = %row.platform, target = %row.target, "watch created");
        Ok(Response::new(to_watch(row)))
    }

    async fn list_watches(
        &self,
        request: Request<ListWatchesRequest>,
    ) -> Result<Response<ListWatchesResponse>, Status> {
        let request = request.into_inner();
        let limit = page_size(request.page_size)?;
        let after_id = decode_page_token(&request.page_token)?;
        let platform = platform_name(Platform::try_from(request.platform).unwrap_or(Platform::Unspecified));
        let rows = self.store.list(after_id, limit + 1, platform).await.map_err(internal)?;
        let has_more = rows.len() as i64 > limit;
        let page: Vec<WatchRow> = rows.into_iter().take(limit as usize).collect();
        let next_page_token = match (has_more, page.last()) {
            (true, Some(last)) => encode_page_token(last.id),
            _ => String::new(),
        };
        Ok(Response::new(ListWatchesResponse { watches: page.into_iter().map(to_watch).collect(), next_page_token }))
    }

    async fn delete_watch(
        &self,
        request: Request<DeleteWatchRequest>,
    ) -> Result<Response<DeleteWatchResponse>, Status> {
        let name = request.into_inner().name;
        let id = parse_watch_name(&name)?;
        if !self.store.delete(id).await.map_err(internal)? {
            return Err(Status::not_found(format!("{name} does not exist")));
        }
        tracing::info!(watch = %name, "watch deleted");
        Ok(Response::new(DeleteWatchResponse {}))
    }

    async fn list_source_statuses(
        &self,
        request: Request<ListSourceStatusesRequest>,
    ) -> Result<Response<ListSourceStatusesResponse>, Status> {
        let request = request.into_inner();
        let limit = page_size(request.page_size)?;
        let after_id = decode_page_token(&request.page_token)?;
        let rows = self.store.statuses(after_id, limit + 1).await.map_err(internal)?;
        let has_more = rows.len() as i64 > limit;
        let page: Vec<StatusRow> = rows.into_iter().take(limit as usize).collect();
        let next_page_token = match (has_more, page.last()) {
            (true, Some(last)) => encode_page_token(last.watch_id),
            _ => String::new(),
        };
        Ok(Response::new(ListSourceStatusesResponse {
            statuses: page.into_iter().map(to_status).collect(),
            next_page_token,
        }))
    }

    async fn ingest_posts(
        &self,
        request: Request<IngestPostsRequest>,
    ) -> Result<Response<IngestPostsResponse>, Status> {
        let posts = request.into_inner().posts;
        if posts.is_empty() {
            return Err(Status::invalid_argument("posts is empty"));
        }
        if posts.len() > MAX_INGEST_POSTS {
            return Err(Status::invalid_argument(format!(
                "{} posts in one call; at most {MAX_INGEST_POSTS} (split the batch)",
                posts.len()
            )));
        }
        let now = Utc::now();
        let mut messages = Vec::with_capacity(posts.len());
        let mut errors = Vec::new();
        for (index, post) in posts.iter().enumerate() {
            match normalise_pushed(post, &self.ingest.normaliser, now) {
                Ok(normalised) => messages.push(OutgoingMessage {
                    key: murmur_proto::partition_key(&normalised),
                    payload: normalised.encode_to_vec(),
                    headers: Vec::new(),
                }),
                Err(reason) => errors.push(format!("posts[{index}]: {reason}")),
            }
        }
        let accepted = messages.len() as i64;
        if !messages.is_empty() {
            // Answer only once the broker acknowledged every accepted post.
            self.ingest.producer.send_all::<Post>(&self.ingest.topic, messages).await.map_err(|error| {
                Status::unavailable(format!("the broker did not acknowledge the posts ({error}); retry the call"))
            })?;
        }
        if !errors.is_empty() {
            tracing::warn!(rejected = errors.len(), first = %errors[0], "IngestPosts rejected posts");
        }
        Ok(Response::new(IngestPostsResponse { accepted, rejected: errors.len() as i64, errors }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(platform: Platform, target: &str, instance: &str) -> Watch {
        Watch { platform: platform as i32, target: target.into(), instance: instance.into(), ..Default::default() }
    }

    #[test]
    fn watches_are_validated_per_platform() {
        let reddit = validate_watch(&watch(Platform::Reddit, "r/rust", "")).expect("valid subreddit");
        assert_eq!((reddit.platform.as_str(), reddit.target.as_str()), ("reddit", "rust"));
        assert_eq!(reddit.poll_interval_ms, DEFAULT_POLL_INTERVAL_MS);
        let tag = validate_watch(&watch(Platform::Mastodon, "#RStats", "Mastodon.Social")).expect("valid tag");
        assert_eq!(tag.instance, "mastodon.social");
        for bad in [
            watch(Platform::Reddit, "not a subreddit!", ""),
            watch(Platform::Telegram, "x", ""),
            watch(Platform::Mastodon, "rstats", ""),
            watch(Platform::Mastodon, "rstats", "https://mastodon.social"),
            watch(Platform::Bluesky, "", ""),
            watch(Platform::X, "rust", "mastodon.social"),
            watch(Platform::Unspecified, "rust", ""),
        ] {
            let error = validate_watch(&bad).expect_err(&format!("{bad:?} must be refused"));
            assert_eq!(error.code(), tonic::Code::InvalidArgument, "{bad:?}");
        }
        let too_fast = Watch {
            poll_interval: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
            ..watch(Platform::X, "rust", "")
        };
        assert_eq!(validate_watch(&too_fast).expect_err("too fast").code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn page_tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_page_token(&encode_page_token(12345)).expect("round trip"), 12345);
        assert_eq!(decode_page_token("").expect("first page"), 0);
        assert_eq!(decode_page_token("nope").expect_err("garbage").code(), tonic::Code::InvalidArgument);
        assert_eq!(page_size(0).expect("default"), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(100_000).expect("capped"), MAX_PAGE_SIZE);
        assert!(page_size(-1).is_err());
        assert_eq!(parse_watch_name("watches/7").expect("name"), 7);
        assert!(parse_watch_name("communities/7").is_err());
    }
}
