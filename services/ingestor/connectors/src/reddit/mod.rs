//! Reddit connector: per subreddit, new submissions (`/r/<sub>/new`, `t3`) and new comments
//! (`/r/<sub>/comments`, `t1`), over OAuth (`oauth.reddit.com`) or, without credentials, the
//! public `www.reddit.com/r/<sub>/new.json` endpoints.
//!
//! Cursor strategy: each listing keeps a [`WatermarkState`] over the base36 ids (ids grow with
//! creation time). A poll walks `after=` pages from the newest item down to the mark, so it
//! follows pagination to the end of what is new; the first poll only reads `first_poll_pages`
//! pages (no backfill of the whole listing). See [`crate::watermark`] for why `before=` is not
//! used as the anchor.
//!
//! Limits: about 100 requests/min per OAuth client; `X-Ratelimit-Remaining/Reset` are read after
//! every response and the walk stops (keeping what it has) when the window is exhausted; a 429
//! gives `RateLimited` with the `Retry-After` wait (or the reset time).

mod auth;
mod model;

use murmur_proto::events::v1::{Engagement, Platform, PostKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::auth::RedditAuth;
use self::auth::TokenCache;
use self::model::{is_deleted_author, Comment, Link};
use crate::error::{ConnectorError, ItemError, ItemErrorKind};
use crate::http::{check_status, parse_count, seconds_from, HttpClient, HttpResponse, HttpSettings};
use crate::normalise::{from_unix_seconds, post_id, MentionSyntax, Normaliser, PostDraft};
use crate::outcome::{system_clock, Cursor, PollOutcome, RateLimitState, SharedClock};
use crate::watch::{SubredditName, WatchSpec};
use crate::watermark::{base36, Seen, Walk, WatermarkState};

const PLATFORM: &str = "reddit";

/// Reddit connector settings.
#[derive(Debug, Clone)]
pub struct RedditConfig {
    /// Credentials, or anonymous.
    pub auth: RedditAuth,
    /// OAuth token endpoint.
    pub token_url: String,
    /// OAuth API base.
    pub oauth_base_url: String,
    /// Public (anonymous) base.
    pub public_base_url: String,
    /// Timeout and User-Agent. Reddit wants `<platform>:<app id>:<version> (by /u/<username>)`.
    pub http: HttpSettings,
    /// Items per page (Reddit caps it at 100).
    pub page_limit: u32,
    /// Pages read on the first poll of a listing.
    pub first_poll_pages: u32,
    /// Most pages per listing per poll (Reddit listings stop at about 1,000 items anyway).
    pub max_pages: u32,
}

impl Default for RedditConfig {
    fn default() -> Self {
        Self {
            auth: RedditAuth::Anonymous,
            token_url: "https://www.reddit.com/api/v1/access_token".into(),
            oauth_base_url: "https://oauth.reddit.com".into(),
            public_base_url: "https://www.reddit.com".into(),
            http: HttpSettings {
                user_agent: concat!("server:murmur-ingestor:", env!("CARGO_PKG_VERSION"), " (by /u/murmur-listening)")
                    .into(),
                ..HttpSettings::default()
            },
            page_limit: 100,
            first_poll_pages: 1,
            max_pages: 10,
        }
    }
}

/// Per-watch cursor: one watermark per listing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RedditCursor {
    #[serde(default)]
    submissions: WatermarkState,
    #[serde(default)]
    comments: WatermarkState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Submissions,
    Comments,
}

impl Listing {
    fn path(self) -> &'static str {
        match self {
            Self::Submissions => "new",
            Self::Comments => "comments",
        }
    }
}

/// Polls subreddits. Cheap to share (`Arc`) across tasks.
#[derive(Debug)]
pub struct RedditConnector {
    config: RedditConfig,
    http: HttpClient,
    normaliser: Normaliser,
    clock: SharedClock,
    tokens: TokenCache,
}

/// State threaded through one poll.
struct PollContext<'a> {
    subreddit: &'a SubredditName,
    outcome: PollOutcome,
    audience: Option<i64>,
}

