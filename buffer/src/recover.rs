//! Opening: every topic directory left by an earlier process is checked and turned back
//! into a queue. Torn tails are truncated, damaged records located (counted, skipped when
//! read), records acknowledged before the restart marked, and segments with nothing left
//! to deliver deleted.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tracing::{error, warn};

use crate::ack_log;
use crate::error::OpenError;
use crate::metrics::{BufferMetrics, TopicMetrics};
use crate::segment::{SegmentFile, ack_log_path, scan, segment_path};
use crate::topic::{SegmentMeta, TOPIC_NAME_FILE, TopicState};

/// A recovered topic and the sequence number its next record gets.
pub(crate) struct Recovered {
    pub name: String,
    pub dir: PathBuf,
    pub state: TopicState,
    pub metrics: TopicMetrics,
    pub next_sequence: u64,
}

/// Recovers every topic under `root` (created if missing).
pub(crate) fn recover_all(
    root: &Path,
    max_body: u32,
    metrics: &BufferMetrics,
) -> Result<Vec<Recovered>, OpenError> {
    fs::create_dir_all(root).map_err(|source| OpenError::CreateDir {
        path: root.to_owned(),
        source,
    })?;
    let mut recovered = Vec::new();
    for dir in list(root)? {
        if !dir.is_dir() {
            continue;
        }
        let name_path = dir.join(TOPIC_NAME_FILE);
        let name = match fs::read_to_string(&name_path) {
            Ok(name) => name,
            // The directory was being created when the process stopped: its name file is
            // written (and renamed into place) before any segment, so it holds nothing.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                warn!(dir = %dir.display(), "buffer directory without a topic name skipped");
                continue;
            }
            Err(source) => {
                return Err(OpenError::ReadTopicName {
                    path: name_path,
                    source,
                });
            }
        };
        recovered.push(recover_topic(name, dir, max_body, metrics)?);
    }
    Ok(recovered)
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, OpenError> {
    let read_dir = |source| OpenError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_dir)? {
        paths.push(entry.map_err(read_dir)?.path());
    }
    paths.sort();
    Ok(paths)
}

fn recover_topic(
    name: String,
    dir: PathBuf,
    max_body: u32,
    metrics: &BufferMetrics,
) -> Result<Recovered, OpenError> {
    let topic_metrics = metrics.for_topic(&name);
    let mut segments = BTreeSet::new();
    let mut ack_logs = Vec::new();
    for path in list(&dir)? {
        match path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(SegmentFile::parse)
        {
            Some(SegmentFile::Segment(first)) => {
                segments.insert(first);
            }
            Some(SegmentFile::AckLog(first)) => ack_logs.push(first),
            None => {}
        }
    }
    let mut state = TopicState::default();
    let mut next_sequence = 0;
    for &first in &segments {
        next_sequence = next_sequence.max(first);
        let path = segment_path(&dir, first);
        let bytes = fs::read(&path).map_err(|source| OpenError::ReadSegment {
            path: path.clone(),
            source,
        })?;
        let found = scan(&bytes, max_body);
        if found.valid_end < bytes.len() as u64 {
            warn!(
                topic = %name,
                segment = %path.display(),
                bytes = bytes.len() as u64 - found.valid_end,
                "torn tail after the last valid record truncated"
            );
            truncate(&path, found.valid_end)?;
        }
        if !found.damaged.is_empty() {
            error!(
                topic = %name,
                segment = %path.display(),
                regions = found.damaged.len(),
                "damaged records in a segment skipped"
            );
            topic_metrics
                .corrupt_records
                .inc_by(found.damaged.len() as u64);
        }
        if let Some(last) = found.records.last() {
            next_sequence = next_sequence.max(last.sequence.saturating_add(1));
        }
        let acked_log = read_ack_log(&ack_log_path(&dir, first))?;
        let mut meta = SegmentMeta {
            len: found.valid_end,
            records: found.records.len() as u64,
            acked: 0,
            sealed: true,
            first_appended_ms: found.records.first().map(|r| r.appended_ms),
            damaged: found.damaged,
            replayed: true,
        };
        for record in &found.records {
            if acked_log.contains(&record.sequence) {
                meta.acked += 1;
                state.acked_before_open.insert(record.sequence);
            }
        }
        if meta.fully_acked() {
            for record in &found.records {
                state.acked_before_open.remove(&record.sequence);
            }
            remove(&path)?;
            remove(&ack_log_path(&dir, first))?;
            continue;
        }
        state.bytes += meta.len;
        state.unacked += meta.records - meta.acked;
        state.segments.insert(first, meta);
    }
    for first in ack_logs {
        if !segments.contains(&first) {
            remove(&ack_log_path(&dir, first))?;
        }
    }
    Ok(Recovered {
        name,
        dir,
        state,
        metrics: topic_metrics,
        next_sequence,
    })
}

fn truncate(path: &Path, len: u64) -> Result<(), OpenError> {
    let truncate = |source| OpenError::TruncateSegment {
        path: path.to_owned(),
        source,
    };
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(truncate)?;
    file.set_len(len).map_err(truncate)?;
    file.sync_all().map_err(truncate)
}

fn read_ack_log(path: &Path) -> Result<HashSet<u64>, OpenError> {
    match fs::read(path) {
        Ok(bytes) => Ok(ack_log::decode(&bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Default::default()),
        Err(source) => Err(OpenError::ReadAckLog {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes a file; one already gone is fine.
fn remove(path: &Path) -> Result<(), OpenError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(OpenError::RemoveFile {
            path: path.to_owned(),
            source,
        }),
    }
}
