//! Mastodon hashtag timelines: `GET /api/v1/timelines/tag/<tag>?limit=40` on one instance.
//!
//! Cursor strategy: the newest status id seen. Later polls ask `min_id=<newest>`, which returns
//! the statuses immediately newer than it, and follow the `Link: rel="prev"` header (its
//! `min_id`) towards the present until a page is empty. Because paging goes forward in time,
//! the cursor is exact even when a poll stops early: it simply covers what was fetched.
//! The first poll reads `first_poll_pages` pages backwards (`rel="next"`, `max_id`).
//!
//! Ids are instance-local, so posts are `mastodon:<host>/<status id>` and replies link to
//! `mastodon:<host>/<in_reply_to_id>` in the same space. Mastodon gives no thread root: it is
//! resolved through statuses this connector has seen, else the parent (oldest known ancestor).
//!
//! Limits: 300 requests per 5 minutes (`X-RateLimit-Remaining`, `X-RateLimit-Reset` as RFC 3339).

mod model;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use murmur_proto::events::v1::{Engagement, Platform, PostKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::model::Status;
use crate::error::{ConnectorError, ItemError, ItemErrorKind};
use crate::http::{check_status, parse_count, HttpClient, HttpResponse, HttpSettings};
use crate::normalise::html::html_fragment_to_text;
use crate::normalise::{parse_rfc3339, post_id, Normaliser, PostDraft};
use crate::outcome::{system_clock, Cursor, PollOutcome, RateLimitState, SharedClock};
use crate::watch::{Hashtag, WatchSpec};

const PLATFORM: &str = "mastodon";

/// How many status → root links the connector remembers for root resolution.
const ROOT_MEMORY: usize = 50_000;

/// Mastodon connector settings (one instance).
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    /// Instance base URL, e.g. `https://mastodon.social`.
    pub base_url: String,
    /// Optional access token (public tag timelines need none).
    pub access_token: Option<crate::Secret>,
    /// Timeout and User-Agent.
    pub http: HttpSettings,
    /// Statuses per page (Mastodon caps it at 40).
    pub page_limit: u32,
    /// Pages read on the first poll.
    pub first_poll_pages: u32,
    /// Most pages per poll.
    pub max_pages: u32,
}

impl Default for MastodonConfig {
    fn default() -> Self {
        Self {
            base_url: "https://mastodon.social".into(),
            access_token: None,
            http: HttpSettings::default(),
            page_limit: 40,
            first_poll_pages: 1,
            max_pages: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct MastodonCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest_id: Option<String>,
}

/// A bounded map with first-in-first-out eviction.
#[derive(Debug, Default)]
pub(crate) struct BoundedMap {
    entries: HashMap<String, String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl BoundedMap {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { entries: HashMap::new(), order: VecDeque::new(), capacity }
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.entries.get(key)
    }

    pub fn insert(&mut self, key: String, value: String) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
    }
}

/// Polls hashtags on one Mastodon instance.
#[derive(Debug)]
pub struct MastodonConnector {
    config: MastodonConfig,
    host: String,
    http: HttpClient,
    normaliser: Normaliser,
    clock: SharedClock,
    roots: Mutex<BoundedMap>,
}

/// Direction of one page request.
enum Page {
    Newest,
    Older(String),
    Newer(String),
}

impl MastodonConnector {
    /// Builds the connector.
    pub fn new(config: MastodonConfig, normaliser: Normaliser) -> Result<Self, ConnectorError> {
        let parsed = url::Url::parse(&config.base_url)
            .map_err(|error| ConnectorError::Config(format!("mastodon base_url: {error}")))?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(ConnectorError::Config("mastodon base_url has no host".into())),
        };
        if config.page_limit == 0 || config.page_limit > 40 {
            return Err(ConnectorError::Config("mastodon page_limit must be within 1..=40".into()));
        }
        let http = HttpClient::new(PLATFORM, &config.http)?;
        Ok(Self {
            config,
            host,
            http,
            normaliser,
            clock: system_clock(),
            roots: Mutex::new(BoundedMap::with_capacity(ROOT_MEMORY)),
        })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The instance host (`mastodon.social`), used in ids and channels.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Polls a hashtag timeline.
    pub async fn poll(&self, watch: &WatchSpec, cursor: Option<&Cursor>) -> Result<PollOutcome, ConnectorError> {
        let WatchSpec::Hashtag(tag) = watch else {
            return Err(ConnectorError::UnsupportedWatch { platform: PLATFORM, watch: watch.to_string() });
        };
        let state: MastodonCursor = Cursor::decode(cursor)?;
        let mut outcome = PollOutcome::default();
        let mut newest_id = state.newest_id.clone();
        let first_poll = state.newest_id.is_none();
        let mut page = match &state.newest_id {
            Some(newest) => Page::Newer(newest.clone()),
            None => Page::Newest,
        };
        let mut seen_this_poll = std::collections::HashSet::new();
        let budget = if first_poll { self.config.first_poll_pages } else { self.config.max_pages };
        for _ in 0..budget.max(1) {
            if let Some(wait) = outcome.rate_limit.wait_before_next(self.clock.now()) {
                outcome.stopped_early = Some(ConnectorError::RateLimited { platform: PLATFORM, retry_after: wait });
                break;
            }
            let response = match self.fetch(tag, &page, &mut outcome).await {
                Ok(response) => response,
                Err(error) if outcome.posts.is_empty() => return Err(error),
                Err(error) => {
                    outcome.stopped_early = Some(error);
                    break;
                }
            };
            let statuses = match parse_statuses(&response, &mut outcome.item_errors) {
                Ok(statuses) => statuses,
                Err(error) if outcome.posts.is_empty() => return Err(error),
                Err(error) => {
                    outcome.stopped_early = Some(error);
                    break;
                }
            };
            if statuses.is_empty() {
                break;
            }
            let mut page_min: Option<String> = None;
            let mut parsed: Vec<Status> = statuses
                .into_iter()
                .enumerate()
                .filter_map(|(index, value)| self.parse_status(index, value, &mut outcome.item_errors))
                .collect();
            // Oldest first, so a reply's parent from the same page is known when the reply is read.
            parsed.sort_by(|a, b| (a.id.len(), &a.id).cmp(&(b.id.len(), &b.id)));
            for status in parsed {
                if page_min.as_ref().is_none_or(|min| id_less(&status.id, min)) {
                    page_min = Some(status.id.clone());
                }
                if newest_id.as_ref().is_none_or(|newest| id_less(newest, &status.id)) {
                    newest_id = Some(status.id.clone());
                }
                let already_covered = state.newest_id.as_ref().is_some_and(|old| !id_less(old, &status.id));
                if already_covered || !seen_this_poll.insert(status.id.clone()) {
                    continue;
                }
                let post = self.status_post(tag, status);
                outcome.posts.push(post);
            }
            let links = parse_link_header(response.header("link").unwrap_or_default());
            page = if first_poll {
                match links.next_max_id.or(page_min) {
                    Some(max_id) => Page::Older(max_id),
                    None => break,
                }
            } else {
                match links.prev_min_id.or(newest_id.clone()) {
                    Some(min_id) => Page::Newer(min_id),
                    None => break,
                }
            };
        }
        outcome.next_cursor = Cursor::encode(&MastodonCursor { newest_id })?;
        outcome.sort_posts();
        Ok(outcome)
    }

