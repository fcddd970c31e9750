//! X (Twitter) API v2 recent search, only when a bearer token is configured:
//! `GET /2/tweets/search/recent?query=%23tag&since_id=…&tweet.fields=…&expansions=author_id`.
//!
//! Cursor strategy: `since_id` (the newest tweet id of the last completed walk) bounds the
//! search on the server; `meta.next_token` pages are followed to the end. An interrupted walk
//! keeps `since_id` and remembers the ids it emitted ([`crate::watermark`]).
//!
//! Ids: `x:<tweet id>`; `referenced_tweets[type=replied_to]` → parent, `conversation_id` → root;
//! retweets are forwards. Authors and mentions are pseudonymised by username.
//! Limits: `x-rate-limit-remaining` / `x-rate-limit-reset` (epoch seconds), 429 honoured.

use std::collections::HashMap;

use murmur_proto::events::v1::{Engagement, Platform, Post, PostKind};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ConnectorError, ItemError, ItemErrorKind};
use crate::http::{check_status, epoch_seconds, parse_count, HttpClient, HttpSettings};
use crate::normalise::{parse_rfc3339, post_id, MentionSyntax, Normaliser, PostDraft};
use crate::outcome::{system_clock, Cursor, PollOutcome, RateLimitState, SharedClock};
use crate::secret::Secret;
use crate::watch::{Hashtag, WatchSpec};
use crate::watermark::{Seen, Walk, WatermarkState};

const PLATFORM: &str = "x";
const TWEET_FIELDS: &str =
    "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,entities,public_metrics,lang,author_id";

/// X settings.
#[derive(Debug, Clone)]
pub struct XConfig {
    /// `https://api.x.com`.
    pub base_url: String,
    /// App bearer token (required).
    pub bearer_token: Secret,
    /// Timeout and User-Agent.
    pub http: HttpSettings,
    /// Results per page (10..=100).
    pub max_results: u32,
    /// Pages on the first poll.
    pub first_poll_pages: u32,
    /// Most pages per poll.
    pub max_pages: u32,
}

