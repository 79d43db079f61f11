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
//! append order and acknowledges them ([`Acker::ack_all`], any order) once Pub/Sub did.
//! Appends and acknowledgements run on the caller, without a hand-off to another thread;
//! a reader that keeps up takes the records from memory (the topic's memory tail).
//! Segments whose records are all acknowledged are deleted; after a restart every record
//! not acknowledged is delivered again, in order (at-least-once: consumers de-duplicate
//! on `hermes_event_id`). Design and trade-offs: `docs/reliability.md`.

mod ack_log;
mod acknowledge;
mod append;
mod config;
mod encoded;
mod error;
mod metrics;
mod reader;
mod record;
mod recover;
mod segment;
mod syncer;
mod tail;
mod topic;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

pub use config::{BufferConfig, FsyncPolicy};
pub use encoded::EncodedRecord;
pub use error::{AppendError, OpenError, ReadError, ReaderError};
pub use metrics::{BufferMetrics, ReadLabel, ReadSource, TopicLabel};
pub use reader::{Acker, Delivery, RecordId, TopicReader};
pub use record::Record;

use append::Appender;
use syncer::Syncer;
use topic::Topics;
use writer::Layout;

/// A durable buffer: one directory, one queue per topic. Clones share it.
#[derive(Debug, Clone)]
pub struct Buffer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    appender: Appender,
    /// The sync thread: interval fsync, group commit under `Always`, age gauges.
    syncer: Syncer,
    /// Bounds the appends waiting for their fsync under `Always`.
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
        let topics = Arc::new(Topics::new(
            config.dir.clone(),
            metrics,
            config.memory_tail_bytes_per_topic,
            recovered,
        ));
        let syncer =
            Syncer::spawn(Arc::clone(&topics), config.fsync).map_err(OpenError::SpawnWriter)?;
        Ok(Buffer {
            inner: Arc::new(Inner {
                appender: Appender {
                    topics,
                    layout: Layout {
                        root: config.dir.clone(),
                        fsync: config.fsync,
                        segment_bytes: config.segment_bytes,
                    },
                    max_bytes: config.max_bytes_per_topic,
                    max_record_bytes: config.max_record_bytes,
                    closed: AtomicBool::new(false),
                },
                syncer,
                slots: Semaphore::new(config.max_pending_appends),
                max_record_bytes: config.max_record_bytes,
            }),
        })
    }

    /// Appends `records` (any topics) durably: `Ok` once every one was written under the
    /// fsync policy, or an error and nothing acknowledged. All or nothing when a topic is
    /// full or a record too large; after an I/O error some records may still be written
    /// (and published: at-least-once).
    ///
    /// Runs on the caller: encodes the records, then writes each topic's share with one
    /// `write(2)` under that topic's lock (a page-cache write, short enough for a tokio
    /// worker). Only [`FsyncPolicy::Always`] waits, for the group commit's `fdatasync` on
    /// the sync thread.
    pub async fn append(&self, records: Vec<Record>) -> Result<(), AppendError> {
        if records.is_empty() {
            return Ok(());
        }
        let inner = &self.inner;
        if inner.appender.layout.fsync != FsyncPolicy::Always {
            let written = inner.appender.write(records).map(drop);
            // Never waiting, a task appending in a loop would keep its worker from every
            // other task (the lanes among them): this yields once its budget is spent.
            tokio::task::coop::consume_budget().await;
            return written;
        }
        let _slot = inner
            .slots
            .acquire()
            .await
            .map_err(|_| AppendError::Closed)?;
        let to_sync = inner.appender.write(records)?;
        inner.syncer.commit(to_sync).await
    }

    /// The reader of `topic` (one at a time per topic), starting at its oldest
    /// unacknowledged record, or where the previous reader stopped.
    pub fn reader(&self, topic: &str) -> Result<TopicReader, ReaderError> {
        let topic = self.inner.appender.topics.get_or_create(topic);
        if !topic.claim_reader() {
            return Err(ReaderError::AlreadyTaken(topic.name.clone()));
        }
        Ok(TopicReader::new(topic, self.inner.max_record_bytes))
    }

    /// Every topic the buffer knows, sorted: those found on disk at open (start a lane
    /// for each, even if the current config no longer names it) and those used since.
    pub fn topics(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .appender
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
            .appender
            .topics
            .get(topic)
            .map_or(0, |topic| topic.state().unacked)
    }

    /// Records of every topic appended and not acknowledged (for a graceful shutdown:
    /// wait until 0 or the deadline, then [`close`](Self::close)).
    pub fn pending_total(&self) -> u64 {
        self.inner
            .appender
            .topics
            .all()
            .iter()
            .map(|t| t.state().unacked)
            .sum()
    }

    /// Stops the buffer: everything written is forced to disk (whatever the fsync policy),
    /// later appends fail with [`AppendError::Closed`], readers end once they read what is
    /// committed, later acknowledgements are ignored. Unacknowledged records stay on disk
    /// for the next start.
    pub async fn close(&self) {
        self.inner.appender.closed.store(true, Ordering::Release);
        let topics = Arc::clone(&self.inner.appender.topics);
        let closing = tokio::task::spawn_blocking(move || {
            for topic in topics.all() {
                topic.writer().sync_all(&topic);
                topic.state().closed = true;
                topic.notify.notify_waiters();
            }
        });
        if let Err(error) = closing.await {
            tracing::error!(%error, "closing the buffer failed");
        }
    }
}
