//! Reddit listings: `GET /r/<sub>/new.json` (`t3` submissions) and `GET /r/<sub>/comments.json`
//! (`t1` comments), newest first, as `{"kind": "Listing", "data": {"after", "before", "dist",
//! "children": [{"kind", "data"}]}}`, with `limit` (default 25, at most 100), `after` (items older
//! than the named one) and `before` (items newer than it) paging, and Reddit's `X-Ratelimit-*`
//! headers (a window that never runs out). The same listings answer without `.json` (the OAuth
//! host's paths). An unknown subreddit is an empty listing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use murmur_connectors::replay::ReplayRecord;
use serde_json::{json, Value};

use super::{json_response, query_number, Shared};

/// `true` for a non-empty lowercase base36 id (what Reddit ids are).
pub(crate) fn is_base36(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// `GET /r/{subreddit}/{listing}`.
pub(crate) async fn listing(
    State(shared): State<Arc<Shared>>,
    Path((subreddit, listing)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let comments = match listing.trim_end_matches(".json") {
        "new" => false,
        "comments" => true,
        _ => return json_response(StatusCode::NOT_FOUND, &json!({"message": "Not Found", "error": 404})),
    };
    let released = shared.released();
    let catalog = &shared.catalog;
    let items: Vec<usize> = catalog
        .reddit
        .get(&subreddit.to_ascii_lowercase())
        .map(|sub| if comments { &sub.comments } else { &sub.submissions })
        .map(|indices| indices.iter().copied().filter(|&index| index < released).collect())
        .unwrap_or_default();
    let limit = query_number::<usize>(&query, "limit").unwrap_or(25).clamp(1, 100);
    let name_at = |position: usize| fullname(&catalog.entries[items[position]].record);
    let position_of = |name: &str| (0..items.len()).find(|&position| name_at(position) == name);
    let (start, end) = if let Some(after) = query.get("after").filter(|after| !after.is_empty()) {
        match position_of(after) {
            Some(position) => (position + 1, (position + 1 + limit).min(items.len())),
            None => (0, 0),
        }
    } else if let Some(before) = query.get("before").filter(|before| !before.is_empty()) {
        match position_of(before) {
            Some(position) => (position.saturating_sub(limit), position),
            None => (0, 0),
        }
    } else {
        (0, limit.min(items.len()))
    };
    let children: Vec<Value> = items[start..end]
        .iter()
        .map(|&index| {
            let record = &catalog.entries[index].record;
            if comments {
                comment_thing(catalog, record)
            } else {
                link_thing(record)
            }
        })
        .collect();
    let after = (end > start && end < items.len()).then(|| name_at(end - 1));
    let before = (end > start && start > 0).then(|| name_at(start));
    let body = json!({
        "kind": "Listing",
        "data": {
            "after": after, "dist": children.len(), "modhash": "", "geo_filter": "",
            "children": children, "before": before,
        }
    });
    let mut response = json_response(StatusCode::OK, &body);
    let now = chrono::Utc::now().timestamp();
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-remaining", HeaderValue::from_static("999.0"));
    headers.insert("x-ratelimit-used", HeaderValue::from_static("1"));
    headers.insert("x-ratelimit-reset", HeaderValue::from(600 - now.rem_euclid(600)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=0, must-revalidate"));
    response
}

/// `t3_abc` from `reddit:t3_abc`.
fn fullname(record: &ReplayRecord) -> String {
    record.id.strip_prefix("reddit:").unwrap_or(&record.id).to_owned()
}

fn short_id(fullname: &str) -> &str {
    fullname.split_once('_').map_or(fullname, |(_, id)| id)
}

fn author(record: &ReplayRecord) -> String {
    match record.author.as_deref().map(str::trim) {
        Some(author) if !author.is_empty() && !record.author_deleted => {
            author.trim_start_matches("/u/").trim_start_matches("u/").to_owned()
        }
        _ => "[deleted]".to_owned(),
    }
}

fn created(record: &ReplayRecord) -> f64 {
    chrono::DateTime::parse_from_rfc3339(record.created_at.trim())
        .map(|at| at.timestamp_millis() as f64 / 1000.0)
        .unwrap_or_default()
}

fn edited(record: &ReplayRecord) -> Value {
    if record.edited {
        json!(created(record) + 60.0)
    } else {
        json!(false)
    }
}

fn distinguished(record: &ReplayRecord) -> Value {
    if record.author_is_moderator {
        json!("moderator")
    } else {
        Value::Null
    }
}

/// The path part of a permalink (`/r/…`), as Reddit sends it.
fn relative_permalink(record: &ReplayRecord, fallback: String) -> String {
    let permalink = record.permalink.trim();
    let relative = permalink
        .strip_prefix("https://www.reddit.com")
        .or_else(|| permalink.strip_prefix("https://reddit.com"))
        .or_else(|| permalink.strip_prefix("https://old.reddit.com"))
        .unwrap_or(permalink);
    if relative.is_empty() {
        fallback
    } else {
        relative.to_owned()
    }
}

fn link_thing(record: &ReplayRecord) -> Value {
    let name = fullname(record);
    let id = short_id(&name).to_owned();
    let subreddit = record.channel.trim().trim_start_matches("/r/").trim_start_matches("r/").to_owned();
    let permalink = relative_permalink(record, format!("/r/{subreddit}/comments/{id}/"));
    let created = created(record);
    let engagement = record.engagement;
    json!({"kind": "t3", "data": {
        "name": name, "id": id, "author": author(record), "title": record.title, "selftext": record.text,
        "created": created, "created_utc": created, "edited": edited(record),
        "distinguished": distinguished(record), "subreddit": subreddit,
        "subreddit_name_prefixed": format!("r/{subreddit}"), "subreddit_type": "public",
        "subreddit_subscribers": record.channel_audience, "score": engagement.score, "ups": engagement.score,
        "num_comments": engagement.replies, "num_crossposts": engagement.forwards, "permalink": permalink,
        "url": format!("https://www.reddit.com{permalink}"), "is_self": true, "over_18": false,
        "stickied": false, "locked": false,
    }})
}

fn comment_thing(catalog: &super::Catalog, record: &ReplayRecord) -> Value {
    let name = fullname(record);
    let id = short_id(&name).to_owned();
    let strip = |full: &str| full.strip_prefix("reddit:").unwrap_or(full).to_owned();
    let parent_id = strip(&record.parent_id);
    let link_id = strip(&catalog.root_of(record));
    let subreddit = record.channel.trim().trim_start_matches("/r/").trim_start_matches("r/").to_owned();
    let link = catalog.by_id.get(&format!("reddit:{link_id}")).map(|&index| &catalog.entries[index].record);
    let link_title = link.map(|link| link.title.clone()).unwrap_or_default();
    let link_short = short_id(&link_id).to_owned();
    let permalink = relative_permalink(record, format!("/r/{subreddit}/comments/{link_short}/comment/{id}/"));
    let created = created(record);
    json!({"kind": "t1", "data": {
        "name": name, "id": id, "author": author(record), "body": record.text, "created": created,
        "created_utc": created, "edited": edited(record), "distinguished": distinguished(record),
        "subreddit": subreddit, "subreddit_name_prefixed": format!("r/{subreddit}"),
        "parent_id": parent_id, "link_id": link_id, "link_title": link_title,
        "link_permalink": format!("https://www.reddit.com/r/{subreddit}/comments/{link_short}/"),
        "score": record.engagement.score, "ups": record.engagement.score, "permalink": permalink,
        "stickied": false, "score_hidden": false,
    }})
}
