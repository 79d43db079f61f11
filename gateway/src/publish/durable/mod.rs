//! [`DurablePublisher`]: accepted messages go to the disk buffer first, and one lane per
//! topic publishes them from there (at-least-once, per-topic isolation; see
//! `docs/reliability.md`).

mod dead_letter;
mod dead_letter_topic;
mod failure;
mod health;
mod lane;
mod linger;
mod pubsub_sink;
mod sink;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use hermes_buffer::{AppendError, Buffer};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use dead_letter_topic::DeadLetterTopicName;
pub use health::FailingTopic;
pub use sink::SinkKind;
pub(crate) use sink::TopicSink;

use self::health::FailingTopics;
use self::lane::LaneContext;
use self::linger::Linger;
use self::sink::Destination;
use super::worker::retry_delays;
use super::{
    Accepted, EnqueueError, NotAccepted, OutgoingMessage, PubSubConfig, PublishMetrics, Publisher,
    limits,
};
use crate::events::MessagesDroppedBufferFull;

/// What the gateway does with a hit whose messages the buffer cannot take (a topic at its
/// byte bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FullPolicy {
    /// 503 with `Retry-After`: the hit is never acknowledged without being kept.
    #[default]
    Reject,
    /// Answer as usual and count the messages in `hermes_publish_buffer_full_dropped_total`.
    Drop,
}

/// Everything [`DurablePublisher`] needs besides the opened buffer.
#[derive(Debug, Clone)]
pub struct DurableConfig {
    pub pubsub: PubSubConfig,
    /// Where the lanes publish: Pub/Sub, or the counting sink (benchmarks).
    pub sink: SinkKind,
    pub full_policy: FullPolicy,
    /// Where the per-topic dead-letter files go.
    pub dead_letter_dir: PathBuf,
    /// Where dead letters are published first, if anywhere (the files take what it
    /// does not).
    pub dead_letter_topic: Option<DeadLetterTopicName>,
    /// How often a failing topic is tried again.
    pub probe_interval: Duration,
}

impl DurableConfig {
    pub fn new(pubsub: PubSubConfig, dead_letter_dir: impl Into<PathBuf>) -> Self {
        DurableConfig {
            pubsub,
            sink: SinkKind::Pubsub,
            full_policy: FullPolicy::Reject,
            dead_letter_dir: dead_letter_dir.into(),
            dead_letter_topic: None,
            probe_interval: Duration::from_secs(30),
        }
    }
}

/// Publishes through the durable buffer. `accept` answers once the hit's records are in
/// the buffer; a lane per topic (started for every topic on disk at start, and for each
/// new topic on its first append) publishes and acknowledges them.
pub struct DurablePublisher {
    buffer: Buffer,
    full_policy: FullPolicy,
    shutdown_timeout: Duration,
    context: Arc<LaneContext>,
    destination: Destination,
    lanes: Mutex<LaneSet>,
    closed: AtomicBool,
}

#[derive(Default)]
struct LaneSet {
    topics: BTreeSet<String>,
    tasks: JoinSet<()>,
}

impl DurablePublisher {
    /// Start connecting, and a lane for every topic found in `buffer` (replay after a
    /// restart). Must be called within a Tokio runtime.
    pub fn start(buffer: Buffer, config: DurableConfig, metrics: PublishMetrics) -> Self {
        let destination = Destination::start(config.sink, &config.pubsub, &metrics);
        let batching = config.pubsub.batching.clamped();
        let publisher = DurablePublisher {
            full_policy: config.full_policy,
            shutdown_timeout: config.pubsub.shutdown_timeout,
            context: Arc::new(LaneContext {
                metrics,
                delays: retry_delays(&config.pubsub),
                dead_letter_dir: config.dead_letter_dir,
                dead_letter_topic: config.dead_letter_topic,
                probe_interval: config.probe_interval,
                failing: FailingTopics::default(),
                linger: Linger {
                    max_batch: batching.max_messages as usize,
                    linger: batching.max_delay,
                    target: batching.target_messages as usize,
                    max_linger: batching.max_linger,
                },
            }),
            destination,
            buffer,
            lanes: Mutex::new(LaneSet::default()),
            closed: AtomicBool::new(false),
        };
        for topic in publisher.buffer.topics() {
            publisher.ensure_lane(&topic);
        }
        publisher
    }

    /// Topics that cannot take messages now, with reason, last error and since when.
    pub fn failing_topics(&self) -> BTreeMap<String, FailingTopic> {
        self.context.failing.snapshot()
    }

