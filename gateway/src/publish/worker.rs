//! The publish worker: the background task between the queue and the
//! `google-cloud-pubsub` client. It hands messages to one batching client publisher per
//! topic, collects their results, and schedules retries with backoff (`backon`) until
//! each message is acknowledged.
//!
//! The client publisher keeps a batching task per ordering key it has ever seen and never
//! frees them (google-cloud-pubsub 1.7, `publisher/actor.rs`, TODO #4012). With keys like
//! client ids that grows without bound, so after `ordering_keys_per_client` new keys a
//! topic gets a fresh client publisher (a new generation). A key's lane keeps using its
//! generation while it has messages in flight or held, which keeps its order; a retired
//! generation is dropped (its tasks flush and end) once no lane uses it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_pubsub::client::{BasePublisher, Publisher as TopicPublisher};
use google_cloud_pubsub::error::PublishError;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::retry_policy::RetryableErrors;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use super::lanes::{LaneId, Lanes, Next, Pending};
use super::limits::MAX_BATCH_MESSAGES;
use super::{OutgoingMessage, PubSubConfig, PubSubTarget, PublishMetrics};
use crate::events::{
    BatchTaken, ClientConnectFailed, LogThrottle, MessagePublished, MessageRefused, MessageRetried,
    MessagesAbandoned, PublishAttemptFailed,
};

/// What the publisher handle tells the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Running,
    /// Publish what is pending with short backoffs; nothing new arrives.
    Draining,
    /// Stop now; whatever is pending is given up.
    Stopped,
}

/// State shared by the handle (hot path) and the worker.
#[derive(Debug)]
pub(super) struct Shared {
    /// Accepted and not yet settled (acknowledged or given up).
    pub depth: AtomicUsize,
    /// The client exists.
    pub connected: AtomicBool,
    /// Woken when `depth` drops to zero.
    pub drained: Notify,
    pub metrics: PublishMetrics,
}

impl Shared {
    pub fn new(metrics: PublishMetrics) -> Self {
        Shared {
            depth: AtomicUsize::new(0),
            connected: AtomicBool::new(false),
            drained: Notify::new(),
            metrics,
        }
    }

    fn settle(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.metrics.queue_depth.dec_by(n as i64);
        if self.depth.fetch_sub(n, Ordering::SeqCst) == n {
            self.drained.notify_waiters();
        }
    }
}

/// A message with its enqueue time, as the handle sends it.
pub(super) type Queued = (OutgoingMessage, std::time::Instant);

enum Retry {
    Message(Pending),
    Lane(LaneId),
}

/// How a failed attempt is handled.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Failed behind an earlier message of its ordering key: retry with the lane.
    Paused,
    /// Retry after a backoff.
    Retry,
    /// The topic's client publisher is gone: make a new one, then retry.
    ClientGone,
    /// Pub/Sub refuses the message itself: give it up.
    GiveUp,
}

fn classify(error: &PublishError) -> Verdict {
    match error {
        PublishError::OrderingKeyPaused => Verdict::Paused,
        PublishError::Shutdown => Verdict::ClientGone,
        PublishError::Rpc(e) if e.status().is_some_and(|s| s.code == Code::InvalidArgument) => {
            Verdict::GiveUp
        }
        _ => Verdict::Retry,
    }
}

/// Run the worker until stopped: connect, then pump messages.
pub(super) async fn run(
    config: PubSubConfig,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Queued>,
    mut control: watch::Receiver<Phase>,
) {
    let Some(client) = connect(&config, &shared.metrics, &mut control).await else {
        Pump::new(config, shared, rx, control, None).stop();
        return;
    };
    shared.connected.store(true, Ordering::SeqCst);
    Pump::new(config, shared, rx, control, Some(client))
        .run()
        .await;
}

/// Delays between attempts: `initial · 2^(failures-1)`, capped at `max`, jittered to
/// 50–100 % so that many failed messages do not come back at the same instant. (backon's
/// jitter adds 0–100 %, so its delays start from half.)
pub(super) fn retry_delays(config: &PubSubConfig) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(config.initial_backoff / 2)
        .with_max_delay(config.max_backoff / 2)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
}

/// The delay before attempt `failures + 1`, after `failures` (≥ 1) failed attempts.
fn delay_after(delays: &ExponentialBuilder, failures: u32) -> Duration {
    // The delay stops growing at the maximum long before 32 doublings.
    let step = failures.saturating_sub(1).min(32) as usize;
    delays.build().nth(step).unwrap_or_default()
}

