//! Bluesky hashtag search: `app.bsky.feed.searchPosts?q=%23<tag>&tag=<tag>&sort=latest&cursor=`
//! on a public AppView (`https://public.api.bsky.app/xrpc`, no credentials).
//!
//! Cursor strategy: search pages go from newest to older, so a poll walks `cursor` pages with
//! `since=<watermark>` (inclusive, compared to the post's sort time = min(createdAt, indexedAt),
//! which a client cannot push into the future) until the listing ends. A completed walk moves the
//! watermark to the newest sort time seen and remembers the URIs at exactly that instant (the
//! bound is inclusive); an interrupted one keeps the watermark and remembers what it emitted.
//!
//! Ids: `bluesky:<at-uri>`; `record.reply.parent/root` give parent and root in the same space.
//! Accounts are identified by DID (handles change; mention facets carry DIDs).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use murmur_proto::events::v1::{Engagement, Platform, Post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ConnectorError, ItemError, ItemErrorKind};
use crate::http::{check_status, HttpClient, HttpSettings};
use crate::normalise::{parse_rfc3339, post_id, MentionSyntax, Normaliser, PostDraft};
use crate::outcome::{system_clock, Cursor, PollOutcome, SharedClock};
use crate::watch::{Hashtag, WatchSpec};

const PLATFORM: &str = "bluesky";
const SEEN_CAP: usize = 2_000;

/// Bluesky settings.
#[derive(Debug, Clone)]
pub struct BlueskyConfig {
    /// XRPC base, e.g. `https://public.api.bsky.app/xrpc`.
    pub base_url: String,
    /// Timeout and User-Agent.
    pub http: HttpSettings,
    /// Posts per page (1..=100).
    pub page_limit: u32,
    /// Pages on the first poll.
    pub first_poll_pages: u32,
    /// Most pages per poll.
    pub max_pages: u32,
}

impl Default for BlueskyConfig {
    fn default() -> Self {
        Self {
            base_url: "https://public.api.bsky.app/xrpc".into(),
            http: HttpSettings::default(),
            page_limit: 100,
            first_poll_pages: 1,
            max_pages: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BlueskyCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    seen: BTreeSet<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    author: Author,
    record: Record,
    #[serde(default)]
    reply_count: i64,
    #[serde(default)]
    repost_count: i64,
    #[serde(default)]
    like_count: i64,
    #[serde(default)]
    quote_count: i64,
    #[serde(default)]
    indexed_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Author {
    did: String,
    #[serde(default)]
    handle: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    text: String,
    created_at: String,
    #[serde(default)]
    langs: Vec<String>,
    #[serde(default)]
    reply: Option<ReplyRef>,
    #[serde(default)]
    facets: Vec<Facet>,
}

#[derive(Debug, Deserialize)]
struct ReplyRef {
    parent: StrongRef,
    root: StrongRef,
}

#[derive(Debug, Deserialize)]
struct StrongRef {
    uri: String,
}

#[derive(Debug, Deserialize)]
struct Facet {
    #[serde(default)]
    features: Vec<Value>,
}

/// Searches Bluesky hashtags.
#[derive(Debug)]
pub struct BlueskyConnector {
    config: BlueskyConfig,
    http: HttpClient,
    normaliser: Normaliser,
    clock: SharedClock,
}

impl BlueskyConnector {
    /// Builds the connector.
    pub fn new(config: BlueskyConfig, normaliser: Normaliser) -> Result<Self, ConnectorError> {
        if !(1..=100).contains(&config.page_limit) {
            return Err(ConnectorError::Config("bluesky page_limit must be within 1..=100".into()));
        }
        let http = HttpClient::new(PLATFORM, &config.http)?;
        Ok(Self { config, http, normaliser, clock: system_clock() })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Polls a hashtag.
    pub async fn poll(&self, watch: &WatchSpec, cursor: Option<&Cursor>) -> Result<PollOutcome, ConnectorError> {
        let WatchSpec::Hashtag(tag) = watch else {
            return Err(ConnectorError::UnsupportedWatch { platform: PLATFORM, watch: watch.to_string() });
        };
        let state: BlueskyCursor = Cursor::decode(cursor)?;
        let first_poll = state.since.is_none();
        let budget = if first_poll { self.config.first_poll_pages } else { self.config.max_pages };
        let mut outcome = PollOutcome::default();
        let mut page_cursor: Option<String> = None;
        let mut emitted: Vec<(String, DateTime<Utc>)> = Vec::new();
        let mut completed = false;
        for page_number in 1..=budget.max(1) {
            let page = match self.fetch(tag, state.since, page_cursor.as_deref(), &mut outcome).await {
                Ok(page) => page,
                Err(error) if outcome.posts.is_empty() => return Err(error),
                Err(error) => {
                    outcome.stopped_early = Some(error);
                    break;
                }
            };
            let posts = page.get("posts").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut all_older = !posts.is_empty();
            for (index, value) in posts.into_iter().enumerate() {
                let item_ref = value
                    .get("uri")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("posts[{index}]"));
                let view = match serde_json::from_value::<PostView>(value) {
                    Ok(view) => view,
                    Err(error) => {
                        outcome.item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, error.to_string()));
                        continue;
                    }
                };
                let Some(created_at) = parse_rfc3339(&view.record.created_at) else {
                    outcome.item_errors.push(ItemError::new(
                        ItemErrorKind::Malformed,
                        item_ref,
                        "createdAt is not RFC 3339",
                    ));
                    continue;
                };
                let indexed_at = view.indexed_at.as_deref().and_then(parse_rfc3339).unwrap_or(created_at);
                let sort_at = created_at.min(indexed_at);
                let before_watermark = state.since.is_some_and(|since| sort_at < since);
                all_older &= before_watermark;
                let duplicate = state.seen.contains(&view.uri) || emitted.iter().any(|(uri, _)| *uri == view.uri);
                if before_watermark || duplicate {
                    continue;
                }
                emitted.push((view.uri.clone(), sort_at));
                outcome.posts.push(self.view_post(tag, view, created_at));
            }
            page_cursor = page.get("cursor").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_owned);
            if page_cursor.is_none() || all_older || page_number == budget {
                completed = true;
                break;
            }
        }
        let next = if completed {
            let newest = emitted.iter().map(|(_, at)| *at).max();
            match newest {
                Some(newest) if state.since.is_none_or(|since| newest >= since) => {
                    let mut seen: BTreeSet<String> =
                        emitted.iter().filter(|(_, at)| *at == newest).map(|(uri, _)| uri.clone()).collect();
                    if state.since == Some(newest) {
                        seen.extend(state.seen.iter().cloned());
                    }
                    BlueskyCursor { since: Some(newest), seen }
                }
                _ => state.clone(),
            }
        } else {
            let mut seen = state.seen.clone();
            seen.extend(emitted.iter().map(|(uri, _)| uri.clone()));
            while seen.len() > SEEN_CAP {
                seen.pop_first();
            }
            BlueskyCursor { since: state.since, seen }
        };
        outcome.next_cursor = Cursor::encode(&next)?;
        outcome.sort_posts();
        Ok(outcome)
    }

