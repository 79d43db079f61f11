//! Acknowledgements, applied on the caller: the records leave the topic's state at once,
//! their entries go to the acknowledgement logs with one `write(2)` per segment and call
//! (the lane acknowledges a whole publish request in one call), and segments whose
//! records are all acknowledged are deleted.
//!
//! The logs are never fsynced and an entry is written after the state changed, so a crash
//! can lose the last acknowledgements: those records are published once more after the
//! restart, which at-least-once allows (consumers de-duplicate on `hermes_event_id`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};

use tracing::{error, warn};

use crate::ack_log;
use crate::segment::{ack_log_path, segment_path};
use crate::topic::{Topic, TopicState};

/// A topic's open acknowledgement logs, by segment (its first sequence number). Held
/// while acknowledging and while deleting segments, so an entry is never written to the
/// log of a segment being deleted.
#[derive(Debug, Default)]
pub(crate) struct AckLogs {
    files: BTreeMap<u64, File>,
}

impl AckLogs {
    /// Appends `entries` to the log of `segment`, opening it on first use.
    fn append(&mut self, topic: &Topic, segment: u64, entries: &[u8]) -> io::Result<()> {
        let file = match self.files.entry(segment) {
            std::collections::btree_map::Entry::Occupied(open) => open.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => slot.insert(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(ack_log_path(&topic.dir, segment))?,
            ),
        };
        let written = file.write_all(entries);
        if written.is_err() {
            // Opened again next time.
            self.files.remove(&segment);
        }
        written
    }
}

/// Acknowledges the records numbered `sequences` of `topic`: those handed out and not
/// acknowledged yet leave its state and go to the acknowledgement logs; fully
/// acknowledged segments are deleted. After the buffer closed this does nothing (the
/// records are published again after a restart).
pub(crate) fn acknowledge(topic: &Topic, sequences: impl IntoIterator<Item = u64>) {
    let mut logs = topic.ack_logs();
    let mut entries: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let reclaimed = {
        let mut state = topic.state();
        if state.closed {
            return;
        }
        for sequence in sequences {
            // Only records handed out and not acknowledged yet count.
            if state.in_flight.remove(&sequence).is_none() {
                continue;
            }
            state.unacked = state.unacked.saturating_sub(1);
            if let Some((&first, meta)) = state.segments.range_mut(..=sequence).next_back() {
                meta.acked += 1;
                ack_log::encode(sequence, entries.entry(first).or_default());
            }
        }
        let done: Vec<u64> = entries
            .keys()
            .copied()
            .filter(|first| state.segments.get(first).is_some_and(|m| m.fully_acked()))
            .collect();
        let reclaimed = forget_segments(&mut state, &done);
        topic.publish_gauges(&state);
        reclaimed
    };
    for (first, entries) in entries {
        if reclaimed.contains(&first) {
            continue;
        }
        if let Err(error) = logs.append(topic, first, &entries) {
            // A lost entry only means the record is published again after a restart.
            let path = ack_log_path(&topic.dir, first);
            warn!(topic = %topic.name, path = %path.display(), %error, "cannot record acknowledgements");
        }
    }
    remove_segment_files(topic, &mut logs, &reclaimed);
}

/// Deletes the segments starting at `firsts`, whose records are all acknowledged (a
/// segment sealed after its last acknowledgement).
pub(crate) fn reclaim(topic: &Topic, firsts: &[u64]) {
    let mut logs = topic.ack_logs();
    let reclaimed = {
        let mut state = topic.state();
        let reclaimed = forget_segments(&mut state, firsts);
        topic.publish_gauges(&state);
        reclaimed
    };
    remove_segment_files(topic, &mut logs, &reclaimed);
}

/// Drops fully acknowledged segments from the state; returns those to delete from disk.
fn forget_segments(state: &mut TopicState, firsts: &[u64]) -> Vec<u64> {
    let mut forgotten = Vec::new();
    for first in firsts {
        if let Some(meta) = state.segments.remove(first) {
            state.bytes = state.bytes.saturating_sub(meta.len);
            forgotten.push(*first);
        }
    }
    forgotten
}

/// Deletes segments (the segment first: an acknowledgement log without its segment is
/// removed at the next open).
fn remove_segment_files(topic: &Topic, logs: &mut AckLogs, firsts: &[u64]) {
    for &first in firsts {
        logs.files.remove(&first);
        for path in [
            segment_path(&topic.dir, first),
            ack_log_path(&topic.dir, first),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    error!(topic = %topic.name, path = %path.display(), %error, "cannot delete an acknowledged segment");
                }
            }
        }
    }
}
