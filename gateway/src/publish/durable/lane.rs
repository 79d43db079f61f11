//! A publisher lane: the one task that publishes one topic's records from the buffer, in
//! append order, and acknowledges each once Pub/Sub did (or once it was dead-lettered).
//!
//! A batch is what the buffer holds when the lane asks, topped up by the adaptive linger
//! (`linger.rs`: at most `linger` for a quiet topic, up to `max_linger` for a busy one)
//! when it is not full, then handed to the sink at once. Transient failures keep the failed
//! records and retry them after a backoff; the lane waits meanwhile, so a topic in trouble
//! only delays itself. A missing or forbidden topic makes the lane *failing*: its records
//! are dead-lettered and acknowledged without publishing, and every `probe_interval` one
//! batch is tried again, so the lane heals once the topic exists (or the right is granted).
//! Dead letters go to the dead-letter topic when there is one, and to the topic's
//! dead-letter file when there is none or it does not take them.

use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use hermes_buffer::{Acker, Delivery, EncodedRecord, Record, RecordId, TopicReader};

use super::dead_letter::DeadLetterFile;
use super::dead_letter_topic::{DeadLetterTopic, DeadLetterTopicName};
use super::failure::{DestinationFailure, FailureClass, classify};
use super::health::FailingTopics;
use super::linger::{Linger, next_batch};
use super::sink::TopicSink;
use crate::events::{
    DeadLetterTopicFailed, LaneBatchReady, LaneReadFailed, LogThrottle, MessagePublished,
    MessageRetried, MessagesDeadLettered, PublishAttemptFailed,
};
use crate::fire::TAG_ATTRIBUTE;
use crate::publish::PublishMetrics;

/// What every lane shares.
#[derive(Debug)]
pub(super) struct LaneContext {
    pub metrics: PublishMetrics,
    pub delays: ExponentialBuilder,
    pub dead_letter_dir: std::path::PathBuf,
    /// `--dead-letter-topic`, resolved per lane for its topic's project.
    pub dead_letter_topic: Option<DeadLetterTopicName>,
    pub probe_interval: Duration,
    pub failing: FailingTopics,
    /// When a batch that is not full is sent (fuller publish requests under load, at
    /// most its `linger` of latency at light load).
    pub linger: Linger,
}

/// The lane's view of its topic.
struct Lane<'a> {
    context: &'a LaneContext,
    topic: String,
    sink: Box<dyn TopicSink>,
    acker: Acker,
    dead_letters: DeadLetterFile,
    dead_letter_topic: Option<DeadLetterTopic>,
    /// Set while the topic is failing: when to try it again.
    next_probe: Option<Instant>,
    failure_log: LogThrottle,
}

