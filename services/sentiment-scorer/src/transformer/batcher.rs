//! Dynamic batching in front of a model that is much faster per text on a batch than one text at
//! a time, and that blocks (libtorch is not async).
//!
//! Callers [`Batcher::submit`] one input and await its output. Requests wait in a bounded queue
//! (a full queue makes callers wait: back-pressure instead of unbounded memory). A collector task
//! takes the first waiting request, then keeps collecting until it has `max_batch` inputs or
//! `max_wait` has passed, and runs the batch on a blocking thread. While a batch runs the next
//! requests queue up, so under load batches fill up by themselves and at low load a request waits
//! at most `max_wait` for company.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::TransformerError;

/// A model that scores a batch of inputs on the calling (blocking) thread.
pub trait BatchModel: Send + 'static {
    /// One request's input.
    type Input: Send + 'static;
    /// One request's output.
    type Output: Send + 'static;

    /// Runs the model on `inputs`; returns exactly one output per input, in order.
    fn run_batch(&mut self, inputs: &[Self::Input]) -> Result<Vec<Self::Output>, TransformerError>;
}

/// Batching limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatcherSettings {
    /// Most inputs in one model call.
    pub max_batch: usize,
    /// Longest a request waits for others before its batch runs.
    pub max_wait: Duration,
    /// Requests that may wait in the queue; further submitters wait for room.
    pub queue_capacity: usize,
}

/// Called after each batch with its size and the time the model took.
pub type BatchObserver = Arc<dyn Fn(usize, Duration) + Send + Sync>;

struct Request<I, O> {
    input: I,
    reply_tx: oneshot::Sender<Result<O, TransformerError>>,
}

/// Handle to a running batcher; cheap to clone. The collector stops when every handle is gone.
pub struct Batcher<I, O> {
    queue_tx: mpsc::Sender<Request<I, O>>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self { queue_tx: self.queue_tx.clone() }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the collector on the current tokio runtime.
    pub fn start<M>(model: M, settings: BatcherSettings, observer: Option<BatchObserver>) -> Self
    where
        M: BatchModel<Input = I, Output = O>,
    {
        let max_batch = settings.max_batch.max(1);
        let (queue_tx, queue_rx) = mpsc::channel(settings.queue_capacity.max(1));
        let model = Arc::new(Mutex::new(model));
        tokio::spawn(collect_and_run(model, queue_rx, max_batch, settings.max_wait, observer));
        Self { queue_tx }
    }

    /// Queues `input` (waiting for room when the queue is full) and returns where its output
    /// will arrive. Queue many before awaiting any so they can share a batch.
    pub async fn enqueue(&self, input: I) -> Result<oneshot::Receiver<Result<O, TransformerError>>, TransformerError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.queue_tx.send(Request { input, reply_tx }).await.map_err(|_| TransformerError::Stopped)?;
        Ok(reply_rx)
    }

    /// Scores one input.
    pub async fn submit(&self, input: I) -> Result<O, TransformerError> {
        let reply_rx = self.enqueue(input).await?;
        reply_rx.await.map_err(|_| TransformerError::Stopped)?
    }

    /// Scores many inputs, letting them share batches; outputs keep the inputs' order.
    pub async fn submit_all(&self, inputs: Vec<I>) -> Vec<Result<O, TransformerError>> {
        let mut pending = Vec::with_capacity(inputs.len());
        for input in inputs {
            pending.push(self.enqueue(input).await);
        }
        let mut outputs = Vec::with_capacity(pending.len());
        for reply in pending {
            outputs.push(match reply {
                Ok(reply_rx) => reply_rx.await.unwrap_or(Err(TransformerError::Stopped)),
                Err(error) => Err(error),
            });
        }
        outputs
    }
}

