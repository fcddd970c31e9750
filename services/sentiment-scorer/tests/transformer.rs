//! The transformer path with the real all-MiniLM-L6-v2 weights (`transformer` builds only).
//!
//! Needs `eval "$(scripts/torch-env)"` (libtorch and the model directory) and a trained head at
//! MURMUR_TRANSFORMER_HEAD (`scripts/transformer-test` trains it from ../shared/data when missing;
//! a missing head fails the tests).
#![cfg(feature = "transformer")]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use murmur_proto::events::v1::{SentimentLabel, SentimentScore};
use sentiment_scorer::scoring::{Scorer, TextScore, LEXICON_MODEL};
use sentiment_scorer::transformer::batcher::{BatchObserver, BatcherSettings};
use sentiment_scorer::transformer::classifier::SequenceClassifier;
use sentiment_scorer::transformer::encoder::{cosine, SentenceEncoder};
use sentiment_scorer::transformer::{
    RefineRequest, RoutingPolicy, SentimentRoute, TransformerPolicy, TransformerScorer, TransformerSettings,
};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("MURMUR_TRANSFORMER_MODEL_DIR")
        .map(PathBuf::from)
        .expect("MURMUR_TRANSFORMER_MODEL_DIR is not set: run `eval \"$(scripts/torch-env)\"` first");
    assert!(dir.join("rust_model.ot").is_file(), "{} has no rust_model.ot: run scripts/torch-env", dir.display());
    dir
}

/// The trained head (scripts/transformer-test trains it from ../shared/data; a missing head fails).
fn head_path() -> Option<PathBuf> {
    let head = std::env::var_os("MURMUR_TRANSFORMER_HEAD").map(PathBuf::from);
    let head = head.filter(|head| head.is_file());
    assert!(
        head.is_some(),
        "no trained head at MURMUR_TRANSFORMER_HEAD: run scripts/transformer-test (or `sentiment-scorer train-head`)"
    );
    head
}

fn settings(policy: TransformerPolicy, head: Option<PathBuf>, max_batch: usize) -> TransformerSettings {
    TransformerSettings {
        model_dir: model_dir(),
        head,
        classifier_dir: None,
        routing: RoutingPolicy { policy, ambiguous_below_compound: 0.5, ambiguous_below_confidence: 0.3 },
        batcher: BatcherSettings { max_batch, max_wait: Duration::from_millis(20), queue_capacity: 64 },
        threads: 0,
        publish_embeddings: false,
    }
}

/// Records the size of every transformer batch.
fn batch_recorder() -> (BatchObserver, Arc<Mutex<Vec<usize>>>) {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&sizes);
    let observer: BatchObserver = Arc::new(move |size, _| recorded.lock().expect("lock").push(size));
    (observer, sizes)
}

fn lexicon_scores(texts: &[&str]) -> Vec<TextScore> {
    let scorer = Scorer::new(64 * 1024);
    texts.iter().map(|text| scorer.score_text(text, "")).collect()
}

fn requests<'a>(texts: &[&'a str], scores: &'a [TextScore], include_embedding: bool) -> Vec<RefineRequest<'a>> {
    texts
        .iter()
        .zip(scores)
        .map(|(text, score)| RefineRequest {
            text,
            language: score.language,
            lexicon: &score.sentiment,
            include_embedding,
        })
        .collect()
}

