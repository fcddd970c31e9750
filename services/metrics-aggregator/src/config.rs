//! The metrics-aggregator's settings: every flag has an environment variable and appears in `--help`.

use std::time::Duration;

use murmur_common::config::{parse_duration, ConsumerArgs, DatabaseArgs, KafkaArgs, ServerArgs, TelemetryArgs};
use murmur_detect::alerts::AlertConfig;
use murmur_detect::graph::GraphConfig;
use murmur_detect::leiden::{LeidenConfig, QualityFunction};
use murmur_detect::signals::SignalConfig;
use murmur_detect::tracking::TrackerConfig;
use murmur_proto::topics;

use crate::engine::EngineConfig;

/// metrics-aggregator: interaction graph, micro-communities, KPIs, weak signals, alerts and the insights API.
///
/// Without a subcommand it runs the service: consumes scored posts, stores them, detects
/// communities and weak signals in event time, publishes alerts and serves InsightsService.
/// `migrate` only applies the database migrations (for a Kubernetes Job).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "metrics-aggregator", version, about, long_about)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Topic of scored posts to consume.
    #[arg(long, env = "MURMUR_INPUT_TOPIC", default_value = topics::POSTS_SCORED)]
    pub input_topic: String,
    /// Topic the alerts are produced to (key = subject).
    #[arg(long, env = "MURMUR_ALERTS_TOPIC", default_value = topics::ALERTS)]
    pub alerts_topic: String,
    /// Topic for messages that cannot be decoded or are invalid.
    #[arg(long, env = "MURMUR_DEADLETTER_TOPIC", default_value = topics::DEADLETTER)]
    pub deadletter_topic: String,
    #[command(flatten)]
    pub detection: DetectionArgs,
    /// How often the detector state (graph, tracked communities, signal baselines) is snapshotted
    /// to Postgres; a restart resumes from it and re-reads only the posts stored after it.
    #[arg(long, env = "MURMUR_SNAPSHOT_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub snapshot_interval: Duration,
    /// Post text is kept this long after it was stored, then removed by the purge job (the post's
    /// other fields, its edges and all results stay).
    #[arg(long, env = "MURMUR_TEXT_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub text_retention: Duration,
    /// How often the text purge runs.
    #[arg(long, env = "MURMUR_PURGE_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub purge_interval: Duration,
    /// Largest page an InsightsService list call returns (bigger page_size values are capped).
    #[arg(long, env = "MURMUR_MAX_PAGE_SIZE", default_value_t = 500)]
    pub max_page_size: u32,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// One-shot commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Applies the database migrations and exits.
    Migrate,
}

