//! Builds the connectors the scheduler polls from the service's settings, and maps a stored
//! watch to its connector and `WatchSpec`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use murmur_connectors::bluesky::{BlueskyConfig, BlueskyConnector};
use murmur_connectors::mastodon::{MastodonConfig, MastodonConnector};
use murmur_connectors::reddit::{RedditAuth, RedditConfig, RedditConnector};
use murmur_connectors::telegram::web::{TelegramWebConfig, TelegramWebConnector};
use murmur_connectors::x::{XConfig, XConnector};
use murmur_connectors::{
    AnyConnector, ChannelUsername, ConnectorError, Hashtag, Normaliser, Secret, SubredditName, WatchSpec,
};

use crate::config::PlatformArgs;
use crate::store::WatchRow;

/// Every connector the ingestor can poll with, built once; Mastodon ones per instance, lazily.
pub struct Sources {
    reddit: Arc<AnyConnector>,
    telegram_web: Arc<AnyConnector>,
    bluesky: Arc<AnyConnector>,
    x: Option<Arc<AnyConnector>>,
    telegram_bot: Option<Arc<AnyConnector>>,
    mastodon: Mutex<HashMap<String, Arc<AnyConnector>>>,
    mastodon_url_template: String,
    normaliser: Normaliser,
    replay: Option<Arc<AnyConnector>>,
}

/// Target of the Telegram bot watch (one per bot: getUpdates offsets are per bot). Telegram
/// usernames have at least 5 characters, so it never names a channel.
pub const TELEGRAM_BOT_TARGET: &str = "bot";

/// Platform name of the replay watch.
pub const REPLAY_PLATFORM: &str = "replay";

/// Why a watch cannot be polled.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The stored watch does not parse (it was validated at creation, so this means tampering).
    #[error("watch {0} is invalid: {1}")]
    InvalidWatch(i64, String),
    /// The platform needs credentials that are not configured.
    #[error("{0}")]
    NotConfigured(String),
    /// The connector could not be built.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

impl Sources {
    /// Builds the connectors from `args`, pseudonymising with `normaliser`.
    pub fn new(
        args: &PlatformArgs,
        normaliser: Normaliser,
        replay: Option<murmur_connectors::replay::ReplayConfig>,
    ) -> Result<Self, ConnectorError> {
        let replay = match replay {
            Some(config) => Some(Arc::new(AnyConnector::Replay(murmur_connectors::replay::ReplayConnector::new(
                config,
                normaliser.clone(),
            )?))),
            None => None,
        };
        let reddit_auth = match (&args.reddit_client_id, &args.reddit_client_secret) {
            (Some(client_id), Some(client_secret)) => match (&args.reddit_username, &args.reddit_password) {
                (Some(username), Some(password)) => RedditAuth::Script {
                    client_id: client_id.clone(),
                    client_secret: Secret::new(client_secret.clone()),
                    username: username.clone(),
                    password: Secret::new(password.clone()),
                },
                _ => RedditAuth::ApplicationOnly {
                    client_id: client_id.clone(),
                    client_secret: Secret::new(client_secret.clone()),
                },
            },
            _ => RedditAuth::Anonymous,
        };
        let reddit = RedditConnector::new(
            RedditConfig {
                auth: reddit_auth,
                token_url: args.reddit_token_url.clone(),
                oauth_base_url: args.reddit_oauth_url.clone(),
                public_base_url: args.reddit_public_url.clone(),
                ..RedditConfig::default()
            },
            normaliser.clone(),
        )?;
        let telegram_web = TelegramWebConnector::new(
            TelegramWebConfig { base_url: args.telegram_web_url.clone(), ..TelegramWebConfig::default() },
            normaliser.clone(),
        )?;
        let bluesky = BlueskyConnector::new(
            BlueskyConfig { base_url: args.bluesky_url.clone(), ..BlueskyConfig::default() },
            normaliser.clone(),
        )?;
        let x = match &args.x_bearer_token {
            Some(token) if !token.trim().is_empty() => {
                let config = XConfig { base_url: args.x_url.clone(), ..XConfig::new(Secret::new(token.clone())) };
                Some(Arc::new(AnyConnector::X(XConnector::new(config, normaliser.clone())?)))
            }
            _ => None,
        };
        let telegram_bot = match &args.telegram_bot_token {
            Some(token) if !token.trim().is_empty() => {
                let config = murmur_connectors::telegram::bot::TelegramBotConfig {
                    base_url: args.telegram_bot_url.clone(),
                    ..murmur_connectors::telegram::bot::TelegramBotConfig::new(Secret::new(token.clone()))
                };
                Some(Arc::new(AnyConnector::TelegramBot(murmur_connectors::telegram::bot::TelegramBotConnector::new(
                    config,
                    normaliser.clone(),
                )?)))
            }
            _ => None,
        };
        Ok(Self {
            telegram_bot,
            reddit: Arc::new(AnyConnector::Reddit(reddit)),
            telegram_web: Arc::new(AnyConnector::TelegramWeb(telegram_web)),
            bluesky: Arc::new(AnyConnector::Bluesky(bluesky)),
            x,
            mastodon: Mutex::new(HashMap::new()),
            mastodon_url_template: args.mastodon_url_template.clone(),
            normaliser,
            replay,
        })
    }

