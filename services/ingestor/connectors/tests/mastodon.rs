//! Mastodon connector against a local server replaying the tag-timeline format (real sample
//! from ../shared/data plus a synthetic timeline with real `Link` paging).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::{normaliser, pseudonym, shared_platform_sample, test_http, Reply, TestServer};
use murmur_connectors::mastodon::{MastodonConfig, MastodonConnector};
use murmur_connectors::{ConnectorError, FixedClock, Hashtag, ItemErrorKind, WatchSpec};
use murmur_proto::events::v1::PostKind;
use serde_json::{json, Value};

fn watch(tag: &str) -> WatchSpec {
    WatchSpec::Hashtag(Hashtag::parse(tag).unwrap())
}

fn host(server: &TestServer) -> String {
    server.base_url.trim_start_matches("http://").to_owned()
}

fn status(id: u64, reply_to: Option<u64>, acct: &str) -> Value {
    json!({
        "id": id.to_string(), "created_at": format!("2025-07-17T19:{:02}:{:02}.000Z", (id / 60) % 60, id % 60),
        "in_reply_to_id": reply_to.map(|r| r.to_string()), "in_reply_to_account_id": null,
        "language": "en", "url": format!("https://example.social/@{acct}/{id}"), "replies_count": 0,
        "reblogs_count": 1, "favourites_count": 2, "edited_at": null, "spoiler_text": "",
        "content": format!(
            "<p>status {id} about <a href=\"https://example.social/tags/rust\" class=\"mention hashtag\">\
             #<span>Rust</span></a></p>"
        ),
        "reblog": null, "account": {"id": "1", "username": acct, "acct": acct},
        "mentions": [], "tags": [{"name": "rust"}]
    })
}

/// A tag timeline with Mastodon's id paging: none = newest, `max_id` = older, `min_id` = the ones
/// immediately newer.
fn timeline(statuses: &[Value], query: &HashMap<String, String>, base: &str) -> Reply {
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let id_of = |s: &Value| s["id"].as_str().unwrap().parse::<u64>().unwrap();
    let mut sorted: Vec<Value> = statuses.to_vec();
    sorted.sort_by_key(|s| std::cmp::Reverse(id_of(s)));
    let page: Vec<Value> = if let Some(min_id) = query.get("min_id").and_then(|m| m.parse::<u64>().ok()) {
        let mut newer: Vec<Value> = sorted.iter().filter(|s| id_of(s) > min_id).cloned().collect();
        let keep = newer.len().saturating_sub(limit);
        newer.drain(..keep);
        newer
    } else if let Some(max_id) = query.get("max_id").and_then(|m| m.parse::<u64>().ok()) {
        sorted.iter().filter(|s| id_of(s) < max_id).take(limit).cloned().collect()
    } else {
        sorted.iter().take(limit).cloned().collect()
    };
    let mut reply = Reply::json(serde_json::to_vec(&page).unwrap());
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let link = format!(
            "<{base}/api/v1/timelines/tag/rust?limit={limit}&max_id={}>; rel=\"next\", \
             <{base}/api/v1/timelines/tag/rust?limit={limit}&min_id={}>; rel=\"prev\"",
            id_of(last),
            id_of(first)
        );
        reply = reply.header("link", &link);
    }
    reply
        .header("x-ratelimit-limit", "300")
        .header("x-ratelimit-remaining", "290")
        .header("x-ratelimit-reset", "2030-01-01T00:00:00Z")
}

