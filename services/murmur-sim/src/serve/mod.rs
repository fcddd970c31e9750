//! `murmur-sim serve`: one local HTTP server standing in for Reddit, Mastodon, Bluesky and the
//! Telegram web preview, releasing a replay stream (JSONL of [`ReplayRecord`]) over wall-clock
//! time in each platform's own response format, so murmur's real connectors poll it.
//!
//! Endpoints (one axum router):
//! - Reddit public listings: `GET /r/<sub>/new.json` (submissions, `t3`) and
//!   `GET /r/<sub>/comments.json` (comments, `t1`), also without `.json` (the OAuth paths);
//!   `limit`, `after`, `before` paging, `X-Ratelimit-*` headers (`reddit.rs`);
//! - Mastodon `GET /api/v1/timelines/tag/<tag>`: `Status` arrays, newest first, `limit`, `max_id`,
//!   `since_id`, `min_id`, `Link` paging and `X-RateLimit-*` headers (`mastodon.rs`);
//! - Bluesky `GET /xrpc/app.bsky.feed.searchPosts`: `PostView`s newest first, `tag`/`q`, `since`,
//!   `until`, `limit`, `cursor` (`bluesky.rs`);
//! - Telegram `GET /s/<channel>`: the `t.me/s` preview HTML, `before`/`after` paging (`telegram.rs`).
//!
//! Release: records are ordered by `created_at`; record `i` becomes visible at
//! `i / n` seconds after the server started (`--speed <n>/s`), at its `created_at` offset from the
//! first record divided by `k` (`--speed <k>x`), or immediately (`--speed max`). Every endpoint
//! shows only released records.