/// Build the client, retrying with backoff (e.g. while credentials are missing); `None`
/// when the publisher is stopped first.
async fn connect(
    config: &PubSubConfig,
    metrics: &PublishMetrics,
    control: &mut watch::Receiver<Phase>,
) -> Option<BasePublisher> {
    let attempts = (|| build_client(config))
        .retry(retry_delays(config))
        .sleep(tokio::time::sleep)
        .notify(|error, retry_in| ClientConnectFailed { error, retry_in }.emit(metrics));
    tokio::select! {
        client = attempts => client.ok(),
        // An error means the handle is gone: stop too.
        _ = control.wait_for(|phase| *phase == Phase::Stopped) => None,
    }
}

pub(super) async fn build_client(
    config: &PubSubConfig,
) -> Result<BasePublisher, google_cloud_gax::client_builder::Error> {
    // The client retries transient errors quickly within one attempt's budget; longer
    // outages come back to our backoff, which keeps the message.
    let builder = BasePublisher::builder()
        .with_retry_policy(RetryableErrors.with_time_limit(config.attempt_timeout))
        .with_backoff_policy(
            ExponentialBackoffBuilder::new()
                .with_initial_delay(Duration::from_millis(50))
                .with_maximum_delay(Duration::from_secs(2))
                .with_scaling(2.0)
                .clamp(),
        );
    let builder = match &config.target {
        PubSubTarget::Google => builder,
        PubSubTarget::Endpoint { url } => builder.with_endpoint(url.clone()),
        PubSubTarget::Emulator { host_port } => builder
            .with_endpoint(format!("http://{host_port}"))
            .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build()),
    };
    builder.build().await
}

/// How often retired client publishers are checked for being unused.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// The client publishers of one topic.
struct TopicClients {
    generation: u64,
    current: TopicPublisher,
    /// New ordering keys seen by `current`.
    keys: usize,
    retired: HashMap<u64, TopicPublisher>,
}

impl TopicClients {
    fn get(&self, generation: Option<u64>) -> &TopicPublisher {
        generation
            .filter(|g| *g != self.generation)
            .and_then(|g| self.retired.get(&g))
            .unwrap_or(&self.current)
    }
}

pub(super) fn topic_publisher(
    client: &BasePublisher,
    topic: &str,
    batching: super::BatchSettings,
) -> TopicPublisher {
    let batching = batching.clamped();
    client
        .publisher(topic)
        .set_message_count_threshold(batching.max_messages)
        .set_byte_threshold(batching.max_bytes)
        .set_delay_threshold(batching.max_delay)
        .build()
}

/// The Pub/Sub form of a record: payload, attributes and (non-empty) ordering key. Takes
/// the parts, so both forms of a record build it alike: the in-memory publisher's
/// `Record` and the durable one's `EncodedRecord`, read in place.
pub(super) fn pubsub_message<'r>(
    data: bytes::Bytes,
    attributes: impl Iterator<Item = (&'r str, &'r str)>,
    ordering_key: Option<&str>,
) -> Message {
    let mut message = Message::new()
        .set_data(data)
        .set_attributes(attributes.map(|(k, v)| (k.to_owned(), v.to_owned())));
    if let Some(key) = ordering_key {
        message = message.set_ordering_key(key);
    }
    message
}

/// The connected worker's state. Owned by one task: no locks.
struct Pump {
    config: PubSubConfig,
    delays: ExponentialBuilder,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Queued>,
    control: watch::Receiver<Phase>,
    client: Option<BasePublisher>,
    topics: HashMap<String, TopicClients>,
    next_generation: u64,
    lanes: Lanes,
    /// Messages handed to the client, by sequence number.
    sent: HashMap<u64, Pending>,
    in_flight: FuturesUnordered<BoxFuture<'static, (u64, Result<String, PublishError>)>>,
    retries: BTreeMap<(Instant, u64), Retry>,
    next_seq: u64,
    draining: bool,
    failure_log: LogThrottle,
}

impl Pump {
    fn new(
        config: PubSubConfig,
        shared: Arc<Shared>,
        rx: mpsc::UnboundedReceiver<Queued>,
        control: watch::Receiver<Phase>,
        client: Option<BasePublisher>,
    ) -> Self {
        Pump {
            delays: retry_delays(&config),
            config,
            shared,
            rx,
            control,
            client,
            topics: HashMap::new(),
            next_generation: 0,
            lanes: Lanes::default(),
            sent: HashMap::new(),
            in_flight: FuturesUnordered::new(),
            retries: BTreeMap::new(),
            next_seq: 0,
            draining: false,
            failure_log: LogThrottle::default(),
        }
    }