/// Settings of detection (event time: the posts' own `created_at`).
#[derive(Debug, Clone, clap::Args)]
pub struct DetectionArgs {
    /// Length of a weak-signal bucket (counts, baselines and significance are per bucket).
    #[arg(long, env = "MURMUR_BUCKET", default_value = "1h", value_parser = parse_duration)]
    pub bucket: Duration,
    /// Communities and KPIs are recomputed once per detection window of this length; the KPIs
    /// describe the window's posts.
    #[arg(long, env = "MURMUR_DETECTION_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub detection_interval: Duration,
    /// How far behind the newest post a post may arrive and still count in its bucket.
    #[arg(long, env = "MURMUR_ALLOWED_LATENESS", default_value = "5m", value_parser = parse_duration)]
    pub allowed_lateness: Duration,
    /// A partition that delivered nothing for this long no longer holds the watermark back (the
    /// watermark follows the slowest active partition so a partition read ahead does not close
    /// windows the others still feed).
    #[arg(long, env = "MURMUR_PARTITION_IDLE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub partition_idle_timeout: Duration,
    /// Half-life of an interaction's weight in the graph.
    #[arg(long, env = "MURMUR_GRAPH_HALF_LIFE", default_value = "1d", value_parser = parse_duration)]
    pub graph_half_life: Duration,
    /// Interactions older than this leave the graph.
    #[arg(long, env = "MURMUR_GRAPH_WINDOW", default_value = "7d", value_parser = parse_duration)]
    pub graph_window: Duration,
    /// Modularity resolution γ of Leiden (higher finds smaller communities).
    #[arg(long, env = "MURMUR_LEIDEN_RESOLUTION", default_value_t = 1.0)]
    pub leiden_resolution: f64,
    /// Seed of Leiden's refinement (runs are deterministic given the seed).
    #[arg(long, env = "MURMUR_LEIDEN_SEED", default_value_t = 1)]
    pub leiden_seed: u64,
    /// Smallest micro-community.
    #[arg(long, env = "MURMUR_MICRO_MIN_SIZE", default_value_t = 50)]
    pub micro_min_size: usize,
    /// Largest micro-community.
    #[arg(long, env = "MURMUR_MICRO_MAX_SIZE", default_value_t = 5000)]
    pub micro_max_size: usize,
    /// Communities smaller than this are not tracked.
    #[arg(long, env = "MURMUR_MIN_COMMUNITY_SIZE", default_value_t = 3)]
    pub min_community_size: usize,
    /// Owned brand accounts (pseudonymous ids, comma-separated): never members; used by the UGC
    /// ratio and Time To Sentiment.
    #[arg(long, env = "MURMUR_OWNED_ACCOUNTS", value_delimiter = ',')]
    pub owned_accounts: Vec<String>,
    /// Significance (z) at which a term is significant.
    #[arg(long, env = "MURMUR_SIGNAL_THRESHOLD", default_value_t = 3.0)]
    pub signal_threshold: f64,
    /// Distinct authors a term needs in a bucket to fire.
    #[arg(long, env = "MURMUR_SIGNAL_MIN_AUTHORS", default_value_t = 5)]
    pub signal_min_authors: u64,
    /// Buckets closed before any term may fire (baselines need a few samples).
    #[arg(long, env = "MURMUR_SIGNAL_WARMUP_BUCKETS", default_value_t = 6)]
    pub signal_warmup_buckets: u64,
    /// Half-life of the terms' baselines, in buckets.
    #[arg(long, env = "MURMUR_SIGNAL_HALF_LIFE_BUCKETS", default_value_t = 24.0)]
    pub signal_half_life_buckets: f64,
    /// Posts kept for the open window's KPIs (memory bound); more are stored but not in its KPIs.
    #[arg(long, env = "MURMUR_MAX_WINDOW_POSTS", default_value_t = 2_000_000)]
    pub max_window_posts: usize,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl DetectionArgs {
    /// The engine's configuration; errors on inconsistent settings.
    pub fn engine_config(&self) -> anyhow::Result<EngineConfig> {
        if self.micro_min_size > self.micro_max_size {
            anyhow::bail!(
                "MURMUR_MICRO_MIN_SIZE ({}) is above MURMUR_MICRO_MAX_SIZE ({})",
                self.micro_min_size,
                self.micro_max_size
            );
        }
        if !(self.leiden_resolution.is_finite() && self.leiden_resolution > 0.0) {
            anyhow::bail!("MURMUR_LEIDEN_RESOLUTION must be a positive number, got {}", self.leiden_resolution);
        }
        if self.bucket.is_zero() || self.detection_interval.is_zero() {
            anyhow::bail!("MURMUR_BUCKET and MURMUR_DETECTION_INTERVAL must be positive");
        }
        Ok(EngineConfig {
            graph: GraphConfig {
                half_life_ms: millis(self.graph_half_life),
                window_ms: millis(self.graph_window),
                ..GraphConfig::default()
            },
            leiden: LeidenConfig {
                quality: QualityFunction::Modularity { resolution: self.leiden_resolution },
                seed: self.leiden_seed,
                ..LeidenConfig::default()
            },
            tracker: TrackerConfig {
                min_tracked_size: self.min_community_size.max(1),
                micro_min_size: self.micro_min_size,
                micro_max_size: self.micro_max_size,
                ..TrackerConfig::default()
            },
            signals: SignalConfig {
                significance_threshold: self.signal_threshold,
                min_distinct_authors: self.signal_min_authors,
                warmup_buckets: self.signal_warmup_buckets,
                half_life_buckets: self.signal_half_life_buckets,
                ..SignalConfig::default()
            },
            alerts: AlertConfig::default(),
            owned_accounts: self.owned_accounts.iter().filter(|id| !id.trim().is_empty()).cloned().collect(),
            bucket_ms: millis(self.bucket),
            detection_interval_ms: millis(self.detection_interval),
            allowed_lateness_ms: i64::try_from(self.allowed_lateness.as_millis()).unwrap_or(i64::MAX),
            max_window_posts: self.max_window_posts,
        })
    }
}
