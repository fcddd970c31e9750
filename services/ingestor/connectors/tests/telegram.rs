//! Telegram connectors: `t.me/s` previews (fixture following the real markup) and the Bot API
//! `getUpdates` (fixture following core.telegram.org/bots/api).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fixture, normaliser, pseudonym, test_http, Reply, TestServer};
use murmur_connectors::telegram::bot::{TelegramBotConfig, TelegramBotConnector};
use murmur_connectors::telegram::web::{TelegramWebConfig, TelegramWebConnector};
use murmur_connectors::{ChannelUsername, ConnectorError, ItemErrorKind, Secret, WatchSpec};
use murmur_proto::events::v1::PostKind;
use serde_json::json;

fn channel(name: &str) -> WatchSpec {
    WatchSpec::TelegramChannel(ChannelUsername::parse(name).unwrap())
}

fn web(server: &TestServer) -> TelegramWebConnector {
    TelegramWebConnector::new(
        TelegramWebConfig { base_url: server.base_url.clone(), http: test_http(), ..TelegramWebConfig::default() },
        normaliser(),
    )
    .unwrap()
}

/// A preview page of messages `from..=to` (oldest first, as t.me renders them).
fn preview_page(channel: &str, from: i64, to: i64) -> String {
    let mut html = String::from(
        "<html><body><div class=\"tgme_channel_info\"><div class=\"tgme_channel_info_counter\">\
         <span class=\"counter_value\">5K</span> \
         <span class=\"counter_type\">subscribers</span></div></div><section class=\"tgme_channel_history\">",
    );
    for id in from..=to {
        html.push_str(&format!(
            "<div class=\"tgme_widget_message_wrap\">\
             <div class=\"tgme_widget_message js-widget_message\" data-post=\"{channel}/{id}\">\
             <div class=\"tgme_widget_message_text js-message_text\">message {id}</div>\
             <span class=\"tgme_widget_message_views\">{id}</span><a class=\"tgme_widget_message_date\" href=\"#\">\
             <time datetime=\"2026-03-01T10:{:02}:00+00:00\"></time></a></div></div>",
            id % 60
        ));
    }
    html.push_str("</section></body></html>");
    html
}

#[tokio::test]
async fn preview_fixture_yields_text_views_forwards_replies_and_layout_item_errors() {
    let page = fixture("tme_s_murmurdemo.html");
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/s/murmurdemo" if !request.query.contains_key("before") => Reply::html(page.clone()),
        _ => Reply::html(preview_page("murmurdemo", 1, 0)),
    })
    .await;
    let outcome = web(&server).poll(&channel("@MurmurDemo"), None).await.unwrap();
    assert_eq!(outcome.posts.len(), 3);
    assert_eq!(outcome.item_errors.len(), 1);
    assert_eq!(outcome.item_errors[0].kind, ItemErrorKind::Layout);
    assert_eq!(outcome.item_errors[0].item_ref, "murmurdemo/44");

    let launch = &outcome.posts[0];
    assert_eq!(launch.id, "telegram:murmurdemo/41");
    assert_eq!(launch.text, "Launch day for #OpenSource listening, thanks @alice_dev & team!\nSecond line 🚀");
    assert_eq!(launch.hashtags, vec!["opensource"]);
    assert_eq!(launch.mentions, vec![pseudonym("telegram", "alice_dev")]);
    assert_eq!(launch.engagement.as_ref().unwrap().views, 1200);
    assert_eq!(launch.channel_audience, Some(12_300));
    assert!(launch.edited);
    assert_eq!(launch.author_id, pseudonym("telegram", "murmurdemo"));

    let forward = &outcome.posts[1];
    assert_eq!(forward.kind, PostKind::Forward as i32);
    assert_eq!(forward.forwarded_from, "other_news");
    assert_eq!(forward.engagement.as_ref().unwrap().views, 3_400_000);
    assert!(!forward.edited);

    let reply = &outcome.posts[2];
    assert_eq!(reply.parent_id, "telegram:murmurdemo/41");
    assert_eq!(reply.root_id, "telegram:murmurdemo/41");
    assert_eq!(reply.text, "Follow-up: the recording is online.", "quoted reply text is not the message's text");
}

#[tokio::test]
async fn before_paging_walks_back_to_the_cursor_and_resumes() {
    let newest = Arc::new(Mutex::new(25i64));
    let served = newest.clone();
    let server = TestServer::start(move |request| {
        let newest = *served.lock().unwrap();
        let top = request.query.get("before").and_then(|b| b.parse::<i64>().ok()).map_or(newest, |before| before - 1);
        Reply::html(preview_page("chan_demo", (top - 9).max(1), top))
    })
    .await;
    let connector = web(&server);
    let first = connector.poll(&channel("chan_demo"), None).await.unwrap();
    assert_eq!(first.posts.len(), 10, "first poll: one page");

    *newest.lock().unwrap() = 52;
    let second = connector.poll(&channel("chan_demo"), Some(&first.next_cursor)).await.unwrap();
    let ids: Vec<String> = second.posts.iter().map(|p| p.id.clone()).collect();
    let expected: Vec<String> = (26..=52).map(|id| format!("telegram:chan_demo/{id}")).collect();
    assert_eq!(ids, expected);
    let befores: Vec<String> = server.requests().iter().filter_map(|r| r.query.get("before").cloned()).collect();
    assert_eq!(befores, vec!["43", "33"]);
    let third = connector.poll(&channel("chan_demo"), Some(&second.next_cursor)).await.unwrap();
    assert!(third.posts.is_empty());
}