impl RedditConnector {
    /// Builds the connector.
    pub fn new(config: RedditConfig, normaliser: Normaliser) -> Result<Self, ConnectorError> {
        if config.page_limit == 0 || config.page_limit > 100 {
            return Err(ConnectorError::Config("reddit page_limit must be within 1..=100".into()));
        }
        let http = HttpClient::new(PLATFORM, &config.http)?;
        Ok(Self { config, http, normaliser, clock: system_clock(), tokens: TokenCache::default() })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// True when OAuth credentials are configured.
    pub fn is_authenticated(&self) -> bool {
        !matches!(self.config.auth, RedditAuth::Anonymous)
    }

    /// Polls the new submissions, then the new comments, of a subreddit.
    pub async fn poll(&self, watch: &WatchSpec, cursor: Option<&Cursor>) -> Result<PollOutcome, ConnectorError> {
        let WatchSpec::Subreddit(subreddit) = watch else {
            return Err(ConnectorError::UnsupportedWatch { platform: PLATFORM, watch: watch.to_string() });
        };
        let mut state: RedditCursor = Cursor::decode(cursor)?;
        let mut context = PollContext { subreddit, outcome: PollOutcome::default(), audience: None };
        for listing in [Listing::Submissions, Listing::Comments] {
            let listing_state = match listing {
                Listing::Submissions => state.submissions.clone(),
                Listing::Comments => state.comments.clone(),
            };
            let (next_state, error) = self.walk(&mut context, listing, listing_state).await;
            match listing {
                Listing::Submissions => state.submissions = next_state,
                Listing::Comments => state.comments = next_state,
            }
            if let Some(error) = error {
                if context.outcome.posts.is_empty() {
                    return Err(error);
                }
                context.outcome.stopped_early = Some(error);
                break;
            }
        }
        let mut outcome = context.outcome;
        outcome.next_cursor = Cursor::encode(&state)?;
        outcome.sort_posts();
        Ok(outcome)
    }

    /// Walks one listing from the newest page down to the watermark.
    async fn walk(
        &self,
        context: &mut PollContext<'_>,
        listing: Listing,
        state: WatermarkState,
    ) -> (WatermarkState, Option<ConnectorError>) {
        let mut walk = Walk::start(state);
        let page_budget = if walk.is_first() { self.config.first_poll_pages } else { self.config.max_pages };
        let mut after: Option<String> = None;
        for page_number in 1..=page_budget.max(1) {
            if let Some(wait) = context.outcome.rate_limit.wait_before_next(self.clock.now()) {
                return (
                    walk.finish(false),
                    Some(ConnectorError::RateLimited { platform: PLATFORM, retry_after: wait }),
                );
            }
            let page = match self.fetch_page(context, listing, after.as_deref()).await {
                Ok(page) => page,
                Err(error) => return (walk.finish(false), Some(error)),
            };
            let (children, next_after) = match parse_listing(&page, &mut context.outcome.item_errors) {
                Ok(parsed) => parsed,
                Err(error) => return (walk.finish(false), Some(error)),
            };
            let listing_is_empty = children.is_empty();
            for (index, child) in children.into_iter().enumerate() {
                self.take_child(context, &mut walk, listing, index, child);
            }
            if walk.reached_old() || listing_is_empty || next_after.is_none() {
                return (walk.finish(true), None);
            }
            if page_number == page_budget && !walk.is_first() {
                context.outcome.item_errors.push(ItemError::new(
                    ItemErrorKind::Gap,
                    format!("r/{}/{}", context.subreddit.as_str(), listing.path()),
                    format!("stopped after {page_budget} pages without reaching the previous cursor"),
                ));
            }
            after = next_after;
        }
        (walk.finish(true), None)
    }

    async fn fetch_page(
        &self,
        context: &mut PollContext<'_>,
        listing: Listing,
        after: Option<&str>,
    ) -> Result<HttpResponse, ConnectorError> {
        let mut retried_auth = false;
        loop {
            let (url, token) = if self.is_authenticated() {
                let token =
                    self.tokens.token(&self.http, &self.config.token_url, &self.config.auth, &self.clock).await?;
                let base = self.config.oauth_base_url.trim_end_matches('/');
                (format!("{base}/r/{}/{}", context.subreddit.as_str(), listing.path()), Some(token))
            } else {
                let base = self.config.public_base_url.trim_end_matches('/');
                (format!("{base}/r/{}/{}.json", context.subreddit.as_str(), listing.path()), None)
            };
            let mut query: Vec<(&str, String)> =
                vec![("limit", self.config.page_limit.to_string()), ("raw_json", "1".into())];
            if let Some(after) = after {
                query.push(("after", after.to_owned()));
            }
            let mut request = self.http.inner().get(&url).query(&query);
            if let Some(token) = &token {
                request = request.bearer_auth(token.expose());
            }
            context.outcome.requests += 1;
            let response = self.http.send(request).await?;
            let now = self.clock.now();
            let rate_limit = RateLimitState {
                remaining: parse_count(response.header("x-ratelimit-remaining")),
                limit: None,
                reset_at: seconds_from(now, response.header("x-ratelimit-reset")),
            };
            context.outcome.rate_limit = context.outcome.rate_limit.merge(rate_limit);
            let reset_wait = rate_limit.reset_at.and_then(|at| (at - now).to_std().ok());
            match check_status(PLATFORM, &response, now, reset_wait) {
                Err(ConnectorError::Auth { .. }) if token.is_some() && !retried_auth => {
                    // Tokens can be revoked before their announced expiry: fetch a new one once.
                    self.tokens.invalidate().await;
                    retried_auth = true;
                }
                Err(error) => return Err(error),
                Ok(()) => return Ok(response),
            }
        }
    }

    fn take_child(&self, context: &mut PollContext<'_>, walk: &mut Walk, listing: Listing, index: usize, child: Value) {
        let item_ref = child
            .pointer("/data/name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("children[{index}]"));
        let kind = child.get("kind").and_then(Value::as_str).unwrap_or_default();
        let expected_kind = match listing {
            Listing::Submissions => "t3",
            Listing::Comments => "t1",
        };
        if kind != expected_kind {
            context.outcome.item_errors.push(ItemError::new(
                ItemErrorKind::Malformed,
                item_ref,
                format!("expected kind {expected_kind}, got {kind:?}"),
            ));
            return;
        }
        let data = child.get("data").cloned().unwrap_or(Value::Null);
        let draft = match listing {
            Listing::Submissions => serde_json::from_value::<Link>(data)
                .map_err(|error| error.to_string())
                .and_then(|link| self.link_draft(context, link)),
            Listing::Comments => serde_json::from_value::<Comment>(data)
                .map_err(|error| error.to_string())
                .and_then(|comment| self.comment_draft(context, comment)),
        };
        let draft = match draft {
            Ok(draft) => draft,
            Err(reason) => {
                context.outcome.item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, reason));
                return;
            }
        };
        let Some(number) = draft.id.rsplit('_').next().and_then(base36) else {
            context.outcome.item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, "id is not base36"));
            return;
        };
        if walk.classify(number) == Seen::New {
            context.outcome.posts.push(self.normaliser.finish(draft, self.clock.now()));
        }
    }

    fn link_draft(&self, context: &mut PollContext<'_>, link: Link) -> Result<PostDraft, String> {
        check_fullname(&link.name, "t3_")?;
        if link.subreddit_subscribers.is_some() {
            context.audience = link.subreddit_subscribers;
        }
        let mut draft = PostDraft::new(Platform::Reddit, post_id(Platform::Reddit, &link.name), link.subreddit);
        fill_author(&mut draft, link.author.as_deref(), link.distinguished.as_deref());
        draft.title = link.title;
        draft.text = link.selftext.unwrap_or_default();
        draft.created_at = from_unix_seconds(link.created_utc);
        draft.edited = link.edited.is_edited();
        draft.engagement = Engagement {
            score: link.score,
            replies: link.num_comments,
            forwards: link.num_crossposts.unwrap_or(0),
            ..Engagement::default()
        };
        draft.channel_audience = link.subreddit_subscribers;
        draft.permalink = absolute_permalink(&link.permalink);
        Ok(draft)
    }

    fn comment_draft(&self, context: &mut PollContext<'_>, comment: Comment) -> Result<PostDraft, String> {
        check_fullname(&comment.name, "t1_")?;
        check_fullname(&comment.link_id, "t3_")?;
        if !(comment.parent_id.starts_with("t1_") || comment.parent_id.starts_with("t3_")) {
            return Err(format!("parent_id {:?} is neither t1_ nor t3_", comment.parent_id));
        }
        let mut draft = PostDraft::new(Platform::Reddit, post_id(Platform::Reddit, &comment.name), comment.subreddit);
        fill_author(&mut draft, comment.author.as_deref(), comment.distinguished.as_deref());
        draft.set_reply(post_id(Platform::Reddit, &comment.parent_id), post_id(Platform::Reddit, &comment.link_id));
        debug_assert!(draft.kind == PostKind::Comment || draft.kind == PostKind::Reply);
        draft.text = comment.body;
        draft.created_at = from_unix_seconds(comment.created_utc);
        draft.edited = comment.edited.is_edited();
        draft.engagement = Engagement { score: comment.score, ..Engagement::default() };
        draft.channel_audience = context.audience;
        draft.permalink = absolute_permalink(&comment.permalink);
        Ok(draft)
    }
}

