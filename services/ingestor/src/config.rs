//! The ingestor's settings: every flag has an environment variable and appears in `--help`.
//! Secrets (HMAC key, tokens, passwords) are read from flags, env or files and never logged;
//! `--help` hides their environment values.

use std::path::PathBuf;
use std::time::Duration;

use murmur_common::config::{parse_duration, DatabaseArgs, KafkaArgs, ServerArgs, TelemetryArgs};
use murmur_proto::topics;

/// Parses `max`, `<n>/s` or `<k>x`.
pub fn parse_replay_speed(raw: &str) -> Result<murmur_connectors::replay::ReplaySpeed, String> {
    use murmur_connectors::replay::ReplaySpeed;
    let raw = raw.trim();
    let positive = |number: &str| {
        number
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite() && *value > 0.0)
            .ok_or_else(|| format!("invalid replay speed `{raw}` (use max, 500/s or 60x)"))
    };
    if raw.eq_ignore_ascii_case("max") {
        Ok(ReplaySpeed::AsFastAsPossible)
    } else if let Some(rate) = raw.strip_suffix("/s") {
        Ok(ReplaySpeed::PostsPerSecond(positive(rate)?))
    } else if let Some(factor) = raw.strip_suffix('x') {
        Ok(ReplaySpeed::TimeScaled(positive(factor)?))
    } else {
        Err(format!("invalid replay speed `{raw}` (use max, 500/s or 60x)"))
    }
}

/// One-shot commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Applies the database migrations and exits.
    Migrate,
}

/// ingestor: scans subreddits, Telegram channels and hashtags and publishes every post as a murmur event.
///
/// Without a subcommand it runs the service; `migrate` only applies the database migrations.
#[derive(Clone, clap::Parser)]
#[command(name = "ingestor", version, about, long_about)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Topic the posts are published to.
    #[arg(long, env = "MURMUR_OUTPUT_TOPIC", default_value = topics::POSTS_RAW)]
    pub output_topic: String,
    /// Secret key for pseudonymising authors and mentions (HMAC-SHA256), at least 16 bytes.
    #[arg(long, env = "MURMUR_HMAC_KEY", hide_env_values = true)]
    pub hmac_key: Option<String>,
    /// File holding the HMAC key (e.g. a mounted Kubernetes secret); trailing newline ignored.
    #[arg(long, env = "MURMUR_HMAC_KEY_FILE")]
    pub hmac_key_file: Option<PathBuf>,
    /// Development mode: without a key, pseudonymise with a fixed, PUBLIC dev key. Never in
    /// production: anyone can re-identify authors hashed with it.
    #[arg(long, env = "MURMUR_DEV_MODE", default_value_t = false)]
    pub dev_mode: bool,
    /// JSON file of watches created at start-up (existing ones are kept), e.g.
    /// `[{"platform": "reddit", "target": "running"}, {"platform": "mastodon", "target": "rstats",
    /// "instance": "fosstodon.org", "poll_interval_seconds": 120}]`.
    #[arg(long, env = "MURMUR_WATCHES_FILE")]
    pub watches_file: Option<PathBuf>,
    /// JSONL file of normalised posts to replay into the broker as a watch (format in the README);
    /// its cursor is stored like any watch's, so a restart resumes where the last acknowledged
    /// batch ended.
    #[arg(long, env = "MURMUR_REPLAY_FILE")]
    pub replay_file: Option<PathBuf>,
    /// Replay pacing: `max` (as fast as possible), `<n>/s` (posts per second) or `<k>x` (the
    /// posts' own time gaps divided by k; `1x` is real time, `60x` an hour per minute).
    #[arg(long, env = "MURMUR_REPLAY_SPEED", default_value = "max", value_parser = parse_replay_speed)]
    pub replay_speed: murmur_connectors::replay::ReplaySpeed,
    /// Polls running at once over all watches.
    #[arg(long, env = "MURMUR_MAX_CONCURRENT_POLLS", default_value_t = 8)]
    pub max_concurrent_polls: usize,
    /// How often the watch list is re-read from Postgres.
    #[arg(long, env = "MURMUR_WATCH_REFRESH", default_value = "5s", value_parser = parse_duration)]
    pub watch_refresh: Duration,
    /// Shortest interval between two polls of one watch (the adaptive interval stays above it).
    #[arg(long, env = "MURMUR_MIN_POLL_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub min_poll_interval: Duration,
    /// Longest interval between two polls of one watch.
    #[arg(long, env = "MURMUR_MAX_POLL_INTERVAL", default_value = "15m", value_parser = parse_duration)]
    pub max_poll_interval: Duration,
    #[command(flatten)]
    pub platforms: PlatformArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hand-written so no secret can reach a log through `{:?}`.
        f.debug_struct("Config")
            .field("output_topic", &self.output_topic)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "***"))
            .field("hmac_key_file", &self.hmac_key_file)
            .field("dev_mode", &self.dev_mode)
            .field("max_concurrent_polls", &self.max_concurrent_polls)
            .finish_non_exhaustive()
    }
}

