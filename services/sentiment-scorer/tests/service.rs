//! The scorer in-process against the real broker: raw posts in, scored posts out, bad input
//! dead-lettered; and the SentimentService API with its limits.

use std::time::Duration;

use clap::Parser;
use murmur_common::testing::{fresh_topic, produce_raw, read_all};
use murmur_common::Shutdown;
use murmur_proto::api::v1::sentiment_service_client::SentimentServiceClient;
use murmur_proto::api::v1::{ListModelsRequest, ScoreInput, ScoreRequest};
use murmur_proto::events::v1::{Platform, Post, ScoredPost, SentimentLabel};
use murmur_proto::headers;
use prost::Message;
use sentiment_scorer::{Application, Config};

struct RunningScorer {
    grpc_addr: std::net::SocketAddr,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_scorer(input: &str, output: &str, deadletter: &str) -> RunningScorer {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let group = format!("scorer-{input}");
    #[cfg_attr(not(feature = "transformer"), allow(unused_mut))]
    let mut args = vec![
        "sentiment-scorer".to_string(),
        "--grpc-addr=127.0.0.1:0".to_string(),
        "--admin-addr=127.0.0.1:0".to_string(),
        format!("--kafka-brokers={brokers}"),
        format!("--input-topic={input}"),
        format!("--output-topic={output}"),
        format!("--deadletter-topic={deadletter}"),
        format!("--kafka-group-id={group}"),
        "--max-score-inputs=3".to_string(),
        "--max-text-bytes=1000".to_string(),
    ];
    // The lexicon-only service, even in `transformer` builds run under scripts/torch-env (whose
    // MURMUR_TRANSFORMER_MODEL_DIR would load the model); tests/transformer.rs covers that one.
    #[cfg(feature = "transformer")]
    args.push("--transformer-model-dir=".to_string());
    let config = Config::parse_from(args);
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(config, shutdown.clone()).await.expect("scorer builds");
    let grpc_addr = app.grpc_addr();
    let task = tokio::spawn(app.run_until_stopped());
    RunningScorer { grpc_addr, shutdown, task }
}

fn raw_post(id: &str, text: &str, hint: &str) -> (String, Vec<u8>) {
    let post = Post {
        id: id.into(),
        platform: Platform::Mastodon as i32,
        channel: "rstats".into(),
        text: text.into(),
        language_hint: hint.into(),
        ..Default::default()
    };
    ("mastodon:rstats".into(), post.encode_to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_posts_are_scored_through_the_broker_and_garbage_is_dead_lettered() {
    let input = fresh_topic("scorer-in", 2).await;
    let output = fresh_topic("scorer-out", 2).await;
    let deadletter = fresh_topic("scorer-dlq", 1).await;
    produce_raw(
        &input,
        &[
            raw_post("mastodon:1", "I love this package, it is wonderful!", ""),
            raw_post("mastodon:2", "C'est vraiment nul, je déteste cette mise à jour", ""),
            ("mastodon:rstats".into(), vec![0xff, 0xff, 0xff]),
            raw_post("", "a post without id", "en"),
            raw_post("mastodon:3", "The release notes are on the website", "en"),
        ],
    )
    .await;

    let scorer = start_scorer(&input, &output, &deadletter).await;
    let scored = tokio::task::spawn_blocking({
        let output = output.clone();
        move || read_all(&output, 3, Duration::from_secs(30))
    })
    .await
    .expect("reader");
    let dead = tokio::task::spawn_blocking({
        let deadletter = deadletter.clone();
        move || read_all(&deadletter, 2, Duration::from_secs(30))
    })
    .await
    .expect("reader");
    scorer.shutdown.trigger();
    scorer.task.await.expect("join").expect("scorer ran cleanly");

    assert_eq!(scored.len(), 3, "three valid posts must come out");
    let by_id = |id: &str| {
        scored
            .iter()
            .map(|record| ScoredPost::decode(record.payload.as_slice()).expect("scored post decodes"))
            .find(|scored| scored.post.as_ref().is_some_and(|post| post.id == id))
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    let english = by_id("mastodon:1");
    assert_eq!(english.language, "en");
    assert_eq!(english.sentiment.as_ref().map(|s| s.label), Some(SentimentLabel::Positive as i32));
    let french = by_id("mastodon:2");
    assert_eq!(french.language, "fr");
    assert_eq!(french.sentiment.as_ref().map(|s| s.label), Some(SentimentLabel::Negative as i32));
    let neutral = by_id("mastodon:3");
    assert!(neutral.language_from_hint);
    assert_eq!(neutral.sentiment.as_ref().map(|s| s.label), Some(SentimentLabel::Neutral as i32));
    for record in &scored {
        assert_eq!(record.key.as_deref(), Some("mastodon:rstats"), "channel key kept for ordering");
        assert!(record
            .headers
            .iter()
            .any(|(key, value)| key == headers::MESSAGE_TYPE && value == "murmur.events.v1.ScoredPost"));
    }

    assert_eq!(dead.len(), 2, "the undecodable message and the post without id are dead-lettered");
    let reasons: Vec<String> = dead
        .iter()
        .filter_map(|record| record.headers.iter().find(|(key, _)| key == headers::DLQ_ERROR).map(|(_, v)| v.clone()))
        .collect();
    assert!(reasons.iter().any(|reason| reason.contains("undecodable")), "{reasons:?}");
    assert!(reasons.iter().any(|reason| reason.contains("no id")), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_score_api_scores_batches_and_refuses_empty_or_oversized_ones() {
    let input = fresh_topic("scorer-api-in", 1).await;
    let scorer = start_scorer(&input, "unused.scored", "unused.dlq").await;
    let mut client = SentimentServiceClient::connect(format!("http://{}", scorer.grpc_addr)).await.expect("connect");

    let input_of = |text: &str| ScoreInput { text: text.into(), language_hint: String::new() };
    let response = client
        .score(ScoreRequest {
            inputs: vec![
                input_of("What a fantastic day, I really love the new features of this release"),
                input_of("Quelle journée horrible et triste"),
            ],
            ..Default::default()
        })
        .await
        .expect("score")
        .into_inner();
    assert_eq!(response.results.len(), 2);
    assert_eq!(response.results[0].language, "en");
    assert_eq!(response.results[1].language, "fr");
    assert!(response.results[0].sentiment.as_ref().expect("sentiment").compound > 0.05);
    assert!(response.results[1].sentiment.as_ref().expect("sentiment").compound < -0.05);

    let empty = client.score(ScoreRequest::default()).await.expect_err("empty must fail");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    let too_many = client
        .score(ScoreRequest { inputs: (0..4).map(|_| input_of("x")).collect(), ..Default::default() })
        .await
        .expect_err("over the input cap");
    assert_eq!(too_many.code(), tonic::Code::InvalidArgument);
    assert!(too_many.message().contains("limit of 3"), "{}", too_many.message());
    let too_long = client
        .score(ScoreRequest { inputs: vec![input_of(&"a".repeat(1001))], ..Default::default() })
        .await
        .expect_err("over the text cap");
    assert_eq!(too_long.code(), tonic::Code::InvalidArgument);
    let unknown_model = client
        .score(ScoreRequest { inputs: vec![input_of("x")], model: "gpt".into(), ..Default::default() })
        .await
        .expect_err("unknown model");
    assert_eq!(unknown_model.code(), tonic::Code::InvalidArgument);

    let models = client.list_models(ListModelsRequest {}).await.expect("models").into_inner().models;
    assert_eq!(models.len(), 1);
    assert!(models[0].is_default && models[0].languages.contains(&"fr".to_string()));

    scorer.shutdown.trigger();
    scorer.task.await.expect("join").expect("clean stop");
}
