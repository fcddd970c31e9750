//! Benchmarks of the aggregator against the local Postgres and broker (figures, not assertions).
//!
//! ```text
//! aggregator-bench stage   --posts 200000      decode → store → graph/engine, fed in-process
//! aggregator-bench broker  --posts 200000      plain consume rate vs the aggregator's, same messages
//! aggregator-bench latency --rate 2000 --seconds 30   ingest → queryable, p50/p99
//! aggregator-bench query   --posts 1000000     ListCommunities p50/p99 on a big database
//! ```
//! Each run uses a fresh database `murmur_bench_<time>` (dropped at the end unless `--keep`).

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use metrics_aggregator::engine::Engine;
use metrics_aggregator::metrics::AggregatorMetrics;
use metrics_aggregator::pipeline::{AggregatorHandler, AlertSink, PartitionClock};
use metrics_aggregator::store::Store;
use metrics_aggregator::synthetic::SyntheticStream;
use metrics_aggregator::{Application, Config};
use murmur_common::config::KafkaArgs;
use murmur_common::kafka::admin::ensure_topics;
use murmur_common::kafka::client_config;
use murmur_common::kafka::producer::EventProducer;
use murmur_common::Shutdown;
use murmur_proto::api::v1::insights_service_client::InsightsServiceClient;
use murmur_proto::api::v1::ListCommunitiesRequest;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use sqlx::{Connection, PgConnection, Row};

#[derive(Debug, Parser)]
#[command(name = "aggregator-bench", about = "Benchmarks of the metrics-aggregator (figures, not assertions)")]
struct Cli {
    /// Postgres server (the bench creates its own database there).
    #[arg(long, env = "MURMUR_BENCH_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// Kafka brokers.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,
    /// Keep the bench database.
    #[arg(long)]
    keep: bool,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// The aggregator's stage fed in-process: decode, store (bulk upsert), engine.
    Stage {
        #[arg(long, default_value_t = 200_000)]
        posts: usize,
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
    },
    /// The same messages consumed by a plain consumer, then by the aggregator, then by a plain
    /// consumer again; the aggregator's rate is compared with the mean of the two plain rates.
    Broker {
        #[arg(long, default_value_t = 200_000)]
        posts: usize,
    },
    /// Posts produced at a fixed rate with `observed_at = now`; latency until a client sees them.
    Latency {
        #[arg(long, default_value_t = 2_000)]
        rate: u64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// ListCommunities latency on a database holding many posts.
    Query {
        #[arg(long, default_value_t = 1_000_000)]
        posts: usize,
        #[arg(long, default_value_t = 1_000)]
        calls: usize,
    },
}

fn kafka_args(brokers: &str) -> KafkaArgs {
    KafkaArgs {
        kafka_brokers: brokers.to_string(),
        kafka_compression: "lz4".into(),
        kafka_linger_ms: 5,
        kafka_batch_bytes: 1_000_000,
        kafka_delivery_timeout_ms: 30_000,
        kafka_options: Vec::new(),
    }
}

fn stream() -> SyntheticStream {
    SyntheticStream { communities: 400, community_size: 60, start_ms: 1_750_000_000_000, spacing_ms: 50, seed: 42 }
}

fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

async fn fresh_database(server: &str) -> anyhow::Result<(String, String)> {
    let name = format!("murmur_bench_{}", chrono::Utc::now().format("%Y%m%d%H%M%S%f"));
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    Ok((name.clone(), format!("{server}/{name}")))
}

async fn drop_database(server: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
    Ok(())
}

async fn handler(
    url: &str,
    brokers: &str,
) -> anyhow::Result<(AggregatorHandler, prometheus_client::registry::Registry)> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(url).await?;
    metrics_aggregator::migrate(&pool).await?;
    let store = Store::new(pool);
    let mut registry = prometheus_client::registry::Registry::default();
    let producer = EventProducer::new(&kafka_args(brokers), None)?;
    let topic = format!("bench.alerts.{}", chrono::Utc::now().timestamp_millis());
    ensure_topics(&client_config(&kafka_args(brokers)), &[topic.as_str()], 1, 1).await?;
    let (hub, _) = tokio::sync::broadcast::channel(16);
    let metrics = AggregatorMetrics::register(&mut registry);
    let (handler, worker) = AggregatorHandler::new(
        Engine::new(metrics_aggregator::engine::EngineConfig::default()),
        store,
        AlertSink { producer, topic, hub },
        metrics,
        Duration::from_secs(3600),
        PartitionClock::new(Vec::new(), Duration::from_secs(1)),
    );
    tokio::spawn(worker.run(tokio_util::sync::CancellationToken::new()));
    Ok((handler, registry))
}

