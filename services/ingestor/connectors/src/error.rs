//! Errors at the connector boundary: one request-level enum ([`ConnectorError`]) and the per-item
//! [`ItemError`] that is counted and reported without failing the page it came from.

use std::time::Duration;

/// Why a poll (or one request of it) failed. Item-level problems are [`ItemError`]s instead.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The platform asked us to wait (HTTP 429, Telegram flood wait, or an exhausted quota).
    #[error("{platform} rate limit: retry after {retry_after:?}")]
    RateLimited {
        /// Platform name, e.g. `reddit`.
        platform: &'static str,
        /// Exactly how long the platform asked us to wait.
        retry_after: Duration,
    },
    /// A non-success HTTP status other than 429 (5xx, 404…).
    #[error("{platform} answered HTTP {status}: {detail}")]
    Http {
        /// Platform name.
        platform: &'static str,
        /// HTTP status code.
        status: u16,
        /// A short, secret-free excerpt of the answer.
        detail: String,
    },
    /// The request did not complete within the client timeout.
    #[error("{platform} request timed out after {timeout:?}")]
    Timeout {
        /// Platform name.
        platform: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },
    /// Connection refused, reset, TLS failure… (URLs are stripped: they may carry tokens).
    #[error("{platform} transport error: {detail}")]
    Transport {
        /// Platform name.
        platform: &'static str,
        /// The transport error, without URL.
        detail: String,
    },
    /// The response could not be understood at all (truncated or malformed JSON, `ok:false`…).
    #[error("{platform} sent a malformed response: {detail}")]
    MalformedResponse {
        /// Platform name.
        platform: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// An HTML page whose layout does not match what the parser knows (the page changed).
    #[error("{platform} page layout not recognised: {detail}")]
    Layout {
        /// Platform name.
        platform: &'static str,
        /// What was missing.
        detail: String,
    },
    /// Credentials were refused (401/403, token endpoint error).
    #[error("{platform} authentication failed: {detail}")]
    Auth {
        /// Platform name.
        platform: &'static str,
        /// What the platform said (never the credentials).
        detail: String,
    },
    /// The connector was built with an unusable configuration.
    #[error("invalid connector configuration: {0}")]
    Config(String),
    /// The watch given to `poll` belongs to another connector.
    #[error("the {platform} connector cannot poll watch {watch}")]
    UnsupportedWatch {
        /// Platform name.
        platform: &'static str,
        /// The watch, as displayed.
        watch: String,
    },
    /// The stored cursor could not be decoded (written by another connector or corrupted).
    #[error("cursor not understood: {0}")]
    BadCursor(String),
    /// Reading a local file (replay) failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ConnectorError {
    /// The wait the platform asked for, if this is a rate-limit error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// True for errors that a later retry may fix (rate limits, 5xx, timeouts, transport, garbled
    /// answers); false for configuration, authentication and watch errors that need a human.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout { .. } | Self::Transport { .. } => true,
            Self::MalformedResponse { .. } | Self::Layout { .. } => true,
            Self::Http { status, .. } => *status >= 500 || *status == 408,
            Self::Auth { .. } | Self::Config(_) | Self::UnsupportedWatch { .. } | Self::BadCursor(_) => false,
            Self::Io { .. } => true,
        }
    }

    /// A bounded label for metrics (`kind` label of an errors counter).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Http { .. } => "http",
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport",
            Self::MalformedResponse { .. } => "malformed_response",
            Self::Layout { .. } => "layout",
            Self::Auth { .. } => "auth",
            Self::Config(_) => "config",
            Self::UnsupportedWatch { .. } => "unsupported_watch",
            Self::BadCursor(_) => "bad_cursor",
            Self::Io { .. } => "io",
        }
    }
}

/// What kind of item-level problem happened; bounded, usable as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemErrorKind {
    /// An item whose JSON does not have the expected shape (missing id, wrong types).
    Malformed,
    /// The response carried invalid UTF-8; it was decoded lossily (U+FFFD).
    InvalidUtf8,
    /// An HTML message block that could not be read (layout change).
    Layout,
    /// Pagination stopped (page cap) before reaching the previous cursor: older items may be missing.
    Gap,
}

impl ItemErrorKind {
    /// Metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::Layout => "layout",
            Self::Gap => "gap",
        }
    }
}

/// One item (post, comment, update, replay line) that could not be normalised. The rest of the
/// page is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// What failed.
    pub kind: ItemErrorKind,
    /// Which item: a native id when known, else a position (`children[3]`, `line 17`).
    pub item_ref: String,
    /// Human-readable reason.
    pub reason: String,
}

impl ItemError {
    /// Builds an item error.
    pub fn new(kind: ItemErrorKind, item_ref: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { kind, item_ref: item_ref.into(), reason: reason.into() }
    }
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.kind.as_str(), self.item_ref, self.reason)
    }
}