/// Platform endpoints and credentials. Endpoints are configurable so tests and proxies can
/// stand in for the platforms.
#[derive(Clone, clap::Args)]
pub struct PlatformArgs {
    /// Reddit public endpoints (used without OAuth credentials).
    #[arg(long, env = "MURMUR_REDDIT_PUBLIC_URL", default_value = "https://www.reddit.com")]
    pub reddit_public_url: String,
    /// Reddit OAuth API base.
    #[arg(long, env = "MURMUR_REDDIT_OAUTH_URL", default_value = "https://oauth.reddit.com")]
    pub reddit_oauth_url: String,
    /// Reddit OAuth token endpoint.
    #[arg(long, env = "MURMUR_REDDIT_TOKEN_URL", default_value = "https://www.reddit.com/api/v1/access_token")]
    pub reddit_token_url: String,
    /// Reddit app client id (with the secret: application-only OAuth; plus username/password:
    /// script OAuth). Without it the public endpoints are used.
    #[arg(long, env = "MURMUR_REDDIT_CLIENT_ID")]
    pub reddit_client_id: Option<String>,
    /// Reddit app secret.
    #[arg(long, env = "MURMUR_REDDIT_CLIENT_SECRET", hide_env_values = true)]
    pub reddit_client_secret: Option<String>,
    /// Reddit username for the script grant.
    #[arg(long, env = "MURMUR_REDDIT_USERNAME")]
    pub reddit_username: Option<String>,
    /// Reddit password for the script grant.
    #[arg(long, env = "MURMUR_REDDIT_PASSWORD", hide_env_values = true)]
    pub reddit_password: Option<String>,
    /// Telegram web preview base (`<base>/s/<channel>`).
    #[arg(long, env = "MURMUR_TELEGRAM_WEB_URL", default_value = "https://t.me")]
    pub telegram_web_url: String,
    /// Mastodon instance URL; `{instance}` is replaced by the watch's instance host.
    #[arg(long, env = "MURMUR_MASTODON_URL_TEMPLATE", default_value = "https://{instance}")]
    pub mastodon_url_template: String,
    /// Bluesky AppView XRPC base.
    #[arg(long, env = "MURMUR_BLUESKY_URL", default_value = "https://public.api.bsky.app/xrpc")]
    pub bluesky_url: String,
    /// X API base.
    #[arg(long, env = "MURMUR_X_URL", default_value = "https://api.x.com")]
    pub x_url: String,
    /// X API v2 bearer token; X watches are refused without it.
    #[arg(long, env = "MURMUR_X_BEARER_TOKEN", hide_env_values = true)]
    pub x_bearer_token: Option<String>,
    /// Telegram Bot API token: enables the `telegram`/`bot` watch (discussion-group comments and
    /// channel posts the bot receives through getUpdates).
    #[arg(long, env = "MURMUR_TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub telegram_bot_token: Option<String>,
    /// Telegram Bot API base URL.
    #[arg(long, env = "MURMUR_TELEGRAM_BOT_URL", default_value = "https://api.telegram.org")]
    pub telegram_bot_url: String,
}
