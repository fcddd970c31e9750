//! `t.me/s/<channel>` web preview scraper. The page lists the latest ~20 messages oldest first;
//! `?before=<id>` gives the ones before. A poll walks pages backwards until the previous
//! high-water message id (ids grow per channel), like Reddit listings ([`crate::watermark`]).
//!
//! The preview has no rate-limit headers; a 429 is honoured through `Retry-After`. A page whose
//! layout changed (no message blocks and no channel header) is a `Layout` request error; one
//! unreadable message block is a `Layout` item error.

use murmur_proto::events::v1::{Engagement, Platform, Post, PostKind};
use scraper::{ElementRef, Html, Selector};

use super::message_id;
use crate::error::{ConnectorError, ItemError, ItemErrorKind};
use crate::http::{check_status, HttpClient, HttpSettings};
use crate::mastodon::BoundedMap;
use crate::normalise::html::element_to_text;
use crate::normalise::{parse_rfc3339, MentionSyntax, Normaliser, PostDraft};
use crate::outcome::{system_clock, Cursor, PollOutcome, SharedClock};
use crate::watch::{ChannelUsername, WatchSpec};
use crate::watermark::{Seen, Walk, WatermarkState};

const PLATFORM: &str = "telegram";

/// Web preview settings.
#[derive(Debug, Clone)]
pub struct TelegramWebConfig {
    /// Base URL, `https://t.me`.
    pub base_url: String,
    /// Timeout and User-Agent.
    pub http: HttpSettings,
    /// Pages read on the first poll.
    pub first_poll_pages: u32,
    /// Most pages per poll.
    pub max_pages: u32,
}

impl Default for TelegramWebConfig {
    fn default() -> Self {
        Self { base_url: "https://t.me".into(), http: HttpSettings::default(), first_poll_pages: 1, max_pages: 10 }
    }
}

/// Scrapes public channel previews.
#[derive(Debug)]
pub struct TelegramWebConnector {
    config: TelegramWebConfig,
    http: HttpClient,
    normaliser: Normaliser,
    clock: SharedClock,
    roots: std::sync::Mutex<BoundedMap>,
}

/// Selectors, parsed once.
struct Selectors {
    message: Selector,
    text: Selector,
    reply_text_container: Selector,
    time: Selector,
    views: Selector,
    forwarded: Selector,
    reply: Selector,
    counter: Selector,
    counter_value: Selector,
    counter_type: Selector,
    channel_info: Selector,
    links: Selector,
    edited: Selector,
}

fn selector(css: &str) -> Result<Selector, ConnectorError> {
    Selector::parse(css).map_err(|error| ConnectorError::Config(format!("selector {css}: {error}")))
}

impl Selectors {
    fn new() -> Result<Self, ConnectorError> {
        Ok(Self {
            message: selector(".tgme_widget_message[data-post]")?,
            text: selector(".tgme_widget_message_text")?,
            reply_text_container: selector(".tgme_widget_message_reply")?,
            time: selector(".tgme_widget_message_date time[datetime], time[datetime]")?,
            views: selector(".tgme_widget_message_views")?,
            forwarded: selector(".tgme_widget_message_forwarded_from_name")?,
            reply: selector("a.tgme_widget_message_reply")?,
            counter: selector(".tgme_channel_info_counter")?,
            counter_value: selector(".counter_value")?,
            counter_type: selector(".counter_type")?,
            channel_info: selector(".tgme_channel_info, .tgme_channel_info_header, .tgme_page_title")?,
            links: selector("a[href]")?,
            edited: selector(".tgme_widget_message_edited, .tgme_widget_message_meta")?,
        })
    }
}

/// A message block as read from the page.
struct WebMessage {
    number: i64,
    draft: PostDraft,
}

