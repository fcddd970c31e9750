//! Settings shared by every service, as clap argument groups. Each flag has an environment
//! variable equivalent and a doc comment that becomes its `--help` text.

use std::net::SocketAddr;
use std::time::Duration;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Human-readable lines (for terminals).
    Text,
}

/// Logging and tracing settings. OpenTelemetry export is driven by the standard
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (and other `OTEL_*`) variables: unset means no export.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryArgs {
    /// Log output format.
    #[arg(long, env = "MURMUR_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
    /// Log filter in `tracing` EnvFilter syntax, e.g. `info,murmur=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
}

/// Listening addresses and shutdown behaviour of a service.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address of the gRPC server (API, grpc.health.v1, reflection). Port 0 picks a free port.
    #[arg(long, env = "MURMUR_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// Address of the admin HTTP server (/healthz, /readyz, /metrics). Port 0 picks a free port.
    #[arg(long, env = "MURMUR_ADMIN_ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// Time allowed after SIGTERM/SIGINT to finish in-flight work, commit offsets and flush
    /// telemetry before the process gives up and exits (e.g. `30s`, `2m`).
    #[arg(long, env = "MURMUR_GRACE_PERIOD", default_value = "30s", value_parser = parse_duration)]
    pub grace_period: Duration,
    /// Bearer tokens the gRPC API accepts, comma-separated (at least 16 printable characters each).
    /// Every API call must then send `authorization: Bearer <token>`; grpc.health.v1 and reflection
    /// stay open. With no token here nor in --api-tokens-file the API is open to anyone who reaches
    /// the port (a warning says so at start-up). Prefer the environment or the file to the command
    /// line, where other users can read it; values are never logged.
    #[arg(long, env = "MURMUR_API_TOKENS", value_delimiter = ',', hide_env_values = true)]
    pub api_tokens: Vec<crate::auth::RawApiToken>,
    /// File of accepted bearer tokens, one per line (blank lines and `#` comments ignored), e.g. a
    /// mounted secret; read at start-up, added to --api-tokens.
    #[arg(long, env = "MURMUR_API_TOKENS_FILE")]
    pub api_tokens_file: Option<std::path::PathBuf>,
}

impl ServerArgs {
    /// The gRPC address, or the service's default.
    pub fn grpc_addr_or(&self, default_port: u16) -> SocketAddr {
        self.grpc_addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)))
    }

    /// The admin address, or the service's default.
    pub fn admin_addr_or(&self, default_port: u16) -> SocketAddr {
        self.admin_addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)))
    }

    /// The accepted API tokens: --api-tokens plus the lines of --api-tokens-file.
    pub fn api_tokens(&self) -> anyhow::Result<Vec<crate::auth::ApiToken>> {
        let mut tokens = crate::auth::parse_tokens(&self.api_tokens)?;
        if let Some(path) = &self.api_tokens_file {
            tokens.extend(crate::auth::read_tokens_file(path)?);
        }
        Ok(tokens)
    }
}

/// Kafka client settings shared by producers and consumers.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Comma-separated bootstrap brokers.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// Compression codec for produced batches (none, gzip, snappy, lz4, zstd).
    #[arg(long, env = "KAFKA_COMPRESSION", default_value = "lz4")]
    pub kafka_compression: String,
    /// How long the producer waits to fill a batch, in milliseconds (librdkafka `linger.ms`).
    #[arg(long, env = "KAFKA_LINGER_MS", default_value_t = 5)]
    pub kafka_linger_ms: u32,
    /// Maximum size of a produced batch in bytes (librdkafka `batch.size`).
    #[arg(long, env = "KAFKA_BATCH_BYTES", default_value_t = 1_000_000)]
    pub kafka_batch_bytes: u32,
    /// Time a produced message may wait for acknowledgement before it is reported failed, in ms.
    #[arg(long, env = "KAFKA_DELIVERY_TIMEOUT_MS", default_value_t = 30_000)]
    pub kafka_delivery_timeout_ms: u32,
    /// Extra librdkafka settings as `key=value`, repeatable or comma-separated in the env var
    /// (e.g. `security.protocol=SASL_SSL,sasl.mechanism=PLAIN`). Values are never logged.
    #[arg(long = "kafka-option", env = "KAFKA_OPTIONS", value_delimiter = ',', value_parser = parse_key_value)]
    pub kafka_options: Vec<(String, String)>,
}

/// Consumer-side settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsumerArgs {
    /// Consumer group id; replicas sharing it split the topic's partitions.
    #[arg(long, env = "KAFKA_GROUP_ID")]
    pub kafka_group_id: Option<String>,
    /// Maximum number of messages handed to the handler at once.
    #[arg(long, env = "MURMUR_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: usize,
    /// Maximum time to wait for a batch to fill after its first message, in ms.
    #[arg(long, env = "MURMUR_BATCH_LINGER_MS", default_value_t = 50)]
    pub batch_linger_ms: u64,
}

/// Postgres settings.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Postgres connection URL. The password, if any, is never logged.
    #[arg(long, env = "DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/murmur")]
    pub database_url: String,
    /// Maximum connections in the pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 8)]
    pub database_max_connections: u32,
}

/// Parses `key=value`.
pub fn parse_key_value(raw: &str) -> Result<(String, String), String> {
    let (key, value) = raw.split_once('=').ok_or_else(|| format!("expected key=value, got `{raw}`"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("empty key in `{raw}`"));
    }
    Ok((key.to_string(), value.trim().to_string()))
}

/// Parses durations like `500ms`, `30s`, `5m`, `2h`, or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split_at = raw.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split_at);
    let value: f64 = number.parse().map_err(|_| format!("invalid duration `{raw}` (try 30s, 500ms, 5m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1_000.0,
        "m" => value * 60.0,
        "h" => value * 3_600.0,
        "d" => value * 86_400.0,
        other => return Err(format!("unknown duration unit `{other}` in `{raw}` (use ms, s, m, h or d)")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("invalid duration `{raw}`"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("7 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn key_values_need_an_equals_sign() {
        assert_eq!(parse_key_value("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=x").is_err());
    }
}