fn fill_author(draft: &mut PostDraft, author: Option<&str>, distinguished: Option<&str>) {
    draft.mention_syntax = MentionSyntax::RedditUser;
    draft.author_deleted = is_deleted_author(author);
    draft.author_handle = author.filter(|_| !draft.author_deleted).map(str::to_owned);
    // "admin" is Reddit staff, not a moderator of this subreddit.
    draft.author_is_moderator = distinguished == Some("moderator");
}

fn check_fullname(name: &str, prefix: &str) -> Result<(), String> {
    match name.strip_prefix(prefix) {
        Some(id) if !id.is_empty() && base36(id).is_some() => Ok(()),
        _ => Err(format!("fullname {name:?} is not a {prefix} id")),
    }
}

fn absolute_permalink(permalink: &str) -> String {
    if permalink.is_empty() || permalink.starts_with("http") {
        return permalink.to_owned();
    }
    format!("https://www.reddit.com{permalink}")
}

/// Splits a `Listing` into its children and `after`; a body that is not a listing is a request error.
fn parse_listing(
    response: &HttpResponse,
    item_errors: &mut Vec<ItemError>,
) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    let text = response.text_lossy(item_errors);
    let value: Value = serde_json::from_str(&text).map_err(|error| ConnectorError::MalformedResponse {
        platform: PLATFORM,
        detail: format!("listing is not JSON: {error}"),
    })?;
    let Some(children) = value.pointer("/data/children").and_then(Value::as_array) else {
        return Err(ConnectorError::MalformedResponse {
            platform: PLATFORM,
            detail: "no data.children in listing".into(),
        });
    };
    let after = value.pointer("/data/after").and_then(Value::as_str).filter(|after| !after.is_empty());
    Ok((children.clone(), after.map(str::to_owned)))
}
