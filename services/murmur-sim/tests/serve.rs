//! `murmur-sim serve` against murmur's real connectors: hand-written records of every platform are
//! served by [`PlatformServer`] and polled by the Reddit, Mastodon, Bluesky and Telegram web
//! connectors; what comes out must be what the replay connector makes of the same records (the
//! stream's own normalisation): ids, parents, roots, channels, author and mention pseudonyms,
//! hashtags, text. Paced speeds must release records over time, and cursors must pick up only
//! the newly released ones.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use murmur_connectors::bluesky::{BlueskyConfig, BlueskyConnector};
use murmur_connectors::mastodon::{MastodonConfig, MastodonConnector};
use murmur_connectors::reddit::{RedditConfig, RedditConnector};
use murmur_connectors::replay::{ReplayConfig, ReplayConnector, ReplayEngagement, ReplayRecord};
use murmur_connectors::telegram::web::{TelegramWebConfig, TelegramWebConnector};
use murmur_connectors::{
    ChannelUsername, ConnectorError, Cursor, Hashtag, HttpSettings, Normaliser, PollOutcome, Pseudonymiser,
    SubredditName, WatchSpec,
};
use murmur_proto::events::v1::{Post, PostKind};
use murmur_sim::serve::{PlatformServer, Speed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn normaliser() -> Normaliser {
    Normaliser::new(Pseudonymiser::dev())
}

fn pseudonym(platform: &str, handle: &str) -> String {
    Pseudonymiser::dev().pseudonymise(platform, handle)
}

fn http() -> HttpSettings {
    HttpSettings { timeout: Duration::from_secs(5), user_agent: "murmur-sim-tests/0.1".into() }
}

/// A free local port (Mastodon ids carry the instance host, so the records need it up front).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
    listener.local_addr().expect("probe address")
}

fn record(platform: &str, id: &str, channel: &str, author: &str, text: &str, created_at: &str) -> ReplayRecord {
    ReplayRecord {
        id: id.into(),
        platform: platform.into(),
        channel: channel.into(),
        author: Some(author.into()),
        text: text.into(),
        created_at: created_at.into(),
        ..ReplayRecord::default()
    }
}

fn reply(mut record: ReplayRecord, parent: &str, root: &str) -> ReplayRecord {
    record.parent_id = parent.into();
    record.root_id = root.into();
    record
}

/// What the replay connector (the stream's own normalisation) makes of the records, by id.
async fn replay_posts(records: &[ReplayRecord]) -> HashMap<String, Post> {
    static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let number = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("murmur-sim-serve-{}-{number}.jsonl", std::process::id()));
    let lines: Vec<String> = records.iter().map(|record| serde_json::to_string(record).unwrap()).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let connector = ReplayConnector::new(ReplayConfig::new(&path), normaliser()).unwrap();
    let outcome = connector.poll(&WatchSpec::Replay, None).await.unwrap();
    std::fs::remove_file(&path).ok();
    assert!(outcome.item_errors.is_empty(), "{:?}", outcome.item_errors);
    assert_eq!(outcome.posts.len(), records.len());
    outcome.posts.into_iter().map(|post| (post.id.clone(), post)).collect()
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut values = values.to_vec();
    values.sort();
    values
}

/// The served post must be the stream's post.
fn assert_same(live: &Post, expected: &Post) {
    let id = &expected.id;
    assert_eq!(live.id, expected.id);
    assert_eq!(live.platform, expected.platform, "{id}: platform");
    assert_eq!(live.parent_id, expected.parent_id, "{id}: parent");
    assert_eq!(live.root_id, expected.root_id, "{id}: root");
    assert_eq!(live.kind, expected.kind, "{id}: kind");
    assert_eq!(live.channel, expected.channel, "{id}: channel");
    assert_eq!(live.author_id, expected.author_id, "{id}: author pseudonym");
    assert_eq!(sorted(&live.mentions), sorted(&expected.mentions), "{id}: mentions");
    assert_eq!(sorted(&live.hashtags), sorted(&expected.hashtags), "{id}: hashtags");
    assert_eq!(live.text, expected.text, "{id}: text");
    assert_eq!(live.title, expected.title, "{id}: title");
    let seconds = |post: &Post| post.created_at.as_ref().map(|at| at.seconds);
    assert_eq!(seconds(live), seconds(expected), "{id}: created_at");
    assert!(!live.text.is_empty(), "{id}: empty text");
}

