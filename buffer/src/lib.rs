//! The durable buffer between accepting a hit and publishing its messages.
//!
//! The hit path calls [`Buffer::append`] with the messages a hit rendered and answers 2xx
//! only once it returned `Ok`: the records are then in the OS page cache at least, so a
//! crash of the process loses none of them (what a power loss can cost depends on the
//! [`FsyncPolicy`]). A full topic refuses the append as a whole with
//! [`AppendError::Full`], which the hit path maps to its full policy.
//!
//! Each topic is its own queue (its own directory of append-only segment files with its
//! own byte bound), so a topic that cannot be published fills only its own share. A
//! publisher lane per topic takes the topic's [`TopicReader`], publishes records in
//! append order and acknowledges each one ([`Acker::ack`], any order) once Pub/Sub did.
//! Segments whose records are all acknowledged are deleted; after a restart every record
//! not acknowledged is delivered again, in order (at-least-once: consumers de-duplicate
//! on `hermes_event_id`). Design and trade-offs: `docs/reliability.md`.

mod ack_log;
mod config;
mod error;
mod metrics;
mod reader;
mod record;
mod recover;
mod segment;
mod syncer;
mod topic;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};

use prometheus_client::registry::Registry;
use tokio::sync::{Semaphore, oneshot};

pub use config::{BufferConfig, FsyncPolicy};
pub use error::{AppendError, OpenError, ReadError, ReaderError};
pub use metrics::{BufferMetrics, TopicLabel};
pub use reader::{Acker, Delivery, RecordId, TopicReader};
pub use record::Record;

use topic::Topics;
use writer::Command;

/// A durable buffer: one directory, one queue per topic. Clones share it.
#[derive(Debug, Clone)]
pub struct Buffer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    topics: Arc<Topics>,
    commands: Sender<Command>,
    /// Bounds the appends waiting for the writer.
    slots: Semaphore,
    max_record_bytes: u32,
}

impl Buffer {
    /// Opens (or creates) the buffer in `config.dir`, checks what an earlier process left
    /// there (torn tails truncated, damaged records counted) and registers the metrics
    /// under `hermes_buffer`. Reads every segment once: call it at startup, before serving
    /// (or from a blocking task).
    pub fn open(config: BufferConfig, registry: &mut Registry) -> Result<Self, OpenError> {
        Self::open_with_metrics(config, BufferMetrics::register(registry))
    }

    /// [`open`](Self::open) with metrics the caller registered (or not, in tests).
    pub fn open_with_metrics(
        config: BufferConfig,
        metrics: BufferMetrics,
    ) -> Result<Self, OpenError> {
        if let Some(problem) = config.problem() {
            return Err(OpenError::InvalidConfig(problem));
        }
        let recovered = recover::recover_all(&config.dir, config.max_record_bytes, &metrics)?;
        let mut next_sequences = HashMap::new();
        let mut topics = Vec::new();
        for found in recovered {
            next_sequences.insert(found.topic.name.clone(), found.next_sequence);
            topics.push(found.topic);
        }
        let topics = Arc::new(Topics::new(config.dir.clone(), metrics, topics));
        let (commands, receiver) = mpsc::channel();
        writer::spawn(&config, Arc::clone(&topics), next_sequences, receiver)
            .map_err(OpenError::SpawnWriter)?;
        Ok(Buffer {
            inner: Arc::new(Inner {
                topics,
                commands,
                slots: Semaphore::new(config.max_pending_appends),
                max_record_bytes: config.max_record_bytes,
            }),
        })
    }

    /// Appends `records` (any topics) durably: `Ok` once every one was written under the
    /// fsync policy, or an error and nothing acknowledged. All or nothing when a topic is
    /// full or a record too large; after an I/O error some records may still be written
    /// (and published: at-least-once). Waits for the writer, never blocks a worker thread.
    pub async fn append(&self, records: Vec<Record>) -> Result<(), AppendError> {
        if records.is_empty() {
            return Ok(());
        }
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|_| AppendError::Closed)?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Append { records, reply })
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// The reader of `topic` (one at a time per topic), starting at its oldest
    /// unacknowledged record, or where the previous reader stopped.
    pub fn reader(&self, topic: &str) -> Result<TopicReader, ReaderError> {
        let topic = self.inner.topics.get_or_create(topic);
        if !topic.claim_reader() {
            return Err(ReaderError::AlreadyTaken(topic.name.clone()));
        }
        Ok(TopicReader::new(
            topic,
            self.inner.commands.clone(),
            self.inner.max_record_bytes,
        ))
    }

    /// Every topic the buffer knows, sorted: those found on disk at open (start a lane
    /// for each, even if the current config no longer names it) and those used since.
    pub fn topics(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .topics
            .all()
            .iter()
            .map(|t| t.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Records of `topic` appended and not acknowledged.
    pub fn pending(&self, topic: &str) -> u64 {
        self.inner
            .topics
            .get(topic)
            .map_or(0, |topic| topic.state().unacked)
    }

    /// Records of every topic appended and not acknowledged (for a graceful shutdown:
    /// wait until 0 or the deadline, then [`close`](Self::close)).
    pub fn pending_total(&self) -> u64 {
        self.inner
            .topics
            .all()
            .iter()
            .map(|t| t.state().unacked)
            .sum()
    }

    /// Stops the buffer: everything written is forced to disk (whatever the fsync policy),
    /// later appends fail with [`AppendError::Closed`], readers end once they read what is
    /// committed. Unacknowledged records stay on disk for the next start.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.inner.commands.send(Command::Close { reply }).is_ok() {
            let _ = done.await;
        }
    }
}