impl TelegramWebConnector {
    /// Builds the connector.
    pub fn new(config: TelegramWebConfig, normaliser: Normaliser) -> Result<Self, ConnectorError> {
        let http = HttpClient::new(PLATFORM, &config.http)?;
        Selectors::new()?;
        Ok(Self {
            config,
            http,
            normaliser,
            clock: system_clock(),
            roots: std::sync::Mutex::new(BoundedMap::with_capacity(50_000)),
        })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Polls a channel preview.
    pub async fn poll(&self, watch: &WatchSpec, cursor: Option<&Cursor>) -> Result<PollOutcome, ConnectorError> {
        let WatchSpec::TelegramChannel(channel) = watch else {
            return Err(ConnectorError::UnsupportedWatch { platform: PLATFORM, watch: watch.to_string() });
        };
        let state: WatermarkState = Cursor::decode(cursor)?;
        let mut walk = Walk::start(state);
        let budget = if walk.is_first() { self.config.first_poll_pages } else { self.config.max_pages };
        let mut outcome = PollOutcome::default();
        let mut before: Option<i64> = None;
        let mut completed = false;
        for page_number in 1..=budget.max(1) {
            let page = match self.fetch_page(channel, before, &mut outcome).await {
                Ok(page) => page,
                Err(error) if outcome.posts.is_empty() => return Err(error),
                Err(error) => {
                    outcome.stopped_early = Some(error);
                    break;
                }
            };
            let messages = match self.parse_page(channel, &page, &mut outcome.item_errors) {
                Ok(messages) => messages,
                Err(error) if outcome.posts.is_empty() => return Err(error),
                Err(error) => {
                    outcome.stopped_early = Some(error);
                    break;
                }
            };
            let oldest = messages.iter().map(|message| message.number).min();
            for message in messages {
                let Ok(number) = u64::try_from(message.number) else { continue };
                if walk.classify(number) == Seen::New {
                    outcome.posts.push(self.finish(message.draft));
                }
            }
            match oldest {
                Some(oldest) if oldest > 1 && !walk.reached_old() => before = Some(oldest),
                _ => {
                    completed = true;
                    break;
                }
            }
            if page_number == budget {
                completed = true;
                if !walk.is_first() {
                    outcome.item_errors.push(ItemError::new(
                        ItemErrorKind::Gap,
                        format!("t.me/s/{}", channel.as_str()),
                        format!("stopped after {budget} pages without reaching the previous cursor"),
                    ));
                }
            }
        }
        outcome.next_cursor = Cursor::encode(&walk.finish(completed))?;
        outcome.sort_posts();
        Ok(outcome)
    }

    async fn fetch_page(
        &self,
        channel: &ChannelUsername,
        before: Option<i64>,
        outcome: &mut PollOutcome,
    ) -> Result<String, ConnectorError> {
        let base = self.config.base_url.trim_end_matches('/');
        let mut request = self.http.inner().get(format!("{base}/s/{}", channel.as_str()));
        if let Some(before) = before {
            request = request.query(&[("before", before.to_string())]);
        }
        outcome.requests += 1;
        let response = self.http.send(request).await?;
        check_status(PLATFORM, &response, self.clock.now(), None)?;
        Ok(response.text_lossy(&mut outcome.item_errors))
    }

    fn parse_page(
        &self,
        channel: &ChannelUsername,
        page: &str,
        item_errors: &mut Vec<ItemError>,
    ) -> Result<Vec<WebMessage>, ConnectorError> {
        let selectors = Selectors::new()?;
        let document = Html::parse_document(page);
        let blocks: Vec<ElementRef<'_>> = document.select(&selectors.message).collect();
        let has_channel_header = document.select(&selectors.channel_info).next().is_some();
        if blocks.is_empty() && !has_channel_header {
            return Err(ConnectorError::Layout {
                platform: PLATFORM,
                detail: format!(
                    "no .tgme_widget_message[data-post] and no channel header on t.me/s/{} \
                     (private, missing, or the page changed)",
                    channel.as_str()
                ),
            });
        }
        let audience = document.select(&selectors.counter).find_map(|counter| {
            let kind = counter.select(&selectors.counter_type).next().map(|t| t.text().collect::<String>())?;
            let is_audience = kind.contains("subscriber") || kind.contains("member");
            let value = counter.select(&selectors.counter_value).next().map(|v| v.text().collect::<String>())?;
            is_audience.then(|| parse_compact_count(&value)).flatten()
        });
        let mut messages = Vec::new();
        for (index, block) in blocks.into_iter().enumerate() {
            match self.parse_message(channel, block, &selectors, audience) {
                Ok(message) => messages.push(message),
                Err(reason) => {
                    let item_ref = block
                        .value()
                        .attr("data-post")
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("message[{index}]"));
                    item_errors.push(ItemError::new(ItemErrorKind::Layout, item_ref, reason));
                }
            }
        }
        Ok(messages)
    }

