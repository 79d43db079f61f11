//! One topic's writing side, behind the topic's writer lock: the active segment, the
//! sequence numbers, rotation to a new segment, and what waits for an fsync. The caller
//! of [`Buffer::append`](crate::Buffer::append) holds the lock for one `write(2)` per
//! segment touched (usually one) and the bookkeeping after it; frames are encoded before
//! the lock is taken ([`Frames`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use tracing::error;

use crate::acknowledge;
use crate::config::FsyncPolicy;
use crate::encoded::EncodedRecord;
use crate::error::AppendError;
use crate::record::{FRAME_HEADER, Frames};
use crate::segment::segment_path;
use crate::syncer::SyncTarget;
use crate::tail::{Position, TailEntry};
use crate::topic::{TOPIC_NAME_FILE, Topic};

/// How segments are laid out and forced to disk.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub root: PathBuf,
    pub fsync: FsyncPolicy,
    pub segment_bytes: u64,
}

/// The segment being appended to.
#[derive(Debug)]
struct Active {
    first: u64,
    path: PathBuf,
    file: Arc<File>,
    len: u64,
}

/// One topic as its appenders hold it.
#[derive(Debug)]
pub(crate) struct TopicWriter {
    dir_ready: bool,
    next_sequence: u64,
    active: Option<Active>,
    /// The active segment was written since the last interval fsync.
    dirty: bool,
    /// Sealed segments and directories waiting for the interval fsync.
    unsynced: Vec<SyncTarget>,
    /// Set when a failed write could not be undone: appends are refused until reopen.
    broken: Option<AppendError>,
}

impl TopicWriter {
    /// A topic's writer continuing at `next_sequence`; `dir_ready` when its directory
    /// exists (a topic recovered at open).
    pub fn new(next_sequence: u64, dir_ready: bool) -> Self {
        TopicWriter {
            dir_ready,
            next_sequence,
            active: None,
            dirty: false,
            unsynced: Vec::new(),
            broken: None,
        }
    }

    /// Why this topic takes no appends, if a failed write left it broken.
    pub fn broken(&self) -> Option<&AppendError> {
        self.broken.as_ref()
    }

    /// Numbers and writes `frames` (the encoding of `records`, appended at
    /// `appended_ms`): one `write(2)` per segment they go to, a new segment started when
    /// the active one is full. Each write is committed at once (the reader may take its
    /// records, from the memory tail or the file). Under [`FsyncPolicy::Always`] the
    /// files written and directories created are added to `to_sync`.
    pub fn append(
        &mut self,
        topic: &Topic,
        mut frames: Frames,
        appended_ms: u64,
        layout: &Layout,
        to_sync: &mut Vec<SyncTarget>,
    ) -> Result<(), AppendError> {
        let first_sequence = self.next_sequence;
        frames.number(first_sequence);
        self.next_sequence += frames.lens.len() as u64;
        // Shared by the memory tail's entries: one allocation for the append's records.
        let shared = Bytes::from(std::mem::take(&mut frames.bytes));
        let mut index = 0;
        let mut start = 0usize;
        while index < frames.lens.len() {
            let len = frames.lens[index];
            if let Some(active) = &self.active
                && active.len > 0
                && active.len + len > layout.segment_bytes
            {
                self.seal(topic, layout.fsync);
            }
            if self.active.is_none() {
                self.start_segment(topic, layout, first_sequence + index as u64, to_sync)?;
            }
            let Some(active) = &self.active else {
                return Ok(());
            };
            // The frames that still fit in the active segment (at least the first).
            let mut run = len;
            let mut end = index + 1;
            while let Some(&next) = frames.lens.get(end)
                && active.len + run + next <= layout.segment_bytes
            {
                run += next;
                end += 1;
            }
            let run_end = start + usize::try_from(run).unwrap_or(usize::MAX);
            let bytes = shared.get(start..run_end).unwrap_or_default();
            self.write(bytes, layout.fsync, to_sync)?;
            let mut frame_start = start;
            let entries = frames.lens[index..end].iter().map(|&len| {
                let body_start = frame_start + FRAME_HEADER;
                let frame_end = usize::try_from(len)
                    .ok()
                    .and_then(|len| frame_start.checked_add(len))
                    .filter(|&end| body_start <= end && end <= shared.len());
                let body = frame_end.map(|end| shared.slice(body_start..end));
                frame_start = frame_end.unwrap_or(shared.len());
                (len, body.and_then(EncodedRecord::parse))
            });
            self.commit(topic, run, entries, appended_ms);
            index = end;
            start = run_end;
        }
        Ok(())
    }

