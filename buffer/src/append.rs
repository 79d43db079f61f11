//! An append, on the caller's thread: no hand-off to another thread (under
//! [`FsyncPolicy::Always`](crate::FsyncPolicy::Always) only the fsync is waited for).
//!
//! The records are checked and encoded first, without any lock; then the writers of the
//! topics touched are locked (in name order, so two appends never wait for each other
//! crosswise), the byte bounds checked for all of them (all or nothing), and each topic's
//! frames written with one `write(2)`. On return the records are in the page cache: a
//! crash of the process loses none of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::AppendError;
use crate::record::{Frames, Record};
use crate::syncer::SyncTarget;
use crate::topic::{Topic, Topics, now_ms};
use crate::writer::Layout;

/// What every append needs: the topics, where and how to write, the bounds.
#[derive(Debug)]
pub(crate) struct Appender {
    pub topics: Arc<Topics>,
    pub layout: Layout,
    pub max_bytes: u64,
    pub max_record_bytes: u32,
    /// Set by `Buffer::close`: appends are refused from then on.
    pub closed: AtomicBool,
}

impl Appender {
    /// Writes `records` (any topics), all or nothing when a topic is full or a record too
    /// large. Returns the files written and directories created that must be synced
    /// before the append is acknowledged (under `Always`; empty otherwise).
    pub fn write(&self, records: Vec<Record>) -> Result<Vec<SyncTarget>, AppendError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(AppendError::Closed);
        }
        for record in &records {
            let bytes = record.encoded_len();
            if bytes > self.max_record_bytes as usize {
                return Err(AppendError::RecordTooLarge {
                    topic: record.topic.clone(),
                    bytes,
                    max: self.max_record_bytes,
                });
            }
        }
        let (topics, shares) = self.split(records);
        let appended_ms = now_ms();
        let frames: Vec<Frames> = shares
            .iter()
            .map(|records| Frames::encode(records, appended_ms))
            .collect();
        // From here on the records live on as their frames only (`encoded.rs`).
        drop(shares);
        let mut writers: Vec<_> = topics.iter().map(|topic| topic.writer()).collect();
        // Checked under the locks: `close` marks the buffer closed, then syncs each topic
        // under its lock, so nothing is written after its topic was synced.
        if self.closed.load(Ordering::Acquire) {
            return Err(AppendError::Closed);
        }
        let mut full = Vec::new();
        for ((topic, frames), writer) in topics.iter().zip(&frames).zip(&writers) {
            if let Some(broken) = writer.broken() {
                return Err(broken.clone());
            }
            let held = topic.state().bytes;
            if held + frames.bytes.len() as u64 > self.max_bytes {
                topic.metrics.full_refusals.inc_by(frames.lens.len() as u64);
                full.push(topic.name.clone());
            }
        }
        if !full.is_empty() {
            return Err(AppendError::Full { topics: full });
        }
        let mut to_sync = Vec::new();
        let mut first_error = None;
        for ((topic, frames), writer) in topics.iter().zip(frames).zip(&mut writers) {
            let written = writer.append(topic, frames, appended_ms, &self.layout, &mut to_sync);
            if let Err(error) = written {
                first_error.get_or_insert(error);
            }
        }
        drop(writers);
        first_error.map_or(Ok(to_sync), Err)
    }

    /// `records` split by topic, in topic name order (the order their locks are taken),
    /// each topic's records in append order.
    fn split(&self, records: Vec<Record>) -> (Vec<Arc<Topic>>, Vec<Vec<Record>>) {
        let mut shares: Vec<(Arc<Topic>, Vec<Record>)> = Vec::with_capacity(1);
        for record in records {
            match shares
                .iter_mut()
                .find(|(topic, _)| topic.name == record.topic)
            {
                Some((_, share)) => share.push(record),
                None => shares.push((self.topics.get_or_create(&record.topic), vec![record])),
            }
        }
        shares.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        shares.into_iter().unzip()
    }
}