/// Sum of each duration histogram: where the time went.
fn time_breakdown(registry: &prometheus_client::registry::Registry) -> String {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
        return String::new();
    }
    text.lines()
        .filter(|line| line.contains("duration_seconds_sum") || line.contains("detection_runs_total"))
        .map(|line| line.replace("murmur_aggregator_", ""))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn produce(brokers: &str, topic: &str, posts: &[Vec<u8>]) -> anyhow::Result<Duration> {
    let producer: FutureProducer = client_config(&kafka_args(brokers)).create()?;
    let started = Instant::now();
    for chunk in posts.chunks(5_000) {
        let sends = chunk.iter().enumerate().map(|(index, payload)| {
            let key = format!("reddit:niche{}", index % 64);
            let producer = producer.clone();
            async move {
                producer
                    .send(FutureRecord::to(topic).key(&key).payload(payload), Duration::from_secs(30))
                    .await
                    .map_err(|(error, _)| anyhow::anyhow!("produce failed: {error}"))
            }
        });
        for outcome in futures::future::join_all(sends).await {
            outcome?;
        }
    }
    Ok(started.elapsed())
}

fn plain_consume(brokers: &str, topic: &str, expected: usize) -> anyhow::Result<Duration> {
    let mut config: ClientConfig = client_config(&kafka_args(brokers));
    config
        .set("group.id", format!("bench-plain-{}", chrono::Utc::now().timestamp_millis()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create()?;
    consumer.subscribe(&[topic])?;
    let mut seen = 0;
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen < expected && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            message?;
            started.get_or_insert_with(Instant::now);
            seen += 1;
        }
    }
    anyhow::ensure!(seen == expected, "plain consumer saw {seen} of {expected}");
    Ok(started.map(|started| started.elapsed()).unwrap_or_default())
}

async fn count_posts(url: &str) -> anyhow::Result<i64> {
    let mut connection = PgConnection::connect(url).await?;
    Ok(sqlx::query("SELECT count(*) AS n FROM posts").fetch_one(&mut connection).await?.get("n"))
}

/// Waits until `expected` posts are stored, polling every 100 ms on one connection and counting only
/// the rows stored since the last poll (through the `seq` index). Reconnecting and counting the whole
/// table at every poll cost Postgres 20–45 ms a poll on 200k posts, CPU taken from the run it measures.
/// The aggregator stores its batches one after the other, so `seq` grows in commit order and nothing
/// is missed; the exact count is checked once at the end.
async fn wait_for_posts(url: &str, expected: i64, timeout: Duration) -> anyhow::Result<()> {
    let mut connection = PgConnection::connect(url).await?;
    // Through the `seq` index: the planner would otherwise scan the whole growing table at each
    // poll (3.5-8 ms of Postgres CPU a poll on 100k posts, seen with auto_explain).
    sqlx::query("SET enable_seqscan = off").execute(&mut connection).await?;
    let started = Instant::now();
    let (mut counted, mut last_seq) = (0i64, 0i64);
    while counted < expected {
        anyhow::ensure!(started.elapsed() < timeout, "the aggregator did not finish: {counted} of {expected} posts");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let row = sqlx::query("SELECT count(*) AS n, max(seq) AS last FROM posts WHERE seq > $1")
            .bind(last_seq)
            .fetch_one(&mut connection)
            .await?;
        counted += row.get::<i64, _>("n");
        last_seq = row.get::<Option<i64>, _>("last").unwrap_or(last_seq);
    }
    let stored = count_posts(url).await?;
    anyhow::ensure!(stored == expected, "{stored} posts stored, {expected} expected");
    Ok(())
}