#[test]
fn embeddings_are_384_dimensional_unit_vectors_and_paraphrases_are_close() {
    let encoder = SentenceEncoder::load(&model_dir()).expect("MiniLM loads from the local directory");
    assert_eq!(encoder.name(), "all-MiniLM-L6-v2");
    assert_eq!(encoder.dimension(), 384);
    let texts = [
        "The new update made the app much faster.",
        "After the latest release the application runs a lot quicker.",
        "My grandmother grows tomatoes in her garden.",
        "",
    ];
    let embeddings = encoder.encode(&texts).expect("encodes");
    assert_eq!(embeddings.len(), texts.len());
    for embedding in &embeddings {
        assert_eq!(embedding.len(), 384);
        let norm: f64 = embedding.iter().map(|value| f64::from(*value).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "normalised, got norm {norm}");
    }
    let paraphrase = cosine(&embeddings[0], &embeddings[1]);
    let unrelated = cosine(&embeddings[0], &embeddings[2]);
    eprintln!("cosine paraphrase {paraphrase:.3}, unrelated {unrelated:.3}");
    assert!(paraphrase > 0.6, "paraphrases are close: {paraphrase}");
    assert!(unrelated < 0.3, "unrelated sentences are not: {unrelated}");
    assert!(paraphrase > unrelated + 0.4);
    assert!(encoder.encode(&Vec::<String>::new()).expect("empty batch").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trained_head_classifies_obvious_english_and_french_sentences() {
    let Some(head) = head_path() else { return };
    let transformer =
        TransformerScorer::load(settings(TransformerPolicy::All, Some(head), 8), None).await.expect("loads");
    let model_name = transformer.sentiment_model().expect("the head is the sentiment model").to_string();
    assert_eq!(model_name, "all-MiniLM-L6-v2+softmax-head");
    let cases = [
        ("I love this, it is absolutely wonderful and made my day!", SentimentLabel::Positive),
        ("This is terrible, I hate it, the worst service ever.", SentimentLabel::Negative),
        ("J'adore ce film, il est vraiment magnifique, bravo !", SentimentLabel::Positive),
        ("C'est nul, je déteste ce service, quelle horreur.", SentimentLabel::Negative),
    ];
    let texts: Vec<&str> = cases.iter().map(|(text, _)| *text).collect();
    let scores = lexicon_scores(&texts);
    let refined = transformer.refine(&requests(&texts, &scores, false), SentimentRoute::ByPolicy).await;
    for ((text, expected), outcome) in cases.iter().zip(refined) {
        let sentiment = outcome.expect("scored").sentiment.expect("policy `all` scores every text");
        assert_eq!(sentiment.model, model_name);
        assert_eq!(sentiment.label, *expected as i32, "{text}: {sentiment:?}");
        assert!(sentiment.confidence > 0.5, "{text}: {sentiment:?}");
        assert!((sentiment.positive + sentiment.neutral + sentiment.negative - 1.0).abs() < 1e-6);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batcher_answers_every_concurrent_request_within_the_batch_limit() {
    let (observer, sizes) = batch_recorder();
    let transformer = Arc::new(
        TransformerScorer::load(settings(TransformerPolicy::Off, None, 4), Some(observer)).await.expect("loads"),
    );
    let texts: Vec<String> = (0..24).map(|index| format!("post number {index} about running shoes")).collect();
    let mut callers = Vec::new();
    for caller in 0..3 {
        let transformer = Arc::clone(&transformer);
        let mine: Vec<String> = texts.iter().skip(caller).step_by(3).cloned().collect();
        callers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for text in mine {
                let embedding = transformer.embed(&text).await.expect("answered");
                answers.push((text, embedding));
            }
            answers
        }));
    }
    let mut answered = Vec::new();
    for caller in callers {
        answered.extend(caller.await.expect("caller finished"));
    }
    assert_eq!(answered.len(), texts.len(), "every request answered");

    let encoder = SentenceEncoder::load(&model_dir()).expect("loads");
    for (text, embedding) in answered.iter().take(6) {
        let alone = encoder.encode(&[text.as_str()]).expect("encodes");
        assert!(cosine(embedding, &alone[0]) > 0.999, "each caller gets the embedding of its own text");
    }
    let sizes = sizes.lock().expect("lock").clone();
    assert_eq!(sizes.iter().sum::<usize>(), texts.len());
    assert!(sizes.iter().all(|&size| (1..=4).contains(&size)), "max batch 4 respected: {sizes:?}");
    assert!(sizes.iter().any(|&size| size > 1), "concurrent callers share batches: {sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ambiguous_policy_sends_only_ambiguous_texts_to_the_transformer() {
    let Some(head) = head_path() else { return };
    let (observer, sizes) = batch_recorder();
    let transformer = TransformerScorer::load(settings(TransformerPolicy::Ambiguous, Some(head), 16), Some(observer))
        .await
        .expect("loads");
    let texts = [
        "I absolutely love this amazing community, you are all wonderful!",
        "The meeting moved to room 4 on Thursday.",
        "This is the worst, most horrible and disgusting update ever.",
        "not sure what to think about the new version",
    ];
    let scores = lexicon_scores(&texts);
    let ambiguous: Vec<bool> = scores.iter().map(|score| score.sentiment.compound.abs() < 0.5).collect();
    assert_eq!(ambiguous, [false, true, false, true], "the fixture is what it claims: {scores:?}");

    let refined = transformer.refine(&requests(&texts, &scores, false), SentimentRoute::ByPolicy).await;
    for ((text, is_ambiguous), outcome) in texts.iter().zip(&ambiguous).zip(refined) {
        let refined = outcome.expect("no failure");
        assert_eq!(refined.sentiment.is_some(), *is_ambiguous, "{text}");
        assert!(refined.embedding.is_empty(), "no embedding unless asked");
    }
    assert_eq!(sizes.lock().expect("lock").iter().sum::<usize>(), 2, "only the two ambiguous texts ran");

    // Naming the lexicon keeps every lexicon score; asking for embeddings still runs the encoder.
    let with_embeddings = transformer.refine(&requests(&texts, &scores, true), SentimentRoute::Lexicon).await;
    for outcome in with_embeddings {
        let refined = outcome.expect("no failure");
        assert!(refined.sentiment.is_none());
        assert_eq!(refined.embedding.len(), 384);
    }
    let unchanged: &SentimentScore = &scores[0].sentiment;
    assert_eq!(unchanged.model, LEXICON_MODEL);
}

#[test]
fn a_fine_tuned_sequence_classifier_loads_from_a_local_directory() {
    // A BERT classifier built from MiniLM's encoder weights with a classification layer that
    // always prefers `positive`: it exercises the real loading and prediction path.
    let source = model_dir();
    let directory = std::env::temp_dir().join(format!("murmur-classifier-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let mut tensors: Vec<(String, tch::Tensor)> = tch::Tensor::load_multi(source.join("rust_model.ot"))
        .expect("MiniLM weights")
        .into_iter()
        .map(|(name, tensor)| (format!("bert.{name}"), tensor))
        .collect();
    tensors.push(("classifier.weight".to_string(), tch::Tensor::zeros([3, 384], (tch::Kind::Float, tch::Device::Cpu))));
    tensors.push(("classifier.bias".to_string(), tch::Tensor::from_slice(&[0.0f32, 0.0, 4.0])));
    tch::Tensor::save_multi(&tensors, directory.join("rust_model.ot")).expect("saved");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(source.join("config.json")).expect("config")).expect("json");
    config["id2label"] = serde_json::json!({"0": "negative", "1": "neutral", "2": "positive"});
    config["label2id"] = serde_json::json!({"negative": 0, "neutral": 1, "positive": 2});
    std::fs::write(directory.join("config.json"), config.to_string()).expect("config written");
    std::fs::copy(source.join("vocab.txt"), directory.join("vocab.txt")).expect("vocab");
    std::fs::copy(source.join("tokenizer_config.json"), directory.join("tokenizer_config.json")).expect("tokenizer");

    let classifier = SequenceClassifier::load(&directory).expect("classifier loads");
    let predictions = classifier.predict(&["great", "awful"]).expect("predicts");
    assert_eq!(predictions.len(), 2);
    for prediction in predictions {
        assert_eq!(prediction.label, murmur_lexicon::Label::Positive);
        assert!(prediction.probability > 0.9, "{prediction:?}");
    }
    std::fs::remove_dir_all(&directory).ok();

    let missing = SequenceClassifier::load(&std::env::temp_dir().join("murmur-no-such-model"));
    assert!(missing.is_err(), "a missing directory is a clear error, not a panic");
}

/// The whole service with the transformer, through the real broker: the ambiguous post gets the
/// transformer's sentiment, the clear one keeps the lexicon's, both carry their embedding; the
/// API lists and serves the transformer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_publishes_transformer_scores_and_embeddings_through_the_broker() {
    use clap::Parser;
    use murmur_common::testing::{fresh_topic, produce_raw, read_all};
    use murmur_common::Shutdown;
    use murmur_proto::api::v1::sentiment_service_client::SentimentServiceClient;
    use murmur_proto::api::v1::{ListModelsRequest, ScoreInput, ScoreRequest};
    use murmur_proto::events::v1::{Platform, Post, ScoredPost};
    use prost::Message;
    use sentiment_scorer::{Application, Config};

    let Some(head) = head_path() else { return };
    let input = fresh_topic("scorer-tf-in", 1).await;
    let output = fresh_topic("scorer-tf-out", 1).await;
    let deadletter = fresh_topic("scorer-tf-dlq", 1).await;
    let post = |id: &str, text: &str| {
        let post = Post {
            id: id.into(),
            platform: Platform::Mastodon as i32,
            channel: "running".into(),
            text: text.into(),
            ..Default::default()
        };
        ("mastodon:running".to_string(), post.encode_to_vec())
    };
    produce_raw(
        &input,
        &[
            post("mastodon:clear", "I absolutely love this amazing community, you are all wonderful!"),
            post("mastodon:ambiguous", "The meeting moved to room 4 on Thursday."),
        ],
    )
    .await;

    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let config = Config::parse_from([
        "sentiment-scorer".to_string(),
        "--grpc-addr=127.0.0.1:0".to_string(),
        "--admin-addr=127.0.0.1:0".to_string(),
        format!("--kafka-brokers={brokers}"),
        format!("--input-topic={input}"),
        format!("--output-topic={output}"),
        format!("--deadletter-topic={deadletter}"),
        format!("--kafka-group-id=scorer-{input}"),
        format!("--transformer-model-dir={}", model_dir().display()),
        format!("--transformer-head={}", head.display()),
        "--transformer-policy=ambiguous".to_string(),
        "--publish-embeddings=true".to_string(),
    ]);
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(config, shutdown.clone()).await.expect("scorer builds with the transformer");
    let grpc_addr = app.grpc_addr();
    let task = tokio::spawn(app.run_until_stopped());

    let records =
        tokio::task::spawn_blocking(move || read_all(&output, 2, Duration::from_secs(60))).await.expect("reader");
    assert_eq!(records.len(), 2);
    let scored: Vec<ScoredPost> =
        records.iter().map(|record| ScoredPost::decode(record.payload.as_slice()).expect("decodes")).collect();
    let by_id = |id: &str| {
        scored.iter().find(|scored| scored.post.as_ref().is_some_and(|post| post.id == id)).expect("published")
    };
    let clear = by_id("mastodon:clear");
    assert_eq!(clear.sentiment.as_ref().map(|s| s.model.as_str()), Some(LEXICON_MODEL));
    let ambiguous = by_id("mastodon:ambiguous");
    assert_eq!(ambiguous.sentiment.as_ref().map(|s| s.model.as_str()), Some("all-MiniLM-L6-v2+softmax-head"));
    for scored in [clear, ambiguous] {
        assert_eq!(scored.embedding.len(), 384, "MURMUR_PUBLISH_EMBEDDINGS attaches every embedding");
    }

    let mut client = SentimentServiceClient::connect(format!("http://{grpc_addr}")).await.expect("connect");
    let models = client.list_models(ListModelsRequest {}).await.expect("models").into_inner().models;
    let names: Vec<&str> = models.iter().map(|model| model.name.as_str()).collect();
    assert_eq!(names, [LEXICON_MODEL, "all-MiniLM-L6-v2+softmax-head", "all-MiniLM-L6-v2"]);
    assert!(models.iter().all(|model| model.loaded));
    let response = client
        .score(ScoreRequest {
            inputs: vec![ScoreInput {
                text: "Je déteste ce service, quelle horreur".into(),
                language_hint: String::new(),
            }],
            model: "all-MiniLM-L6-v2+softmax-head".into(),
            include_embedding: true,
        })
        .await
        .expect("score")
        .into_inner();
    let result = &response.results[0];
    assert_eq!(result.language, "fr");
    let sentiment = result.sentiment.as_ref().expect("sentiment");
    assert_eq!(sentiment.model, "all-MiniLM-L6-v2+softmax-head");
    assert_eq!(sentiment.label, SentimentLabel::Negative as i32);
    assert_eq!(result.embedding.len(), 384);

    shutdown.trigger();
    task.await.expect("join").expect("clean stop");
}
