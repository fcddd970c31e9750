//! The ingestor's state in Postgres: watches, their cursors and their polling status.
//! Every write is an upsert so a retried operation changes nothing the second time.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Embedded migrations, run at start-up and by `ingestor migrate` (with `murmur_common::db::migrate`).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// A validated watch to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWatch {
    /// `reddit`, `telegram`, `mastodon`, `bluesky` or `x`.
    pub platform: String,
    /// Subreddit, channel username or hashtag.
    pub target: String,
    /// Mastodon instance host, else empty.
    pub instance: String,
    /// Base poll interval in milliseconds.
    pub poll_interval_ms: i64,
}

/// A stored watch.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WatchRow {
    pub id: i64,
    pub platform: String,
    pub target: String,
    pub instance: String,
    pub poll_interval_ms: i64,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A watch's polling status.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StatusRow {
    pub watch_id: i64,
    pub cursor: Option<String>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub rate_limit_remaining: Option<i64>,
    pub rate_limit_reset_at: Option<DateTime<Utc>>,
    pub posts_published: i64,
    pub errors: i64,
    pub consecutive_failures: i32,
}

/// Data access for watches and cursors.
#[derive(Clone, Debug)]
pub struct WatchStore {
    pool: PgPool,
}

impl WatchStore {
    /// A store over `pool` (migrations must have run).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Creates the watch, or returns the existing one with the same platform/target/instance
    /// (creating twice is not an error: clients retry).
    pub async fn create(&self, watch: &NewWatch) -> Result<WatchRow, sqlx::Error> {
        sqlx::query(
            "insert into watches (platform, target, instance, poll_interval_ms) values ($1, $2, $3, $4)
             on conflict (platform, target, instance) do nothing",
        )
        .bind(&watch.platform)
        .bind(&watch.target)
        .bind(&watch.instance)
        .bind(watch.poll_interval_ms)
        .execute(&self.pool)
        .await?;
        sqlx::query_as::<_, WatchRow>(
            "select id, platform, target, instance, poll_interval_ms, enabled, created_at from watches
             where platform = $1 and target = $2 and instance = $3",
        )
        .bind(&watch.platform)
        .bind(&watch.target)
        .bind(&watch.instance)
        .fetch_one(&self.pool)
        .await
    }

    /// Up to `limit` watches with id greater than `after_id`, in id order (keyset paging),
    /// optionally of one platform.
    pub async fn list(&self, after_id: i64, limit: i64, platform: Option<&str>) -> Result<Vec<WatchRow>, sqlx::Error> {
        sqlx::query_as::<_, WatchRow>(
            "select id, platform, target, instance, poll_interval_ms, enabled, created_at from watches
             where id > $1 and ($3::text is null or platform = $3) order by id limit $2",
        )
        .bind(after_id)
        .bind(limit)
        .bind(platform)
        .fetch_all(&self.pool)
        .await
    }

    /// Deletes a watch and its cursor and status; false when it did not exist.
    pub async fn delete(&self, id: i64) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("delete from watches where id = $1").bind(id).execute(&self.pool).await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// The stored cursor of a watch.
    pub async fn cursor(&self, watch_id: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("select cursor from watch_cursors where watch_id = $1")
            .bind(watch_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Stores a cursor. Call only once the posts it covers are acknowledged by the broker.
    pub async fn save_cursor(&self, watch_id: i64, cursor: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into watch_cursors (watch_id, cursor, updated_at) values ($1, $2, now())
             on conflict (watch_id) do update set cursor = excluded.cursor, updated_at = now()",
        )
        .bind(watch_id)
        .bind(cursor)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Statuses of up to `limit` watches with id greater than `after_id` (watches never polled
    /// have empty statuses).
    pub async fn statuses(&self, after_id: i64, limit: i64) -> Result<Vec<StatusRow>, sqlx::Error> {
        sqlx::query_as::<_, StatusRow>(
            "select w.id as watch_id, c.cursor, s.last_poll_at, s.last_success_at, s.last_error, s.last_error_at,
                    s.next_poll_at, s.rate_limit_remaining, s.rate_limit_reset_at,
                    coalesce(s.posts_published, 0) as posts_published, coalesce(s.errors, 0) as errors,
                    coalesce(s.consecutive_failures, 0) as consecutive_failures
             from watches w
             left join watch_cursors c on c.watch_id = w.id
             left join source_status s on s.watch_id = w.id
             where w.id > $1 order by w.id limit $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }
}

/// What one poll did, for [`WatchStore::record_poll`].
#[derive(Debug, Clone, PartialEq)]
pub struct PollRecord {
    /// The poll fetched and published without error.
    pub succeeded: bool,
    /// The error, when it failed (fully or after some pages).
    pub error: Option<String>,
    /// Posts published by this poll.
    pub posts_published: i64,
    /// When the next poll is planned.
    pub next_poll_at: DateTime<Utc>,
    /// Rate-limit state after the poll.
    pub rate_limit_remaining: Option<i64>,
    /// When the rate-limit window resets.
    pub rate_limit_reset_at: Option<DateTime<Utc>>,
    /// Failures in a row, this one included.
    pub consecutive_failures: i32,
}

impl WatchStore {
    /// Enabled watches, in id order.
    pub async fn enabled(&self) -> Result<Vec<WatchRow>, sqlx::Error> {
        sqlx::query_as::<_, WatchRow>(
            "select id, platform, target, instance, poll_interval_ms, enabled, created_at from watches
             where enabled order by id",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Records a poll in the watch's status (counters accumulate, the rest is replaced).
    pub async fn record_poll(&self, watch_id: i64, poll: &PollRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into source_status (watch_id, last_poll_at, last_success_at, last_error, last_error_at,
                 next_poll_at, rate_limit_remaining, rate_limit_reset_at, posts_published, errors, consecutive_failures)
             values ($1, now(), case when $2 then now() end, $3, case when $3 is not null then now() end,
                 $4, $5, $6, $7, case when $3 is not null then 1 else 0 end, $8)
             on conflict (watch_id) do update set
                 last_poll_at = now(),
                 last_success_at = coalesce(excluded.last_success_at, source_status.last_success_at),
                 last_error = coalesce(excluded.last_error, source_status.last_error),
                 last_error_at = coalesce(excluded.last_error_at, source_status.last_error_at),
                 next_poll_at = excluded.next_poll_at,
                 rate_limit_remaining = excluded.rate_limit_remaining,
                 rate_limit_reset_at = excluded.rate_limit_reset_at,
                 posts_published = source_status.posts_published + excluded.posts_published,
                 errors = source_status.errors + excluded.errors,
                 consecutive_failures = excluded.consecutive_failures",
        )
        .bind(watch_id)
        .bind(poll.succeeded)
        .bind(&poll.error)
        .bind(poll.next_poll_at)
        .bind(poll.rate_limit_remaining)
        .bind(poll.rate_limit_reset_at)
        .bind(poll.posts_published)
        .bind(poll.consecutive_failures)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
