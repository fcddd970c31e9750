//! Reddit connector against a local server replaying Reddit's listing format.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::{normaliser, pseudonym, shared_platform_sample, test_http, Reply, TestServer};
use murmur_connectors::reddit::{RedditAuth, RedditConfig, RedditConnector};
use murmur_connectors::{ConnectorError, Cursor, FixedClock, ItemErrorKind, Secret, SubredditName, WatchSpec};
use murmur_proto::events::v1::PostKind;
use serde_json::{json, Value};

fn watch(name: &str) -> WatchSpec {
    WatchSpec::Subreddit(SubredditName::parse(name).unwrap())
}

fn config(server: &TestServer) -> RedditConfig {
    RedditConfig {
        public_base_url: server.base_url.clone(),
        oauth_base_url: server.base_url.clone(),
        token_url: format!("{}/api/v1/access_token", server.base_url),
        http: test_http(),
        ..RedditConfig::default()
    }
}

fn link(id: u64, author: &str) -> Value {
    let id36 = to_base36(id);
    json!({"kind": "t3", "data": {
        "name": format!("t3_{id36}"), "id": id36, "author": author, "title": format!("title {id}"),
        "selftext": format!("body {id}"), "created_utc": 1_700_000_000.0 + id as f64, "edited": false,
        "distinguished": null, "subreddit": "rust", "subreddit_subscribers": 321_000, "score": 5,
        "num_comments": 2, "permalink": format!("/r/rust/comments/{id36}/x/")
    }})
}

fn comment(id: &str, parent: &str, link_id: &str, author: &str) -> Value {
    json!({"kind": "t1", "data": {
        "name": format!("t1_{id}"), "id": id, "author": author, "body": format!("comment {id}"),
        "created_utc": 1_700_000_100.0 + id.len() as f64 + id.bytes().map(f64::from).sum::<f64>(), "edited": false,
        "distinguished": null, "subreddit": "rust", "parent_id": parent, "link_id": link_id, "score": 1,
        "permalink": format!("/r/rust/comments/x/y/{id}/")
    }})
}

fn to_base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

fn listing(children: &[Value], after: Option<String>) -> Vec<u8> {
    serde_json::to_vec(&json!({"kind": "Listing", "data": {"after": after, "before": null, "children": children}}))
        .unwrap()
}

fn empty_listing() -> Reply {
    Reply::json(listing(&[], None))
}

/// Serves `items` (newest first) with real `after` paging.
fn paged(items: &[Value], query: &std::collections::HashMap<String, String>) -> Reply {
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
    let start = match query.get("after") {
        Some(after) => {
            items.iter().position(|item| item["data"]["name"] == after.as_str()).map_or(items.len(), |p| p + 1)
        }
        None => 0,
    };
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let more = start + page.len() < items.len();
    let after = if more { page.last().map(|item| item["data"]["name"].as_str().unwrap().to_owned()) } else { None };
    Reply::json(listing(&page, after))
}

#[tokio::test]
async fn real_askreddit_sample_is_normalised() {
    let Some(sample) = shared_platform_sample("reddit_r_askreddit_new.json") else { return };
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/r/AskReddit/new.json" => Reply::json(sample.clone()),
        "/r/AskReddit/comments.json" => empty_listing(),
        _ => Reply::status(404, "not found"),
    })
    .await;
    let connector = RedditConnector::new(config(&server), normaliser()).unwrap();
    let outcome = connector.poll(&watch("AskReddit"), None).await.unwrap();
    let sample_json: Value =
        serde_json::from_str(&shared_platform_sample("reddit_r_askreddit_new.json").unwrap()).unwrap();
    let expected = sample_json["data"]["children"].as_array().unwrap();
    assert_eq!(outcome.posts.len(), expected.len());
    assert!(outcome.item_errors.is_empty(), "{:?}", outcome.item_errors);
    let first = &expected[0]["data"];
    let post = outcome.posts.iter().find(|p| p.id == format!("reddit:{}", first["name"].as_str().unwrap())).unwrap();
    assert_eq!(post.channel, "AskReddit");
    assert_eq!(post.root_id, post.id);
    assert_eq!(post.kind, PostKind::Post as i32);
    assert_eq!(post.title, first["title"].as_str().unwrap());
    assert_eq!(post.author_id, pseudonym("reddit", first["author"].as_str().unwrap()));
    assert!(post.permalink.starts_with("https://www.reddit.com/r/AskReddit/comments/"));
    let request = &server.requests()[0];
    assert_eq!(request.query.get("limit").map(String::as_str), Some("100"));
    assert_eq!(request.query.get("raw_json").map(String::as_str), Some("1"));
    assert_eq!(request.headers.get("user-agent").unwrap(), "murmur-tests/0.1");
}

