//! Bluesky search: `GET /xrpc/app.bsky.feed.searchPosts` answers `{"cursor", "hitsTotal",
//! "posts": [PostView]}`, newest first, for the stream's `#<tag>` channel named by `tag` (or by a
//! `q` that is a single `#tag`; another `q` is a case-insensitive text search), with `since`
//! (inclusive) / `until` (exclusive) on the post's sort time, `limit` (default 25, at most 100)
//! and an opaque `cursor` (absent on the last page). A missing `q` is the AppView's 400.
//!
//! Records carry `text`, `createdAt`, `langs`, `reply.parent/root` (`uri` + `cid`) and `facets`
//! (tag facets for the text's hashtags, mention facets for the record's mentions); hashtags that
//! are not in the text go to `record.tags` (the connector only reads facets).
//!
//! Accounts: the connector keys accounts on DIDs (`author.did`, mention facets' `did`). A stream
//! author that is a DID is served as is; a raw handle is served as the account id itself, so the
//! connector pseudonymises the same handle the replay path and the ground truth use, and authors
//! and mentions stay in one space. `author.handle` is the handle (with `.bsky.social` when it has
//! no domain).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::markup::{spans, SpanKind};
use super::{fnv, json_response, query_number, Shared};

/// `GET /xrpc/app.bsky.feed.searchPosts`.
pub(crate) async fn search_posts(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(q) = query.get("q").map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()) else {
        let error = json!({"error": "InvalidRequest", "message": "Error: Params must have the property \"q\""});
        return json_response(StatusCode::BAD_REQUEST, &error);
    };
    let released = shared.released();
    let catalog = &shared.catalog;
    let single_tag = q.strip_prefix('#').filter(|tag| !tag.is_empty() && !tag.contains(char::is_whitespace));
    let tag = query.get("tag").map(String::as_str).or(single_tag).map(|tag| tag.trim_start_matches('#').to_lowercase());
    let since = query.get("since").and_then(|since| parse_time(since));
    let until = query.get("until").and_then(|until| parse_time(until));
    let cursor = query_number::<usize>(&query, "cursor");
    let limit = query_number::<usize>(&query, "limit").unwrap_or(25).clamp(1, 100);
    let candidates: Vec<usize> = match &tag {
        Some(tag) => catalog.bluesky.get(tag).cloned().unwrap_or_default(),
        None => {
            let needle = q.to_lowercase();
            let mut all: Vec<usize> = catalog
                .bluesky
                .values()
                .flatten()
                .copied()
                .filter(|&index| catalog.entries[index].record.text.to_lowercase().contains(&needle))
                .collect();
            all.sort_unstable_by(|a, b| b.cmp(a));
            all
        }
    };
    // Entries are in created order, so the index is the sort key (newest = highest).
    let matching: Vec<usize> = candidates
        .into_iter()
        .filter(|&index| index < released)
        .filter(|&index| {
            let created = catalog.entries[index].created;
            since.is_none_or(|since| created >= since) && until.is_none_or(|until| created < until)
        })
        .collect();
    let hits_total = matching.len();
    let page: Vec<usize> =
        matching.iter().copied().filter(|&index| cursor.is_none_or(|cursor| index < cursor)).take(limit + 1).collect();
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let posts: Vec<Value> = page.iter().map(|&index| post_view(&shared, index)).collect();
    let mut body = json!({"hitsTotal": hits_total, "posts": posts});
    if let (true, Some(last)) = (more, page.last()) {
        body["cursor"] = json!(last.to_string());
    }
    let mut response = json_response(StatusCode::OK, &body);
    let reset = Utc::now().timestamp() + 300;
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from_static("3000"));
    headers.insert("ratelimit-remaining", HeaderValue::from_static("2999"));
    headers.insert("ratelimit-reset", HeaderValue::from(reset));
    headers.insert("ratelimit-policy", HeaderValue::from_static("3000;w=300"));
    response
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim()).ok().map(|at| at.to_utc())
}