#[tokio::test]
async fn real_rstats_sample_is_normalised() {
    let Some(sample) = shared_platform_sample("mastodon_tag_rstats.json") else { return };
    let sample: Value = serde_json::from_str(&sample).unwrap();
    let served = sample.clone();
    let server = TestServer::start(move |_| {
        let ratelimit = &served["ratelimit"];
        Reply::json(serde_json::to_vec(&served["body"]).unwrap())
            .header("link", served["link_header"].as_str().unwrap())
            .header("x-ratelimit-remaining", ratelimit["x-ratelimit-remaining"].as_str().unwrap())
            .header("x-ratelimit-limit", ratelimit["x-ratelimit-limit"].as_str().unwrap())
            .header("x-ratelimit-reset", ratelimit["x-ratelimit-reset"].as_str().unwrap())
    })
    .await;
    let connector = MastodonConnector::new(
        MastodonConfig { base_url: server.base_url.clone(), http: test_http(), ..MastodonConfig::default() },
        normaliser(),
    )
    .unwrap();
    let outcome = connector.poll(&watch("rstats"), None).await.unwrap();
    let body = sample["body"].as_array().unwrap();
    assert_eq!(outcome.posts.len(), body.len());
    assert!(outcome.item_errors.is_empty(), "{:?}", outcome.item_errors);
    assert_eq!(outcome.rate_limit.remaining, Some(299));
    assert_eq!(outcome.rate_limit.limit, Some(300));
    assert_eq!(outcome.rate_limit.reset_at.map(|at| at.to_rfc3339()).unwrap(), "2025-07-17T20:05:00.290188+00:00");
    for status in body {
        let id = format!("mastodon:{}/{}", host(&server), status["id"].as_str().unwrap());
        let post = outcome.posts.iter().find(|p| p.id == id).unwrap();
        assert_eq!(post.channel, format!("{}/#rstats", host(&server)));
        assert!(!post.text.contains('<') && !post.text.contains("&amp;"), "{}", post.text);
        assert!(post.hashtags.contains(&"rstats".to_owned()));
        // Local accounts (no `@host`) are qualified with the instance host before hashing.
        let canonical = |acct: &str| if acct.contains('@') { acct.to_owned() } else { format!("{acct}@127.0.0.1") };
        assert_eq!(post.author_id, pseudonym("mastodon", &canonical(status["account"]["acct"].as_str().unwrap())));
        let mentions: Vec<String> = status["mentions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| pseudonym("mastodon", &canonical(m["acct"].as_str().unwrap())))
            .collect();
        assert_eq!(post.mentions, mentions);
        assert_eq!(post.language_hint, "en");
    }
    assert_eq!(server.requests()[0].query.get("limit").map(String::as_str), Some("40"));
}

#[tokio::test]
async fn min_id_paging_reads_every_new_status_once_and_resumes() {
    let statuses = Arc::new(Mutex::new((1..=3).map(|i| status(100 + i, None, "a")).collect::<Vec<_>>()));
    let served = statuses.clone();
    let base = Arc::new(Mutex::new(String::new()));
    let base_for_server = base.clone();
    let server = TestServer::start(move |request| {
        timeline(&served.lock().unwrap(), &request.query, &base_for_server.lock().unwrap())
    })
    .await;
    *base.lock().unwrap() = server.base_url.clone();
    let config = MastodonConfig {
        base_url: server.base_url.clone(),
        http: test_http(),
        page_limit: 2,
        ..MastodonConfig::default()
    };
    let connector = MastodonConnector::new(config, normaliser()).unwrap();
    let first = connector.poll(&watch("rust"), None).await.unwrap();
    assert_eq!(first.posts.len(), 2, "first poll reads one page, no backfill");

    statuses.lock().unwrap().extend((4..=8).map(|i| status(100 + i, None, "b")));
    let second = connector.poll(&watch("rust"), Some(&first.next_cursor)).await.unwrap();
    let ids: Vec<String> = second.posts.iter().map(|p| p.id.rsplit('/').next().unwrap().to_owned()).collect();
    assert_eq!(ids, vec!["104", "105", "106", "107", "108"]);
    let third = connector.poll(&watch("rust"), Some(&second.next_cursor)).await.unwrap();
    assert!(third.posts.is_empty());
    let min_ids: Vec<String> = server.requests().iter().filter_map(|r| r.query.get("min_id").cloned()).collect();
    assert_eq!(min_ids, vec!["103", "105", "107", "108", "108"]);
}

#[tokio::test]
async fn replies_link_to_parent_and_known_root() {
    let thread = vec![
        status(201, None, "root"),
        status(202, Some(201), "c"),
        status(203, Some(202), "r"),
        status(204, Some(999), "x"),
    ];
    let server = TestServer::start(move |request| timeline(&thread, &request.query, "http://unused")).await;
    let config = MastodonConfig { base_url: server.base_url.clone(), http: test_http(), ..MastodonConfig::default() };
    let connector = MastodonConnector::new(config, normaliser()).unwrap();
    let outcome = connector.poll(&watch("rust"), None).await.unwrap();
    let h = host(&server);
    let get = |n: u64| outcome.posts.iter().find(|p| p.id == format!("mastodon:{h}/{n}")).unwrap();
    assert_eq!((get(201).parent_id.as_str(), get(201).kind), ("", PostKind::Post as i32));
    assert_eq!(get(202).parent_id, format!("mastodon:{h}/201"));
    assert_eq!(get(202).root_id, format!("mastodon:{h}/201"));
    assert_eq!(get(202).kind, PostKind::Comment as i32);
    assert_eq!(get(203).parent_id, format!("mastodon:{h}/202"));
    assert_eq!(get(203).root_id, format!("mastodon:{h}/201"));
    assert_eq!(get(203).kind, PostKind::Reply as i32);
    // Unknown parent: the root falls back to the parent (oldest known ancestor).
    assert_eq!(get(204).root_id, format!("mastodon:{h}/999"));
}

#[tokio::test]
async fn rate_limit_reset_and_malformed_statuses() {
    let server = TestServer::start(|request| {
        if request.query.contains_key("min_id") {
            return Reply::status(429, "Too many requests")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", "2026-01-01T00:05:00Z");
        }
        let mut broken = status(302, None, "b");
        broken.as_object_mut().unwrap().remove("account");
        Reply::json(serde_json::to_vec(&json!([broken, status(301, None, "a")])).unwrap())
    })
    .await;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let config = MastodonConfig { base_url: server.base_url.clone(), http: test_http(), ..MastodonConfig::default() };
    let connector = MastodonConnector::new(config, normaliser()).unwrap().with_clock(Arc::new(FixedClock(now)));
    let first = connector.poll(&watch("rust"), None).await.unwrap();
    assert_eq!(first.posts.len(), 1);
    assert_eq!(first.item_errors.len(), 1);
    assert_eq!(first.item_errors[0].kind, ItemErrorKind::Malformed);
    assert_eq!(first.item_errors[0].item_ref, "302");
    match connector.poll(&watch("rust"), Some(&first.next_cursor)).await {
        Err(ConnectorError::RateLimited { retry_after, .. }) => assert_eq!(retry_after, Duration::from_secs(300)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}