#[tokio::test]
async fn pagination_is_followed_to_the_cursor_and_resumes_without_duplicates() {
    let items: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new((1..=3).rev().map(|id| link(1000 + id, "a")).collect()));
    let served = items.clone();
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/r/rust/new.json" => paged(&served.lock().unwrap(), &request.query),
        _ => empty_listing(),
    })
    .await;
    let connector = RedditConnector::new(RedditConfig { page_limit: 3, ..config(&server) }, normaliser()).unwrap();

    let first = connector.poll(&watch("rust"), None).await.unwrap();
    assert_eq!(first.posts.len(), 3);

    // 8 new submissions arrive: three pages of 3 must be walked until the known ones.
    items.lock().unwrap().splice(0..0, (4..=11).rev().map(|id| link(1000 + id, "b")));
    let before = server.request_count();
    let second = connector.poll(&watch("rust"), Some(&first.next_cursor)).await.unwrap();
    let ids: Vec<String> = second.posts.iter().map(|p| p.id.clone()).collect();
    let expected: Vec<String> = (4..=11).map(|id| format!("reddit:t3_{}", to_base36(1000 + id))).collect();
    assert_eq!(ids, expected, "only new items, oldest first, none twice");
    let new_requests = server.requests()[before..].iter().filter(|r| r.path == "/r/rust/new.json").count();
    assert_eq!(new_requests, 3, "walk stops at the page holding the previous newest item");

    let third = connector.poll(&watch("rust"), Some(&second.next_cursor)).await.unwrap();
    assert!(third.posts.is_empty());
}

#[tokio::test]
async fn nested_comment_thread_has_exact_parent_and_root_ids() {
    let comments = vec![
        comment("c3", "t1_c2", "t3_p1", "carol"),
        comment("c2", "t1_c1", "t3_p1", "bob"),
        comment("c1", "t3_p1", "t3_p1", "alice"),
    ];
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/r/rust/comments.json" => Reply::json(listing(&comments, None)),
        _ => empty_listing(),
    })
    .await;
    let connector = RedditConnector::new(config(&server), normaliser()).unwrap();
    let outcome = connector.poll(&watch("rust"), None).await.unwrap();
    let edges: Vec<(String, String, String, i32)> =
        outcome.posts.iter().map(|p| (p.id.clone(), p.parent_id.clone(), p.root_id.clone(), p.kind)).collect();
    assert_eq!(
        edges,
        vec![
            ("reddit:t1_c1".into(), "reddit:t3_p1".into(), "reddit:t3_p1".into(), PostKind::Comment as i32),
            ("reddit:t1_c2".into(), "reddit:t1_c1".into(), "reddit:t3_p1".into(), PostKind::Reply as i32),
            ("reddit:t1_c3".into(), "reddit:t1_c2".into(), "reddit:t3_p1".into(), PostKind::Reply as i32),
        ]
    );
    assert_eq!(outcome.posts.len(), 3);
}

