//! Telegram Bot API `getUpdates` (core.telegram.org/bots/api#getupdates): `channel_post` /
//! `edited_channel_post` from channels the bot administers, and `message` / `edited_message`
//! from discussion groups, where a comment is a message whose `reply_to_message` is the
//! automatic forward of the channel post (or another comment).
//!
//! Cursor: the next `offset` (last `update_id` + 1). One `getUpdates` call per poll: calling it
//! with a higher offset confirms (deletes) earlier updates on Telegram's side, so the offset only
//! moves forward through the stored cursor, after the broker acknowledged the posts. A crash
//! re-reads, it never skips.
//!
//! Discussion threads: the group message that automatically forwards the channel post is the
//! thread root (`telegram:<group>/<id>`, kind `Forward`, `forwarded_from` = the channel);
//! comments have `parent_id` = the message they reply to and `root_id` =
//! `telegram:<group>/<message_thread_id>`, so every link stays in the group's id space.
//!
//! Flood waits: `ok:false` with `parameters.retry_after` → `RateLimited` with exactly that wait.

use std::time::Duration;

use murmur_proto::events::v1::{Engagement, Platform, Post, PostKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message_id;
use crate::error::{ConnectorError, ItemError, ItemErrorKind};
use crate::http::{body_excerpt, HttpClient, HttpSettings};
use crate::normalise::{MentionSyntax, Normaliser, PostDraft};
use crate::outcome::{system_clock, Cursor, PollOutcome, SharedClock};
use crate::secret::Secret;
use crate::watch::WatchSpec;

const PLATFORM: &str = "telegram";

/// Bot API settings.
#[derive(Debug, Clone)]
pub struct TelegramBotConfig {
    /// `https://api.telegram.org`.
    pub base_url: String,
    /// The bot token (never logged: the URL that carries it is stripped from errors).
    pub token: Secret,
    /// Long-poll seconds for `getUpdates` (0 = short poll; the HTTP timeout is extended by it).
    pub long_poll_seconds: u32,
    /// Updates per call (1..=100).
    pub limit: u32,
    /// Timeout and User-Agent.
    pub http: HttpSettings,
}

impl TelegramBotConfig {
    /// Defaults for a token.
    pub fn new(token: Secret) -> Self {
        Self {
            base_url: "https://api.telegram.org".into(),
            token,
            long_poll_seconds: 0,
            limit: 100,
            http: HttpSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BotCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct Chat {
    id: i64,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    username: Option<String>,
}

impl Chat {
    fn key(&self) -> String {
        self.username.as_deref().map(str::to_lowercase).unwrap_or_else(|| self.id.to_string())
    }
}

#[derive(Debug, Clone, Deserialize)]
struct User {
    id: i64,
    #[serde(default)]
    username: Option<String>,
}

impl User {
    fn handle(&self) -> String {
        self.username.clone().unwrap_or_else(|| format!("id:{}", self.id))
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: String,
    offset: usize,
    length: usize,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
struct Message {
    message_id: i64,
    date: i64,
    chat: Chat,
    #[serde(default)]
    from: Option<User>,
    #[serde(default)]
    sender_chat: Option<Chat>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    entities: Vec<Entity>,
    #[serde(default)]
    caption_entities: Vec<Entity>,
    #[serde(default)]
    reply_to_message: Option<Box<Message>>,
    #[serde(default)]
    message_thread_id: Option<i64>,
    #[serde(default)]
    is_automatic_forward: bool,
    #[serde(default)]
    forward_origin: Option<Value>,
    #[serde(default)]
    forward_from_chat: Option<Chat>,
    #[serde(default)]
    edit_date: Option<i64>,
    #[serde(default)]
    views: Option<i64>,
}

/// Polls a bot's updates.
#[derive(Debug)]
pub struct TelegramBotConnector {
    config: TelegramBotConfig,
    http: HttpClient,
    normaliser: Normaliser,
    clock: SharedClock,
}

impl TelegramBotConnector {
    /// Builds the connector.
    pub fn new(config: TelegramBotConfig, normaliser: Normaliser) -> Result<Self, ConnectorError> {
        if config.token.is_empty() {
            return Err(ConnectorError::Config("telegram bot token is empty".into()));
        }
        if !(1..=100).contains(&config.limit) {
            return Err(ConnectorError::Config("telegram limit must be within 1..=100".into()));
        }
        let http_settings = HttpSettings {
            timeout: config.http.timeout + Duration::from_secs(u64::from(config.long_poll_seconds)),
            ..config.http.clone()
        };
        let http = HttpClient::new(PLATFORM, &http_settings)?;
        Ok(Self { config, http, normaliser, clock: system_clock() })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// One `getUpdates` call from the stored offset.
    pub async fn poll(&self, watch: &WatchSpec, cursor: Option<&Cursor>) -> Result<PollOutcome, ConnectorError> {
        if *watch != WatchSpec::TelegramBot {
            return Err(ConnectorError::UnsupportedWatch { platform: PLATFORM, watch: watch.to_string() });
        }
        let state: BotCursor = Cursor::decode(cursor)?;
        let base = self.config.base_url.trim_end_matches('/');
        let url = format!("{base}/bot{}/getUpdates", self.config.token.expose());
        let mut query =
            vec![("timeout", self.config.long_poll_seconds.to_string()), ("limit", self.config.limit.to_string())];
        if let Some(offset) = state.offset {
            query.push(("offset", offset.to_string()));
        }
        let allowed = r#"["message","edited_message","channel_post","edited_channel_post"]"#;
        query.push(("allowed_updates", allowed.to_owned()));
        let mut outcome = PollOutcome { requests: 1, ..PollOutcome::default() };
        let response = self.http.send(self.http.inner().get(url).query(&query)).await?;
        let text = response.text_lossy(&mut outcome.item_errors);
        let body: Value = serde_json::from_str(&text).map_err(|error| {
            if response.status.is_server_error() {
                return ConnectorError::Http {
                    platform: PLATFORM,
                    status: response.status.as_u16(),
                    detail: body_excerpt(&response.body),
                };
            }
            ConnectorError::MalformedResponse { platform: PLATFORM, detail: format!("getUpdates is not JSON: {error}") }
        })?;
        if body.get("ok").and_then(Value::as_bool) != Some(true) {
            return Err(api_error(&body, response.status.as_u16()));
        }
        let Some(updates) = body.get("result").and_then(Value::as_array) else {
            return Err(ConnectorError::MalformedResponse {
                platform: PLATFORM,
                detail: "ok:true without result array".into(),
            });
        };
        let mut next_offset = state.offset;
        for (index, update) in updates.iter().enumerate() {
            let Some(update_id) = update.get("update_id").and_then(Value::as_i64) else {
                outcome.item_errors.push(ItemError::new(
                    ItemErrorKind::Malformed,
                    format!("result[{index}]"),
                    "no update_id",
                ));
                continue;
            };
            next_offset = next_offset.max(Some(update_id + 1));
            let item_ref = format!("update {update_id}");
            let found = ["channel_post", "edited_channel_post", "message", "edited_message"]
                .iter()
                .find_map(|field| update.get(*field).map(|message| (*field, message.clone())));
            let Some((field, message)) = found else { continue };
            match serde_json::from_value::<Message>(message) {
                Ok(message) => outcome.posts.push(self.message_post(message, field.starts_with("edited"))),
                Err(error) => {
                    outcome.item_errors.push(ItemError::new(ItemErrorKind::Malformed, item_ref, error.to_string()))
                }
            }
        }
        outcome.next_cursor = Cursor::encode(&BotCursor { offset: next_offset })?;
        outcome.sort_posts();
        Ok(outcome)
    }

    fn message_post(&self, message: Message, edited_update: bool) -> Post {
        let chat = message.chat.key();
        let id = message_id(&chat, message.message_id);
        let mut draft = PostDraft::new(Platform::Telegram, id, chat.clone());
        draft.mention_syntax = MentionSyntax::At;
        draft.created_at = chrono::DateTime::from_timestamp(message.date, 0);
        draft.edited = edited_update || message.edit_date.is_some();
        draft.engagement = Engagement { views: message.views.unwrap_or(0), ..Engagement::default() };
        if message.chat.username.is_some() {
            draft.permalink = format!("https://t.me/{chat}/{}", message.message_id);
        }
        // Posts "on behalf of" a channel carry sender_chat; channel posts are authored by the channel.
        draft.author_handle = match (&message.sender_chat, &message.from) {
            (Some(sender), _) => Some(sender.key()),
            (None, Some(user)) => Some(user.handle()),
            (None, None) if message.chat.kind == "channel" => Some(chat.clone()),
            (None, None) => None,
        };
        let (text, entities) = match (&message.text, &message.caption) {
            (Some(text), _) => (text.clone(), &message.entities),
            (None, Some(caption)) => (caption.clone(), &message.caption_entities),
            (None, None) => (String::new(), &message.entities),
        };
        for entity in entities {
            let Some(fragment) = utf16_slice(&text, entity.offset, entity.length) else { continue };
            match entity.kind.as_str() {
                "hashtag" => draft.hashtags.push(fragment.to_owned()),
                "mention" => draft.mention_handles.push(fragment.to_owned()),
                "text_mention" => {
                    if let Some(user) = &entity.user {
                        draft.mention_handles.push(user.handle());
                    }
                }
                _ => {}
            }
        }
        draft.text = text;
        if let Some(source) = forward_source(&message) {
            draft.kind = PostKind::Forward;
            draft.forwarded_from = source;
        }
        if !message.is_automatic_forward {
            if let Some(replied) = &message.reply_to_message {
                let parent_id = message_id(&replied.chat.key(), replied.message_id);
                let root_id = message.message_thread_id.map(|thread| message_id(&chat, thread)).unwrap_or_default();
                draft.set_reply(parent_id, root_id);
            }
        }
        self.normaliser.finish(draft, self.clock.now())
    }
}

/// The channel or user a message was forwarded from (Bot API 7 `forward_origin`, or the older
/// `forward_from_chat`).
fn forward_source(message: &Message) -> Option<String> {
    if let Some(origin) = &message.forward_origin {
        let chat = origin.get("chat").or_else(|| origin.get("sender_chat"));
        if let Some(chat) = chat {
            let username = chat.get("username").and_then(Value::as_str).map(str::to_lowercase);
            return username.or_else(|| chat.get("id").and_then(Value::as_i64).map(|id| id.to_string()));
        }
        let user = origin.get("sender_user");
        if let Some(user) = user {
            return user.get("username").and_then(Value::as_str).map(str::to_lowercase).or(Some("user".into()));
        }
        return origin.get("sender_user_name").and_then(Value::as_str).map(str::to_owned);
    }
    message.forward_from_chat.as_ref().map(Chat::key)
}

/// Telegram entity offsets count UTF-16 code units.
fn utf16_slice(text: &str, offset: usize, length: usize) -> Option<&str> {
    let mut units = 0usize;
    let mut start = None;
    for (byte_index, c) in text.char_indices() {
        if units == offset {
            start = Some(byte_index);
        }
        if units == offset + length {
            return start.map(|start| &text[start..byte_index]);
        }
        units += c.len_utf16();
    }
    if units == offset + length {
        return start.map(|start| &text[start..]);
    }
    None
}

/// `ok:false`: 429 with `parameters.retry_after` is a flood wait, 401/403 are auth, the rest HTTP.
fn api_error(body: &Value, status: u16) -> ConnectorError {
    let code = body.get("error_code").and_then(Value::as_u64).map(|code| code as u16).unwrap_or(status);
    let description = body.get("description").and_then(Value::as_str).unwrap_or("no description").to_owned();
    if let Some(retry_after) = body.pointer("/parameters/retry_after").and_then(Value::as_u64) {
        return ConnectorError::RateLimited { platform: PLATFORM, retry_after: Duration::from_secs(retry_after) };
    }
    match code {
        401 | 403 | 404 => ConnectorError::Auth { platform: PLATFORM, detail: format!("{code}: {description}") },
        _ => ConnectorError::Http { platform: PLATFORM, status: code, detail: description },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_offsets() {
        let text = "😀 hi #tag @bob";
        // 😀 is two UTF-16 units.
        assert_eq!(utf16_slice(text, 6, 4), Some("#tag"));
        assert_eq!(utf16_slice(text, 11, 4), Some("@bob"));
        assert_eq!(utf16_slice(text, 11, 9), None);
    }
}
