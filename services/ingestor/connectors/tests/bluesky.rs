//! Bluesky searchPosts connector against a local XRPC server (fixtures follow the
//! app.bsky.feed.searchPosts lexicon).

mod common;

use std::time::Duration;

use common::{fixture, normaliser, pseudonym, test_http, Reply, TestServer};
use murmur_connectors::bluesky::{BlueskyConfig, BlueskyConnector};
use murmur_connectors::{Hashtag, ItemErrorKind, WatchSpec};
use murmur_proto::events::v1::PostKind;
use serde_json::json;

fn connector(server: &TestServer, first_poll_pages: u32) -> BlueskyConnector {
    let config = BlueskyConfig {
        base_url: server.base_url.clone(),
        http: test_http(),
        first_poll_pages,
        ..BlueskyConfig::default()
    };
    BlueskyConnector::new(config, normaliser()).unwrap()
}

#[tokio::test]
async fn reply_parent_and_root_facets_and_paging() {
    let (page1, page2) = (fixture("bluesky_search_rust.json"), fixture("bluesky_search_rust_page2.json"));
    let server = TestServer::start(move |request| {
        assert_eq!(request.path, "/app.bsky.feed.searchPosts");
        if request.query.contains_key("since") {
            return Reply::json(json!({"posts": []}).to_string());
        }
        match request.query.get("cursor").map(String::as_str) {
            None => Reply::json(page1.clone()),
            Some("page2") => Reply::json(page2.clone()),
            Some(_) => Reply::status(400, "bad cursor"),
        }
    })
    .await;
    let bluesky = connector(&server, 5);
    let outcome = bluesky.poll(&WatchSpec::Hashtag(Hashtag::parse("#Rust").unwrap()), None).await.unwrap();
    let first_request = &server.requests()[0];
    assert_eq!(first_request.query.get("q").map(String::as_str), Some("#rust"));
    assert_eq!(first_request.query.get("tag").map(String::as_str), Some("rust"));
    assert_eq!(first_request.query.get("sort").map(String::as_str), Some("latest"));
    assert_eq!(outcome.posts.len(), 3);
    assert_eq!(outcome.item_errors.len(), 1);
    assert_eq!(outcome.item_errors[0].kind, ItemErrorKind::Malformed);

    let root_uri = "bluesky:at://did:plc:alice111/app.bsky.feed.post/3lroot";
    let [root, comment, reply] = [&outcome.posts[0], &outcome.posts[1], &outcome.posts[2]];
    assert_eq!((root.id.as_str(), root.kind), (root_uri, PostKind::Post as i32));
    assert_eq!(root.hashtags, vec!["rust", "rustlang"]);
    assert_eq!(root.language_hint, "en");
    assert_eq!(root.engagement.as_ref().unwrap().forwards, 3);
    assert_eq!(root.permalink, "https://bsky.app/profile/alice.bsky.social/post/3lroot");
    assert_eq!(
        (comment.parent_id.as_str(), comment.root_id.as_str(), comment.kind),
        (root_uri, root_uri, PostKind::Comment as i32)
    );
    assert_eq!(reply.parent_id, "bluesky:at://did:plc:bob111/app.bsky.feed.post/3lreply1");
    assert_eq!(reply.root_id, root_uri);
    assert_eq!(reply.kind, PostKind::Reply as i32);
    assert_eq!(reply.mentions, vec![pseudonym("bluesky", "did:plc:bob111")]);
    assert_eq!(reply.author_id, pseudonym("bluesky", "did:plc:carol111"));
    assert_eq!(channel_of(reply), "#rust");

    // The cursor carries the newest sort time; the next poll asks `since` it and gets nothing new.
    let next =
        bluesky.poll(&WatchSpec::Hashtag(Hashtag::parse("rust").unwrap()), Some(&outcome.next_cursor)).await.unwrap();
    assert!(next.posts.is_empty());
    let since = server.requests().last().unwrap().query.get("since").cloned();
    assert_eq!(since.as_deref(), Some("2026-03-01T10:02:00.000Z"));
}

fn channel_of(post: &murmur_proto::events::v1::Post) -> &str {
    &post.channel
}

#[tokio::test]
async fn boundary_posts_are_not_repeated_and_errors_are_clear() {
    let page = fixture("bluesky_search_rust.json");
    let server = TestServer::start(move |request| match request.query.get("cursor").map(String::as_str) {
        Some(_) => Reply::status(503, "upstream unavailable"),
        None if request.query.get("tag").map(String::as_str) == Some("slow") => {
            Reply::json("{}").delayed(Duration::from_secs(5))
        }
        None if request.query.get("tag").map(String::as_str) == Some("cut") => Reply::json("{\"posts\": [{\"uri\""),
        None => Reply::json(page.clone()),
    })
    .await;
    let bluesky = connector(&server, 3);
    let watch = WatchSpec::Hashtag(Hashtag::parse("rust").unwrap());
    let outcome = bluesky.poll(&watch, None).await.unwrap();
    assert_eq!(outcome.posts.len(), 2, "page 1 kept although page 2 failed");
    assert!(matches!(outcome.stopped_early, Some(murmur_connectors::ConnectorError::Http { status: 503, .. })));
    // Interrupted: the same first page served again yields nothing twice, and since page 2 still
    // fails and nothing new was fetched, the poll reports the error itself.
    match bluesky.poll(&watch, Some(&outcome.next_cursor)).await {
        Err(murmur_connectors::ConnectorError::Http { status: 503, .. }) => {}
        Ok(again) => panic!("expected the 503, got {} posts", again.posts.len()),
        Err(other) => panic!("expected the 503, got {other:?}"),
    }

    let fast = BlueskyConnector::new(
        BlueskyConfig {
            base_url: server.base_url.clone(),
            http: murmur_connectors::HttpSettings { timeout: Duration::from_millis(200), ..test_http() },
            ..BlueskyConfig::default()
        },
        normaliser(),
    )
    .unwrap();
    let slow = fast.poll(&WatchSpec::Hashtag(Hashtag::parse("slow").unwrap()), None).await.unwrap_err();
    assert!(matches!(slow, murmur_connectors::ConnectorError::Timeout { .. }), "{slow:?}");
    let cut = bluesky.poll(&WatchSpec::Hashtag(Hashtag::parse("cut").unwrap()), None).await.unwrap_err();
    assert!(matches!(cut, murmur_connectors::ConnectorError::MalformedResponse { .. }), "{cut:?}");
}