    /// Writes `bytes` to the active segment; a failed write is cut back off the file.
    fn write(
        &mut self,
        bytes: &[u8],
        fsync: FsyncPolicy,
        to_sync: &mut Vec<SyncTarget>,
    ) -> Result<(), AppendError> {
        let Some(active) = &mut self.active else {
            return Ok(());
        };
        if let Err(error) = (&*active.file).write_all(bytes) {
            if let Err(truncate) = active.file.set_len(active.len) {
                let broken = AppendError::Truncate {
                    path: active.path.clone(),
                    source: Arc::new(truncate),
                };
                self.broken = Some(broken.clone());
                return Err(broken);
            }
            return Err(AppendError::Write {
                path: active.path.clone(),
                source: Arc::new(error),
            });
        }
        match fsync {
            FsyncPolicy::Never => {}
            FsyncPolicy::Interval(_) => self.dirty = true,
            FsyncPolicy::Always => {
                if to_sync.last().is_none_or(|last| last.path != active.path) {
                    to_sync.push(SyncTarget::segment(
                        active.path.clone(),
                        Arc::clone(&active.file),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Makes `run` bytes just written readable: the segment's and the topic's counts,
    /// the records into the memory tail (at the positions of their frames), the reader
    /// woken.
    fn commit(
        &mut self,
        topic: &Topic,
        run: u64,
        entries: impl Iterator<Item = (u64, Option<EncodedRecord>)>,
        appended_ms: u64,
    ) {
        let Some(active) = &mut self.active else {
            return;
        };
        let mut offset = active.len;
        active.len += run;
        let mut count = 0;
        {
            let mut state = topic.state();
            let state = &mut *state;
            for (len, record) in entries {
                let position = Position {
                    segment: active.first,
                    offset,
                };
                match record {
                    Some(record) => state.tail.push(TailEntry {
                        position,
                        len,
                        record,
                    }),
                    // Not for a frame this process encoded; were it so, the reader reads
                    // it from the file (and finds it damaged) instead of passing it over.
                    None => state.tail.clear(),
                }
                offset += len;
                count += 1;
            }
            let meta = state.segments.entry(active.first).or_default();
            meta.len += run;
            meta.records += count;
            meta.first_appended_ms.get_or_insert(appended_ms);
            state.bytes += run;
            state.unacked += count;
            topic.publish_gauges(state);
        }
        topic.metrics.appends.inc_by(count);
        topic.notify.notify_waiters();
    }

    /// Moves what waits for the interval fsync to `targets`: sealed segments, new
    /// directory entries and the active segment if written since.
    pub fn take_unsynced(&mut self, targets: &mut Vec<SyncTarget>) {
        targets.append(&mut self.unsynced);
        if let Some(active) = &self.active
            && self.dirty
        {
            targets.push(SyncTarget::segment(
                active.path.clone(),
                Arc::clone(&active.file),
            ));
        }
        self.dirty = false;
    }

    /// Forces everything written to disk, whatever the policy (the buffer closes).
    pub fn sync_all(&mut self, topic: &Topic) {
        let mut targets = Vec::new();
        targets.append(&mut self.unsynced);
        if let Some(active) = &self.active {
            targets.push(SyncTarget::segment(
                active.path.clone(),
                Arc::clone(&active.file),
            ));
        }
        self.dirty = false;
        for target in targets {
            if let Err(error) = target.sync() {
                error!(topic = %topic.name, path = %target.path.display(), %error, "cannot force the buffer to disk at close");
            }
        }
    }

    /// Closes the active segment for appends (forced to disk with the next interval under
    /// `Interval`; under `Always` each append that wrote to it syncs it); it is deleted at
    /// once when everything in it is acknowledged already.
    fn seal(&mut self, topic: &Topic, fsync: FsyncPolicy) {
        let Some(active) = self.active.take() else {
            return;
        };
        if matches!(fsync, FsyncPolicy::Interval(_)) && self.dirty {
            self.unsynced
                .push(SyncTarget::segment(active.path.clone(), active.file));
        }
        self.dirty = false;
        let done = {
            let mut state = topic.state();
            let done = match state.segments.get_mut(&active.first) {
                Some(meta) => {
                    meta.sealed = true;
                    meta.fully_acked()
                }
                None => false,
            };
            topic.publish_gauges(&state);
            done
        };
        if done {
            acknowledge::reclaim(topic, &[active.first]);
        }
        // Wake a reader waiting at the end of this segment: it moves to the next one.
        topic.notify.notify_waiters();
    }

    /// Creates the segment starting at `first` (and the topic's directory on first use).
    fn start_segment(
        &mut self,
        topic: &Topic,
        layout: &Layout,
        first: u64,
        to_sync: &mut Vec<SyncTarget>,
    ) -> Result<(), AppendError> {
        if !self.dir_ready {
            create_topic_dir(&layout.root, topic).map_err(|source| {
                AppendError::CreateTopicDir {
                    topic: topic.name.clone(),
                    path: topic.dir.clone(),
                    source: Arc::new(source),
                }
            })?;
            self.dir_ready = true;
        }
        let path = segment_path(&topic.dir, first);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|source| AppendError::CreateSegment {
                path: path.clone(),
                source: Arc::new(source),
            })?;
        // The new directory entry is durable only once the directory is synced.
        if layout.fsync != FsyncPolicy::Never {
            let dir = File::open(&topic.dir).map_err(|source| AppendError::Fsync {
                path: topic.dir.clone(),
                source: Arc::new(source),
            })?;
            let dir = SyncTarget::directory(topic.dir.clone(), Arc::new(dir));
            match layout.fsync {
                FsyncPolicy::Always => to_sync.push(dir),
                _ => self.unsynced.push(dir),
            }
        }
        topic.state().segments.insert(first, Default::default());
        self.active = Some(Active {
            first,
            path,
            file: Arc::new(file),
            len: 0,
        });
        Ok(())
    }
}

/// Creates a topic's directory with its name file, durably: the name is written to a
/// temporary file, forced to disk and renamed into place before any segment exists.
fn create_topic_dir(root: &Path, topic: &Topic) -> io::Result<()> {
    fs::create_dir_all(&topic.dir)?;
    let name_path = topic.dir.join(TOPIC_NAME_FILE);
    if name_path.exists() {
        return Ok(());
    }
    let temporary = topic.dir.join(format!("{TOPIC_NAME_FILE}.tmp"));
    let mut file = File::create(&temporary)?;
    file.write_all(topic.name.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, &name_path)?;
    sync_dir(&topic.dir)?;
    sync_dir(root)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