    async fn fetch(
        &self,
        tag: &Hashtag,
        page: &Page,
        outcome: &mut PollOutcome,
    ) -> Result<HttpResponse, ConnectorError> {
        let base = self.config.base_url.trim_end_matches('/');
        let encoded_tag: String = url::form_urlencoded::byte_serialize(tag.as_str().as_bytes()).collect();
        let url = format!("{base}/api/v1/timelines/tag/{encoded_tag}");
        let mut query = vec![("limit", self.config.page_limit.to_string())];
        match page {
            Page::Newest => {}
            Page::Older(max_id) => query.push(("max_id", max_id.clone())),
            Page::Newer(min_id) => query.push(("min_id", min_id.clone())),
        }
        let mut request = self.http.inner().get(url).query(&query);
        if let Some(token) = &self.config.access_token {
            request = request.bearer_auth(token.expose());
        }
        outcome.requests += 1;
        let response = self.http.send(request).await?;
        let now = self.clock.now();
        let rate_limit = RateLimitState {
            remaining: parse_count(response.header("x-ratelimit-remaining")),
            limit: parse_count(response.header("x-ratelimit-limit")),
            reset_at: response.header("x-ratelimit-reset").and_then(parse_rfc3339),
        };
        outcome.rate_limit = outcome.rate_limit.merge(rate_limit);
        let reset_wait = rate_limit.reset_at.and_then(|at| (at - now).to_std().ok());
        check_status(PLATFORM, &response, now, reset_wait)?;
        Ok(response)
    }