fn aggregator_config(url: &str, brokers: &str, topic: &str) -> Config {
    Config::parse_from([
        "metrics-aggregator",
        "--grpc-addr=127.0.0.1:0",
        "--admin-addr=127.0.0.1:0",
        &format!("--kafka-brokers={brokers}"),
        &format!("--input-topic={topic}"),
        &format!("--kafka-group-id=bench-{topic}"),
        &format!("--database-url={url}"),
        "--log-format=text",
        "--batch-size=2000",
    ])
}

/// The service's allocator (see `main.rs`), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Warnings and errors of the aggregator on stderr (RUST_LOG overrides).
    let telemetry = murmur_common::config::TelemetryArgs {
        log_format: murmur_common::config::LogFormat::Text,
        log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string()),
    };
    let _telemetry = murmur_common::telemetry::init("aggregator-bench", &telemetry)?;
    let (name, url) = fresh_database(&cli.postgres).await?;
    println!("database {name}");
    let outcome = run(&cli, &url).await;
    if !cli.keep {
        drop_database(&cli.postgres, &name).await?;
    }
    outcome
}

async fn run(cli: &Cli, url: &str) -> anyhow::Result<()> {
    match &cli.mode {
        Mode::Stage { posts, batch } => {
            let (handler, registry) = handler(url, &cli.brokers).await?;
            let encoded: Vec<Vec<u8>> = stream().posts(0, *posts).iter().map(|post| post.encode_to_vec()).collect();
            let started = Instant::now();
            let mut stored = 0;
            for (index, chunk) in encoded.chunks(*batch).enumerate() {
                let decoded: Vec<(i32, murmur_proto::events::v1::ScoredPost)> = chunk
                    .iter()
                    .map(|bytes| murmur_proto::events::v1::ScoredPost::decode(bytes.as_slice()).map(|post| (0, post)))
                    .collect::<Result<_, _>>()?;
                stored += handler.process(decoded).await.map_err(|error| anyhow::anyhow!("{error}"))?;
                if index.is_multiple_of(20) {
                    eprintln!("  {stored} posts, {:.0} posts/s", stored as f64 / started.elapsed().as_secs_f64());
                }
            }
            // The engine's queue drained and its results persisted, inside the timing.
            handler.checkpoint().await.map_err(|error| anyhow::anyhow!("{error}"))?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "stage: {stored} scored posts in {seconds:.2} s = {:.0} posts/s (batches of {batch}, decode + store + engine, detection runs included)",
                stored as f64 / seconds
            );
            println!("time spent: {}", time_breakdown(&registry));
        }
        Mode::Broker { posts } => {
            let topic = format!("bench.scored.{}", chrono::Utc::now().timestamp_millis());
            ensure_topics(&client_config(&kafka_args(&cli.brokers)), &[topic.as_str()], 3, 1).await?;
            let encoded: Vec<Vec<u8>> = stream().posts(0, *posts).iter().map(|post| post.encode_to_vec()).collect();
            let produced = produce(&cli.brokers, &topic, &encoded).await?;
            println!("produced {posts} in {:.2} s", produced.as_secs_f64());
            let plain = tokio::task::spawn_blocking({
                let (brokers, topic, expected) = (cli.brokers.clone(), topic.clone(), *posts);
                move || plain_consume(&brokers, &topic, expected)
            })
            .await??;
            let plain_rate = *posts as f64 / plain.as_secs_f64();
            println!("plain consumer: {posts} messages in {:.2} s = {plain_rate:.0} msg/s", plain.as_secs_f64());
            let shutdown = Shutdown::new(Duration::from_secs(30));
            let app = Application::build(aggregator_config(url, &cli.brokers, &topic), shutdown.clone()).await?;
            let task = tokio::spawn(app.run_until_stopped());
            let started = Instant::now();
            wait_for_posts(url, *posts as i64, Duration::from_secs(900)).await?;
            let seconds = started.elapsed().as_secs_f64();
            // Sustained rate: first to last store time, as the plain consumer is timed from its first message
            // (start-up and the consumer group join are excluded from both).
            let mut connection = PgConnection::connect(url).await?;
            let span: f64 =
                sqlx::query("SELECT EXTRACT(EPOCH FROM max(stored_at) - min(stored_at))::float8 AS s FROM posts")
                    .fetch_one(&mut connection)
                    .await?
                    .get("s");
            let rate = *posts as f64 / span.max(1e-3);
            shutdown.trigger();
            task.await??;
            // The plain consumer again, after the aggregator: the machine's speed drifts between
            // runs a minute apart, and the mean of a measure before and after cancels a steady drift.
            let plain_after = tokio::task::spawn_blocking({
                let (brokers, topic, expected) = (cli.brokers.clone(), topic.clone(), *posts);
                move || plain_consume(&brokers, &topic, expected)
            })
            .await??;
            let plain_after_rate = *posts as f64 / plain_after.as_secs_f64();
            let plain_mean = (plain_rate + plain_after_rate) / 2.0;
            println!(
                "plain consumer again: {posts} messages in {:.2} s = {plain_after_rate:.0} msg/s",
                plain_after.as_secs_f64()
            );
            println!(
                "aggregator: {posts} posts stored in {span:.2} s from first to last = {rate:.0} posts/s = {:.0}% of the plain consume rate \
                 (mean of before and after; {:.0}% of the first) ({seconds:.1} s including start-up and group join)",
                100.0 * rate / plain_mean,
                100.0 * rate / plain_rate
            );
        }
        Mode::Latency { rate, seconds } => {
            let topic = format!("bench.latency.{}", chrono::Utc::now().timestamp_millis());
            ensure_topics(&client_config(&kafka_args(&cli.brokers)), &[topic.as_str()], 3, 1).await?;
            let shutdown = Shutdown::new(Duration::from_secs(30));
            let app = Application::build(aggregator_config(url, &cli.brokers, &topic), shutdown.clone()).await?;
            let task = tokio::spawn(app.run_until_stopped());
            let producer: FutureProducer = client_config(&kafka_args(&cli.brokers)).create()?;
            let total = rate * seconds;
            let synthetic = stream();
            let poller = tokio::spawn({
                let url = url.to_string();
                async move {
                    let mut connection = PgConnection::connect(&url).await?;
                    let mut latencies = Vec::new();
                    let mut last_seq = 0_i64;
                    while (latencies.len() as u64) < total {
                        let rows = sqlx::query("SELECT seq, observed_at FROM posts WHERE seq > $1 ORDER BY seq")
                            .bind(last_seq)
                            .fetch_all(&mut connection)
                            .await?;
                        let now = chrono::Utc::now();
                        for row in rows {
                            last_seq = last_seq.max(row.get("seq"));
                            let observed: chrono::DateTime<chrono::Utc> = row.get("observed_at");
                            let latency = (now - observed).num_microseconds().unwrap_or_default() as f64 / 1000.0;
                            latencies.push((observed, latency));
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    anyhow::Ok(latencies)
                }
            });
            let started = Instant::now();
            for index in 0..total {
                let due = started + Duration::from_secs_f64(index as f64 / *rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let mut post = synthetic.post(index);
                let now = chrono::Utc::now();
                if let Some(post) = post.post.as_mut() {
                    let stamp =
                        prost_types::Timestamp { seconds: now.timestamp(), nanos: now.timestamp_subsec_nanos() as i32 };
                    post.created_at = Some(stamp);
                    post.observed_at = Some(stamp);
                }
                let payload = post.encode_to_vec();
                let key = format!("reddit:niche{}", index % 64);
                let delivery = producer.send_result(FutureRecord::to(&topic).key(&key).payload(&payload));
                if let Ok(delivery) = delivery {
                    drop(delivery);
                }
            }
            let timed = tokio::time::timeout(Duration::from_secs(120), poller).await???;
            // Over time: the worst latency of the posts produced in each 5 s, to tell a start-up
            // delay (the consumer group joining) from stalls in steady state.
            if let Some(first) = timed.iter().map(|(observed, _)| *observed).min() {
                let mut worst: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
                for (observed, latency) in &timed {
                    let slot = (*observed - first).num_seconds() / 5 * 5;
                    let entry = worst.entry(slot).or_default();
                    *entry = entry.max(*latency);
                }
                let line: Vec<String> = worst.iter().map(|(slot, ms)| format!("{slot}s: {ms:.0}")).collect();
                println!("worst latency (ms) of the posts produced in each 5 s: {}", line.join(", "));
            }
            let mut latencies: Vec<f64> = timed.into_iter().map(|(_, latency)| latency).collect();
            latencies.sort_by(f64::total_cmp);
            println!(
                "latency at {rate} posts/s for {seconds} s ({} posts): ingest → queryable p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                latencies.len(),
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or_default()
            );
            shutdown.trigger();
            task.await??;
        }
        Mode::Query { posts, calls } => {
            let (handler, _registry) = handler(url, &cli.brokers).await?;
            let synthetic = SyntheticStream { spacing_ms: 200, ..stream() };
            let started = Instant::now();
            let mut index = 0_u64;
            while (index as usize) < *posts {
                let chunk = synthetic.posts(index, 5_000.min(*posts - index as usize));
                index += chunk.len() as u64;
                let batch: Vec<(i32, murmur_proto::events::v1::ScoredPost)> =
                    chunk.into_iter().map(|post| (0, post)).collect();
                handler.process(batch).await.map_err(|error| anyhow::anyhow!("{error}"))?;
                if index.is_multiple_of(100_000) {
                    eprintln!("  loaded {index} posts in {:.0} s", started.elapsed().as_secs_f64());
                }
            }
            handler.checkpoint().await.map_err(|error| anyhow::anyhow!("{error}"))?;
            let mut connection = PgConnection::connect(url).await?;
            let communities: i64 =
                sqlx::query("SELECT count(*) AS n FROM communities").fetch_one(&mut connection).await?.get("n");
            println!("loaded {posts} posts, {communities} communities in {:.0} s", started.elapsed().as_secs_f64());
            // Steady state: a freshly loaded table would otherwise be vacuumed by autovacuum during the calls.
            sqlx::query("VACUUM ANALYZE").execute(&mut connection).await?;
            let shutdown = Shutdown::new(Duration::from_secs(30));
            let topic = format!("bench.query.{}", chrono::Utc::now().timestamp_millis());
            ensure_topics(&client_config(&kafka_args(&cli.brokers)), &[topic.as_str()], 1, 1).await?;
            let app = Application::build(aggregator_config(url, &cli.brokers, &topic), shutdown.clone()).await?;
            let address = app.grpc_addr();
            let task = tokio::spawn(app.run_until_stopped());
            let mut client = InsightsServiceClient::connect(format!("http://{address}")).await?;
            let mut timings = Vec::with_capacity(*calls);
            // 50 warm-up calls (connection, prepared statements) are not timed.
            for call in 0..*calls + 50 {
                let request = match call % 3 {
                    0 => ListCommunitiesRequest { page_size: 20, ..Default::default() },
                    1 => ListCommunitiesRequest { page_size: 20, micro_only: true, min_size: 10, ..Default::default() },
                    _ => ListCommunitiesRequest {
                        page_size: 20,
                        channel: format!("niche{}", call % 64),
                        ..Default::default()
                    },
                };
                let started = Instant::now();
                client.list_communities(request).await?;
                if call >= 50 {
                    timings.push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            timings.sort_by(f64::total_cmp);
            println!(
                "ListCommunities over gRPC, {calls} calls (3 filter shapes, page 20): p50 {:.2} ms, p99 {:.2} ms",
                percentile(&timings, 0.5),
                percentile(&timings, 0.99)
            );
            shutdown.trigger();
            task.await??;
        }
    }
    Ok(())
}
