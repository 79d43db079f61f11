//! One topic's queue as its appenders, its reader and its acknowledgements share it: the
//! segments on disk, what is committed in each, what is acknowledged, and the memory tail
//! of records not read yet. Appenders change it under the topic's writer lock; the reader
//! reads up to what is committed and waits on [`Topic::notify`] for more.
//!
//! Locks, always taken in this order: a topic's writer, its acknowledgement logs, its
//! state (appends to several topics take their writers in name order first).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::acknowledge::AckLogs;
use crate::metrics::{BufferMetrics, TopicMetrics};
use crate::recover::Recovered;
use crate::tail::{Position, Tail};
use crate::writer::TopicWriter;

/// The file in a topic directory that holds the topic's name (directory names are hashes,
/// as topic names are longer than file names may be).
pub(crate) const TOPIC_NAME_FILE: &str = "topic";

/// The directory of `topic` under the buffer's root.
pub(crate) fn topic_dir(root: &Path, topic: &str) -> PathBuf {
    let digest = Sha256::digest(topic.as_bytes());
    root.join(hex::encode(&digest[..16]))
}

/// Milliseconds since the Unix epoch (0 for a clock before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What is known about one segment.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegmentMeta {
    /// Bytes committed (readable).
    pub len: u64,
    /// Records in it (the final count once sealed).
    pub records: u64,
    /// Of those, acknowledged.
    pub acked: u64,
    /// No more appends go to it; it is deleted once every record is acknowledged.
    pub sealed: bool,
    /// Append time of its first record.
    pub first_appended_ms: Option<u64>,
    /// Damaged regions found when it was checked at open, to be skipped when reading.
    pub damaged: Vec<Range<u64>>,
    /// Left by an earlier process and checked at open (damage there is counted already).
    pub replayed: bool,
}

impl SegmentMeta {
    pub fn fully_acked(&self) -> bool {
        self.sealed && self.acked >= self.records
    }
}

/// The mutable part of a topic.
#[derive(Debug, Default)]
pub(crate) struct TopicState {
    /// Live segments by first sequence number, oldest first.
    pub segments: BTreeMap<u64, SegmentMeta>,
    /// Sum of the segments' lengths.
    pub bytes: u64,
    /// Records appended and not acknowledged.
    pub unacked: u64,
    /// Records handed to the reader and not acknowledged: sequence → append time.
    pub in_flight: BTreeMap<u64, u64>,
    /// Records in replayed segments acknowledged before the restart: skipped by the reader.
    pub acked_before_open: HashSet<u64>,
    /// The buffer is closed: the reader ends once it has read everything committed.
    pub closed: bool,
    /// Records appended by this process and not read yet, newest last.
    pub tail: Tail,
}

impl TopicState {
    /// An empty state whose memory tail holds up to `tail_budget` encoded bytes.
    pub fn new(tail_budget: u64) -> Self {
        TopicState {
            tail: Tail::new(tail_budget),
            ..TopicState::default()
        }
    }

    /// Append time of the oldest unacknowledged record: exact for records the reader has
    /// handed out; for records not read yet, the first append time of the oldest segment
    /// holding them (older than the record by at most one segment's span).
    pub fn oldest_unacked_ms(&self) -> Option<u64> {
        if let Some((_, &ms)) = self.in_flight.first_key_value() {
            return Some(ms);
        }
        if self.unacked == 0 {
            return None;
        }
        self.segments
            .values()
            .find(|s| s.acked < s.records)
            .and_then(|s| s.first_appended_ms)
    }
}

/// One topic: its name, directory, state and series.
#[derive(Debug)]
pub(crate) struct Topic {
    pub name: String,
    pub dir: PathBuf,
    state: Mutex<TopicState>,
    /// The appending side: held by an append for its write.
    writer: Mutex<TopicWriter>,
    /// The open acknowledgement logs: held while acknowledging and deleting segments.
    ack_logs: Mutex<AckLogs>,
    /// Woken when records are committed or the buffer closes.
    pub notify: Notify,
    /// A reader exists (one per topic: records are handed out once, in order).
    pub reader_taken: AtomicBool,
    /// Where a dropped reader stopped, for the next reader.
    parked: Mutex<Option<Position>>,
    pub metrics: TopicMetrics,
}

impl Topic {
    pub fn new(
        name: String,
        dir: PathBuf,
        state: TopicState,
        writer: TopicWriter,
        metrics: TopicMetrics,
    ) -> Self {
        let topic = Topic {
            name,
            dir,
            state: Mutex::new(state),
            writer: Mutex::new(writer),
            ack_logs: Mutex::new(AckLogs::default()),
            notify: Notify::new(),
            reader_taken: AtomicBool::new(false),
            parked: Mutex::new(None),
            metrics,
        };
        topic.publish_gauges(&topic.state());
        topic
    }