#[tokio::test]
async fn rate_limit_mid_walk_keeps_fetched_posts_and_resumes() {
    let items: Vec<Value> = (1..=6).rev().map(|id| link(2000 + id, "a")).collect();
    let fail_second_page = Arc::new(Mutex::new(true));
    let fail = fail_second_page.clone();
    let served = items.clone();
    let server = TestServer::start(move |request| {
        if request.path != "/r/rust/new.json" {
            return empty_listing();
        }
        if request.query.contains_key("after") && *fail.lock().unwrap() {
            return Reply::status(429, "slow down").header("retry-after", "7");
        }
        paged(&served, &request.query)
    })
    .await;
    let connector = RedditConnector::new(RedditConfig { page_limit: 2, ..config(&server) }, normaliser()).unwrap();
    // Establish a cursor below all six items.
    let cursor = Cursor::new(json!({"submissions": {"high_water": 1u64}, "comments": {}}).to_string());
    let outcome = connector.poll(&watch("rust"), Some(&cursor)).await.unwrap();
    assert_eq!(outcome.posts.len(), 2, "page 1 kept");
    match &outcome.stopped_early {
        Some(ConnectorError::RateLimited { retry_after, .. }) => assert_eq!(*retry_after, Duration::from_secs(7)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    *fail_second_page.lock().unwrap() = false;
    let resumed = connector.poll(&watch("rust"), Some(&outcome.next_cursor)).await.unwrap();
    let mut all: Vec<String> = outcome.posts.iter().chain(resumed.posts.iter()).map(|p| p.id.clone()).collect();
    assert_eq!(resumed.posts.len(), 4, "the four missing ones, not the two already emitted");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6);
}

#[tokio::test]
async fn http_429_with_retry_after_is_an_exact_rate_limit_error() {
    let server = TestServer::start(|_| Reply::status(429, "{}").header("retry-after", "13")).await;
    let connector = RedditConnector::new(config(&server), normaliser()).unwrap();
    let error = connector.poll(&watch("rust"), None).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(13)), "{error}");
}

#[tokio::test]
async fn exhausted_ratelimit_headers_stop_the_walk_with_the_reset_wait() {
    let items: Vec<Value> = (1..=4).rev().map(|id| link(3000 + id, "a")).collect();
    let server = TestServer::start(move |request| {
        paged(&items, &request.query).header("x-ratelimit-remaining", "0.0").header("x-ratelimit-reset", "42")
    })
    .await;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let connector = RedditConnector::new(RedditConfig { page_limit: 2, ..config(&server) }, normaliser())
        .unwrap()
        .with_clock(Arc::new(FixedClock(now)));
    let cursor = Cursor::new(json!({"submissions": {"high_water": 1u64}}).to_string());
    let outcome = connector.poll(&watch("rust"), Some(&cursor)).await.unwrap();
    assert_eq!(server.request_count(), 1, "no request once the window is exhausted");
    assert_eq!(outcome.posts.len(), 2);
    assert_eq!(outcome.rate_limit.remaining, Some(0));
    assert_eq!(outcome.stopped_early.and_then(|e| e.retry_after()), Some(Duration::from_secs(42)));
}

#[tokio::test]
async fn server_errors_timeouts_and_truncated_json_are_clear_request_errors() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/r/fivexx/new.json" => Reply::status(503, "upstream down"),
        "/r/sleepy/new.json" => empty_listing().delayed(Duration::from_secs(5)),
        "/r/broken/new.json" => Reply::json(&listing(&[link(1, "a")], None)[..40]),
        _ => empty_listing(),
    })
    .await;
    let connector = RedditConnector::new(
        RedditConfig {
            http: murmur_connectors::HttpSettings { timeout: Duration::from_millis(300), ..test_http() },
            ..config(&server)
        },
        normaliser(),
    )
    .unwrap();
    match connector.poll(&watch("fivexx"), None).await {
        Err(ConnectorError::Http { status: 503, detail, .. }) => assert!(detail.contains("upstream down")),
        other => panic!("expected 503, got {other:?}"),
    }
    assert!(matches!(connector.poll(&watch("sleepy"), None).await, Err(ConnectorError::Timeout { .. })));
    assert!(matches!(connector.poll(&watch("broken"), None).await, Err(ConnectorError::MalformedResponse { .. })));
}

