//! The connector port: one trait every platform implements, and an enum for static dispatch (the
//! trait's `poll` returns `impl Future`, so it is not object-safe; the enum replaces `dyn`).

use std::future::Future;

use murmur_proto::events::v1::Platform;

use crate::bluesky::BlueskyConnector;
use crate::error::ConnectorError;
use crate::mastodon::MastodonConnector;
use crate::outcome::{Cursor, PollOutcome};
use crate::reddit::RedditConnector;
use crate::replay::ReplayConnector;
use crate::telegram::bot::TelegramBotConnector;
use crate::telegram::web::TelegramWebConnector;
use crate::watch::WatchSpec;
use crate::x::XConnector;

/// A source of posts.
pub trait Connector: Send + Sync {
    /// The platform of the posts it returns.
    fn platform(&self) -> Platform;

    /// Fetches what is new for `watch` since `cursor` (`None` on the first poll). Errors are
    /// request-level; bad items are in [`PollOutcome::item_errors`].
    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send;
}

impl Connector for RedditConnector {
    fn platform(&self) -> Platform {
        Platform::Reddit
    }

    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send {
        RedditConnector::poll(self, watch, cursor)
    }
}

impl Connector for MastodonConnector {
    fn platform(&self) -> Platform {
        Platform::Mastodon
    }

    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send {
        MastodonConnector::poll(self, watch, cursor)
    }
}

impl Connector for TelegramWebConnector {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send {
        TelegramWebConnector::poll(self, watch, cursor)
    }
}

impl Connector for TelegramBotConnector {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send {
        TelegramBotConnector::poll(self, watch, cursor)
    }
}

impl Connector for BlueskyConnector {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send {
        BlueskyConnector::poll(self, watch, cursor)
    }
}

impl Connector for XConnector {
    fn platform(&self) -> Platform {
        Platform::X
    }

    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send {
        XConnector::poll(self, watch, cursor)
    }
}

/// Replayed posts carry their own platform; the connector reports `Unspecified`.
impl Connector for ReplayConnector {
    fn platform(&self) -> Platform {
        Platform::Unspecified
    }

    fn poll(
        &self,
        watch: &WatchSpec,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<PollOutcome, ConnectorError>> + Send {
        ReplayConnector::poll(self, watch, cursor)
    }
}

/// Every connector, for services that hold a heterogeneous list.
#[derive(Debug)]
pub enum AnyConnector {
    /// Reddit.
    Reddit(RedditConnector),
    /// One Mastodon instance.
    Mastodon(MastodonConnector),
    /// `t.me/s` previews.
    TelegramWeb(TelegramWebConnector),
    /// A Telegram bot.
    TelegramBot(TelegramBotConnector),
    /// Bluesky search.
    Bluesky(BlueskyConnector),
    /// X recent search.
    X(XConnector),
    /// JSONL replay.
    Replay(ReplayConnector),
}

impl Connector for AnyConnector {
    fn platform(&self) -> Platform {
        match self {
            Self::Reddit(connector) => connector.platform(),
            Self::Mastodon(connector) => connector.platform(),
            Self::TelegramWeb(connector) => connector.platform(),
            Self::TelegramBot(connector) => connector.platform(),
            Self::Bluesky(connector) => connector.platform(),
            Self::X(connector) => connector.platform(),
            Self::Replay(connector) => Connector::platform(connector),
        }
    }

    async fn poll(&self, watch: &WatchSpec, cursor: Option<&Cursor>) -> Result<PollOutcome, ConnectorError> {
        match self {
            Self::Reddit(connector) => connector.poll(watch, cursor).await,
            Self::Mastodon(connector) => connector.poll(watch, cursor).await,
            Self::TelegramWeb(connector) => connector.poll(watch, cursor).await,
            Self::TelegramBot(connector) => connector.poll(watch, cursor).await,
            Self::Bluesky(connector) => connector.poll(watch, cursor).await,
            Self::X(connector) => connector.poll(watch, cursor).await,
            Self::Replay(connector) => connector.poll(watch, cursor).await,
        }
    }
}