mod bluesky;
mod markup;
mod mastodon;
mod reddit;
mod telegram;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use murmur_connectors::replay::ReplayRecord;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Settings of `murmur-sim serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The stream to serve: a replay JSONL file, one `ReplayRecord` per line, sorted by
    /// `created_at` (as written by `murmur-sim generate`). Malformed lines are skipped and counted.
    #[arg(long, env = "MURMUR_SIM_STREAM")]
    pub stream: PathBuf,
    /// Address to listen on (`host:port`; port 0 picks a free one). Point the ingestor at it with
    /// MURMUR_REDDIT_PUBLIC_URL=http://ADDR, MURMUR_MASTODON_URL_TEMPLATE=http://ADDR,
    /// MURMUR_BLUESKY_URL=http://ADDR/xrpc and MURMUR_TELEGRAM_WEB_URL=http://ADDR.
    #[arg(long, env = "MURMUR_SIM_ADDR", default_value = "127.0.0.1:8089")]
    pub addr: SocketAddr,
    /// How fast records are released: `max` (everything visible at once), `<n>/s` (the first
    /// records at n per second from the server's start, e.g. `20/s`), or `<k>x` (the records' own
    /// `created_at` gaps divided by k, e.g. `3600x` = one hour of stream per second).
    #[arg(long, env = "MURMUR_SIM_SPEED", default_value = "max")]
    pub speed: Speed,
}

/// Release pace of the served stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Everything is visible from the start.
    Max,
    /// The first record at once, then this many records per second.
    PerSecond(f64),
    /// The gaps between the records' `created_at` divided by this factor.
    Scaled(f64),
}

impl FromStr for Speed {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let positive = |number: &str| -> Result<f64, String> {
            match number.trim().parse::<f64>() {
                Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
                _ => Err(format!("speed {text:?}: {number:?} is not a positive number (use max, <n>/s or <k>x)")),
            }
        };
        if text.eq_ignore_ascii_case("max") {
            Ok(Self::Max)
        } else if let Some(rate) = text.strip_suffix("/s") {
            positive(rate).map(Self::PerSecond)
        } else if let Some(factor) = text.strip_suffix('x').or_else(|| text.strip_suffix('X')) {
            positive(factor).map(Self::Scaled)
        } else {
            Err(format!("speed {text:?} is not max, <n>/s or <k>x"))
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Max => f.write_str("max"),
            Self::PerSecond(rate) => write!(f, "{rate}/s"),
            Self::Scaled(factor) => write!(f, "{factor}x"),
        }
    }
}

/// Runs `murmur-sim serve`: loads the stream, binds, logs where to point the ingestor, and serves
/// until Ctrl-C.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let records = load_stream(&args.stream)?;
    let server = PlatformServer::start(records, args.addr, args.speed).await?;
    let addr = server.addr();
    tracing::info!(%addr, speed = %args.speed, "murmur-sim serving {}", args.stream.display());
    tracing::info!(
        "point the ingestor at it: MURMUR_REDDIT_PUBLIC_URL=http://{addr} MURMUR_MASTODON_URL_TEMPLATE=http://{addr} \
         MURMUR_BLUESKY_URL=http://{addr}/xrpc MURMUR_TELEGRAM_WEB_URL=http://{addr}"
    );
    tracing::info!(
        "Mastodon ids carry the host the ingestor requests: to keep the stream's instance names, use \
         MURMUR_MASTODON_URL_TEMPLATE=http://{{instance}} with HTTP_PROXY=http://{addr} (or a DNS alias)"
    );
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    tracing::info!("Ctrl-C: shutting down");
    server.shutdown().await
}

/// Reads a replay JSONL file; a malformed line is logged (file and line) and skipped, and the
/// count of skipped lines is logged at the end.
pub fn load_stream(path: &Path) -> anyhow::Result<Vec<ReplayRecord>> {
    let text = std::fs::read(path).with_context(|| format!("reading the stream {}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let mut records = Vec::new();
    let mut malformed = 0usize;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<ReplayRecord>(line) {
            Ok(record) => records.push(record),
            Err(error) => {
                malformed += 1;
                if malformed <= 20 {
                    tracing::warn!("{}:{}: malformed record skipped: {error}", path.display(), index + 1);
                }
            }
        }
    }
    if malformed > 0 {
        tracing::warn!(malformed, "{}: {malformed} malformed line(s) skipped", path.display());
    }
    tracing::info!(records = records.len(), "{}: loaded", path.display());
    Ok(records)
}

/// A running platform server.
#[derive(Debug)]
pub struct PlatformServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl PlatformServer {
    /// Indexes `records`, binds `addr` (port 0 allowed) and serves in a background task. The
    /// release clock starts now.
    pub async fn start(records: Vec<ReplayRecord>, addr: SocketAddr, speed: Speed) -> anyhow::Result<Self> {
        let catalog = Catalog::build(records, speed);
        catalog.log_summary();
        let shared = Arc::new(Shared { catalog, origin: Instant::now(), fallback_warned: Default::default() });
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let app = router(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, stop, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish and waits for the server task.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("server task panicked")?.context("serving")?;
        Ok(())
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/r/{subreddit}/{listing}", get(reddit::listing))
        .route("/api/v1/timelines/tag/{tag}", get(mastodon::tag_timeline))
        .route("/xrpc/app.bsky.feed.searchPosts", get(bluesky::search_posts))
        .route("/s/{channel}", get(telegram::preview))
        .with_state(shared)
}

/// State shared by the handlers.
pub(crate) struct Shared {
    pub catalog: Catalog,
    pub origin: Instant,
    /// Set once the Mastodon host fallback has been logged.
    pub fallback_warned: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Number of records released so far (a prefix of [`Catalog::entries`]).
    pub fn released(&self) -> usize {
        let elapsed = self.origin.elapsed();
        self.catalog.entries.partition_point(|entry| entry.due <= elapsed)
    }
}

/// One record with its release time.
pub(crate) struct Entry {
    pub record: ReplayRecord,
    pub created: DateTime<Utc>,
    pub due: Duration,
}

/// Reddit items of one subreddit.
#[derive(Default)]
pub(crate) struct Subreddit {
    /// Indices into `entries`, newest first.
    pub submissions: Vec<usize>,
    /// Indices into `entries`, newest first.
    pub comments: Vec<usize>,
}

/// A Mastodon status: its entry, instance host and numeric id.
pub(crate) struct MastodonItem {
    pub entry: usize,
    pub host: String,
    pub id: u64,
}

/// A Telegram channel post: its entry and message number.
pub(crate) struct TelegramItem {
    pub entry: usize,
    pub number: i64,
}

/// Every record, in release order, and per-platform indexes.
#[derive(Default)]
pub(crate) struct Catalog {
    /// In `created_at` order (= release order).
    pub entries: Vec<Entry>,
    /// Full id → entry.
    pub by_id: HashMap<String, usize>,
    /// Lowercased subreddit → items.
    pub reddit: HashMap<String, Subreddit>,
    /// Lowercased tag → statuses, newest id first.
    pub mastodon: HashMap<String, Vec<MastodonItem>>,
    /// Lowercased instance hosts seen in Mastodon ids.
    pub mastodon_hosts: Vec<String>,
    /// Lowercased tag → entries, newest first.
    pub bluesky: HashMap<String, Vec<usize>>,
    /// Lowercased channel → posts, newest first. Channels with only comments are present with no
    /// posts.
    pub telegram: HashMap<String, Vec<TelegramItem>>,
    /// Records not served, by reason.
    pub skipped: HashMap<String, usize>,
}

impl Catalog {
    fn build(records: Vec<ReplayRecord>, speed: Speed) -> Self {
        let mut catalog = Catalog::default();
        let mut dated: Vec<(DateTime<Utc>, ReplayRecord)> = Vec::with_capacity(records.len());
        for mut record in records {
            let platform = record.platform.trim().to_ascii_lowercase();
            let Some(created) = DateTime::parse_from_rfc3339(record.created_at.trim()).ok().map(|at| at.to_utc())
            else {
                catalog.skip("created_at is not RFC 3339");
                continue;
            };
            let prefix = format!("{platform}:");
            if record.id.trim().is_empty() {
                catalog.skip("no id");
                continue;
            }
            if !record.id.starts_with(&prefix) {
                record.id = format!("{prefix}{}", record.id);
            }
            record.platform = platform;
            dated.push((created, record));
        }
        // Stable: records with the same instant keep their file order.
        dated.sort_by_key(|(created, _)| *created);
        let first = dated.first().map(|(created, _)| *created);
        for (index, (created, record)) in dated.into_iter().enumerate() {
            let due = match speed {
                Speed::Max => Duration::ZERO,
                Speed::PerSecond(rate) => Duration::from_secs_f64(index as f64 / rate),
                Speed::Scaled(factor) => {
                    let offset = first.map(|first| created - first).and_then(|gap| gap.to_std().ok());
                    offset.unwrap_or(Duration::ZERO).div_f64(factor)
                }
            };
            catalog.by_id.insert(record.id.clone(), index);
            catalog.entries.push(Entry { record, created, due });
        }
        for index in 0..catalog.entries.len() {
            let platform = catalog.entries[index].record.platform.clone();
            let outcome = match platform.as_str() {
                "reddit" => catalog.index_reddit(index),
                "mastodon" => catalog.index_mastodon(index),
                "bluesky" => catalog.index_bluesky(index),
                "telegram" => catalog.index_telegram(index),
                _ => Err("platform not served"),
            };
            if let Err(reason) = outcome {
                catalog.skip(&format!("{platform}: {reason}"));
            }
        }
        // Newest first; entries are in created order, so a higher index is newer.
        for subreddit in catalog.reddit.values_mut() {
            subreddit.submissions.reverse();
            subreddit.comments.reverse();
        }
        for statuses in catalog.mastodon.values_mut() {
            statuses.sort_by(|a, b| b.id.cmp(&a.id).then(b.entry.cmp(&a.entry)));
        }
        for posts in catalog.bluesky.values_mut() {
            posts.reverse();
        }
        for posts in catalog.telegram.values_mut() {
            posts.sort_by(|a, b| b.number.cmp(&a.number).then(b.entry.cmp(&a.entry)));
            posts.dedup_by_key(|item| item.number);
        }
        catalog
    }

    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_owned()).or_default() += 1;
    }

    fn log_summary(&self) {
        let posts = |map: &HashMap<String, Vec<usize>>| map.values().map(Vec::len).sum::<usize>();
        tracing::info!(
            records = self.entries.len(),
            subreddits = self.reddit.len(),
            reddit = self.reddit.values().map(|s| s.submissions.len() + s.comments.len()).sum::<usize>(),
            mastodon_tags = self.mastodon.len(),
            mastodon = self.mastodon.values().map(Vec::len).sum::<usize>(),
            bluesky_tags = self.bluesky.len(),
            bluesky = posts(&self.bluesky),
            telegram_channels = self.telegram.len(),
            telegram = self.telegram.values().map(Vec::len).sum::<usize>(),
            "stream indexed"
        );
        for (reason, count) in &self.skipped {
            tracing::info!(count, "records not served: {reason}");
        }
    }

    fn index_reddit(&mut self, index: usize) -> Result<(), &'static str> {
        let record = &self.entries[index].record;
        let native = record.id.strip_prefix("reddit:").unwrap_or_default();
        let listing_is_comments = match native.split_once('_') {
            Some(("t3", id)) if reddit::is_base36(id) => false,
            Some(("t1", id)) if reddit::is_base36(id) => true,
            _ => return Err("id is not t3_/t1_ + base36"),
        };
        let subreddit = record.channel.trim().trim_start_matches("/r/").trim_start_matches("r/").to_ascii_lowercase();
        if subreddit.is_empty() {
            return Err("no channel (subreddit)");
        }
        if listing_is_comments && record.parent_id.trim().is_empty() {
            return Err("t1 comment without parent_id");
        }
        let entry = self.reddit.entry(subreddit).or_default();
        if listing_is_comments {
            entry.comments.push(index);
        } else {
            entry.submissions.push(index);
        }
        Ok(())
    }

    fn index_mastodon(&mut self, index: usize) -> Result<(), &'static str> {
        let record = &self.entries[index].record;
        let native = record.id.strip_prefix("mastodon:").unwrap_or_default();
        let (host, id) = native.rsplit_once('/').ok_or("id is not mastodon:<host>/<id>")?;
        let id: u64 = id.parse().map_err(|_| "status id is not numeric")?;
        let host = host.to_ascii_lowercase();
        let tag = match record.channel.rsplit_once('#') {
            Some((_, tag)) => tag,
            None => record.channel.as_str(),
        };
        let tag = tag.trim().to_lowercase();
        if host.is_empty() || tag.is_empty() {
            return Err("no host or no tag channel");
        }
        if !self.mastodon_hosts.contains(&host) {
            self.mastodon_hosts.push(host.clone());
        }
        self.mastodon.entry(tag).or_default().push(MastodonItem { entry: index, host, id });
        Ok(())
    }

    fn index_bluesky(&mut self, index: usize) -> Result<(), &'static str> {
        let record = &self.entries[index].record;
        if !record.id.starts_with("bluesky:at://") {
            return Err("id is not bluesky:at://…");
        }
        let tag = record.channel.trim().trim_start_matches('#').to_lowercase();
        if tag.is_empty() {
            return Err("no #tag channel");
        }
        self.bluesky.entry(tag).or_default().push(index);
        Ok(())
    }

    fn index_telegram(&mut self, index: usize) -> Result<(), &'static str> {
        let record = &self.entries[index].record;
        let native = record.id.strip_prefix("telegram:").unwrap_or_default();
        let (chat, number) = native.rsplit_once('/').ok_or("id is not telegram:<channel>/<n>")?;
        let number: i64 = number.parse().map_err(|_| "message number is not numeric")?;
        let chat = chat.to_ascii_lowercase();
        let has_parent = !record.parent_id.trim().is_empty();
        let channel = record.channel.trim().trim_start_matches('@').to_ascii_lowercase();
        // A channel whose only records are comments still exists (its page is empty).
        let posts = self.telegram.entry(if has_parent { channel } else { chat }).or_default();
        if has_parent {
            return Err("comment (not shown on t.me/s)");
        }
        posts.push(TelegramItem { entry: index, number });
        Ok(())
    }

    /// The root of a record: its `root_id`, else its parent's root, else its parent.
    pub fn root_of(&self, record: &ReplayRecord) -> String {
        if !record.root_id.trim().is_empty() {
            return record.root_id.clone();
        }
        let mut parent = record.parent_id.clone();
        for _ in 0..64 {
            let Some(entry) = self.by_id.get(&parent).map(|&index| &self.entries[index].record) else { break };
            if !entry.root_id.trim().is_empty() {
                return entry.root_id.clone();
            }
            if entry.parent_id.trim().is_empty() {
                return entry.id.clone();
            }
            parent = entry.parent_id.clone();
        }
        parent
    }
}

/// Reads a query parameter as a number.
pub(crate) fn query_number<T: FromStr>(query: &HashMap<String, String>, name: &str) -> Option<T> {
    query.get(name).and_then(|value| value.trim().parse().ok())
}

/// A JSON answer.
pub(crate) fn json_response(status: axum::http::StatusCode, body: &serde_json::Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    let content_type = [(axum::http::header::CONTENT_TYPE, "application/json; charset=utf-8")];
    (status, content_type, body.to_string()).into_response()
}

/// A stable 64-bit FNV-1a hash (fake account ids, CIDs).
pub(crate) fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_grammar() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("20/s".parse::<Speed>(), Ok(Speed::PerSecond(20.0)));
        assert_eq!("0.5/s".parse::<Speed>(), Ok(Speed::PerSecond(0.5)));
        assert_eq!("3600x".parse::<Speed>(), Ok(Speed::Scaled(3600.0)));
        for bad in ["", "fast", "0/s", "-2x", "x", "nan/s", "inf/s", "10"] {
            assert!(bad.parse::<Speed>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(Speed::PerSecond(2.5).to_string(), "2.5/s");
    }

    fn record(id: &str, created_at: &str) -> ReplayRecord {
        ReplayRecord {
            id: id.into(),
            platform: "reddit".into(),
            channel: "rust".into(),
            created_at: created_at.into(),
            ..ReplayRecord::default()
        }
    }

    #[test]
    fn release_schedules() {
        let records = vec![
            record("t3_b", "2026-01-01T00:01:00Z"),
            record("t3_a", "2026-01-01T00:00:00Z"),
            record("t3_c", "2026-01-01T00:03:00Z"),
            record("t3_d", "not a time"),
        ];
        let scaled = Catalog::build(records.clone(), Speed::Scaled(60.0));
        let dues: Vec<Duration> = scaled.entries.iter().map(|entry| entry.due).collect();
        assert_eq!(dues, vec![Duration::ZERO, Duration::from_secs(1), Duration::from_secs(3)]);
        assert_eq!(scaled.entries[0].record.id, "reddit:t3_a");
        assert_eq!(scaled.skipped.get("created_at is not RFC 3339"), Some(&1));
        let paced = Catalog::build(records.clone(), Speed::PerSecond(4.0));
        let dues: Vec<Duration> = paced.entries.iter().map(|entry| entry.due).collect();
        assert_eq!(dues, vec![Duration::ZERO, Duration::from_millis(250), Duration::from_millis(500)]);
        let max = Catalog::build(records, Speed::Max);
        assert!(max.entries.iter().all(|entry| entry.due.is_zero()));
        assert_eq!(max.reddit["rust"].submissions.len(), 3);
    }
}