/// Publish `reader`'s topic until the buffer closes (or the task is aborted at shutdown:
/// whatever is unacknowledged stays in the buffer).
pub(super) async fn run(
    context: &LaneContext,
    mut reader: TopicReader,
    sink: Box<dyn TopicSink>,
    dead_letter_topic: Option<DeadLetterTopic>,
) {
    let topic = reader.topic().to_owned();
    let mut lane = Lane {
        context,
        dead_letters: DeadLetterFile::new(&context.dead_letter_dir, &topic),
        dead_letter_topic,
        acker: reader.acker(),
        topic,
        sink,
        next_probe: None,
        failure_log: LogThrottle::default(),
    };
    loop {
        match next_batch(&context.linger, &mut reader).await {
            Ok(Some(batch)) => {
                LaneBatchReady { batch: &batch }.emit(&context.metrics);
                lane.deliver(batch).await;
            }
            Ok(None) => return,
            Err(error) => {
                LaneReadFailed {
                    topic: &lane.topic,
                    error: &error,
                }
                .emit();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn tag_of(record: &EncodedRecord) -> &str {
    record.attribute(TAG_ATTRIBUTE).unwrap_or("")
}

impl Lane<'_> {
    /// Publish `batch` until every record is acknowledged or dead-lettered.
    async fn deliver(&mut self, batch: Vec<Delivery>) {
        let mut pending = batch;
        let mut failures = 0u32;
        while !pending.is_empty() {
            if self.next_probe.is_some_and(|at| Instant::now() < at) {
                let error = self
                    .context
                    .failing
                    .get(&self.topic)
                    .map(|f| (f.reason, f.error))
                    .unwrap_or((DestinationFailure::TopicNotFound.reason(), String::new()));
                self.dead_letter(pending, error.0, error.1).await;
                return;
            }
            let results = self.sink.publish(&pending).await;
            let mut retry = Vec::new();
            let mut destination = Vec::new();
            let mut refused = Vec::new();
            let mut destination_error = None;
            let mut published = Vec::new();
            for (delivery, result) in pending.into_iter().zip(results) {
                let error = match result {
                    Ok(_) => {
                        published.push(self.published(delivery));
                        continue;
                    }
                    Err(error) => error,
                };
                match classify(&error) {
                    FailureClass::Transient => {
                        PublishAttemptFailed {
                            tag: tag_of(&delivery.record),
                            topic: &self.topic,
                            attempts: failures + 1,
                            error: &error,
                        }
                        .emit(&self.context.metrics, &mut self.failure_log);
                        retry.push(delivery);
                    }
                    FailureClass::Destination(failure) => {
                        destination_error = Some((failure, error.to_string()));
                        destination.push(delivery);
                    }
                    FailureClass::Message => refused.push((delivery, error.to_string())),
                }
            }
            // One acknowledgement call (one buffer log write) for the whole request.
            self.acker.ack_all(published);
            for (delivery, error) in refused {
                self.dead_letter(vec![delivery], "InvalidMessage", error)
                    .await;
            }
            if let Some((failure, error)) = destination_error {
                self.fail(failure, &error);
                self.dead_letter(destination, failure.reason(), error).await;
            }
            if retry.is_empty() {
                return;
            }
            for key in retry.iter().filter_map(|d| d.record.ordering_key()) {
                self.sink.resume(key);
            }
            failures += 1;
            let step = failures.saturating_sub(1).min(32) as usize;
            let delay = self.context.delays.build().nth(step).unwrap_or_default();
            tokio::time::sleep(delay).await;
            for delivery in &retry {
                MessageRetried {
                    tag: tag_of(&delivery.record),
                    attempt: failures + 1,
                }
                .emit(&self.context.metrics);
            }
            pending = retry;
        }
    }

    /// Counts a published record and heals a failing topic; returns the record's id to
    /// acknowledge.
    fn published(&mut self, delivery: Delivery) -> RecordId {
        let waited = SystemTime::now()
            .duration_since(delivery.appended_at)
            .unwrap_or_default();
        MessagePublished {
            tag: tag_of(&delivery.record),
            waited,
        }
        .emit(&self.context.metrics);
        if self.next_probe.take().is_some() {
            self.context
                .failing
                .heal(&self.topic, &self.context.metrics);
        }
        delivery.id
    }

    fn fail(&mut self, failure: DestinationFailure, error: &str) {
        self.next_probe = Some(Instant::now() + self.context.probe_interval);
        self.context
            .failing
            .fail(&self.topic, failure.reason(), error, &self.context.metrics);
    }

    /// Move `deliveries` to the dead letters, then acknowledge them: to the dead-letter
    /// topic when there is one, to the file what it does not take (or everything, without
    /// one).
    async fn dead_letter(
        &mut self,
        deliveries: Vec<Delivery>,
        reason: &'static str,
        error: String,
    ) {
        let deliveries = match &self.dead_letter_topic {
            Some(topic) => self.dead_letter_to_topic(topic, deliveries, reason).await,
            None => deliveries,
        };
        if !deliveries.is_empty() {
            self.dead_letter_to_file(deliveries, reason, error).await;
        }
    }

    /// Publish `deliveries` to the dead-letter topic and acknowledge what it took; the
    /// rest is returned for the file.
    async fn dead_letter_to_topic(
        &self,
        topic: &DeadLetterTopic,
        deliveries: Vec<Delivery>,
        reason: &'static str,
    ) -> Vec<Delivery> {
        let records: Vec<Record> = deliveries
            .iter()
            .map(|d| d.record.to_record(&self.topic))
            .collect();
        let records: Vec<&Record> = records.iter().collect();
        let results = topic.publish(&records, &self.topic, reason).await;
        let mut published = Vec::new();
        let mut taken = Vec::new();
        let mut refused = Vec::new();
        let mut last_error = None;
        for (delivery, result) in deliveries.into_iter().zip(results) {
            match result {
                Ok(_) => {
                    published.push(tag_of(&delivery.record).to_owned());
                    taken.push(delivery.id);
                }
                Err(error) => {
                    last_error = Some(error);
                    refused.push(delivery);
                }
            }
        }
        self.acker.ack_all(taken);
        if !published.is_empty() {
            MessagesDeadLettered {
                topic: &self.topic,
                reason,
                tags: &published,
                destination: &topic.name,
            }
            .emit(&self.context.metrics);
        }
        if let Some(error) = last_error {
            let tags: Vec<String> = refused
                .iter()
                .map(|d| tag_of(&d.record).to_owned())
                .collect();
            DeadLetterTopicFailed {
                topic: &self.topic,
                dead_letter_topic: &topic.name,
                tags: &tags,
                error: &error,
            }
            .emit(&self.context.metrics);
        }
        refused
    }

    /// Write `deliveries` to the topic's dead-letter file, then acknowledge them. If the
    /// file cannot be written, they stay unacknowledged in the buffer (dead-lettered
    /// after a restart) and the lane stops taking new records until then.
    async fn dead_letter_to_file(
        &self,
        deliveries: Vec<Delivery>,
        reason: &'static str,
        error: String,
    ) {
        let tags: Vec<String> = deliveries
            .iter()
            .map(|d| tag_of(&d.record).to_owned())
            .collect();
        let (ids, records): (Vec<_>, Vec<_>) = deliveries
            .into_iter()
            .map(|d| (d.id, d.record.to_record(&self.topic)))
            .unzip();
        match self.dead_letters.write(records, reason, error).await {
            Ok(()) => {
                MessagesDeadLettered {
                    topic: &self.topic,
                    reason,
                    tags: &tags,
                    destination: &self.dead_letters.path().display().to_string(),
                }
                .emit(&self.context.metrics);
                self.acker.ack_all(ids);
            }
            Err(error) => {
                LaneReadFailed {
                    topic: &self.topic,
                    error: &error,
                }
                .emit();
                // Unacknowledged records come back after a restart; this lane stops
                // taking new ones until then rather than losing them.
                std::future::pending::<()>().await;
            }
        }
    }
}
