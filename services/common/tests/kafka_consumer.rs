//! The at-least-once consumer against the real broker (run `scripts/stack up` first).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use murmur_common::kafka::consumer::{
    BatchConsumer, BatchHandler, BatchOutcome, ConsumerSettings, Envelope, Rejection, TransientError,
};
use murmur_common::kafka::producer::EventProducer;
use murmur_common::testing::{fresh_topic, kafka_args, produce_raw, read_all, wait_until, ReadRecord};
use murmur_proto::events::v1::Post;
use murmur_proto::headers;
use prost::Message;
use tokio_util::sync::CancellationToken;

/// Records every post id it sees; optionally fails transiently, rejects ids, or holds a batch.
#[derive(Default)]
struct RecordingHandler {
    seen: Mutex<Vec<String>>,
    calls: AtomicUsize,
    always_fail: bool,
    reject_id: Option<String>,
    hold_batch: Option<Duration>,
    finished_batches: AtomicUsize,
}

impl RecordingHandler {
    fn seen_ids(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

impl BatchHandler for RecordingHandler {
    type Event = Post;

    async fn handle(&self, batch: &[Envelope<Post>]) -> Result<BatchOutcome, TransientError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.always_fail {
            return Err(TransientError(anyhow::anyhow!("database unavailable (simulated)")));
        }
        if let Some(hold) = self.hold_batch {
            tokio::time::sleep(hold).await;
        }
        let mut outcome = BatchOutcome::default();
        let mut seen = self.seen.lock().expect("lock");
        for (index, envelope) in batch.iter().enumerate() {
            if Some(&envelope.event.id) == self.reject_id.as_ref() {
                outcome.rejected.push(Rejection { index, reason: "post id is on the reject list".into() });
            } else {
                seen.push(envelope.event.id.clone());
            }
        }
        drop(seen);
        self.finished_batches.fetch_add(1, Ordering::SeqCst);
        Ok(outcome)
    }
}

fn post_record(id: &str) -> (String, Vec<u8>) {
    let post = Post { id: id.to_string(), channel: "test".into(), ..Default::default() };
    ("reddit:test".to_string(), post.encode_to_vec())
}

fn settings(topic: &str, group: &str, deadletter_topic: &str) -> ConsumerSettings {
    ConsumerSettings {
        topic: topic.to_string(),
        group_id: group.to_string(),
        batch_size: 100,
        batch_linger: Duration::from_millis(20),
        max_retry_backoff: Duration::from_millis(500),
        deadletter_topic: deadletter_topic.to_string(),
    }
}

/// Starts a consumer in the background; returns its stop token and join handle.
fn start(
    topic: &str,
    group: &str,
    deadletter_topic: &str,
    handler: Arc<RecordingHandler>,
) -> (CancellationToken, tokio::task::JoinHandle<murmur_common::kafka::consumer::RunSummary>) {
    let deadletter = EventProducer::new(&kafka_args(), None).expect("producer");
    let consumer: BatchConsumer<RecordingHandler> =
        BatchConsumer::new(&kafka_args(), settings(topic, group, deadletter_topic), deadletter, None)
            .expect("consumer");
    let stop = CancellationToken::new();
    let task = {
        let stop = stop.clone();
        tokio::spawn(async move { consumer.run(&handler, stop).await.expect("consumer run") })
    };
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_work_is_redelivered_and_committed_work_is_not() {
    let topic = fresh_topic("redeliver", 2).await;
    let deadletter_topic = fresh_topic("redeliver-dlq", 1).await;
    let group = format!("group-{topic}");
    let first_ids: Vec<String> = (0..10).map(|i| format!("post-{i}")).collect();
    produce_raw(&topic, &first_ids.iter().map(|id| post_record(id)).collect::<Vec<_>>()).await;

    // 1. The handler never makes the batch durable; the consumer is stopped mid-retry.
    let failing = Arc::new(RecordingHandler { always_fail: true, ..Default::default() });
    let (stop, task) = start(&topic, &group, &deadletter_topic, Arc::clone(&failing));
    assert!(wait_until(Duration::from_secs(30), || failing.calls.load(Ordering::SeqCst) >= 2).await, "never called");
    stop.cancel();
    let summary = task.await.expect("join");
    assert_eq!(summary.processed, 0, "nothing may be stored while the handler fails");

    // 2. Same group: everything is redelivered.
    let recording = Arc::new(RecordingHandler::default());
    let (stop, task) = start(&topic, &group, &deadletter_topic, Arc::clone(&recording));
    assert!(
        wait_until(Duration::from_secs(30), || recording.seen_ids().len() >= first_ids.len()).await,
        "redelivery incomplete: {:?}",
        recording.seen_ids()
    );
    stop.cancel();
    task.await.expect("join");
    let redelivered: BTreeSet<String> = recording.seen_ids().into_iter().collect();
    assert_eq!(redelivered, first_ids.iter().cloned().collect::<BTreeSet<_>>());

    // 3. After a clean stop the offsets are committed: a new member sees only new posts.
    let new_ids: Vec<String> = (10..15).map(|i| format!("post-{i}")).collect();
    produce_raw(&topic, &new_ids.iter().map(|id| post_record(id)).collect::<Vec<_>>()).await;
    let after_commit = Arc::new(RecordingHandler::default());
    let (stop, task) = start(&topic, &group, &deadletter_topic, Arc::clone(&after_commit));
    assert!(wait_until(Duration::from_secs(30), || after_commit.seen_ids().len() >= new_ids.len()).await);
    // Give any wrongly redelivered record time to show up before judging.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.cancel();
    task.await.expect("join");
    let mut seen = after_commit.seen_ids();
    seen.sort();
    assert_eq!(seen, new_ids, "committed posts were delivered again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_and_rejected_messages_are_dead_lettered_and_the_stream_continues() {
    let topic = fresh_topic("dlq", 1).await;
    let deadletter_topic = fresh_topic("dlq-out", 1).await;
    let group = format!("group-{topic}");
    let garbage = vec![0xff, 0xff, 0xff, 0xff];
    produce_raw(
        &topic,
        &[
            post_record("good-1"),
            ("reddit:test".into(), garbage.clone()),
            post_record("reject-me"),
            post_record("good-2"),
        ],
    )
    .await;

    let handler = Arc::new(RecordingHandler { reject_id: Some("reject-me".into()), ..Default::default() });
    let (stop, task) = start(&topic, &group, &deadletter_topic, Arc::clone(&handler));
    assert!(wait_until(Duration::from_secs(30), || handler.seen_ids().len() >= 2).await, "stream stopped");
    stop.cancel();
    let summary = task.await.expect("join");
    assert_eq!(handler.seen_ids(), vec!["good-1".to_string(), "good-2".to_string()]);
    assert_eq!(summary.processed, 4);
    assert_eq!(summary.dead_lettered, 2);

    let dead = read_all(&deadletter_topic, 2, Duration::from_secs(20));
    assert_eq!(dead.len(), 2, "both bad messages must reach the dead-letter topic");
    let header = |record: &ReadRecord, key: &str| {
        record.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let undecodable = dead.iter().find(|r| r.payload == garbage).expect("garbage payload kept as is");
    assert!(header(undecodable, headers::DLQ_ERROR).contains("undecodable"), "{:?}", undecodable.headers);
    assert_eq!(header(undecodable, headers::DLQ_SOURCE_TOPIC), topic);
    assert_eq!(header(undecodable, headers::DLQ_SOURCE_OFFSET), "1");
    assert_eq!(header(undecodable, headers::DLQ_CONSUMER_GROUP), group);
    assert_eq!(undecodable.key.as_deref(), Some("reddit:test"), "the original key is kept");
    let rejected = dead.iter().find(|r| r.payload != garbage).expect("rejected post");
    assert_eq!(Post::decode(rejected.payload.as_slice()).expect("post").id, "reject-me");
    assert!(header(rejected, headers::DLQ_ERROR).contains("reject list"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_batch_in_flight_and_commits_it() {
    let topic = fresh_topic("shutdown", 1).await;
    let deadletter_topic = fresh_topic("shutdown-dlq", 1).await;
    let group = format!("group-{topic}");
    let ids: Vec<String> = (0..5).map(|i| format!("inflight-{i}")).collect();
    produce_raw(&topic, &ids.iter().map(|id| post_record(id)).collect::<Vec<_>>()).await;

    let slow = Arc::new(RecordingHandler { hold_batch: Some(Duration::from_millis(1500)), ..Default::default() });
    let (stop, task) = start(&topic, &group, &deadletter_topic, Arc::clone(&slow));
    assert!(wait_until(Duration::from_secs(30), || slow.calls.load(Ordering::SeqCst) >= 1).await);
    // Shutdown arrives while the handler is still working on the batch.
    stop.cancel();
    let summary = task.await.expect("join");
    assert!(slow.finished_batches.load(Ordering::SeqCst) >= 1, "in-flight batch was abandoned");
    assert_eq!(summary.processed as usize, slow.seen_ids().len());

    // Nothing of it comes back to the next member of the group.
    let next = Arc::new(RecordingHandler::default());
    let (stop, task) = start(&topic, &group, &deadletter_topic, Arc::clone(&next));
    let already_done = slow.seen_ids().len();
    if already_done < ids.len() {
        assert!(wait_until(Duration::from_secs(30), || next.seen_ids().len() >= ids.len() - already_done).await);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.cancel();
    task.await.expect("join");
    let overlap: Vec<String> = next.seen_ids().into_iter().filter(|id| slow.seen_ids().contains(id)).collect();
    assert!(overlap.is_empty(), "committed in-flight posts were redelivered: {overlap:?}");
}