    async fn run(mut self) {
        if *self.control.borrow_and_update() == Phase::Draining {
            self.start_draining();
        }
        let mut arrived = Vec::with_capacity(MAX_BATCH_MESSAGES as usize);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        loop {
            let next_retry = self.retries.first_key_value().map(|((at, _), _)| *at);
            let retry_at = next_retry.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                changed = self.control.changed() => {
                    let phase = if changed.is_err() { Phase::Stopped } else { *self.control.borrow_and_update() };
                    match phase {
                        Phase::Stopped => break,
                        Phase::Draining => self.start_draining(),
                        Phase::Running => {}
                    }
                }
                n = self.rx.recv_many(&mut arrived, MAX_BATCH_MESSAGES as usize) => {
                    if n == 0 {
                        break; // the handle is gone without a shutdown
                    }
                    BatchTaken { messages: n }.emit(&self.shared.metrics);
                    for (msg, enqueued) in arrived.drain(..) {
                        let generation = self.generation_for_new(&msg);
                        let pending = Pending::new(msg, self.next_seq, enqueued);
                        self.next_seq += 1;
                        if let Some(pending) = self.lanes.admit(pending, generation) {
                            self.send(pending);
                        }
                    }
                }
                Some((seq, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.complete(seq, result);
                }
                () = tokio::time::sleep_until(retry_at), if next_retry.is_some() => {
                    self.retry_due();
                }
                _ = housekeeping.tick() => self.drop_unused_generations(),
            }
        }
        self.stop();
    }

    /// The topic's client publishers, created on first use.
    fn clients(&mut self, topic: &str) -> Option<&mut TopicClients> {
        if !self.topics.contains_key(topic) {
            let current = topic_publisher(self.client.as_ref()?, topic, self.config.batching);
            let clients = TopicClients {
                generation: self.next_generation,
                current,
                keys: 0,
                retired: HashMap::new(),
            };
            self.next_generation += 1;
            self.topics.insert(topic.to_owned(), clients);
        }
        self.topics.get_mut(topic)
    }

    /// The generation a lane created for `msg` would use; counts new ordering keys and
    /// starts a new generation when the current one has seen enough.
    fn generation_for_new(&mut self, msg: &OutgoingMessage) -> u64 {
        let new_lane = self.lanes.is_new_lane(msg);
        let topic = msg.topic();
        if self.clients(topic).is_none() {
            return 0;
        }
        let (Some(client), Some(clients)) = (self.client.as_ref(), self.topics.get_mut(topic))
        else {
            return 0;
        };
        if new_lane {
            if clients.keys >= self.config.ordering_keys_per_client.max(1) {
                let fresh = topic_publisher(client, topic, self.config.batching);
                let old = std::mem::replace(&mut clients.current, fresh);
                clients.retired.insert(clients.generation, old);
                clients.generation = self.next_generation;
                clients.keys = 0;
                self.next_generation += 1;
                tracing::debug!(
                    topic,
                    generation = clients.generation,
                    "new client publisher"
                );
            }
            clients.keys += 1;
        }
        clients.generation
    }

    /// Drop retired client publishers that no lane uses any more.
    fn drop_unused_generations(&mut self) {
        let in_use = self.lanes.generations_in_use();
        for (topic, clients) in &mut self.topics {
            clients
                .retired
                .retain(|generation, _| in_use.contains(&(topic.as_str(), *generation)));
        }
    }

    fn publisher_for(&mut self, topic: &str, generation: Option<u64>) -> Option<&TopicPublisher> {
        Some(self.clients(topic)?.get(generation))
    }

    fn send(&mut self, mut pending: Pending) {
        if pending.attempts > 0 {
            MessageRetried {
                tag: &pending.msg.tag,
                attempt: pending.attempts + 1,
            }
            .emit(&self.shared.metrics);
        }
        pending.attempts += 1;
        let msg = &pending.msg;
        let message = pubsub_message(
            msg.record.data.clone(),
            msg.record
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            msg.record.ordering_key(),
        );
        let topic = msg.record.topic.clone();
        let seq = pending.seq;
        let generation = self.lanes.generation_of(msg);
        let Some(publisher) = self.publisher_for(&topic, generation) else {
            // Unreachable: a pump without a client only stops. Keep the count honest.
            MessagesAbandoned {
                messages: std::slice::from_ref(&pending.msg),
            }
            .emit(&self.shared.metrics);
            self.shared.settle(1);
            return;
        };
        let future = publisher.publish(message);
        self.sent.insert(seq, pending);
        self.in_flight
            .push(Box::pin(async move { (seq, future.await) }));
    }

