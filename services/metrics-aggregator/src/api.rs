//! `InsightsService`: the query API over what the aggregator stored.
//!
//! Lists are paged the AIP-158 way: `page_size` (0 = default, capped at the configured maximum,
//! negative is an error) and an opaque `next_page_token` that is only valid with the same
//! filters. Communities are ordered by emergence score (keyset pagination, stable under inserts).

use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures::Stream;
use murmur_proto::api::v1::insights_service_server::InsightsService;
use murmur_proto::api::v1::{
    AlertFilter, ChannelMetrics, Community, GetCommunityRequest, GetTermTrendRequest, ListAlertsRequest,
    ListAlertsResponse, ListChannelMetricsRequest, ListChannelMetricsResponse, ListCommunitiesRequest,
    ListCommunitiesResponse, ListCommunityMembersRequest, ListCommunityMembersResponse, ListCommunityMetricsRequest,
    ListCommunityMetricsResponse, ListSignalsRequest, ListSignalsResponse, Member, Metrics, Role, Signal,
    StreamAlertsRequest, TermBucket, TermTrend, ThemeTerm,
};
use murmur_proto::events::v1::{Alert, LifecycleStatus, Platform, WeakSignal};
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::convert::{self, timestamp};
use crate::pipeline::AlertHub;
use crate::store::{decode_alert_rows, to_ms, to_time};

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Key members shown with a community.
const KEY_MEMBERS: i64 = 5;

/// The InsightsService implementation.
#[derive(Clone)]
pub struct InsightsApi {
    pool: PgPool,
    hub: AlertHub,
    max_page_size: i64,
    stop: CancellationToken,
}

fn internal(error: sqlx::Error) -> Status {
    tracing::error!(error = %error, "insights query failed");
    Status::internal("the insights store failed; see the aggregator's logs")
}

/// Paged list requests: `page_size` and `page_token` are paging, every other field is a filter.
trait PagedRequest: Message + Clone {
    fn clear_paging(&mut self);
}

macro_rules! paged_requests {
    ($($request:ty),*) => {
        $(impl PagedRequest for $request {
            fn clear_paging(&mut self) {
                self.page_size = 0;
                self.page_token.clear();
            }
        })*
    };
}

paged_requests!(
    ListCommunitiesRequest,
    ListCommunityMembersRequest,
    ListSignalsRequest,
    ListChannelMetricsRequest,
    ListAlertsRequest
);

/// A fingerprint of a request's filters (the request with its paging fields cleared).
fn filter_hash<M: PagedRequest>(request: &M) -> String {
    let mut filters = request.clone();
    filters.clear_paging();
    let digest = Sha256::digest(filters.encode_to_vec());
    digest.iter().take(6).map(|byte| format!("{byte:02x}")).collect()
}

/// The next page's token of an offset-paged list (empty on the last page).
fn next_offset_token(has_more: bool, hash: &str, offset: i64, page_size: i64) -> String {
    if has_more {
        encode_token(hash, &(offset + page_size).to_string())
    } else {
        String::new()
    }
}

/// Opaque page token: hex of `hash|cursor`.
fn encode_token(hash: &str, cursor: &str) -> String {
    format!("{hash}|{cursor}").bytes().map(|byte| format!("{byte:02x}")).collect()
}

fn decode_token(token: &str, hash: &str) -> Result<Option<String>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || Status::invalid_argument("page_token is not valid for this request (filters changed?)");
    if !token.len().is_multiple_of(2) || token.len() > 512 {
        return Err(invalid());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&token[index..index + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (token_hash, cursor) = text.split_once('|').ok_or_else(invalid)?;
    if token_hash != hash {
        return Err(invalid());
    }
    Ok(Some(cursor.to_string()))
}

fn offset_cursor(cursor: Option<String>) -> Result<i64, Status> {
    match cursor {
        None => Ok(0),
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|offset| *offset >= 0)
            .ok_or_else(|| Status::invalid_argument("page_token is not valid")),
    }
}

fn parse_community_name(name: &str, field: &str) -> Result<i64, Status> {
    name.strip_prefix("communities/")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| Status::invalid_argument(format!("{field} must look like `communities/42`, got `{name}`")))
}