    /// The same, as a channel that changes when a topic starts failing, changes reason
    /// or heals (what the gateway's report to the operator follows).
    pub fn watch_failing_topics(&self) -> watch::Receiver<BTreeMap<String, FailingTopic>> {
        self.context.failing.subscribe()
    }

    fn ensure_lane(&self, topic: &str) {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        if lanes.topics.contains(topic) {
            return;
        }
        let reader = match self.buffer.reader(topic) {
            Ok(reader) => reader,
            Err(error) => {
                tracing::error!(topic, %error, "cannot start a publisher lane");
                return;
            }
        };
        lanes.topics.insert(topic.to_owned());
        let context = Arc::clone(&self.context);
        let dead_letter_topic =
            (self.context.dead_letter_topic.as_ref()).map(|name| name.for_topic(topic));
        let sinks = self.destination.lane_sinks(topic, dead_letter_topic);
        lanes.tasks.spawn(async move {
            if let Some((sink, dead_letter_topic)) = sinks.await {
                lane::run(&context, reader, sink, dead_letter_topic).await;
            }
        });
    }

    async fn append(&self, messages: Vec<OutgoingMessage>) -> Result<Accepted, NotAccepted> {
        let first_tag = messages.first().map(|m| m.tag.clone()).unwrap_or_default();
        if self.closed.load(Ordering::SeqCst) {
            return Err(NotAccepted {
                tag: first_tag,
                error: EnqueueError::Closed,
            });
        }
        let mut accepted = Accepted::default();
        let mut records = Vec::with_capacity(messages.len());
        for msg in messages {
            match limits::validate(&msg.record) {
                Ok(()) => records.push(msg.record),
                Err(error) => accepted.skipped.push(NotAccepted {
                    tag: msg.tag,
                    error: error.into(),
                }),
            }
        }
        let topics: BTreeSet<String> = records.iter().map(|r| r.topic.clone()).collect();
        let count = records.len();
        match self.buffer.append(records).await {
            Ok(()) => {
                for topic in &topics {
                    self.ensure_lane(topic);
                }
                accepted.queued = count;
                Ok(accepted)
            }
            Err(AppendError::Full { topics }) if self.full_policy == FullPolicy::Drop => {
                MessagesDroppedBufferFull {
                    topics: &topics,
                    messages: count,
                }
                .emit(&self.context.metrics);
                Ok(accepted)
            }
            Err(AppendError::Full { .. }) => Err(NotAccepted {
                tag: first_tag,
                error: EnqueueError::Full {
                    capacity: usize::try_from(self.buffer.pending_total()).unwrap_or(usize::MAX),
                },
            }),
            Err(error) => Err(NotAccepted {
                tag: first_tag,
                error: EnqueueError::Buffer(error),
            }),
        }
    }
}

impl Publisher for DurablePublisher {
    /// One message alone cannot be waited for here: use [`Publisher::accept`].
    fn enqueue(&self, _msg: OutgoingMessage) -> Result<(), EnqueueError> {
        Err(EnqueueError::Closed)
    }

    fn accept(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Accepted, NotAccepted>> {
        Box::pin(self.append(messages))
    }

    /// Ready once the client exists and until shutdown; a failing topic does not make
    /// the gateway unready (its messages are dead-lettered, the others flow).
    fn is_ready(&self) -> bool {
        self.destination.is_ready() && !self.closed.load(Ordering::SeqCst)
    }

    fn queue_depth(&self) -> usize {
        usize::try_from(self.buffer.pending_total()).unwrap_or(usize::MAX)
    }

    /// Refuse new hits, let the lanes publish for up to the shutdown timeout, then stop
    /// them and close the buffer: what is not published stays on disk for the next start.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.closed.swap(true, Ordering::SeqCst) {
                return;
            }
            let pending = self.buffer.pending_total();
            let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
            while self.buffer.pending_total() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let left = self.buffer.pending_total();
            if left == 0 {
                tracing::info!(flushed = pending, "publisher drained");
            } else {
                tracing::warn!(
                    left,
                    timeout = ?self.shutdown_timeout,
                    "shutdown timeout: unpublished messages stay in the buffer for the next start"
                );
            }
            let mut tasks = std::mem::take(
                &mut self
                    .lanes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .tasks,
            );
            tasks.shutdown().await;
            self.buffer.close().await;
        })
    }
}