    fn parse_message(
        &self,
        channel: &ChannelUsername,
        block: ElementRef<'_>,
        selectors: &Selectors,
        audience: Option<i64>,
    ) -> Result<WebMessage, String> {
        let data_post = block.value().attr("data-post").unwrap_or_default();
        let (post_channel, number) =
            data_post.split_once('/').ok_or_else(|| format!("data-post {data_post:?} is not channel/id"))?;
        let number: i64 = number.parse().map_err(|_| format!("data-post {data_post:?} has no numeric id"))?;
        if !post_channel.eq_ignore_ascii_case(channel.as_str()) {
            return Err(format!("message of channel {post_channel:?} on the page of {:?}", channel.as_str()));
        }
        let datetime = block
            .select(&selectors.time)
            .filter(|time| !is_inside(*time, block, &selectors.reply_text_container))
            .find_map(|time| time.value().attr("datetime"))
            .ok_or("no time[datetime]")?;
        let created_at = parse_rfc3339(datetime).ok_or_else(|| format!("datetime {datetime:?} is not RFC 3339"))?;
        let id = message_id(channel.as_str(), number);
        let mut draft = PostDraft::new(Platform::Telegram, id.clone(), channel.as_str());
        draft.mention_syntax = MentionSyntax::At;
        draft.author_handle = Some(channel.as_str().to_owned());
        draft.created_at = Some(created_at);
        draft.channel_audience = audience;
        draft.permalink = format!("https://t.me/{}/{number}", channel.as_str());
        let own_text =
            block.select(&selectors.text).find(|text| !is_inside(*text, block, &selectors.reply_text_container));
        if let Some(text_element) = own_text {
            draft.text = element_to_text(text_element);
            for link in text_element.select(&selectors.links) {
                let label: String = link.text().collect();
                let href = link.value().attr("href").unwrap_or_default();
                if let Some(tag) = label.strip_prefix('#').filter(|_| href.contains("q=%23") || href.starts_with("?q="))
                {
                    draft.hashtags.push(tag.to_owned());
                }
                if let Some(handle) = label.strip_prefix('@') {
                    draft.mention_handles.push(handle.to_owned());
                }
            }
        }
        let views = block.select(&selectors.views).next().map(|views| views.text().collect::<String>());
        draft.engagement =
            Engagement { views: views.as_deref().and_then(parse_compact_count).unwrap_or(0), ..Engagement::default() };
        draft.edited = block.select(&selectors.edited).any(|meta| meta.text().any(|text| text.contains("edited")));
        if let Some(forwarded) = block.select(&selectors.forwarded).next() {
            draft.kind = PostKind::Forward;
            let source = forwarded.value().attr("href").and_then(tme_target).map(|(chat, _)| chat);
            draft.forwarded_from = source.unwrap_or_else(|| forwarded.text().collect::<String>().trim().to_owned());
        } else if let Some(reply) = block.select(&selectors.reply).next() {
            if let Some((reply_chat, Some(reply_number))) = reply.value().attr("href").and_then(tme_target) {
                let parent_id = message_id(&reply_chat, reply_number);
                let root_id = self.lock_roots().get(&parent_id).cloned().unwrap_or_default();
                draft.set_reply(parent_id, root_id);
            }
        }
        self.lock_roots().insert(id, draft.root_id.clone());
        Ok(WebMessage { number, draft })
    }

    fn lock_roots(&self) -> std::sync::MutexGuard<'_, BoundedMap> {
        self.roots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn finish(&self, draft: PostDraft) -> Post {
        self.normaliser.finish(draft, self.clock.now())
    }
}

fn is_inside(element: ElementRef<'_>, block: ElementRef<'_>, container: &Selector) -> bool {
    block.select(container).any(|candidate| candidate.descendants().any(|node| node.id() == element.id()))
}

/// `https://t.me/<chat>/<id>` (or `/s/<chat>/…`) → (lowercased chat, id).
fn tme_target(href: &str) -> Option<(String, Option<i64>)> {
    let path = href.split_once("t.me/").map(|(_, path)| path)?;
    let path = path.strip_prefix("s/").unwrap_or(path);
    let mut parts = path.split(['/', '?']);
    let chat = parts.next().filter(|chat| !chat.is_empty())?.to_lowercase();
    let number = parts.next().and_then(|number| number.parse().ok());
    Some((chat, number))
}

/// `1.2K`, `3.4M`, `12 345`, `999` → count.
pub(crate) fn parse_compact_count(text: &str) -> Option<i64> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace() && *c != ',').collect();
    let (number, multiplier) = match cleaned.chars().last()? {
        'K' | 'k' => (&cleaned[..cleaned.len() - 1], 1_000.0),
        'M' | 'm' => (&cleaned[..cleaned.len() - 1], 1_000_000.0),
        'B' | 'b' => (&cleaned[..cleaned.len() - 1], 1_000_000_000.0),
        _ => (cleaned.as_str(), 1.0),
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * multiplier).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_counts() {
        assert_eq!(parse_compact_count("1.2K"), Some(1200));
        assert_eq!(parse_compact_count("3.45M"), Some(3_450_000));
        assert_eq!(parse_compact_count("12 345"), Some(12345));
        assert_eq!(parse_compact_count("n/a"), None);
    }

    #[test]
    fn tme_targets() {
        assert_eq!(tme_target("https://t.me/Other_Chan/55"), Some(("other_chan".into(), Some(55))));
        assert_eq!(tme_target("https://t.me/s/durov"), Some(("durov".into(), None)));
        assert_eq!(tme_target("https://example.org"), None);
    }
}