/// Asserts the outcome holds exactly `ids`, each equal to the stream's post.
fn assert_outcome(outcome: &PollOutcome, ids: &[&str], expected: &HashMap<String, Post>) {
    assert!(outcome.item_errors.is_empty(), "item errors: {:?}", outcome.item_errors);
    assert!(outcome.stopped_early.is_none(), "stopped early: {:?}", outcome.stopped_early);
    let mut got: Vec<&str> = outcome.posts.iter().map(|post| post.id.as_str()).collect();
    got.sort_unstable();
    let mut want = ids.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
    for post in &outcome.posts {
        assert_same(post, &expected[&post.id]);
    }
}

fn find<'a>(outcome: &'a PollOutcome, id: &str) -> &'a Post {
    outcome.posts.iter().find(|post| post.id == id).unwrap_or_else(|| panic!("{id} not polled"))
}

struct Connectors {
    reddit: RedditConnector,
    mastodon: MastodonConnector,
    bluesky: BlueskyConnector,
    telegram: TelegramWebConnector,
}

impl Connectors {
    /// The real connectors configured the way the ingestor is when pointed at the simulator.
    fn pointed_at(addr: SocketAddr) -> Self {
        let base = format!("http://{addr}");
        Self {
            reddit: RedditConnector::new(
                RedditConfig { public_base_url: base.clone(), http: http(), ..RedditConfig::default() },
                normaliser(),
            )
            .unwrap(),
            mastodon: MastodonConnector::new(
                MastodonConfig { base_url: base.clone(), http: http(), ..MastodonConfig::default() },
                normaliser(),
            )
            .unwrap(),
            bluesky: BlueskyConnector::new(
                BlueskyConfig { base_url: format!("{base}/xrpc"), http: http(), ..BlueskyConfig::default() },
                normaliser(),
            )
            .unwrap(),
            telegram: TelegramWebConnector::new(
                TelegramWebConfig { base_url: base, http: http(), ..TelegramWebConfig::default() },
                normaliser(),
            )
            .unwrap(),
        }
    }
}

fn subreddit(name: &str) -> WatchSpec {
    WatchSpec::Subreddit(SubredditName::parse(name).unwrap())
}

fn tag(name: &str) -> WatchSpec {
    WatchSpec::Hashtag(Hashtag::parse(name).unwrap())
}

fn channel(name: &str) -> WatchSpec {
    WatchSpec::TelegramChannel(ChannelUsername::parse(name).unwrap())
}