impl XConfig {
    /// Defaults for a token.
    pub fn new(bearer_token: Secret) -> Self {
        Self {
            base_url: "https://api.x.com".into(),
            bearer_token,
            http: HttpSettings::default(),
            max_results: 100,
            first_poll_pages: 1,
            max_pages: 5,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Tweet {
    id: String,
    text: String,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    referenced_tweets: Vec<Reference>,
    #[serde(default)]
    entities: Option<Value>,
    #[serde(default)]
    public_metrics: Option<Value>,
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

/// Searches X.
#[derive(Debug)]
pub struct XConnector {
    config: XConfig,
    http: HttpClient,
    normaliser: Normaliser,
    clock: SharedClock,
}

impl XConnector {
    /// Builds the connector; refuses an empty token.
    pub fn new(config: XConfig, normaliser: Normaliser) -> Result<Self, ConnectorError> {
        if config.bearer_token.is_empty() {
            return Err(ConnectorError::Config("x bearer token is empty".into()));
        }
        if !(10..=100).contains(&config.max_results) {
            return Err(ConnectorError::Config("x max_results must be within 10..=100".into()));
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
        let state: WatermarkState = Cursor::decode(cursor)?;
        let since_id = state.high_water;
        let mut walk = Walk::start(state);
        let budget = if walk.is_first() { self.config.first_poll_pages } else { self.config.max_pages };
        let mut outcome = PollOutcome::default();
        let mut next_token: Option<String> = None;
        let mut completed = false;
        for page_number in 1..=budget.max(1) {
            if let Some(wait) = outcome.rate_limit.wait_before_next(self.clock.now()) {
                outcome.stopped_early = Some(ConnectorError::RateLimited { platform: PLATFORM, retry_after: wait });
                break;
            }
            let page = match self.fetch(tag, since_id, next_token.as_deref(), &mut outcome).await {
                Ok(page) => page,
                Err(error) if outcome.posts.is_empty() => return Err(error),
                Err(error) => {
                    outcome.stopped_early = Some(error);
                    break;
                }
            };
            let usernames: HashMap<String, String> = page
                .pointer("/includes/users")
                .and_then(Value::as_array)
                .map(|users| {
                    users
                        .iter()
                        .filter_map(|user| {
                            Some((user.get("id")?.as_str()?.to_owned(), user.get("username")?.as_str()?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            for (index, value) in
                page.get("data").and_then(Value::as_array).cloned().unwrap_or_default().into_iter().enumerate()
            {
                let item_ref = value
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("data[{index}]"));
                let tweet = match serde_json::from_value::<Tweet>(value) {
                    Ok(tweet) => tweet,
                    Err(error) => {
                        outcome.item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, error.to_string()));
                        continue;
                    }
                };
                let Ok(number) = tweet.id.parse::<u64>() else {
                    outcome.item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, "id is not numeric"));
                    continue;
                };
                if walk.classify(number) == Seen::New {
                    outcome.posts.push(self.tweet_post(tag, tweet, &usernames));
                }
            }
            next_token = page.pointer("/meta/next_token").and_then(Value::as_str).map(str::to_owned);
            if next_token.is_none() || walk.reached_old() || page_number == budget {
                completed = true;
                break;
            }
        }
        outcome.next_cursor = Cursor::encode(&walk.finish(completed))?;
        outcome.sort_posts();
        Ok(outcome)
    }

    async fn fetch(
        &self,
        tag: &Hashtag,
        since_id: Option<u64>,
        next_token: Option<&str>,
        outcome: &mut PollOutcome,
    ) -> Result<Value, ConnectorError> {
        let base = self.config.base_url.trim_end_matches('/');
        let mut query = vec![
            ("query", format!("#{}", tag.as_str())),
            ("max_results", self.config.max_results.to_string()),
            ("tweet.fields", TWEET_FIELDS.to_owned()),
            ("expansions", "author_id".to_owned()),
            ("user.fields", "username".to_owned()),
        ];
        if let Some(since_id) = since_id {
            query.push(("since_id", since_id.to_string()));
        }
        if let Some(next_token) = next_token {
            query.push(("next_token", next_token.to_owned()));
        }
        outcome.requests += 1;
        let request = self
            .http
            .inner()
            .get(format!("{base}/2/tweets/search/recent"))
            .query(&query)
            .bearer_auth(self.config.bearer_token.expose());
        let response = self.http.send(request).await?;
        let now = self.clock.now();
        let rate_limit = RateLimitState {
            remaining: parse_count(response.header("x-rate-limit-remaining")),
            limit: parse_count(response.header("x-rate-limit-limit")),
            reset_at: epoch_seconds(response.header("x-rate-limit-reset")),
        };
        outcome.rate_limit = outcome.rate_limit.merge(rate_limit);
        let reset_wait = rate_limit.reset_at.and_then(|at| (at - now).to_std().ok());
        check_status(PLATFORM, &response, now, reset_wait)?;
        let text = response.text_lossy(&mut outcome.item_errors);
        match serde_json::from_str::<Value>(&text) {
            Ok(value) if value.is_object() => Ok(value),
            Ok(_) => Err(ConnectorError::MalformedResponse { platform: PLATFORM, detail: "expected an object".into() }),
            Err(error) => {
                Err(ConnectorError::MalformedResponse { platform: PLATFORM, detail: format!("not JSON: {error}") })
            }
        }
    }

    fn tweet_post(&self, tag: &Hashtag, tweet: Tweet, usernames: &HashMap<String, String>) -> Post {
        let id = post_id(Platform::X, &tweet.id);
        let mut draft = PostDraft::new(Platform::X, id, format!("#{}", tag.as_str()));
        draft.mention_syntax = MentionSyntax::At;
        draft.author_handle = tweet
            .author_id
            .as_ref()
            .map(|author| usernames.get(author).cloned().unwrap_or_else(|| format!("id:{author}")));
        draft.created_at = tweet.created_at.as_deref().and_then(parse_rfc3339);
        draft.language_hint = tweet.lang.clone().filter(|lang| lang != "und").unwrap_or_default();
        draft.permalink = format!("https://x.com/i/web/status/{}", tweet.id);
        if let Some(metrics) = &tweet.public_metrics {
            let metric = |name: &str| metrics.get(name).and_then(Value::as_i64).unwrap_or(0);
            draft.engagement = Engagement {
                replies: metric("reply_count"),
                forwards: metric("retweet_count") + metric("quote_count"),
                reactions: metric("like_count"),
                views: metric("impression_count"),
                ..Engagement::default()
            };
        }
        if let Some(entities) = &tweet.entities {
            let texts = |kind: &str, field: &str| -> Vec<String> {
                entities
                    .get(kind)
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|item| item.get(field).and_then(Value::as_str).map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            draft.hashtags = texts("hashtags", "tag");
            draft.mention_handles = texts("mentions", "username");
        }
        let retweeted = tweet.referenced_tweets.iter().find(|reference| reference.kind == "retweeted");
        let replied = tweet.referenced_tweets.iter().find(|reference| reference.kind == "replied_to");
        if let Some(original) = retweeted {
            draft.kind = PostKind::Forward;
            draft.forwarded_from = post_id(Platform::X, &original.id);
        } else if let Some(parent) = replied {
            let root = tweet.conversation_id.as_deref().map(|root| post_id(Platform::X, root)).unwrap_or_default();
            draft.set_reply(post_id(Platform::X, &parent.id), root);
        }
        draft.text = tweet.text;
        self.normaliser.finish(draft, self.clock.now())
    }
}