    fn parse_status(&self, index: usize, value: Value, item_errors: &mut Vec<ItemError>) -> Option<Status> {
        let item_ref =
            value.get("id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("statuses[{index}]"));
        match serde_json::from_value::<Status>(value) {
            Ok(status) if status.id.chars().all(|c| c.is_ascii_digit()) && !status.id.is_empty() => Some(status),
            Ok(status) => {
                item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, format!("id {:?}", status.id)));
                None
            }
            Err(error) => {
                item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, error.to_string()));
                None
            }
        }
    }

    fn status_post(&self, tag: &Hashtag, status: Status) -> murmur_proto::events::v1::Post {
        let id = post_id(Platform::Mastodon, &format!("{}/{}", self.host, status.id));
        let channel = format!("{}/#{}", self.host, tag.as_str());
        let mut draft = PostDraft::new(Platform::Mastodon, id.clone(), channel);
        // Mentions come from the structured list: text shows `@user` without the host.
        draft.mention_syntax = crate::normalise::MentionSyntax::StructuredOnly;
        draft.author_handle = Some(self.canonical_acct(&status.account.acct));
        draft.created_at = parse_rfc3339(&status.created_at);
        draft.permalink = status.url.clone().or(status.uri.clone()).unwrap_or_default();
        draft.edited = status.edited_at.is_some();
        draft.engagement = Engagement {
            replies: status.replies_count,
            forwards: status.reblogs_count,
            reactions: status.favourites_count,
            ..Engagement::default()
        };
        // A boost carries the boosted status: its text, tags and mentions are what was spread.
        let content_source = match &status.reblog {
            Some(original) => {
                draft.kind = PostKind::Forward;
                draft.forwarded_from = self.canonical_acct(&original.account.acct);
                original.as_ref()
            }
            None => &status,
        };
        let body = html_fragment_to_text(&content_source.content);
        draft.text = if content_source.spoiler_text.is_empty() {
            body
        } else {
            format!("{}\n\n{body}", content_source.spoiler_text)
        };
        draft.language_hint = content_source.language.clone().unwrap_or_default();
        draft.hashtags = content_source.tags.iter().map(|tag| tag.name.clone()).collect();
        draft.mention_handles = content_source.mentions.iter().map(|m| self.canonical_acct(&m.acct)).collect();
        if let (None, Some(parent_native)) = (&status.reblog, &status.in_reply_to_id) {
            let parent_id = post_id(Platform::Mastodon, &format!("{}/{parent_native}", self.host));
            let root_id = self.lock_roots().get(&parent_id).cloned().unwrap_or_default();
            draft.set_reply(parent_id, root_id);
        }
        self.lock_roots().insert(id, draft.root_id.clone());
        self.normaliser.finish(draft, self.clock.now())
    }

    fn lock_roots(&self) -> std::sync::MutexGuard<'_, BoundedMap> {
        // A poisoned lock only means another poll panicked mid-insert; the map is still usable.
        self.roots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `user` on this instance → `user@host`, so local and remote spellings hash alike.
    fn canonical_acct(&self, acct: &str) -> String {
        if acct.contains('@') {
            acct.to_owned()
        } else {
            format!("{acct}@{}", self.host.split(':').next().unwrap_or(&self.host))
        }
    }
}

/// Numeric-string comparison of snowflake ids (`a < b`).
fn id_less(a: &str, b: &str) -> bool {
    (a.len(), a) < (b.len(), b)
}

fn parse_statuses(response: &HttpResponse, item_errors: &mut Vec<ItemError>) -> Result<Vec<Value>, ConnectorError> {
    let text = response.text_lossy(item_errors);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(statuses)) => Ok(statuses),
        Ok(_) => Err(ConnectorError::MalformedResponse {
            platform: PLATFORM,
            detail: "expected an array of statuses".into(),
        }),
        Err(error) => {
            Err(ConnectorError::MalformedResponse { platform: PLATFORM, detail: format!("not JSON: {error}") })
        }
    }
}

/// The paging ids of a `Link` header.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LinkPaging {
    pub next_max_id: Option<String>,
    pub prev_min_id: Option<String>,
}

/// Parses `<url>; rel="next", <url>; rel="prev"`, keeping only the ids (the URLs are never
/// followed as given, so a hostile header cannot redirect requests elsewhere).
pub(crate) fn parse_link_header(header: &str) -> LinkPaging {
    let mut paging = LinkPaging::default();
    for part in header.split(',') {
        let Some((target, params)) = part.split_once(';') else { continue };
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let Ok(url) = url::Url::parse(target) else { continue };
        let query_value =
            |name: &str| url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
        let rel =
            params.split(';').find_map(|param| param.trim().strip_prefix("rel=")).map(|rel| rel.trim_matches('"'));
        match rel {
            Some("next") => paging.next_max_id = query_value("max_id"),
            Some("prev") => paging.prev_min_id = query_value("min_id").or_else(|| query_value("since_id")),
            _ => {}
        }
    }
    paging
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_from_the_real_sample() {
        let header = concat!(
            "<https://mastodon.social/api/v1/timelines/tag/rstats?limit=5&local=FALSE&max_id=114869144089828147",
            "&only_media=FALSE>; rel=\"next\", <https://mastodon.social/api/v1/timelines/tag/rstats?limit=5",
            "&local=FALSE&min_id=114870142396314555&only_media=FALSE>; rel=\"prev\""
        );
        let paging = parse_link_header(header);
        assert_eq!(paging.next_max_id.as_deref(), Some("114869144089828147"));
        assert_eq!(paging.prev_min_id.as_deref(), Some("114870142396314555"));
    }

    #[test]
    fn ids_compare_numerically() {
        assert!(id_less("99", "100"));
        assert!(!id_less("100", "100"));
    }
}