/// The account id served in `did` fields (see the module docs).
fn account_id(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_owned()
}

fn handle_of(author: &str) -> String {
    let author = author.trim().trim_start_matches('@');
    if author.starts_with("did:") {
        "handle.invalid".to_owned()
    } else if author.contains('.') {
        author.to_owned()
    } else {
        format!("{author}.bsky.social")
    }
}

fn cid(uri: &str) -> String {
    format!("bafyrei{:016x}{:016x}", fnv(uri), fnv(&format!("cid:{uri}")))
}

fn strong_ref(full_id: &str) -> Value {
    let uri = full_id.trim().strip_prefix("bluesky:").unwrap_or(full_id.trim());
    json!({"uri": uri, "cid": cid(uri)})
}

fn post_view(shared: &Shared, index: usize) -> Value {
    let catalog = &shared.catalog;
    let entry = &catalog.entries[index];
    let record = &entry.record;
    let uri = record.id.strip_prefix("bluesky:").unwrap_or(&record.id);
    let author = record.author.as_deref().filter(|author| !author.trim().is_empty() && !record.author_deleted);
    // A deleted author still has a repository: its DID from the at-uri.
    let uri_did = uri.trim_start_matches("at://").split('/').next().unwrap_or_default();
    let did = author.map(account_id).unwrap_or_else(|| uri_did.to_owned());
    let handle = author.map(handle_of).unwrap_or_else(|| "handle.invalid".to_owned());
    let text = &record.text;
    let text_spans = spans(text);
    let mut facets: Vec<Value> = Vec::new();
    let mut text_tags: Vec<String> = Vec::new();
    for span in text_spans.iter().filter(|span| span.kind == SpanKind::Tag) {
        let tag = span.body(text);
        text_tags.push(tag.to_lowercase());
        facets.push(json!({
            "$type": "app.bsky.richtext.facet",
            "index": {"byteStart": span.start, "byteEnd": span.end},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
        }));
    }
    for mention in record.mentions.iter().map(|mention| mention.trim().trim_start_matches('@')) {
        if mention.is_empty() {
            continue;
        }
        let handle = handle_of(mention);
        let written = text_spans.iter().find(|span| {
            span.kind == SpanKind::Mention
                && (span.body(text).eq_ignore_ascii_case(mention) || span.body(text).eq_ignore_ascii_case(&handle))
        });
        let (start, end) = written.map_or((0, 0), |span| (span.start, span.end));
        facets.push(json!({
            "$type": "app.bsky.richtext.facet",
            "index": {"byteStart": start, "byteEnd": end},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": account_id(mention)}],
        }));
    }
    let outline_tags: Vec<String> = record
        .hashtags
        .iter()
        .map(|tag| tag.trim().trim_start_matches('#').to_owned())
        .filter(|tag| !tag.is_empty() && !text_tags.contains(&tag.to_lowercase()))
        .collect();
    let created_at = entry.created.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut post_record = json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": created_at,
    });
    if !record.language_hint.is_empty() {
        post_record["langs"] = json!([record.language_hint]);
    }
    if !facets.is_empty() {
        post_record["facets"] = json!(facets);
    }
    if !outline_tags.is_empty() {
        post_record["tags"] = json!(outline_tags);
    }
    if !record.parent_id.trim().is_empty() {
        post_record["reply"] =
            json!({"root": strong_ref(&catalog.root_of(record)), "parent": strong_ref(&record.parent_id)});
    }
    let engagement = record.engagement;
    json!({
        "uri": uri,
        "cid": cid(uri),
        "author": {"did": did, "handle": handle, "displayName": "", "labels": [], "createdAt": created_at},
        "record": post_record,
        "replyCount": engagement.replies,
        "repostCount": engagement.forwards,
        "likeCount": engagement.reactions,
        "quoteCount": 0,
        "indexedAt": created_at,
        "labels": [],
    })
}