fn time_range(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Status> {
    let start = start.map(convert::timestamp_ms).unwrap_or(i64::MIN / 4);
    let end = end.map(convert::timestamp_ms).unwrap_or(i64::MAX / 4);
    if start > end {
        return Err(Status::invalid_argument("start_time is after end_time"));
    }
    Ok((to_time(start.max(-62_135_596_800_000)), to_time(end.min(253_402_300_799_000))))
}

const METRICS_COLUMNS: &str = "m.window_start AS m_window_start, m.window_end AS m_window_end, m.size AS m_size,
    m.active_members, m.posts, m.active_participation_rate, m.engagement_rate AS m_engagement_rate,
    m.member_to_member_ratio, m.reciprocity, m.density, m.thread_depth_mean, m.thread_depth_p90, m.retention,
    m.growth, m.new_member_rate, m.organic_growth, m.ugc_ratio, m.sentiment_mean, m.sentiment_positive_share,
    m.sentiment_negative_share, m.sentiment_trend, m.time_to_sentiment_seconds,
    m.emergence_score AS m_emergence_score";

fn metrics_from_row(row: &PgRow) -> Result<Option<Metrics>, sqlx::Error> {
    let Some(window_start) = row.try_get::<Option<DateTime<Utc>>, _>("m_window_start")? else { return Ok(None) };
    let window_end: DateTime<Utc> = row.try_get("m_window_end")?;
    Ok(Some(Metrics {
        window_start: Some(timestamp(to_ms(window_start))),
        window_end: Some(timestamp(to_ms(window_end))),
        size: row.try_get("m_size")?,
        active_members: row.try_get("active_members")?,
        posts: row.try_get("posts")?,
        active_participation_rate: row.try_get("active_participation_rate")?,
        engagement_rate: row.try_get("m_engagement_rate")?,
        member_to_member_ratio: row.try_get("member_to_member_ratio")?,
        reciprocity: row.try_get("reciprocity")?,
        density: row.try_get("density")?,
        thread_depth_mean: row.try_get("thread_depth_mean")?,
        thread_depth_p90: row.try_get("thread_depth_p90")?,
        retention: row.try_get("retention")?,
        growth: row.try_get("growth")?,
        new_member_rate: row.try_get("new_member_rate")?,
        organic_growth: row.try_get("organic_growth")?,
        ugc_ratio: row.try_get("ugc_ratio")?,
        sentiment_mean: row.try_get("sentiment_mean")?,
        sentiment_positive_share: row.try_get("sentiment_positive_share")?,
        sentiment_negative_share: row.try_get("sentiment_negative_share")?,
        sentiment_trend: row.try_get("sentiment_trend")?,
        time_to_sentiment_seconds: row.try_get("time_to_sentiment_seconds")?,
        emergence_score: row.try_get("m_emergence_score")?,
    }))
}

fn member_from_row(row: &PgRow) -> Result<Member, sqlx::Error> {
    let roles: Vec<i16> = row.try_get("roles")?;
    let first_seen: Option<DateTime<Utc>> = row.try_get("first_seen")?;
    let mut roles: Vec<i32> = roles.into_iter().map(i32::from).collect();
    if roles.is_empty() {
        roles.push(Role::Member as i32);
    }
    Ok(Member {
        actor_id: row.try_get("actor_id")?,
        roles,
        posts: row.try_get("posts")?,
        in_degree: row.try_get("in_degree")?,
        first_seen: first_seen.map(|time| timestamp(to_ms(time))),
    })
}

const COMMUNITY_SELECT: &str = "SELECT c.id, c.status, c.first_seen, c.last_seen, c.is_micro, c.emergence_score,
    c.platforms, c.channels, c.themes, c.theme_weights, {METRICS}
    FROM communities c
    LEFT JOIN window_metrics m ON m.scope = 'c' AND m.key = c.id::text AND m.window_start = c.window_start";

fn community_from_row(row: &PgRow) -> Result<Community, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let status: i16 = row.try_get("status")?;
    let first_seen: DateTime<Utc> = row.try_get("first_seen")?;
    let last_seen: DateTime<Utc> = row.try_get("last_seen")?;
    let platforms: Vec<i16> = row.try_get("platforms")?;
    let themes: Vec<String> = row.try_get("themes")?;
    let weights: Vec<f64> = row.try_get("theme_weights")?;
    Ok(Community {
        name: format!("communities/{id}"),
        status: i32::from(status),
        first_seen: Some(timestamp(to_ms(first_seen))),
        last_seen: Some(timestamp(to_ms(last_seen))),
        metrics: metrics_from_row(row)?,
        themes: themes.into_iter().zip(weights).map(|(term, weight)| ThemeTerm { term, weight }).collect(),
        platforms: platforms.into_iter().map(i32::from).collect(),
        channels: row.try_get("channels")?,
        key_members: Vec::new(),
        is_micro: row.try_get("is_micro")?,
    })
}

