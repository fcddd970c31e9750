//! Mastodon hashtag timelines: `GET /api/v1/timelines/tag/<tag>` answers an array of `Status`
//! JSON (newest id first) with `limit` (default 20, at most 40), `max_id` (older than),
//! `since_id` (newer than, newest first), `min_id` (the statuses immediately newer than it),
//! a `Link` header (`rel="next"` with `max_id`, `rel="prev"` with `min_id`, absent on an empty
//! page) and `X-RateLimit-*` headers. Content is HTML (`<p>`, `<br />`, hashtag and mention
//! links), `tags` and `mentions` are structured, `in_reply_to_id` links replies.
//!
//! Instances: the stream's ids are `mastodon:<host>/<id>`. The request's host (`Host` header or
//! absolute-form URI, e.g. through `HTTP_PROXY` or a DNS alias) selects that instance's statuses,
//! so the connector rebuilds the same ids; a host that names no instance of the stream (the
//! server's own address) gets the statuses of every instance, and the connector then names them
//! after that address. Accounts of the served instance are sent bare (`alice`, as Mastodon does
//! for local accounts), others as `user@host`, so the connector's canonical `user@host` is the
//! same either way.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use chrono::SecondsFormat;
use murmur_connectors::normalise::extract::extract_hashtags;
use serde_json::{json, Value};

use super::markup::{escape_html, percent_encode, spans, SpanKind};
use super::{fnv, json_response, query_number, MastodonItem, Shared};

/// `GET /api/v1/timelines/tag/{tag}`.
pub(crate) async fn tag_timeline(
    State(shared): State<Arc<Shared>>,
    Path(tag): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request_host = uri
        .authority()
        .map(|authority| authority.as_str().to_owned())
        .or_else(|| headers.get("host").and_then(|host| host.to_str().ok()).map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
        .to_ascii_lowercase();
    let released = shared.released();
    let catalog = &shared.catalog;
    let host_only = request_host.split(':').next().unwrap_or(&request_host).to_owned();
    let matched = catalog.mastodon_hosts.iter().find(|host| **host == request_host || **host == host_only).cloned();
    if matched.is_none() && !shared.fallback_warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            host = %request_host,
            "Mastodon request for a host that is no instance of the stream: serving every instance's statuses \
             (the connector will name them after {request_host})"
        );
    }
    let tag = tag.trim_start_matches('#').to_lowercase();
    let statuses: Vec<&MastodonItem> = catalog
        .mastodon
        .get(&tag)
        .map(|items| {
            items
                .iter()
                .filter(|item| item.entry < released)
                .filter(|item| matched.as_ref().is_none_or(|host| item.host == *host))
                .collect()
        })
        .unwrap_or_default();
    let limit = query_number::<usize>(&query, "limit").unwrap_or(20).clamp(1, 40);
    let max_id = query_number::<u64>(&query, "max_id");
    let since_id = query_number::<u64>(&query, "since_id");
    let min_id = query_number::<u64>(&query, "min_id");
    let page: Vec<&MastodonItem> = if let Some(min_id) = min_id {
        // The `limit` statuses immediately newer than min_id, still sent newest first.
        let newer: Vec<&MastodonItem> = statuses
            .iter()
            .copied()
            .filter(|item| item.id > min_id && max_id.is_none_or(|max| item.id < max))
            .collect();
        let skip = newer.len().saturating_sub(limit);
        newer.into_iter().skip(skip).collect()
    } else {
        statuses
            .iter()
            .copied()
            .filter(|item| max_id.is_none_or(|max| item.id < max) && since_id.is_none_or(|since| item.id > since))
            .take(limit)
            .collect()
    };
    let body: Value = page.iter().map(|item| status_json(&shared, item, matched.is_some())).collect::<Vec<_>>().into();
    let mut response = json_response(StatusCode::OK, &body);
    let headers = response.headers_mut();
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let base = format!("http://{request_host}/api/v1/timelines/tag/{}", percent_encode(&tag));
        let link = format!(
            "<{base}?limit={limit}&max_id={}>; rel=\"next\", <{base}?limit={limit}&min_id={}>; rel=\"prev\"",
            last.id, first.id
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert("link", value);
        }
    }
    let reset = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Millis, true);
    headers.insert("x-ratelimit-limit", HeaderValue::from_static("300"));
    headers.insert("x-ratelimit-remaining", HeaderValue::from_static("299"));
    if let Ok(value) = HeaderValue::from_str(&reset) {
        headers.insert("x-ratelimit-reset", value);
    }
    response
}

/// The account as the instance serving the request spells it.
fn served_acct(handle: &str, instance: &str, local: bool) -> String {
    let handle = handle.trim().trim_start_matches('@');
    match handle.split_once('@') {
        Some((user, domain)) if local && domain.eq_ignore_ascii_case(instance) => user.to_owned(),
        Some(_) => handle.to_owned(),
        None if local => handle.to_owned(),
        None => format!("{handle}@{instance}"),
    }
}

/// `https://<instance>/@user` (or the remote account's host).
fn profile_url(acct: &str, instance: &str) -> String {
    match acct.split_once('@') {
        Some((user, domain)) => format!("https://{domain}/@{user}"),
        None => format!("https://{instance}/@{acct}"),
    }
}

fn account_json(acct: &str, instance: &str) -> Value {
    let username = acct.split('@').next().unwrap_or(acct);
    let canonical = if acct.contains('@') { acct.to_owned() } else { format!("{acct}@{instance}") };
    json!({
        "id": (fnv(&canonical) >> 1).to_string(), "username": username, "acct": acct,
        "display_name": username, "url": profile_url(acct, instance), "bot": false, "locked": false,
    })
}