/// A raw HTTP/1.1 GET in absolute form (what a client sends through `HTTP_PROXY`).
async fn proxy_get(addr: SocketAddr, url: &str, host: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn every_platform_round_trips_through_the_real_connectors() {
    let addr = free_addr();
    let host = addr.to_string();
    let ip = addr.ip().to_string();
    let mut records = Vec::new();

    // Reddit: a submission, a comment, a nested reply; another subreddit.
    let mut submission = record(
        "reddit",
        "reddit:t3_100",
        "Rustaceans",
        "alice",
        "How do I share state, asks u/bob? #tokio\n\nThanks & <cheers>",
        "2026-03-01T10:00:00.250Z",
    );
    submission.title = "Async #Rust question".into();
    submission.mentions = vec!["bob".into()];
    submission.engagement = ReplayEngagement { score: 12, replies: 2, forwards: 1, ..ReplayEngagement::default() };
    submission.channel_audience = Some(321_000);
    records.push(submission);
    let mut comment =
        record("reddit", "reddit:t1_101", "Rustaceans", "bob", "Use an Arc #tokio", "2026-03-01T10:01:00Z");
    comment.engagement.score = 4;
    records.push(reply(comment, "reddit:t3_100", "reddit:t3_100"));
    records.push(reply(
        record("reddit", "reddit:t1_102", "Rustaceans", "carol", "And a Mutex.", "2026-03-01T10:02:00Z"),
        "reddit:t1_101",
        "reddit:t3_100",
    ));
    records.push(record("reddit", "reddit:t3_103", "golang", "dave", "Other sub", "2026-03-01T10:03:00Z"));

    // Mastodon on the instance the connector is pointed at: a post, a reply with mentions (local
    // and remote), a bare-handle author; and a status of another instance with the same tag.
    let mut status = record(
        "mastodon",
        &format!("mastodon:{host}/1000"),
        &format!("{host}/#rustlang"),
        &format!("alice@{ip}"),
        "Hello #RustLang friends\nline two\n\nsecond paragraph & <stuff>",
        "2026-03-01T10:00:30Z",
    );
    status.hashtags = vec!["rustlang".into()];
    status.engagement = ReplayEngagement { replies: 1, forwards: 2, reactions: 3, ..ReplayEngagement::default() };
    records.push(status);
    let mut answer = record(
        "mastodon",
        &format!("mastodon:{host}/1005"),
        &format!("{host}/#rustlang"),
        &format!("bob@{ip}"),
        "@alice @carol@fosstodon.org agreed #rustlang",
        "2026-03-01T10:01:30Z",
    );
    answer.mentions = vec![format!("alice@{ip}"), "carol@fosstodon.org".into()];
    records.push(reply(answer, &format!("mastodon:{host}/1000"), &format!("mastodon:{host}/1000")));
    records.push(record(
        "mastodon",
        &format!("mastodon:{host}/1007"),
        &format!("{host}/#rustlang"),
        "dave",
        "#rustlang from a local account",
        "2026-03-01T10:02:30Z",
    ));
    records.push(record(
        "mastodon",
        "mastodon:mastodon.social/2000",
        "mastodon.social/#rustlang",
        "erin",
        "elsewhere #rustlang",
        "2026-03-01T10:03:30Z",
    ));

    // Bluesky: a root, a reply with a mention, a reply to the reply; another tag.
    let root_uri = "bluesky:at://did:plc:alice111/app.bsky.feed.post/3lroot";
    let mut root =
        record("bluesky", root_uri, "#rustlang", "alice.bsky.social", "Root on #rustlang", "2026-03-01T10:00:10Z");
    root.engagement = ReplayEngagement { replies: 1, forwards: 1, reactions: 5, ..ReplayEngagement::default() };
    records.push(root);
    let mut first = record(
        "bluesky",
        "bluesky:at://did:plc:bob111/app.bsky.feed.post/3lreply1",
        "#rustlang",
        "bob.bsky.social",
        "@alice.bsky.social yes, #RustLang wins ✨",
        "2026-03-01T10:01:10Z",
    );
    first.mentions = vec!["alice.bsky.social".into()];
    records.push(reply(first, root_uri, root_uri));
    records.push(reply(
        record(
            "bluesky",
            "bluesky:at://did:plc:carol111/app.bsky.feed.post/3lreply2",
            "#rustlang",
            "carol",
            "deeper #rustlang",
            "2026-03-01T10:02:10Z",
        ),
        "bluesky:at://did:plc:bob111/app.bsky.feed.post/3lreply1",
        root_uri,
    ));
    records.push(record(
        "bluesky",
        "bluesky:at://did:plc:dave111/app.bsky.feed.post/3lother",
        "#golang",
        "dave.bsky.social",
        "not ours #golang",
        "2026-03-01T10:03:10Z",
    ));

    // Telegram: two channel posts (one a forward) and a discussion comment.
    let mut launch = record(
        "telegram",
        "telegram:murmurdemo/41",
        "murmurdemo",
        "murmurdemo",
        "Launch day for #OpenSource, thanks @alice_dev & team!\nSecond line 🚀",
        "2026-03-01T10:00:40Z",
    );
    launch.mentions = vec!["alice_dev".into()];
    launch.engagement.views = 1200;
    launch.channel_audience = Some(12_300);
    launch.edited = true;
    records.push(launch);
    let mut forward = record(
        "telegram",
        "telegram:murmurdemo/42",
        "murmurdemo",
        "murmurdemo",
        "Forwarded report on #climate",
        "2026-03-01T10:01:40Z",
    );
    forward.kind = Some("forward".into());
    forward.forwarded_from = "other_news".into();
    forward.engagement.views = 3_400_000;
    records.push(forward);
    records.push(reply(
        record("telegram", "telegram:murmurdemo_chat/7", "murmurdemo", "zoe", "a comment", "2026-03-01T10:02:40Z"),
        "telegram:murmurdemo/41",
        "telegram:murmurdemo/41",
    ));

    let expected = replay_posts(&records).await;
    let server = PlatformServer::start(records, addr, Speed::Max).await.unwrap();
    assert_eq!(server.addr(), addr);
    let connectors = Connectors::pointed_at(addr);

    // Reddit: /r/<sub>/new.json and /r/<sub>/comments.json.
    let reddit = connectors.reddit.poll(&subreddit("rustaceans"), None).await.unwrap();
    assert_outcome(&reddit, &["reddit:t3_100", "reddit:t1_101", "reddit:t1_102"], &expected);
    let submission = find(&reddit, "reddit:t3_100");
    assert_eq!(submission.author_id, pseudonym("reddit", "alice"));
    assert_eq!(submission.title, "Async #Rust question");
    assert_eq!(sorted(&submission.hashtags), vec!["rust", "tokio"]);
    assert_eq!(submission.mentions, vec![pseudonym("reddit", "bob")]);
    assert_eq!(submission.channel_audience, Some(321_000));
    let engagement = submission.engagement.unwrap();
    assert_eq!((engagement.score, engagement.replies, engagement.forwards), (12, 2, 1));
    assert_eq!(find(&reddit, "reddit:t1_101").engagement.unwrap().score, 4);
    let nested = find(&reddit, "reddit:t1_102");
    assert_eq!((nested.parent_id.as_str(), nested.root_id.as_str()), ("reddit:t1_101", "reddit:t3_100"));
    assert_eq!(nested.kind, PostKind::Reply as i32);
    assert_eq!(reddit.requests, 2, "one page of submissions, one of comments");
    let again = connectors.reddit.poll(&subreddit("rustaceans"), Some(&reddit.next_cursor)).await.unwrap();
    assert!(again.posts.is_empty(), "nothing new: {:?}", again.posts);
    let golang = connectors.reddit.poll(&subreddit("golang"), None).await.unwrap();
    assert_outcome(&golang, &["reddit:t3_103"], &expected);
    let unknown = connectors.reddit.poll(&subreddit("nosuchsub"), None).await.unwrap();
    assert!(unknown.posts.is_empty());

    // Mastodon: /api/v1/timelines/tag/<tag> on the instance named by the request's host.
    let mastodon = connectors.mastodon.poll(&tag("RustLang"), None).await.unwrap();
    let statuses = [format!("mastodon:{host}/1000"), format!("mastodon:{host}/1005"), format!("mastodon:{host}/1007")];
    let status_ids: Vec<&str> = statuses.iter().map(String::as_str).collect();
    let expected_local: HashMap<String, Post> = expected
        .iter()
        .map(|(id, post)| {
            let mut post = post.clone();
            if *id == statuses[2] {
                // A bare handle is a local account: the connector canonicalises it to user@host.
                post.author_id = pseudonym("mastodon", &format!("dave@{ip}"));
            }
            (id.clone(), post)
        })
        .collect();
    assert_outcome(&mastodon, &status_ids, &expected_local);
    let answer = find(&mastodon, &statuses[1]);
    assert_eq!(answer.parent_id, statuses[0]);
    assert_eq!(answer.root_id, statuses[0]);
    assert_eq!(answer.author_id, pseudonym("mastodon", &format!("bob@{ip}")));
    assert_eq!(
        sorted(&answer.mentions),
        sorted(&[pseudonym("mastodon", &format!("alice@{ip}")), pseudonym("mastodon", "carol@fosstodon.org")])
    );
    let first_status = find(&mastodon, &statuses[0]);
    assert_eq!(first_status.text, "Hello #RustLang friends\nline two\n\nsecond paragraph & <stuff>");
    assert_eq!(first_status.channel, format!("{host}/#rustlang"));
    let engagement = first_status.engagement.unwrap();
    assert_eq!((engagement.replies, engagement.forwards, engagement.reactions), (1, 2, 3));
    let again = connectors.mastodon.poll(&tag("rustlang"), Some(&mastodon.next_cursor)).await.unwrap();
    assert!(again.posts.is_empty(), "nothing new: {:?}", again.posts);
    assert!(connectors.mastodon.poll(&tag("nosuchtag"), None).await.unwrap().posts.is_empty());
    // Through a proxy (absolute-form request, Host: mastodon.social) the other instance answers.
    let proxied =
        proxy_get(addr, "http://mastodon.social/api/v1/timelines/tag/rustlang?limit=40", "mastodon.social").await;
    assert!(proxied.starts_with("HTTP/1.1 200"), "{proxied}");
    assert!(proxied.contains("\"id\":\"2000\"") && !proxied.contains("\"id\":\"1000\""), "{proxied}");
    assert!(proxied.to_ascii_lowercase().contains("link: <http://mastodon.social/api/v1/timelines/tag/rustlang"));

    // Bluesky: /xrpc/app.bsky.feed.searchPosts.
    let bluesky = connectors.bluesky.poll(&tag("rustlang"), None).await.unwrap();
    let bluesky_ids = [
        root_uri,
        "bluesky:at://did:plc:bob111/app.bsky.feed.post/3lreply1",
        "bluesky:at://did:plc:carol111/app.bsky.feed.post/3lreply2",
    ];
    assert_outcome(&bluesky, &bluesky_ids, &expected);
    let deeper = find(&bluesky, bluesky_ids[2]);
    assert_eq!((deeper.parent_id.as_str(), deeper.root_id.as_str()), (bluesky_ids[1], root_uri));
    assert_eq!(deeper.author_id, pseudonym("bluesky", "carol"));
    assert_eq!(find(&bluesky, bluesky_ids[1]).mentions, vec![pseudonym("bluesky", "alice.bsky.social")]);
    let engagement = find(&bluesky, root_uri).engagement.unwrap();
    assert_eq!((engagement.replies, engagement.forwards, engagement.reactions), (1, 1, 5));
    let again = connectors.bluesky.poll(&tag("rustlang"), Some(&bluesky.next_cursor)).await.unwrap();
    assert!(again.posts.is_empty(), "nothing new: {:?}", again.posts);
    assert!(connectors.bluesky.poll(&tag("nosuchtag"), None).await.unwrap().posts.is_empty());

    // Telegram: /s/<channel>; the discussion comment is not on the preview.
    let telegram = connectors.telegram.poll(&channel("@MurmurDemo"), None).await.unwrap();
    assert_outcome(&telegram, &["telegram:murmurdemo/41", "telegram:murmurdemo/42"], &expected);
    let launch = find(&telegram, "telegram:murmurdemo/41");
    assert_eq!(launch.author_id, pseudonym("telegram", "murmurdemo"));
    assert_eq!(launch.mentions, vec![pseudonym("telegram", "alice_dev")]);
    assert_eq!(launch.engagement.unwrap().views, 1200);
    assert_eq!(launch.channel_audience, Some(12_300));
    assert!(launch.edited);
    let forward = find(&telegram, "telegram:murmurdemo/42");
    assert_eq!(forward.kind, PostKind::Forward as i32);
    assert_eq!(forward.forwarded_from, "other_news");
    assert_eq!(forward.engagement.unwrap().views, 3_400_000);
    let again = connectors.telegram.poll(&channel("murmurdemo"), Some(&telegram.next_cursor)).await.unwrap();
    assert!(again.posts.is_empty(), "nothing new: {:?}", again.posts);
    match connectors.telegram.poll(&channel("nosuchchannel"), None).await {
        Err(ConnectorError::Http { status: 404, .. }) => {}
        other => panic!("unknown channel: {other:?}"),
    }

    server.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening after shutdown");
}

/// Polls every platform once with its cursor and returns the ids that came out, per platform.
async fn poll_all(
    connectors: &Connectors,
    cursors: &mut HashMap<&'static str, Cursor>,
    expected: &HashMap<String, Post>,
) -> Vec<String> {
    let mut ids = Vec::new();
    let watches = [("reddit", subreddit("rustaceans")), ("mastodon", tag("paced")), ("bluesky", tag("paced"))];
    for (platform, watch) in watches.iter().chain([("telegram", channel("paceddemo"))].iter()) {
        let cursor = cursors.get(platform).cloned();
        let outcome = match *platform {
            "reddit" => connectors.reddit.poll(watch, cursor.as_ref()).await,
            "mastodon" => connectors.mastodon.poll(watch, cursor.as_ref()).await,
            "bluesky" => connectors.bluesky.poll(watch, cursor.as_ref()).await,
            _ => connectors.telegram.poll(watch, cursor.as_ref()).await,
        }
        .unwrap();
        assert!(outcome.item_errors.is_empty(), "{platform}: {:?}", outcome.item_errors);
        for post in &outcome.posts {
            assert_same(post, &expected[&post.id]);
        }
        ids.extend(outcome.posts.iter().map(|post| post.id.clone()));
        cursors.insert(platform, outcome.next_cursor);
    }
    ids.sort();
    ids
}

#[tokio::test]
async fn time_scaled_speed_releases_over_time_and_cursors_pick_up_only_new_posts() {
    let addr = free_addr();
    let host = addr.to_string();
    let ip = addr.ip().to_string();
    // Batch A at t0, batch B 150 s of stream time later: 3 s of wall time at 50x.
    let batch = |at: &str, n: u64| {
        let mastodon_author = format!("m{n}@{ip}");
        vec![
            record("reddit", &format!("reddit:t3_{n}"), "rustaceans", &format!("r{n}"), &format!("post {n}"), at),
            record(
                "mastodon",
                &format!("mastodon:{host}/{n}"),
                &format!("{host}/#paced"),
                &mastodon_author,
                &format!("status {n} #paced"),
                at,
            ),
            record(
                "bluesky",
                &format!("bluesky:at://did:plc:p{n}/app.bsky.feed.post/3l{n}"),
                "#paced",
                &format!("b{n}.bsky.social"),
                &format!("skeet {n} #paced"),
                at,
            ),
            record("telegram", &format!("telegram:paceddemo/{n}"), "paceddemo", "paceddemo", &format!("msg {n}"), at),
        ]
    };
    let mut records = batch("2026-03-01T10:00:00Z", 11);
    records.extend(batch("2026-03-01T10:00:00Z", 12));
    records.extend(batch("2026-03-01T10:02:30Z", 21));
    records.extend(batch("2026-03-01T10:02:30Z", 22));
    let expected = replay_posts(&records).await;
    let ids_of = |numbers: &[u64]| {
        let mut ids: Vec<String> = numbers
            .iter()
            .flat_map(|&n| {
                [
                    format!("reddit:t3_{n}"),
                    format!("mastodon:{host}/{n}"),
                    format!("bluesky:at://did:plc:p{n}/app.bsky.feed.post/3l{n}"),
                    format!("telegram:paceddemo/{n}"),
                ]
            })
            .collect();
        ids.sort();
        ids
    };

    let started = tokio::time::Instant::now();
    let server = PlatformServer::start(records, addr, Speed::Scaled(50.0)).await.unwrap();
    let connectors = Connectors::pointed_at(addr);
    let mut cursors = HashMap::new();
    let first = poll_all(&connectors, &mut cursors, &expected).await;
    let second = poll_all(&connectors, &mut cursors, &expected).await;
    assert!(started.elapsed() < Duration::from_millis(2_500), "polls too slow for the schedule");
    assert_eq!(first, ids_of(&[11, 12]), "only batch A is released at first");
    assert!(second.is_empty(), "nothing new before batch B: {second:?}");

    tokio::time::sleep_until(started + Duration::from_millis(3_400)).await;
    let third = poll_all(&connectors, &mut cursors, &expected).await;
    assert_eq!(third, ids_of(&[21, 22]), "the cursors pick up batch B only");
    let fourth = poll_all(&connectors, &mut cursors, &expected).await;
    assert!(fourth.is_empty(), "{fourth:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn per_second_speed_releases_the_first_records_at_that_rate() {
    let records: Vec<ReplayRecord> = (0..4)
        .map(|n| {
            record(
                "reddit",
                &format!("reddit:t3_{}", 10 + n),
                "rustaceans",
                "alice",
                &format!("post {n}"),
                "2026-03-01T10:00:00Z",
            )
        })
        .collect();
    let started = tokio::time::Instant::now();
    let server = PlatformServer::start(records, "127.0.0.1:0".parse().unwrap(), Speed::PerSecond(2.0)).await.unwrap();
    let connectors = Connectors::pointed_at(server.addr());
    let first = connectors.reddit.poll(&subreddit("rustaceans"), None).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(450), "first poll too slow for the schedule");
    let ids: Vec<&str> = first.posts.iter().map(|post| post.id.as_str()).collect();
    assert_eq!(ids, vec!["reddit:t3_10"], "one record at t=0");
    // Records 1 and 2 are due at 0.5 s and 1 s, record 3 at 1.5 s.
    tokio::time::sleep_until(started + Duration::from_millis(1_200)).await;
    let second = connectors.reddit.poll(&subreddit("rustaceans"), Some(&first.next_cursor)).await.unwrap();
    let mut ids: Vec<&str> = second.posts.iter().map(|post| post.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["reddit:t3_11", "reddit:t3_12"]);
    server.shutdown().await.unwrap();
}