impl InsightsApi {
    /// The API over `pool`, streaming live alerts from `hub`; open streams end when `stop` fires
    /// (so a graceful shutdown does not wait for subscribers).
    pub fn new(pool: PgPool, hub: AlertHub, max_page_size: u32, stop: CancellationToken) -> InsightsApi {
        InsightsApi { pool, hub, max_page_size: i64::from(max_page_size.max(1)), stop }
    }

    fn page_size(&self, requested: i32) -> Result<i64, Status> {
        match requested {
            size if size < 0 => Err(Status::invalid_argument("page_size must not be negative")),
            0 => Ok(DEFAULT_PAGE_SIZE.min(self.max_page_size)),
            size => Ok(i64::from(size).min(self.max_page_size)),
        }
    }

    async fn attach_key_members(&self, communities: &mut [Community], limit: i64) -> Result<(), sqlx::Error> {
        let ids: Vec<i64> = communities
            .iter()
            .filter_map(|community| community.name.strip_prefix("communities/")?.parse().ok())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let rows = sqlx::query(
            "SELECT community_id, actor_id, roles, posts, in_degree, first_seen FROM (
                 SELECT cm.*, row_number() OVER (PARTITION BY community_id
                     ORDER BY cardinality(roles) DESC, in_degree DESC, posts DESC, actor_id) AS rank
                 FROM community_members cm WHERE community_id = ANY($1)) ranked
             WHERE rank <= $2 ORDER BY community_id, rank",
        )
        .bind(&ids)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let community_id: i64 = row.try_get("community_id")?;
            let name = format!("communities/{community_id}");
            if let Some(community) = communities.iter_mut().find(|community| community.name == name) {
                community.key_members.push(member_from_row(&row)?);
            }
        }
        Ok(())
    }
}

/// Validates an alert filter's enums.
fn check_alert_filter(filter: &AlertFilter) -> Result<(), Status> {
    for kind in &filter.kinds {
        if murmur_proto::events::v1::AlertKind::try_from(*kind).is_err() {
            return Err(Status::invalid_argument(format!("unknown alert kind {kind}")));
        }
    }
    if Platform::try_from(filter.platform).is_err() {
        return Err(Status::invalid_argument(format!("unknown platform {}", filter.platform)));
    }
    Ok(())
}

/// Whether an alert passes a filter (the same test as the SQL of ListAlerts).
pub fn alert_matches(alert: &Alert, filter: &AlertFilter) -> bool {
    (filter.kinds.is_empty() || filter.kinds.contains(&alert.kind))
        && (filter.subject.is_empty() || alert.subject == filter.subject)
        && (filter.platform == 0 || alert.platforms.contains(&filter.platform))
        && (filter.channel.is_empty() || alert.channels.contains(&filter.channel))
}

const ALERT_FILTER_SQL: &str = "(cardinality($1::int2[]) = 0 OR kind = ANY($1))
    AND ($2 = '' OR subject = $2) AND ($3 = 0 OR $3 = ANY(platforms)) AND ($4 = '' OR $4 = ANY(channels))";

