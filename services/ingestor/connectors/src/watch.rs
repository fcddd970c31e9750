//! What a connector is asked to poll: validated domain types for subreddit names, Telegram channel
//! usernames and hashtags ("parse, don't validate": a value of these types is always valid), and
//! the [`WatchSpec`] that combines them.

use std::fmt;

/// Why a watch target was refused; the service maps it to gRPC `INVALID_ARGUMENT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchParseError {
    /// Not a subreddit name.
    #[error("invalid subreddit name {0:?}: 3 to 21 characters among A-Z, a-z, 0-9 and _")]
    Subreddit(String),
    /// Not a public Telegram channel username.
    #[error(
        "invalid Telegram channel username {0:?}: 5 to 32 characters among A-Z, a-z, 0-9 and _, starting with a letter"
    )]
    TelegramChannel(String),
    /// Not a hashtag.
    #[error("invalid hashtag {0:?}: 1 to 100 letters, digits or _, not only digits")]
    Hashtag(String),
}

/// A subreddit name without `r/` (case kept as given; Reddit matches it case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubredditName(String);

impl SubredditName {
    /// Accepts `AskReddit`, `r/AskReddit` or `/r/AskReddit`.
    pub fn parse(input: &str) -> Result<Self, WatchParseError> {
        let trimmed = input.trim();
        let name = trimmed.strip_prefix("/r/").or_else(|| trimmed.strip_prefix("r/")).unwrap_or(trimmed);
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(3..=21).contains(&name.len()) || !valid_chars {
            return Err(WatchParseError::Subreddit(input.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The bare name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A public Telegram channel username, without `@`, lowercased (Telegram usernames are
/// case-insensitive, and ids built from it must match across pages and forwards).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelUsername(String);

impl ChannelUsername {
    /// Accepts `durov`, `@durov`, `t.me/durov`, `https://t.me/s/durov`.
    pub fn parse(input: &str) -> Result<Self, WatchParseError> {
        let trimmed = input.trim();
        let without_scheme = trimmed.trim_start_matches("https://").trim_start_matches("http://");
        let without_host = without_scheme.strip_prefix("t.me/").unwrap_or(without_scheme);
        let without_preview = without_host.strip_prefix("s/").unwrap_or(without_host);
        let name = without_preview.trim_start_matches('@').trim_end_matches('/');
        let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(5..=32).contains(&name.len()) || !valid_chars || !starts_with_letter || name.ends_with('_') {
            return Err(WatchParseError::TelegramChannel(input.to_owned()));
        }
        Ok(Self(name.to_ascii_lowercase()))
    }

    /// The lowercased username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A hashtag without `#`, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hashtag(String);

impl Hashtag {
    /// Accepts `rstats` or `#RStats`.
    pub fn parse(input: &str) -> Result<Self, WatchParseError> {
        let name = input.trim().trim_start_matches('#');
        let valid_chars = name.chars().all(|c| c.is_alphanumeric() || c == '_');
        let only_digits = name.chars().all(|c| c.is_ascii_digit());
        if name.is_empty() || name.chars().count() > 100 || !valid_chars || only_digits {
            return Err(WatchParseError::Hashtag(input.to_owned()));
        }
        Ok(Self(name.to_lowercase()))
    }

    /// The lowercased tag, without `#`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One thing to poll. Each connector accepts the variants of its platform and refuses the others
/// with [`crate::ConnectorError::UnsupportedWatch`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WatchSpec {
    /// New submissions and comments of a subreddit (Reddit connector).
    Subreddit(SubredditName),
    /// A public channel's `t.me/s/<channel>` preview (Telegram web connector).
    TelegramChannel(ChannelUsername),
    /// Every update a bot receives (channels it administers, discussion groups it is in): the Bot
    /// API offset is per bot, not per chat, so a bot is one watch.
    TelegramBot,
    /// A hashtag on the connector's platform (Mastodon instance, Bluesky, X).
    Hashtag(Hashtag),
    /// The replay connector's file.
    Replay,
}

impl fmt::Display for WatchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subreddit(name) => write!(f, "r/{}", name.as_str()),
            Self::TelegramChannel(name) => write!(f, "t.me/{}", name.as_str()),
            Self::TelegramBot => f.write_str("telegram-bot"),
            Self::Hashtag(tag) => write!(f, "#{}", tag.as_str()),
            Self::Replay => f.write_str("replay"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subreddit_names() {
        assert_eq!(SubredditName::parse("/r/AskReddit").map(|n| n.as_str().to_owned()), Ok("AskReddit".into()));
        assert!(SubredditName::parse("ab").is_err());
        assert!(SubredditName::parse("has space").is_err());
        assert!(SubredditName::parse("a".repeat(22).as_str()).is_err());
    }

    #[test]
    fn channel_usernames() {
        assert_eq!(ChannelUsername::parse("https://t.me/s/Durov").map(|n| n.as_str().to_owned()), Ok("durov".into()));
        assert_eq!(ChannelUsername::parse("@tele_gram").map(|n| n.as_str().to_owned()), Ok("tele_gram".into()));
        assert!(ChannelUsername::parse("1abcde").is_err());
        assert!(ChannelUsername::parse("abc").is_err());
        assert!(ChannelUsername::parse("abcde_").is_err());
    }

    #[test]
    fn hashtags() {
        assert_eq!(Hashtag::parse("#RStats").map(|t| t.as_str().to_owned()), Ok("rstats".into()));
        assert_eq!(Hashtag::parse("café_2").map(|t| t.as_str().to_owned()), Ok("café_2".into()));
        assert!(Hashtag::parse("#").is_err());
        assert!(Hashtag::parse("2024").is_err());
        assert!(Hashtag::parse("a-b").is_err());
    }
}
