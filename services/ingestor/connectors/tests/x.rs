//! X API v2 recent search against a local server (format from the v2 search documentation).

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::{normaliser, pseudonym, test_http, Reply, TestServer};
use murmur_connectors::x::{XConfig, XConnector};
use murmur_connectors::{ConnectorError, FixedClock, Hashtag, Secret, WatchSpec};
use murmur_proto::events::v1::PostKind;
use serde_json::{json, Value};

fn tweet(id: u64, conversation: u64, replied_to: Option<u64>, author: &str) -> Value {
    let mut tweet = json!({
        "id": id.to_string(), "text": format!("tweet {id} #Rust @dev_{author}"), "author_id": format!("u_{author}"),
        "created_at": format!("2026-03-01T10:00:{:02}.000Z", id % 60), "conversation_id": conversation.to_string(),
        "lang": "en",
        "public_metrics": {
            "retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 4, "impression_count": 50
        },
        "entities": {
            "hashtags": [{"start": 9, "end": 14, "tag": "Rust"}],
            "mentions": [{"start": 15, "end": 20, "username": format!("dev_{author}"), "id": "9"}]
        }
    });
    if let Some(parent) = replied_to {
        tweet["referenced_tweets"] = json!([{"type": "replied_to", "id": parent.to_string()}]);
    }
    tweet
}

fn page(tweets: Vec<Value>, next: Option<&str>) -> Reply {
    let users: Vec<Value> = tweets
        .iter()
        .filter_map(|t| t["author_id"].as_str())
        .map(|id| json!({"id": id, "username": id.trim_start_matches("u_"), "name": "n"}))
        .collect();
    let mut body = json!({"data": tweets, "includes": {"users": users}, "meta": {"result_count": 2}});
    if let Some(next) = next {
        body["meta"]["next_token"] = json!(next);
    }
    Reply::json(body.to_string())
        .header("x-rate-limit-limit", "450")
        .header("x-rate-limit-remaining", "449")
        .header("x-rate-limit-reset", "1772359260")
}

fn connector(server: &TestServer) -> XConnector {
    let config = XConfig {
        base_url: server.base_url.clone(),
        http: test_http(),
        first_poll_pages: 3,
        ..XConfig::new(Secret::new("bearer-xyz"))
    };
    XConnector::new(config, normaliser()).unwrap()
}

#[tokio::test]
async fn next_token_paging_reply_links_and_since_id_resume() {
    let server = TestServer::start(|request| {
        assert_eq!(request.headers.get("authorization").unwrap(), "Bearer bearer-xyz");
        assert_eq!(request.query.get("query").map(String::as_str), Some("#rust"));
        if request.query.contains_key("since_id") {
            return Reply::json(json!({"meta": {"result_count": 0}}).to_string());
        }
        match request.query.get("next_token").map(String::as_str) {
            None => page(vec![tweet(103, 101, Some(102), "carol"), tweet(102, 101, Some(101), "bob")], Some("t2")),
            Some("t2") => page(vec![tweet(101, 101, None, "alice"), json!({"id": "bad"})], None),
            Some(_) => Reply::status(400, "bad token"),
        }
    })
    .await;
    let x = connector(&server);
    let watch = WatchSpec::Hashtag(Hashtag::parse("rust").unwrap());
    let outcome = x.poll(&watch, None).await.unwrap();
    let links: Vec<(String, String, String, i32)> =
        outcome.posts.iter().map(|p| (p.id.clone(), p.parent_id.clone(), p.root_id.clone(), p.kind)).collect();
    assert_eq!(
        links,
        vec![
            ("x:101".into(), String::new(), "x:101".into(), PostKind::Post as i32),
            ("x:102".into(), "x:101".into(), "x:101".into(), PostKind::Comment as i32),
            ("x:103".into(), "x:102".into(), "x:101".into(), PostKind::Reply as i32),
        ]
    );
    assert_eq!(outcome.item_errors.len(), 1);
    let carol = &outcome.posts[2];
    assert_eq!(carol.author_id, pseudonym("x", "carol"));
    assert_eq!(carol.mentions, vec![pseudonym("x", "dev_carol")]);
    assert_eq!(carol.hashtags, vec!["rust"]);
    assert_eq!(carol.engagement.as_ref().unwrap().forwards, 5);
    assert_eq!(outcome.rate_limit.remaining, Some(449));

    let next = x.poll(&watch, Some(&outcome.next_cursor)).await.unwrap();
    assert!(next.posts.is_empty());
    assert_eq!(server.requests().last().unwrap().query.get("since_id").map(String::as_str), Some("103"));
}

#[tokio::test]
async fn rate_limit_reset_header_gives_the_exact_wait() {
    let server = TestServer::start(|_| {
        Reply::status(429, "{\"title\":\"Too Many Requests\"}")
            .header("x-rate-limit-remaining", "0")
            .header("x-rate-limit-reset", "1772359290")
    })
    .await;
    let now = Utc.timestamp_opt(1_772_359_200, 0).unwrap();
    let x = connector(&server).with_clock(Arc::new(FixedClock(now)));
    let error = x.poll(&WatchSpec::Hashtag(Hashtag::parse("rust").unwrap()), None).await.unwrap_err();
    assert!(matches!(error, ConnectorError::RateLimited { .. }));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(90)));
    assert!(XConnector::new(XConfig::new(Secret::new("")), normaliser()).is_err(), "no token, no connector");
}
