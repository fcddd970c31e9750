//! The HTTP plumbing every connector shares: a `reqwest` client with timeout and User-Agent,
//! bounded body reads, status → [`ConnectorError`] mapping (429 with the exact wait), lossy UTF-8
//! decoding counted as an item error, and rate-limit header parsing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use crate::error::{ConnectorError, ItemError, ItemErrorKind};

/// Default User-Agent (Reddit asks for `<platform>:<app id>:<version> (by /u/<user>)`; the Reddit
/// config overrides it).
pub const DEFAULT_USER_AGENT: &str = concat!(
    "murmur-ingestor/",
    env!("CARGO_PKG_VERSION"),
    " (social listening; +https://github.com/murmur-listening/murmur)"
);

/// Largest response body read (a 1 MB post plus its page fits many times over).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Settings common to every HTTP connector.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// User-Agent header.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(20), user_agent: DEFAULT_USER_AGENT.to_owned() }
    }
}

/// A response read in full.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim)
    }

    /// The body as text; invalid UTF-8 is replaced (U+FFFD) and reported as an item error so the
    /// rest of the page is still read.
    pub fn text_lossy(&self, item_errors: &mut Vec<ItemError>) -> String {
        match std::str::from_utf8(&self.body) {
            Ok(text) => text.to_owned(),
            Err(error) => {
                item_errors.push(ItemError::new(
                    ItemErrorKind::InvalidUtf8,
                    "response",
                    format!("invalid UTF-8 at byte {}; decoded lossily", error.valid_up_to()),
                ));
                String::from_utf8_lossy(&self.body).into_owned()
            }
        }
    }
}

/// A `reqwest` client bound to one platform's name and timeout.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    platform: &'static str,
    timeout: Duration,
}

impl HttpClient {
    pub fn new(platform: &'static str, settings: &HttpSettings) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(settings.user_agent.clone())
            .build()
            .map_err(|error| ConnectorError::Config(format!("http client: {}", error.without_url())))?;
        Ok(Self { client, platform, timeout: settings.timeout })
    }

    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn platform(&self) -> &'static str {
        self.platform
    }

    /// Sends the request and reads the body (bounded). Errors never carry the URL, which may hold
    /// a token (Telegram Bot API).
    pub async fn send(&self, request: RequestBuilder) -> Result<HttpResponse, ConnectorError> {
        let mut response = request.send().await.map_err(|error| self.map_transport(error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| self.map_transport(error))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ConnectorError::MalformedResponse {
                    platform: self.platform,
                    detail: format!("response body larger than {MAX_BODY_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, headers, body })
    }

    fn map_transport(&self, error: reqwest::Error) -> ConnectorError {
        if error.is_timeout() {
            return ConnectorError::Timeout { platform: self.platform, timeout: self.timeout };
        }
        let is_body_error = error.is_decode() || error.is_body();
        let detail = error_chain(&error.without_url());
        if is_body_error {
            return ConnectorError::MalformedResponse { platform: self.platform, detail };
        }
        ConnectorError::Transport { platform: self.platform, detail }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Maps a non-success status to an error; `fallback_wait` is used for a 429 without `Retry-After`
/// (e.g. derived from the platform's reset header).
pub(crate) fn check_status(
    platform: &'static str,
    response: &HttpResponse,
    now: DateTime<Utc>,
    fallback_wait: Option<Duration>,
) -> Result<(), ConnectorError> {
    let status = response.status;
    if status.is_success() {
        return Ok(());
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .header("retry-after")
            .and_then(|value| parse_retry_after(value, now))
            .or(fallback_wait)
            .unwrap_or(Duration::from_secs(60));
        return Err(ConnectorError::RateLimited { platform, retry_after });
    }
    let detail = body_excerpt(&response.body);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ConnectorError::Auth { platform, detail: format!("HTTP {}: {detail}", status.as_u16()) });
    }
    Err(ConnectorError::Http { platform, status: status.as_u16(), detail })
}

/// The first 200 characters of a body, for error messages.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let excerpt: String = text.chars().take(200).collect();
    excerpt.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Parses a decimal header that may carry a fraction (Reddit sends `598.0`).
pub(crate) fn parse_count(value: Option<&str>) -> Option<u64> {
    let number: f64 = value?.trim().parse().ok()?;
    (number.is_finite() && number >= 0.0).then_some(number.floor() as u64)
}

/// Seconds from now (possibly fractional) → an instant.
pub(crate) fn seconds_from(now: DateTime<Utc>, value: Option<&str>) -> Option<DateTime<Utc>> {
    let seconds: f64 = value?.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(now + chrono::Duration::milliseconds((seconds * 1000.0).round() as i64))
}

/// Unix epoch seconds → an instant.
#[allow(dead_code)]
pub(crate) fn epoch_seconds(value: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(value?.trim().parse().ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = DateTime::from_timestamp(1_445_412_480, 0).unwrap_or_default();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn counts_accept_fractions() {
        assert_eq!(parse_count(Some("598.0")), Some(598));
        assert_eq!(parse_count(Some("-1")), None);
        assert_eq!(parse_count(None), None);
    }
}