    fn complete(&mut self, seq: u64, result: Result<String, PublishError>) {
        let Some(mut pending) = self.sent.remove(&seq) else {
            return;
        };
        let metrics = &self.shared.metrics;
        let tag = pending.msg.tag.as_str();
        let next = match result {
            Ok(_) => {
                MessagePublished {
                    tag,
                    waited: pending.enqueued.elapsed(),
                }
                .emit(metrics);
                let next = self.lanes.succeeded(&pending.msg);
                self.shared.settle(1);
                next
            }
            Err(error) => match classify(&error) {
                Verdict::Paused => self.lanes.failed(pending, true),
                Verdict::GiveUp => {
                    MessageRefused {
                        tag,
                        topic: pending.msg.topic(),
                        error: &error,
                    }
                    .emit(metrics);
                    let next = self.lanes.failed(pending, false);
                    self.shared.settle(1);
                    next
                }
                verdict => {
                    PublishAttemptFailed {
                        tag,
                        topic: pending.msg.topic(),
                        attempts: pending.attempts,
                        error: &error,
                    }
                    .emit(metrics, &mut self.failure_log);
                    if verdict == Verdict::ClientGone {
                        self.topics.remove(pending.msg.topic());
                    }
                    pending.failures += 1;
                    self.lanes.failed(pending, true)
                }
            },
        };
        self.schedule(next);
    }

    fn delay(&self, failures: u32) -> Duration {
        let delay = delay_after(&self.delays, failures);
        if self.draining {
            delay.min(self.config.initial_backoff)
        } else {
            delay
        }
    }

    fn schedule(&mut self, next: Next) {
        let (failures, retry) = match next {
            Next::Nothing => return,
            Next::RetryMessage(pending) => (pending.failures, Retry::Message(pending)),
            Next::RetryLane { lane, failures } => (failures, Retry::Lane(lane)),
        };
        let at = Instant::now() + self.delay(failures);
        self.retries.insert((at, self.next_seq), retry);
        self.next_seq += 1;
    }

    fn retry_due(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.retries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Retry::Message(pending) => self.send(pending),
                Retry::Lane(lane) => {
                    let generation = self.lanes.generation(&lane);
                    if let Some(clients) = self.topics.get(&lane.topic) {
                        clients.get(generation).resume_publish(lane.key.clone());
                    }
                    for pending in self.lanes.release(&lane) {
                        self.send(pending);
                    }
                }
            }
        }
    }

    /// Shutdown began: retry everything now and keep backoffs short.
    fn start_draining(&mut self) {
        self.draining = true;
        let now = Instant::now();
        let retries = std::mem::take(&mut self.retries);
        self.retries = retries
            .into_iter()
            .map(|((_, id), retry)| ((now, id), retry))
            .collect();
    }

    /// Give up whatever is still pending, counting it per tag.
    fn stop(mut self) {
        self.rx.close();
        let mut left: Vec<OutgoingMessage> = Vec::new();
        while let Ok((msg, _)) = self.rx.try_recv() {
            left.push(msg);
        }
        left.extend(self.sent.drain().map(|(_, p)| p.msg));
        left.extend(self.lanes.drain_held().into_iter().map(|p| p.msg));
        for retry in std::mem::take(&mut self.retries).into_values() {
            if let Retry::Message(p) = retry {
                left.push(p.msg);
            }
        }
        MessagesAbandoned { messages: &left }.emit(&self.shared.metrics);
        self.shared.settle(left.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use google_cloud_gax::error::rpc::Status;

    fn rpc(code: Code) -> PublishError {
        PublishError::Rpc(Arc::new(google_cloud_pubsub::Error::service(
            Status::default().set_code(code).set_message("test"),
        )))
    }

    #[test]
    fn only_invalid_arguments_are_given_up() {
        assert_eq!(classify(&rpc(Code::InvalidArgument)), Verdict::GiveUp);
        for code in [
            Code::NotFound,
            Code::Unavailable,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::ResourceExhausted,
            Code::DeadlineExceeded,
        ] {
            assert_eq!(classify(&rpc(code)), Verdict::Retry, "{code:?}");
        }
        assert_eq!(classify(&PublishError::OrderingKeyPaused), Verdict::Paused);
        assert_eq!(classify(&PublishError::Shutdown), Verdict::ClientGone);
    }

    fn delays(initial: Duration, max: Duration) -> ExponentialBuilder {
        let mut config = PubSubConfig::emulator("127.0.0.1:1");
        config.initial_backoff = initial;
        config.max_backoff = max;
        retry_delays(&config)
    }

    #[test]
    fn delays_double_per_failure_and_stop_at_the_maximum() {
        let delays = delays(Duration::from_millis(100), Duration::from_secs(2));
        for (failures, full_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (5, 1600),
            (6, 2000),
            (60, 2000),
        ] {
            let full = Duration::from_millis(full_ms);
            for _ in 0..20 {
                let d = delay_after(&delays, failures);
                assert!(d >= full / 2 && d <= full, "failures {failures}: {d:?}");
            }
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let delays = delays(Duration::from_secs(1), Duration::from_secs(1));
        let spread: std::collections::HashSet<_> =
            (0..20).map(|_| delay_after(&delays, 1)).collect();
        assert!(spread.len() > 1);
    }
}