#[tokio::test]
async fn changed_layout_and_429_are_clear_errors() {
    let changed = fixture("tme_s_layout_changed.html");
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/s/changed_chan" => Reply::html(changed.clone()),
        _ => Reply::status(429, "Too Many Requests").header("retry-after", "11"),
    })
    .await;
    let connector = web(&server);
    match connector.poll(&channel("changed_chan"), None).await {
        Err(ConnectorError::Layout { detail, .. }) => assert!(detail.contains("changed_chan")),
        other => panic!("expected a layout error, got {other:?}"),
    }
    let error = connector.poll(&channel("busy_chan"), None).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(11)));
}

fn bot(server: &TestServer) -> TelegramBotConnector {
    let config = TelegramBotConfig {
        base_url: server.base_url.clone(),
        http: test_http(),
        ..TelegramBotConfig::new(Secret::new("123:SECRET"))
    };
    TelegramBotConnector::new(config, normaliser()).unwrap()
}

#[tokio::test]
async fn bot_discussion_thread_has_exact_reply_links_and_offset_cursor() {
    let updates = fixture("bot_get_updates_discussion.json");
    let server = TestServer::start(move |request| {
        assert_eq!(request.path, "/bot123:SECRET/getUpdates");
        match request.query.get("offset").map(String::as_str) {
            None => Reply::json(updates.clone()),
            Some("500106") => Reply::json(json!({"ok": true, "result": []}).to_string()),
            Some(other) => Reply::status(400, &format!("unexpected offset {other}")),
        }
    })
    .await;
    let connector = bot(&server);
    let outcome = connector.poll(&WatchSpec::TelegramBot, None).await.unwrap();
    assert_eq!(outcome.item_errors.len(), 1, "{:?}", outcome.item_errors);
    assert_eq!(outcome.item_errors[0].item_ref, "update 500105");
    let find = |id: &str, edited: bool| outcome.posts.iter().find(|p| p.id == id && p.edited == edited).unwrap();

    let channel_post = find("telegram:murmurdemo/10", false);
    assert_eq!(channel_post.kind, PostKind::Post as i32);
    assert_eq!(channel_post.hashtags, vec!["opensource"]);
    assert_eq!(channel_post.mentions, vec![pseudonym("telegram", "alice_dev")]);

    let thread_root = find("telegram:murmurdemo_chat/200", false);
    assert_eq!(thread_root.kind, PostKind::Forward as i32);
    assert_eq!(thread_root.forwarded_from, "murmurdemo");
    assert_eq!(thread_root.root_id, "telegram:murmurdemo_chat/200");

    let comment = find("telegram:murmurdemo_chat/201", false);
    assert_eq!(comment.kind, PostKind::Comment as i32);
    assert_eq!(comment.parent_id, "telegram:murmurdemo_chat/200");
    assert_eq!(comment.root_id, "telegram:murmurdemo_chat/200");
    assert_eq!(comment.author_id, pseudonym("telegram", "bob_reader"));

    let reply = find("telegram:murmurdemo_chat/202", false);
    assert_eq!(reply.kind, PostKind::Reply as i32);
    assert_eq!(reply.parent_id, "telegram:murmurdemo_chat/201");
    assert_eq!(reply.root_id, "telegram:murmurdemo_chat/200");
    assert_eq!(reply.mentions, vec![pseudonym("telegram", "bob_reader")]);
    assert_eq!(reply.author_id, pseudonym("telegram", "id:7002"), "users without username hash their id");

    let edited = find("telegram:murmurdemo_chat/201", true);
    assert!(edited.text.ends_with("(edited)"));

    let next = connector.poll(&WatchSpec::TelegramBot, Some(&outcome.next_cursor)).await.unwrap();
    assert!(next.posts.is_empty());
    assert_eq!(server.requests()[1].query.get("offset").map(String::as_str), Some("500106"));
}

#[tokio::test]
async fn bot_flood_wait_is_honoured_exactly_and_token_never_leaks() {
    let server = TestServer::start(|request| {
        if request.query.get("offset").map(String::as_str) == Some("1") {
            return Reply::status(502, "<html>Bad Gateway</html>");
        }
        let flood_wait = json!({
            "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 37",
            "parameters": {"retry_after": 37}
        });
        Reply::json(flood_wait.to_string()).header("retry-after", "37")
    })
    .await;
    let connector = bot(&server);
    let error = connector.poll(&WatchSpec::TelegramBot, None).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(37)));
    let cursor = murmur_connectors::Cursor::new("{\"offset\":1}");
    let error = connector.poll(&WatchSpec::TelegramBot, Some(&cursor)).await.unwrap_err();
    assert!(matches!(error, ConnectorError::Http { status: 502, .. }), "{error:?}");
    assert!(!format!("{error} {error:?} {connector:?}").contains("SECRET"));

    // A refused connection: the transport error must not carry the URL with the token either.
    let closed = TelegramBotConnector::new(
        TelegramBotConfig {
            base_url: "http://127.0.0.1:9".into(),
            http: test_http(),
            ..TelegramBotConfig::new(Secret::new("123:SECRET"))
        },
        normaliser(),
    )
    .unwrap();
    let error = closed.poll(&WatchSpec::TelegramBot, None).await.unwrap_err();
    assert!(!format!("{error} {error:?}").contains("SECRET"), "{error}");
}