#[tokio::test]
async fn bad_items_deleted_authors_edits_huge_posts_and_invalid_utf8() {
    let mut deleted = link(10, "[deleted]");
    deleted["data"]["distinguished"] = json!("moderator");
    let mut edited = link(11, "editor");
    edited["data"]["edited"] = json!(1_700_000_500.0);
    edited["data"]["distinguished"] = json!("moderator");
    let mut huge = link(12, "big");
    huge["data"]["selftext"] = json!("€".repeat(400_000)); // 1.2 MB
    let mut malformed = link(13, "x");
    malformed["data"].as_object_mut().unwrap().remove("created_utc");
    let utf8_marker = link(14, "utf");
    let mut body = listing(&[utf8_marker, malformed, huge, edited, deleted], None);
    // Corrupt one byte inside the body of item 14 ("body 14" → invalid UTF-8 byte).
    let position = body.windows(7).position(|w| w == b"body 14").unwrap();
    body[position + 1] = 0xff;
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/r/rust/new.json" => Reply::json(body.clone()),
        _ => empty_listing(),
    })
    .await;
    let connector = RedditConnector::new(config(&server), normaliser()).unwrap();
    let outcome = connector.poll(&watch("rust"), None).await.unwrap();
    assert_eq!(outcome.posts.len(), 4, "malformed item dropped, the rest kept");
    let kinds: Vec<ItemErrorKind> = outcome.item_errors.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&ItemErrorKind::InvalidUtf8) && kinds.contains(&ItemErrorKind::Malformed), "{kinds:?}");
    let by_id = |n: u64| outcome.posts.iter().find(|p| p.id == format!("reddit:t3_{}", to_base36(n))).unwrap();
    let deleted = by_id(10);
    assert!(deleted.author_deleted && deleted.author_id.is_empty());
    let edited = by_id(11);
    assert!(edited.edited && edited.author_is_moderator && !edited.author_deleted);
    let huge = by_id(12);
    assert!(huge.text_truncated && huge.text.len() <= 16 * 1024 && huge.text.starts_with('€'));
    assert!(by_id(14).text.contains('\u{FFFD}'));
    assert_eq!(huge.channel_audience, Some(321_000));
}

#[tokio::test]
async fn script_oauth_token_is_fetched_once_and_used_as_bearer() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/api/v1/access_token" => Reply::json(
            json!({"access_token": "tok-123", "token_type": "bearer", "expires_in": 3600, "scope": "*"}).to_string(),
        ),
        "/r/rust/new" | "/r/rust/comments" => {
            if request.headers.get("authorization").map(|v| v.to_str().unwrap()) == Some("Bearer tok-123") {
                empty_listing()
            } else {
                Reply::status(401, "unauthorized")
            }
        }
        _ => Reply::status(404, "no"),
    })
    .await;
    let auth = RedditAuth::Script {
        client_id: "cid".into(),
        client_secret: Secret::new("csecret"),
        username: "bot".into(),
        password: Secret::new("pw"),
    };
    assert!(!format!("{auth:?}").contains("csecret") && !format!("{auth:?}").contains("\"pw\""));
    let connector = RedditConnector::new(RedditConfig { auth, ..config(&server) }, normaliser()).unwrap();
    connector.poll(&watch("rust"), None).await.unwrap();
    connector.poll(&watch("rust"), None).await.unwrap();
    let token_requests: Vec<_> = server.requests().into_iter().filter(|r| r.path == "/api/v1/access_token").collect();
    assert_eq!(token_requests.len(), 1, "token cached until expiry");
    assert!(token_requests[0].body.contains("grant_type=password") && token_requests[0].body.contains("username=bot"));
    let basic = token_requests[0].headers.get("authorization").unwrap().to_str().unwrap();
    assert_eq!(basic, "Basic Y2lkOmNzZWNyZXQ="); // base64("cid:csecret")
    assert_eq!(server.request_count(), 5);
}

#[tokio::test]
async fn application_only_grant_uses_client_credentials() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/api/v1/access_token" => Reply::json(json!({"access_token": "app-tok", "expires_in": 86400}).to_string()),
        _ => empty_listing(),
    })
    .await;
    let auth = RedditAuth::ApplicationOnly { client_id: "cid".into(), client_secret: Secret::new("s") };
    let connector = RedditConnector::new(RedditConfig { auth, ..config(&server) }, normaliser()).unwrap();
    connector.poll(&watch("rust"), None).await.unwrap();
    let requests = server.requests();
    assert!(requests[0].body.contains("grant_type=client_credentials"));
    assert_eq!(requests[1].path, "/r/rust/new");
    assert_eq!(requests[1].headers.get("authorization").unwrap(), "Bearer app-tok");
}