    /// The state, even if a thread panicked holding it (every update keeps it consistent
    /// enough to go on: the worst case is a record replayed after a restart).
    pub fn state(&self) -> MutexGuard<'_, TopicState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writing side (see the lock order above).
    pub fn writer(&self) -> MutexGuard<'_, TopicWriter> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open acknowledgement logs (see the lock order above).
    pub fn ack_logs(&self) -> MutexGuard<'_, AckLogs> {
        self.ack_logs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the depth and size gauges from `state`.
    pub fn publish_gauges(&self, state: &TopicState) {
        self.metrics
            .records
            .set(i64::try_from(state.unacked).unwrap_or(i64::MAX));
        self.metrics
            .bytes
            .set(i64::try_from(state.bytes).unwrap_or(i64::MAX));
    }

    /// Sets the oldest-age gauge for the time `now_ms`.
    pub fn publish_age(&self, now_ms: u64) {
        let oldest = self.state().oldest_unacked_ms();
        let age = oldest.map_or(0.0, |ms| now_ms.saturating_sub(ms) as f64 / 1000.0);
        self.metrics.oldest_age.set(age);
    }

    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Claims the topic's only reader.
    pub fn claim_reader(&self) -> bool {
        !self.reader_taken.swap(true, Ordering::AcqRel)
    }

    /// Releases the reader, which stopped at `position`.
    pub fn release_reader(&self, position: Option<Position>) {
        *self.parked.lock().unwrap_or_else(PoisonError::into_inner) = position;
        self.reader_taken.store(false, Ordering::Release);
    }

    /// Where the previous reader stopped.
    pub fn parked_position(&self) -> Option<Position> {
        *self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every topic of a buffer, by name; topics appear on first use.
#[derive(Debug)]
pub(crate) struct Topics {
    root: PathBuf,
    metrics: BufferMetrics,
    /// Bytes of each topic's memory tail.
    tail_budget: u64,
    by_name: Mutex<HashMap<String, Arc<Topic>>>,
}

impl Topics {
    pub fn new(
        root: PathBuf,
        metrics: BufferMetrics,
        tail_budget: u64,
        recovered: Vec<Recovered>,
    ) -> Self {
        let by_name = recovered
            .into_iter()
            .map(|found| {
                let mut state = found.state;
                state.tail = Tail::new(tail_budget);
                let topic = Topic::new(
                    found.name.clone(),
                    found.dir,
                    state,
                    TopicWriter::new(found.next_sequence, true),
                    found.metrics,
                );
                (found.name, Arc::new(topic))
            })
            .collect();
        Topics {
            root,
            metrics,
            tail_budget,
            by_name: Mutex::new(by_name),
        }
    }

    fn by_name(&self) -> MutexGuard<'_, HashMap<String, Arc<Topic>>> {
        self.by_name.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The topic named `name`, created (in memory; its directory comes with its first
    /// append) if new.
    pub fn get_or_create(&self, name: &str) -> Arc<Topic> {
        let mut by_name = self.by_name();
        if let Some(topic) = by_name.get(name) {
            return Arc::clone(topic);
        }
        let topic = Arc::new(Topic::new(
            name.to_owned(),
            topic_dir(&self.root, name),
            TopicState::new(self.tail_budget),
            TopicWriter::new(0, false),
            self.metrics.for_topic(name),
        ));
        by_name.insert(name.to_owned(), Arc::clone(&topic));
        topic
    }

    /// The topic named `name`, if it is known.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.by_name().get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Topic>> {
        self.by_name().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_directories_are_distinct_fixed_length_names() {
        let root = Path::new("/b");
        let a = topic_dir(root, "projects/p/topics/a");
        let b = topic_dir(root, "projects/p/topics/b");
        assert_ne!(a, b);
        assert_eq!(a.file_name().unwrap().len(), 32);
        assert_eq!(a, topic_dir(root, "projects/p/topics/a"));
    }

    #[test]
    fn oldest_unacked_prefers_records_in_flight_then_the_oldest_unfinished_segment() {
        let mut state = TopicState::default();
        assert_eq!(state.oldest_unacked_ms(), None);
        state.segments.insert(
            0,
            SegmentMeta {
                records: 2,
                acked: 2,
                first_appended_ms: Some(10),
                ..SegmentMeta::default()
            },
        );
        state.segments.insert(
            2,
            SegmentMeta {
                records: 2,
                first_appended_ms: Some(20),
                ..SegmentMeta::default()
            },
        );
        state.unacked = 2;
        assert_eq!(state.oldest_unacked_ms(), Some(20));
        state.in_flight.insert(3, 25);
        assert_eq!(state.oldest_unacked_ms(), Some(25));
    }
}