    /// The connector and watch spec for a stored watch.
    pub fn resolve(&self, watch: &WatchRow) -> Result<(Arc<AnyConnector>, WatchSpec), SourceError> {
        let invalid = |error: String| SourceError::InvalidWatch(watch.id, error);
        match watch.platform.as_str() {
            "reddit" => Ok((
                Arc::clone(&self.reddit),
                WatchSpec::Subreddit(SubredditName::parse(&watch.target).map_err(|e| invalid(e.to_string()))?),
            )),
            "telegram" if watch.target == TELEGRAM_BOT_TARGET => Ok((
                self.telegram_bot.clone().ok_or_else(|| {
                    SourceError::NotConfigured("the telegram bot watch needs MURMUR_TELEGRAM_BOT_TOKEN".into())
                })?,
                WatchSpec::TelegramBot,
            )),
            "telegram" => Ok((
                Arc::clone(&self.telegram_web),
                WatchSpec::TelegramChannel(ChannelUsername::parse(&watch.target).map_err(|e| invalid(e.to_string()))?),
            )),
            "bluesky" | "x" | "mastodon" => {
                let tag = WatchSpec::Hashtag(Hashtag::parse(&watch.target).map_err(|e| invalid(e.to_string()))?);
                let connector = match watch.platform.as_str() {
                    "bluesky" => Arc::clone(&self.bluesky),
                    "x" => self
                        .x
                        .clone()
                        .ok_or_else(|| SourceError::NotConfigured("x watches need MURMUR_X_BEARER_TOKEN".into()))?,
                    _ => self.mastodon_for(&watch.instance)?,
                };
                Ok((connector, tag))
            }
            REPLAY_PLATFORM => Ok((
                self.replay
                    .clone()
                    .ok_or_else(|| SourceError::NotConfigured("replay watches need MURMUR_REPLAY_FILE".into()))?,
                WatchSpec::Replay,
            )),
            other => Err(invalid(format!("unknown platform `{other}`"))),
        }
    }

    fn mastodon_for(&self, instance: &str) -> Result<Arc<AnyConnector>, SourceError> {
        let mut by_instance = self.mastodon.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(connector) = by_instance.get(instance) {
            return Ok(Arc::clone(connector));
        }
        let base_url = self.mastodon_url_template.replace("{instance}", instance);
        let connector = Arc::new(AnyConnector::Mastodon(MastodonConnector::new(
            MastodonConfig { base_url, ..MastodonConfig::default() },
            self.normaliser.clone(),
        )?));
        by_instance.insert(instance.to_string(), Arc::clone(&connector));
        Ok(connector)
    }
}