fn status_json(shared: &Shared, item: &MastodonItem, local: bool) -> Value {
    let catalog = &shared.catalog;
    let entry = &catalog.entries[item.entry];
    let record = &entry.record;
    let instance = item.host.split(':').next().unwrap_or(&item.host).to_owned();
    let author = record.author.as_deref().filter(|author| !author.trim().is_empty()).unwrap_or("deleted");
    let acct = served_acct(author, &instance, local);
    let username = acct.split('@').next().unwrap_or(&acct).to_owned();
    let mentions: Vec<Value> = record
        .mentions
        .iter()
        .filter(|mention| !mention.trim().is_empty())
        .map(|mention| {
            let acct = served_acct(mention, &instance, local);
            let account = account_json(&acct, &instance);
            json!({"id": account["id"], "username": account["username"], "url": account["url"], "acct": acct})
        })
        .collect();
    let mut tags: Vec<String> = Vec::new();
    for tag in record.hashtags.iter().map(|tag| tag.trim().trim_start_matches('#').to_lowercase()) {
        if !tag.is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    for tag in extract_hashtags(&record.text) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let in_reply_to = record
        .parent_id
        .trim()
        .rsplit_once('/')
        .map(|(_, id)| id.to_owned())
        .filter(|_| record.parent_id.starts_with("mastodon:"));
    let in_reply_to_account = in_reply_to.as_ref().and_then(|_| {
        let parent = catalog.by_id.get(record.parent_id.trim()).map(|&index| &catalog.entries[index].record)?;
        let parent_author = served_acct(parent.author.as_deref().unwrap_or("deleted"), &instance, local);
        account_json(&parent_author, &instance).get("id").cloned()
    });
    let url = if record.permalink.trim().is_empty() {
        format!("{}/{}", profile_url(&acct, &instance), item.id)
    } else {
        record.permalink.trim().to_owned()
    };
    let created_at = entry.created.to_rfc3339_opts(SecondsFormat::Millis, true);
    let engagement = record.engagement;
    json!({
        "id": item.id.to_string(),
        "created_at": created_at,
        "in_reply_to_id": in_reply_to,
        "in_reply_to_account_id": in_reply_to_account,
        "sensitive": false,
        "spoiler_text": "",
        "visibility": "public",
        "language": (!record.language_hint.is_empty()).then_some(record.language_hint.as_str()),
        "uri": format!("https://{instance}/users/{username}/statuses/{}", item.id),
        "url": url,
        "replies_count": engagement.replies,
        "reblogs_count": engagement.forwards,
        "favourites_count": engagement.reactions,
        "edited_at": record.edited.then_some(&created_at),
        "content": content_html(&record.text, &instance, local, &record.mentions),
        "reblog": null,
        "account": account_json(&acct, &instance),
        "media_attachments": [],
        "mentions": mentions,
        "tags": tags.iter().map(|tag| json!({"name": tag, "url": format!("https://{instance}/tags/{tag}")})).collect::<Vec<_>>(),
        "emojis": [],
        "card": null,
        "poll": null,
    })
}

/// Mastodon's HTML for plain text: paragraphs on blank lines, `<br />` on line breaks, hashtags
/// and known mentions as links (labelled as written, so the text reads back unchanged).
fn content_html(text: &str, instance: &str, local: bool, mentions: &[String]) -> String {
    let mut html = String::new();
    for paragraph in text.split("\n\n").filter(|paragraph| !paragraph.trim().is_empty()) {
        html.push_str("<p>");
        for span in spans(paragraph) {
            match span.kind {
                SpanKind::Text => html.push_str(&escape_html(span.text(paragraph))),
                SpanKind::Break => html.push_str("<br />"),
                SpanKind::Tag => {
                    let tag = span.body(paragraph);
                    html.push_str(&format!(
                        "<a href=\"https://{instance}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                        percent_encode(&tag.to_lowercase()),
                        escape_html(tag)
                    ));
                }
                SpanKind::Mention => {
                    let handle = span.body(paragraph);
                    let user = handle.split('@').next().unwrap_or(handle);
                    let known = mentions.iter().any(|mention| {
                        let mention = mention.trim().trim_start_matches('@');
                        mention.eq_ignore_ascii_case(handle)
                            || mention.split('@').next().is_some_and(|m| m.eq_ignore_ascii_case(user))
                    });
                    if known {
                        let acct = served_acct(handle, instance, local);
                        html.push_str(&format!(
                            "<span class=\"h-card\" translate=\"no\"><a href=\"{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
                            escape_html(&profile_url(&acct, instance)),
                            escape_html(handle)
                        ));
                    } else {
                        html.push_str(&escape_html(span.text(paragraph)));
                    }
                }
            }
        }
        html.push_str("</p>");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_bare_only_on_their_own_instance() {
        assert_eq!(served_acct("alice", "mastodon.social", true), "alice");
        assert_eq!(served_acct("alice", "mastodon.social", false), "alice@mastodon.social");
        assert_eq!(served_acct("@alice@Mastodon.social", "mastodon.social", true), "alice");
        assert_eq!(served_acct("bob@fosstodon.org", "mastodon.social", true), "bob@fosstodon.org");
    }

    #[test]
    fn content_is_paragraphs_with_links() {
        let html = content_html("hi @bob <3 #Rust\nnext\n\nmore", "m.example", true, &["bob".into()]);
        assert_eq!(
            html,
            "<p>hi <span class=\"h-card\" translate=\"no\"><a href=\"https://m.example/@bob\" class=\"u-url mention\">\
             @<span>bob</span></a></span> &lt;3 <a href=\"https://m.example/tags/rust\" class=\"mention hashtag\" \
             rel=\"tag\">#<span>Rust</span></a><br />next</p><p>more</p>"
        );
    }
}