    async fn fetch(
        &self,
        tag: &Hashtag,
        since: Option<DateTime<Utc>>,
        page_cursor: Option<&str>,
        outcome: &mut PollOutcome,
    ) -> Result<Value, ConnectorError> {
        let base = self.config.base_url.trim_end_matches('/');
        let mut query = vec![
            ("q", format!("#{}", tag.as_str())),
            ("tag", tag.as_str().to_owned()),
            ("sort", "latest".to_owned()),
            ("limit", self.config.page_limit.to_string()),
        ];
        if let Some(since) = since {
            query.push(("since", since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        }
        if let Some(page_cursor) = page_cursor {
            query.push(("cursor", page_cursor.to_owned()));
        }
        outcome.requests += 1;
        let response =
            self.http.send(self.http.inner().get(format!("{base}/app.bsky.feed.searchPosts")).query(&query)).await?;
        let now = self.clock.now();
        // The AppView sends `ratelimit-*` headers (IETF draft names) when it limits.
        let remaining = crate::http::parse_count(response.header("ratelimit-remaining"));
        let reset_at = crate::http::epoch_seconds(response.header("ratelimit-reset"));
        outcome.rate_limit = outcome.rate_limit.merge(crate::RateLimitState { remaining, limit: None, reset_at });
        let reset_wait = reset_at.and_then(|at| (at - now).to_std().ok());
        check_status(PLATFORM, &response, now, reset_wait)?;
        let text = response.text_lossy(&mut outcome.item_errors);
        match serde_json::from_str::<Value>(&text) {
            Ok(value) if value.get("posts").is_some_and(Value::is_array) => Ok(value),
            Ok(_) => Err(ConnectorError::MalformedResponse { platform: PLATFORM, detail: "no posts array".into() }),
            Err(error) => {
                Err(ConnectorError::MalformedResponse { platform: PLATFORM, detail: format!("not JSON: {error}") })
            }
        }
    }

    fn view_post(&self, tag: &Hashtag, view: PostView, created_at: DateTime<Utc>) -> Post {
        let mut draft =
            PostDraft::new(Platform::Bluesky, post_id(Platform::Bluesky, &view.uri), format!("#{}", tag.as_str()));
        draft.mention_syntax = MentionSyntax::StructuredOnly;
        draft.author_handle = Some(view.author.did.clone());
        draft.created_at = Some(created_at);
        draft.language_hint = view.record.langs.first().cloned().unwrap_or_default();
        draft.engagement = Engagement {
            replies: view.reply_count,
            forwards: view.repost_count + view.quote_count,
            reactions: view.like_count,
            ..Engagement::default()
        };
        let rkey = view.uri.rsplit('/').next().unwrap_or_default();
        let profile = view.author.handle.as_deref().filter(|handle| !handle.is_empty()).unwrap_or(&view.author.did);
        draft.permalink = format!("https://bsky.app/profile/{profile}/post/{rkey}");
        for feature in view.record.facets.iter().flat_map(|facet| facet.features.iter()) {
            match feature.get("$type").and_then(Value::as_str) {
                Some("app.bsky.richtext.facet#mention") => {
                    if let Some(did) = feature.get("did").and_then(Value::as_str) {
                        draft.mention_handles.push(did.to_owned());
                    }
                }
                Some("app.bsky.richtext.facet#tag") => {
                    if let Some(tag) = feature.get("tag").and_then(Value::as_str) {
                        draft.hashtags.push(tag.to_owned());
                    }
                }
                _ => {}
            }
        }
        if let Some(reply) = &view.record.reply {
            draft.set_reply(post_id(Platform::Bluesky, &reply.parent.uri), post_id(Platform::Bluesky, &reply.root.uri));
        }
        draft.text = view.record.text;
        self.normaliser.finish(draft, self.clock.now())
    }
}