async fn collect_and_run<M: BatchModel>(
    model: Arc<Mutex<M>>,
    mut queue_rx: mpsc::Receiver<Request<M::Input, M::Output>>,
    max_batch: usize,
    max_wait: Duration,
    observer: Option<BatchObserver>,
) {
    while let Some(first) = queue_rx.recv().await {
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match tokio::time::timeout_at(deadline, queue_rx.recv()).await {
                Ok(Some(request)) => batch.push(request),
                // Queue closed or time is up: run what we have.
                Ok(None) | Err(_) => break,
            }
        }
        debug_assert!(batch.len() <= max_batch);
        let (inputs, reply_txs): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|request| (request.input, request.reply_tx)).unzip();
        let batch_size = inputs.len();
        let batch_model = Arc::clone(&model);
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            // A panic in an earlier batch poisons the lock but leaves the model usable.
            let mut model = batch_model.lock().unwrap_or_else(PoisonError::into_inner);
            model.run_batch(&inputs)
        })
        .await;
        if let Some(observer) = &observer {
            observer(batch_size, started.elapsed());
        }
        let outputs = match outcome {
            Ok(Ok(outputs)) if outputs.len() == batch_size => Ok(outputs),
            Ok(Ok(outputs)) => Err(TransformerError::Model(format!(
                "the model returned {} outputs for {batch_size} inputs",
                outputs.len()
            ))),
            Ok(Err(error)) => Err(error),
            Err(join_error) => Err(TransformerError::Model(format!("the model panicked: {join_error}"))),
        };
        match outputs {
            Ok(outputs) => {
                for (reply_tx, output) in reply_txs.into_iter().zip(outputs) {
                    // A caller that went away no longer needs its answer.
                    let _ = reply_tx.send(Ok(output));
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, batch_size, "transformer batch failed");
                for reply_tx in reply_txs {
                    let _ = reply_tx.send(Err(error.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Doubles numbers and records the size of every batch it ran.
    struct Doubler {
        batch_sizes: Arc<Mutex<Vec<usize>>>,
        fail_on: Option<u32>,
    }

    impl BatchModel for Doubler {
        type Input = u32;
        type Output = u32;

        fn run_batch(&mut self, inputs: &[u32]) -> Result<Vec<u32>, TransformerError> {
            self.batch_sizes.lock().expect("lock").push(inputs.len());
            if self.fail_on.is_some_and(|poison| inputs.contains(&poison)) {
                return Err(TransformerError::Model("poisoned input".to_string()));
            }
            std::thread::sleep(Duration::from_millis(2));
            Ok(inputs.iter().map(|value| value * 2).collect())
        }
    }

    fn settings(max_batch: usize) -> BatcherSettings {
        BatcherSettings { max_batch, max_wait: Duration::from_millis(5), queue_capacity: 16 }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_concurrent_request_is_answered_and_batches_respect_the_limit() {
        let batch_sizes = Arc::new(Mutex::new(Vec::new()));
        let observed = Arc::new(AtomicUsize::new(0));
        let observed_in_hook = Arc::clone(&observed);
        let observer: BatchObserver = Arc::new(move |size, _| {
            observed_in_hook.fetch_add(size, Ordering::SeqCst);
        });
        let batcher = Batcher::start(
            Doubler { batch_sizes: Arc::clone(&batch_sizes), fail_on: None },
            settings(8),
            Some(observer),
        );
        let mut tasks = Vec::new();
        for caller in 0..20u32 {
            let batcher = batcher.clone();
            tasks.push(tokio::spawn(async move {
                let mut answers = Vec::new();
                for index in 0..10u32 {
                    let input = caller * 100 + index;
                    answers.push((input, batcher.submit(input).await.expect("answered")));
                }
                answers
            }));
        }
        let mut answered = 0;
        for task in tasks {
            for (input, output) in task.await.expect("caller finished") {
                assert_eq!(output, input * 2, "each caller gets its own answer");
                answered += 1;
            }
        }
        assert_eq!(answered, 200);
        let sizes = batch_sizes.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 200);
        assert!(sizes.iter().all(|&size| (1..=8).contains(&size)), "{sizes:?}");
        assert!(sizes.iter().any(|&size| size > 1), "concurrent requests share batches: {sizes:?}");
        assert_eq!(observed.load(Ordering::SeqCst), 200);
    }

    #[tokio::test]
    async fn submit_all_keeps_order_and_fills_batches() {
        let batch_sizes = Arc::new(Mutex::new(Vec::new()));
        let batcher =
            Batcher::start(Doubler { batch_sizes: Arc::clone(&batch_sizes), fail_on: None }, settings(4), None);
        let outputs = batcher.submit_all((0..10).collect()).await;
        let values: Vec<u32> = outputs.into_iter().map(|output| output.expect("answered")).collect();
        assert_eq!(values, (0..10).map(|value| value * 2).collect::<Vec<_>>());
        assert_eq!(*batch_sizes.lock().expect("lock"), vec![4, 4, 2]);
    }

    #[tokio::test]
    async fn a_failing_batch_answers_its_requests_with_the_error_and_the_batcher_goes_on() {
        let batch_sizes = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::start(Doubler { batch_sizes, fail_on: Some(13) }, settings(1), None);
        assert!(matches!(batcher.submit(13).await, Err(TransformerError::Model(_))));
        assert_eq!(batcher.submit(4).await.expect("later batches still run"), 8);
    }
}