type AlertStream = Pin<Box<dyn Stream<Item = Result<Alert, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl InsightsService for InsightsApi {
    async fn list_communities(
        &self,
        request: Request<ListCommunitiesRequest>,
    ) -> Result<Response<ListCommunitiesResponse>, Status> {
        let request = request.into_inner();
        let page_size = self.page_size(request.page_size)?;
        if request.min_size < 0 || request.max_size < 0 || (request.max_size > 0 && request.max_size < request.min_size)
        {
            return Err(Status::invalid_argument(
                "min_size and max_size must be non-negative and min_size <= max_size",
            ));
        }
        if Platform::try_from(request.platform).is_err() {
            return Err(Status::invalid_argument(format!("unknown platform {}", request.platform)));
        }
        let mut statuses: Vec<i16> = Vec::new();
        for status in &request.statuses {
            LifecycleStatus::try_from(*status)
                .map_err(|_| Status::invalid_argument(format!("unknown lifecycle status {status}")))?;
            statuses.push(*status as i16);
        }
        if !request.min_engagement_rate.is_finite() {
            return Err(Status::invalid_argument("min_engagement_rate must be a number"));
        }
        let hash = filter_hash(&request);
        let cursor = decode_token(&request.page_token, &hash)?;
        let (after_score, after_id) = match cursor {
            None => (f64::INFINITY, 0_i64),
            Some(cursor) => {
                let (score, id) = cursor.split_once(',').ok_or_else(|| Status::invalid_argument("bad page_token"))?;
                let score = f64::from_bits(
                    u64::from_str_radix(score, 16).map_err(|_| Status::invalid_argument("bad page_token"))?,
                );
                (score, id.parse().map_err(|_| Status::invalid_argument("bad page_token"))?)
            }
        };
        let theme = request.theme_term.trim().trim_start_matches('#').to_lowercase();
        let sql = format!(
            "{} WHERE ($1 = 0 OR $1::int2 = ANY(c.platforms)) AND ($2 = '' OR $2 = ANY(c.channels))
               AND ($3 = '' OR $3 = ANY(c.themes)) AND c.size >= $4 AND ($5 = 0 OR c.size <= $5)
               AND (CASE WHEN cardinality($6::int2[]) = 0 THEN c.status <> {} ELSE c.status = ANY($6) END)
               AND c.engagement_rate >= $7 AND (NOT $8 OR c.is_micro)
               AND (c.emergence_score < $9 OR (c.emergence_score = $9 AND c.id > $10))
             ORDER BY c.emergence_score DESC, c.id LIMIT $11",
            COMMUNITY_SELECT.replace("{METRICS}", METRICS_COLUMNS),
            LifecycleStatus::Dissolved as i32
        );
        let rows = sqlx::query(&sql)
            .bind(request.platform)
            .bind(&request.channel)
            .bind(&theme)
            .bind(request.min_size)
            .bind(request.max_size)
            .bind(&statuses)
            .bind(request.min_engagement_rate)
            .bind(request.micro_only)
            .bind(after_score)
            .bind(after_id)
            .bind(page_size + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
        let has_more = rows.len() as i64 > page_size;
        let mut communities = Vec::new();
        let mut last = None;
        for row in rows.iter().take(page_size as usize) {
            communities.push(community_from_row(row).map_err(internal)?);
            let score: f64 = row.try_get("emergence_score").map_err(internal)?;
            let id: i64 = row.try_get("id").map_err(internal)?;
            last = Some((score, id));
        }
        self.attach_key_members(&mut communities, KEY_MEMBERS).await.map_err(internal)?;
        let next_page_token = match (has_more, last) {
            (true, Some((score, id))) => encode_token(&hash, &format!("{:x},{id}", score.to_bits())),
            _ => String::new(),
        };
        Ok(Response::new(ListCommunitiesResponse { communities, next_page_token }))
    }

    async fn get_community(&self, request: Request<GetCommunityRequest>) -> Result<Response<Community>, Status> {
        let id = parse_community_name(&request.get_ref().name, "name")?;
        let sql = format!("{} WHERE c.id = $1", COMMUNITY_SELECT.replace("{METRICS}", METRICS_COLUMNS));
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(internal)?;
        let row = row.ok_or_else(|| Status::not_found(format!("communities/{id} does not exist")))?;
        let mut community = [community_from_row(&row).map_err(internal)?];
        self.attach_key_members(&mut community, 2 * KEY_MEMBERS).await.map_err(internal)?;
        let [community] = community;
        Ok(Response::new(community))
    }

    async fn list_community_members(
        &self,
        request: Request<ListCommunityMembersRequest>,
    ) -> Result<Response<ListCommunityMembersResponse>, Status> {
        let request = request.into_inner();
        let id = parse_community_name(&request.parent, "parent")?;
        let page_size = self.page_size(request.page_size)?;
        if Role::try_from(request.role).is_err() {
            return Err(Status::invalid_argument(format!("unknown role {}", request.role)));
        }
        let hash = filter_hash(&request);
        let offset = offset_cursor(decode_token(&request.page_token, &hash)?)?;
        let exists = sqlx::query("SELECT 1 FROM communities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        if exists.is_none() {
            return Err(Status::not_found(format!("communities/{id} does not exist")));
        }
        let role_filter = match Role::try_from(request.role).unwrap_or(Role::Unspecified) {
            Role::Unspecified => "TRUE".to_string(),
            Role::Member => "cardinality(roles) = 0".to_string(),
            role => format!("{} = ANY(roles)", role as i32),
        };
        let rows = sqlx::query(&format!(
            "SELECT actor_id, roles, posts, in_degree, first_seen FROM community_members
             WHERE community_id = $1 AND {role_filter}
             ORDER BY cardinality(roles) DESC, in_degree DESC, posts DESC, actor_id OFFSET $2 LIMIT $3"
        ))
        .bind(id)
        .bind(offset)
        .bind(page_size + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let has_more = rows.len() as i64 > page_size;
        let members =
            rows.iter().take(page_size as usize).map(member_from_row).collect::<Result<_, _>>().map_err(internal)?;
        let next_page_token = next_offset_token(has_more, &hash, offset, page_size);
        Ok(Response::new(ListCommunityMembersResponse { members, next_page_token }))
    }

    async fn list_community_metrics(
        &self,
        request: Request<ListCommunityMetricsRequest>,
    ) -> Result<Response<ListCommunityMetricsResponse>, Status> {
        let request = request.into_inner();
        let id = parse_community_name(&request.name, "name")?;
        let (start, end) = time_range(request.start_time.as_ref(), request.end_time.as_ref())?;
        let rows = sqlx::query(&format!(
            "SELECT {METRICS_COLUMNS} FROM window_metrics m
             WHERE m.scope = 'c' AND m.key = $1 AND m.window_start >= $2 AND m.window_start <= $3
             ORDER BY m.window_start LIMIT $4"
        ))
        .bind(id.to_string())
        .bind(start)
        .bind(end)
        .bind(self.max_page_size * 20)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let points = rows
            .iter()
            .map(metrics_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?
            .into_iter()
            .flatten()
            .collect();
        Ok(Response::new(ListCommunityMetricsResponse { points }))
    }

    async fn list_signals(
        &self,
        request: Request<ListSignalsRequest>,
    ) -> Result<Response<ListSignalsResponse>, Status> {
        let request = request.into_inner();
        let page_size = self.page_size(request.page_size)?;
        let (start, end) = time_range(request.start_time.as_ref(), request.end_time.as_ref())?;
        let mut classes: Vec<i16> = Vec::new();
        for class in &request.classes {
            murmur_proto::events::v1::SignalClass::try_from(*class)
                .map_err(|_| Status::invalid_argument(format!("unknown signal class {class}")))?;
            classes.push(*class as i16);
        }
        let hash = filter_hash(&request);
        let offset = offset_cursor(decode_token(&request.page_token, &hash)?)?;
        let rows = sqlx::query(
            "SELECT bucket_start, bucket_end, detail FROM signals
             WHERE bucket_start >= $1 AND bucket_start <= $2 AND (cardinality($3::int2[]) = 0 OR class = ANY($3))
               AND ($4 = '' OR language = $4)
             ORDER BY bucket_start DESC, significance DESC, term OFFSET $5 LIMIT $6",
        )
        .bind(start)
        .bind(end)
        .bind(&classes)
        .bind(&request.language)
        .bind(offset)
        .bind(page_size + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let has_more = rows.len() as i64 > page_size;
        let mut signals = Vec::new();
        for row in rows.iter().take(page_size as usize) {
            let bucket_start: DateTime<Utc> = row.try_get("bucket_start").map_err(internal)?;
            let bucket_end: DateTime<Utc> = row.try_get("bucket_end").map_err(internal)?;
            let detail: Vec<u8> = row.try_get("detail").map_err(internal)?;
            let signal = WeakSignal::decode(detail.as_slice())
                .map_err(|error| internal(sqlx::Error::Decode(Box::new(error))))?;
            signals.push(Signal {
                signal: Some(signal),
                bucket_start: Some(timestamp(to_ms(bucket_start))),
                bucket_end: Some(timestamp(to_ms(bucket_end))),
            });
        }
        let next_page_token = next_offset_token(has_more, &hash, offset, page_size);
        Ok(Response::new(ListSignalsResponse { signals, next_page_token }))
    }

    async fn get_term_trend(&self, request: Request<GetTermTrendRequest>) -> Result<Response<TermTrend>, Status> {
        let request = request.into_inner();
        let term = request.term.trim().trim_start_matches('#').to_lowercase();
        if term.is_empty() || term.len() > 200 {
            return Err(Status::invalid_argument("term must be 1 to 200 bytes"));
        }
        let (start, end) = time_range(request.start_time.as_ref(), request.end_time.as_ref())?;
        let rows = sqlx::query(
            "SELECT bucket_start, count, distinct_authors, distinct_channels, significance, first_seen
             FROM term_buckets WHERE term = $1 AND bucket_start >= $2 AND bucket_start <= $3
             ORDER BY bucket_start LIMIT 10000",
        )
        .bind(&term)
        .bind(start)
        .bind(end)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let mut first_seen: Option<DateTime<Utc>> = None;
        let mut buckets = Vec::new();
        for row in &rows {
            let bucket_start: DateTime<Utc> = row.try_get("bucket_start").map_err(internal)?;
            let seen: DateTime<Utc> = row.try_get("first_seen").map_err(internal)?;
            first_seen = Some(first_seen.map_or(seen, |first| first.min(seen)));
            buckets.push(TermBucket {
                bucket_start: Some(timestamp(to_ms(bucket_start))),
                count: row.try_get("count").map_err(internal)?,
                distinct_authors: row.try_get("distinct_authors").map_err(internal)?,
                distinct_channels: row.try_get("distinct_channels").map_err(internal)?,
                significance: row.try_get("significance").map_err(internal)?,
            });
        }
        if buckets.is_empty() {
            return Err(Status::not_found(format!(
                "term `{term}` has no statistics in that range (only terms the detector tracks have a trend)"
            )));
        }
        Ok(Response::new(TermTrend { term, buckets, first_seen: first_seen.map(|time| timestamp(to_ms(time))) }))
    }

    async fn list_channel_metrics(
        &self,
        request: Request<ListChannelMetricsRequest>,
    ) -> Result<Response<ListChannelMetricsResponse>, Status> {
        let request = request.into_inner();
        let page_size = self.page_size(request.page_size)?;
        if Platform::try_from(request.platform).is_err() {
            return Err(Status::invalid_argument(format!("unknown platform {}", request.platform)));
        }
        let (start, end) = time_range(request.start_time.as_ref(), request.end_time.as_ref())?;
        let hash = filter_hash(&request);
        let offset = offset_cursor(decode_token(&request.page_token, &hash)?)?;
        let rows = sqlx::query(&format!(
            "SELECT m.platform, m.channel, {METRICS_COLUMNS} FROM window_metrics m
             WHERE m.scope = 'h' AND ($1 = 0 OR m.platform = $1) AND ($2 = '' OR m.channel = $2)
               AND m.window_start >= $3 AND m.window_start <= $4
             ORDER BY m.window_start DESC, m.key OFFSET $5 LIMIT $6"
        ))
        .bind(request.platform as i16)
        .bind(&request.channel)
        .bind(start)
        .bind(end)
        .bind(offset)
        .bind(page_size + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let has_more = rows.len() as i64 > page_size;
        let mut channels = Vec::new();
        for row in rows.iter().take(page_size as usize) {
            let platform: i16 = row.try_get("platform").map_err(internal)?;
            channels.push(ChannelMetrics {
                platform: i32::from(platform),
                channel: row.try_get("channel").map_err(internal)?,
                metrics: metrics_from_row(row).map_err(internal)?,
            });
        }
        let next_page_token = next_offset_token(has_more, &hash, offset, page_size);
        Ok(Response::new(ListChannelMetricsResponse { channels, next_page_token }))
    }

    async fn list_alerts(&self, request: Request<ListAlertsRequest>) -> Result<Response<ListAlertsResponse>, Status> {
        let request = request.into_inner();
        let page_size = self.page_size(request.page_size)?;
        let filter = request.filter.clone().unwrap_or_default();
        check_alert_filter(&filter)?;
        let (start, _) = time_range(request.start_time.as_ref(), None)?;
        let hash = filter_hash(&request);
        let before_seq = match decode_token(&request.page_token, &hash)? {
            None => i64::MAX,
            Some(cursor) => cursor.parse().map_err(|_| Status::invalid_argument("bad page_token"))?,
        };
        let kinds: Vec<i16> = filter.kinds.iter().map(|kind| *kind as i16).collect();
        let rows = sqlx::query(&format!(
            "SELECT seq, payload FROM alerts WHERE {ALERT_FILTER_SQL} AND created_at >= $5 AND seq < $6
             ORDER BY seq DESC LIMIT $7"
        ))
        .bind(&kinds)
        .bind(&filter.subject)
        .bind(filter.platform as i16)
        .bind(&filter.channel)
        .bind(start)
        .bind(before_seq)
        .bind(page_size + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let has_more = rows.len() as i64 > page_size;
        let decoded = decode_alert_rows(&rows[..rows.len().min(page_size as usize)]).map_err(internal)?;
        let next_page_token = match (has_more, decoded.last()) {
            (true, Some((seq, _))) => encode_token(&hash, &seq.to_string()),
            _ => String::new(),
        };
        Ok(Response::new(ListAlertsResponse {
            alerts: decoded.into_iter().map(|(_, alert)| alert).collect(),
            next_page_token,
        }))
    }

    type StreamAlertsStream = AlertStream;

    async fn stream_alerts(
        &self,
        request: Request<StreamAlertsRequest>,
    ) -> Result<Response<Self::StreamAlertsStream>, Status> {
        let request = request.into_inner();
        let filter = request.filter.clone().unwrap_or_default();
        check_alert_filter(&filter)?;
        // Subscribe before reading the store, so nothing produced in between is missed.
        let mut live = self.hub.subscribe();
        let resume_after: Option<i64> = if !request.after_alert_id.is_empty() {
            let row = sqlx::query("SELECT seq FROM alerts WHERE id = $1")
                .bind(&request.after_alert_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
            let row = row.ok_or_else(|| {
                Status::not_found(format!("alert {} does not exist; resume with since_time", request.after_alert_id))
            })?;
            Some(row.try_get("seq").map_err(internal)?)
        } else if let Some(since) = request.since_time.as_ref() {
            let row = sqlx::query(
                "SELECT COALESCE(MIN(seq) - 1, (SELECT COALESCE(MAX(seq), 0) FROM alerts)) AS seq
                                   FROM alerts WHERE created_at >= $1",
            )
            .bind(to_time(convert::timestamp_ms(since)))
            .fetch_one(&self.pool)
            .await
            .map_err(internal)?;
            Some(row.try_get("seq").map_err(internal)?)
        } else {
            None
        };
        let (sender, receiver) = mpsc::channel::<Result<Alert, Status>>(256);
        let pool = self.pool.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut last_sent = 0_i64;
            if let Some(mut after) = resume_after {
                let kinds: Vec<i16> = filter.kinds.iter().map(|kind| *kind as i16).collect();
                loop {
                    let rows = sqlx::query(&format!(
                        "SELECT seq, payload FROM alerts WHERE {ALERT_FILTER_SQL} AND seq > $5 AND published
                         ORDER BY seq LIMIT 500"
                    ))
                    .bind(&kinds)
                    .bind(&filter.subject)
                    .bind(filter.platform as i16)
                    .bind(&filter.channel)
                    .bind(after)
                    .fetch_all(&pool)
                    .await;
                    let rows = match rows.and_then(|rows| decode_alert_rows(&rows)) {
                        Ok(rows) => rows,
                        Err(error) => {
                            let _ = sender.send(Err(internal(error))).await;
                            return;
                        }
                    };
                    if rows.is_empty() {
                        break;
                    }
                    for (seq, alert) in rows {
                        after = seq;
                        last_sent = seq;
                        if sender.send(Ok(alert)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            loop {
                let received = tokio::select! {
                    () = stop.cancelled() => {
                        let _ = sender.send(Err(Status::unavailable("the aggregator is shutting down; resume with after_alert_id"))).await;
                        return;
                    }
                    received = live.recv() => received,
                };
                match received {
                    Ok((seq, alert)) => {
                        if seq <= last_sent || !alert_matches(&alert, &filter) {
                            continue;
                        }
                        last_sent = seq;
                        if sender.send(Ok(alert)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let _ = sender
                            .send(Err(Status::data_loss(format!(
                                "this stream fell {missed} alerts behind; resume with after_alert_id"
                            ))))
                            .await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
