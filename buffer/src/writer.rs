//! The writer thread: the only place that writes segment files. Callers send commands
//! over a channel; the thread takes whatever has queued up (a group), writes each touched
//! topic's records with one `write(2)`, applies the fsync policy, and only then answers
//! the callers. Under load a group holds many appends, so the cost of a write (and of an
//! fsync under [`FsyncPolicy::Always`]) is shared: group commit. Keeping all file I/O on
//! this thread keeps it off tokio's workers.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{error, warn};

use crate::ack_log;
use crate::config::{BufferConfig, FsyncPolicy};
use crate::error::AppendError;
use crate::record::Record;
use crate::segment::{ack_log_path, segment_path};
use crate::syncer::{SyncTarget, Syncer};
use crate::topic::{TOPIC_NAME_FILE, Topic, TopicState, Topics, now_ms};

/// Commands taken in one group at most (appends and acknowledgements).
const MAX_GROUP: usize = 4096;
/// How soon to look again when an interval fsync is due but the last one still runs.
const SYNC_RECHECK: Duration = Duration::from_millis(5);
/// How often the oldest-age gauges are refreshed.
const AGE_PERIOD: Duration = Duration::from_secs(1);

/// Where the answer to an append goes.
type AppendReply = oneshot::Sender<Result<(), AppendError>>;

/// What the writer thread is asked to do.
pub(crate) enum Command {
    /// Append all of `records` (any topics) or none of them when a topic is full.
    Append {
        records: Vec<Record>,
        reply: AppendReply,
    },
    /// The publisher has the record numbered `sequence` acknowledged by Pub/Sub.
    Ack { topic: Arc<Topic>, sequence: u64 },
    /// Force everything to disk, end the readers, stop.
    Close { reply: oneshot::Sender<()> },
}

/// Starts the writer thread.
pub(crate) fn spawn(
    config: &BufferConfig,
    topics: Arc<Topics>,
    next_sequences: HashMap<String, u64>,
    commands: Receiver<Command>,
) -> io::Result<()> {
    let syncer = Syncer::spawn()?;
    let writer = Writer {
        syncer,
        layout: Layout {
            root: config.dir.clone(),
            fsync: config.fsync,
            segment_bytes: config.segment_bytes,
        },
        max_bytes: config.max_bytes_per_topic,
        max_record_bytes: config.max_record_bytes,
        topics,
        next_sequences,
        files: HashMap::new(),
        last_sync: Instant::now(),
        last_age: Instant::now(),
    };
    std::thread::Builder::new()
        .name("hermes-buffer-writer".to_owned())
        .spawn(move || writer.run(commands))
        .map(drop)
}

/// How segments are laid out and forced to disk.
struct Layout {
    root: PathBuf,
    fsync: FsyncPolicy,
    segment_bytes: u64,
}

struct Writer {
    layout: Layout,
    /// Runs the interval fsync.
    syncer: Syncer,
    max_bytes: u64,
    max_record_bytes: u32,
    topics: Arc<Topics>,
    /// Sequence numbers to continue from, for topics recovered at open.
    next_sequences: HashMap<String, u64>,
    files: HashMap<String, TopicFiles>,
    last_sync: Instant,
    last_age: Instant,
}

/// The segment being appended to.
struct Active {
    first: u64,
    path: PathBuf,
    file: File,
    len: u64,
}

/// One topic as the writer holds it.
struct TopicFiles {
    topic: Arc<Topic>,
    dir_ready: bool,
    next_sequence: u64,
    active: Option<Active>,
    /// The active segment was written since the last fsync.
    dirty: bool,
    /// Sealed segments and directories waiting for the interval fsync.
    unsynced: Vec<SyncTarget>,
    /// Set when a failed write could not be undone: appends are refused until reopen.
    broken: Option<AppendError>,
    /// Encoded frames of this group, not yet written.
    staged: Vec<u8>,
    staged_records: u64,
    staged_first_ms: Option<u64>,
}

impl Writer {
    fn run(mut self, commands: Receiver<Command>) {
        loop {
            let first = match commands.recv_timeout(self.idle_wait()) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    self.tick();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.close();
                    return;
                }
            };
            let mut appends = Vec::new();
            let mut acks = Vec::new();
            let mut closes = Vec::new();
            let mut next = Some(first);
            while let Some(command) = next {
                match command {
                    Command::Append { records, reply } => appends.push((records, reply)),
                    Command::Ack { topic, sequence } => acks.push((topic, sequence)),
                    Command::Close { reply } => closes.push(reply),
                }
                next = if appends.len() + acks.len() < MAX_GROUP && closes.is_empty() {
                    commands.try_recv().ok()
                } else {
                    None
                };
            }
            // Acknowledgements first: one sent before an append is applied before that
            // append is answered (and frees space the append may need).
            if !acks.is_empty() {
                self.ack_group(acks);
            }
            if !appends.is_empty() {
                self.append_group(appends);
            }
            self.tick();
            if !closes.is_empty() {
                self.close();
                for reply in closes {
                    let _ = reply.send(());
                }
                return;
            }
        }
    }

    /// How long to wait for a command before periodic work is due.
    fn idle_wait(&self) -> Duration {
        let age = AGE_PERIOD.saturating_sub(self.last_age.elapsed());
        match self.layout.fsync {
            FsyncPolicy::Interval(every)
                if self
                    .files
                    .values()
                    .any(|f| f.dirty || !f.unsynced.is_empty()) =>
            {
                // Not less than a few ms: a sync still running postpones the next one.
                let due = every.saturating_sub(self.last_sync.elapsed());
                age.min(due.max(SYNC_RECHECK))
            }
            _ => age,
        }
    }

    /// Periodic work: the interval fsync and the age gauges.
    fn tick(&mut self) {
        if let FsyncPolicy::Interval(every) = self.layout.fsync
            && self.last_sync.elapsed() >= every
            && !self.syncer.is_busy()
        {
            let mut targets = Vec::new();
            for files in self.files.values_mut() {
                files.take_unsynced(&mut targets);
            }
            if !targets.is_empty() {
                self.syncer.submit(targets);
            }
            self.last_sync = Instant::now();
        }
        if self.last_age.elapsed() >= AGE_PERIOD {
            let now = now_ms();
            for topic in self.topics.all() {
                topic.publish_age(now);
            }
            self.last_age = Instant::now();
        }
    }

    fn files(&mut self, name: &str) -> &mut TopicFiles {
        topic_files(
            &mut self.files,
            &self.topics,
            &mut self.next_sequences,
            name,
        )
    }

    /// Checks that every record fits and every topic has room for its share.
    fn admit(&mut self, records: &[Record]) -> Result<(), AppendError> {
        let mut incoming: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for record in records {
            let len = record.encoded_len();
            if len > self.max_record_bytes as usize {
                return Err(AppendError::RecordTooLarge {
                    topic: record.topic.clone(),
                    bytes: len,
                    max: self.max_record_bytes,
                });
            }
            let entry = incoming.entry(&record.topic).or_default();
            entry.0 += len as u64;
            entry.1 += 1;
        }
        let max_bytes = self.max_bytes;
        let mut full = Vec::new();
        for (&name, &(bytes, count)) in &incoming {
            let files = self.files(name);
            if let Some(broken) = &files.broken {
                return Err(broken.clone());
            }
            let held = files.topic.state().bytes + files.staged.len() as u64;
            if held + bytes > max_bytes {
                files.topic.metrics.full_refusals.inc_by(count);
                full.push(name.to_owned());
            }
        }
        if full.is_empty() {
            Ok(())
        } else {
            Err(AppendError::Full { topics: full })
        }
    }

    fn append_group(&mut self, requests: Vec<(Vec<Record>, AppendReply)>) {
        let now = now_ms();
        let mut failed: HashMap<String, AppendError> = HashMap::new();
        let mut admitted = Vec::new();
        for (records, reply) in requests {
            if let Err(refusal) = self.admit(&records) {
                let _ = reply.send(Err(refusal));
                continue;
            }
            let mut touched: Vec<String> = Vec::new();
            for record in &records {
                if !touched.contains(&record.topic) {
                    touched.push(record.topic.clone());
                }
                if failed.contains_key(&record.topic) {
                    continue;
                }
                let files = topic_files(
                    &mut self.files,
                    &self.topics,
                    &mut self.next_sequences,
                    &record.topic,
                );
                if let Err(error) = files.stage(record, now, &self.layout) {
                    failed.insert(record.topic.clone(), error);
                }
            }
            admitted.push((reply, touched));
        }
        for (name, files) in &mut self.files {
            if let Err(error) = files.flush() {
                failed.entry(name.clone()).or_insert(error);
            }
            if self.layout.fsync == FsyncPolicy::Always
                && let Err(error) = files.sync()
            {
                failed.entry(name.clone()).or_insert(error);
            }
        }
        if self.layout.fsync == FsyncPolicy::Always {
            self.last_sync = Instant::now();
        }
        for (reply, touched) in admitted {
            let result = touched
                .iter()
                .find_map(|name| failed.get(name).cloned())
                .map_or(Ok(()), Err);
            let _ = reply.send(result);
        }
    }

    fn ack_group(&mut self, acks: Vec<(Arc<Topic>, u64)>) {
        let mut by_topic: HashMap<String, (Arc<Topic>, Vec<u64>)> = HashMap::new();
        for (topic, sequence) in acks {
            by_topic
                .entry(topic.name.clone())
                .or_insert_with(|| (topic, Vec::new()))
                .1
                .push(sequence);
        }
        for (topic, sequences) in by_topic.into_values() {
            let mut logs: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            let reclaimed = {
                let mut state = topic.state();
                for sequence in sequences {
                    // Only records handed out and not acknowledged yet count.
                    if state.in_flight.remove(&sequence).is_none() {
                        continue;
                    }
                    state.unacked = state.unacked.saturating_sub(1);
                    if let Some((&first, meta)) = state.segments.range_mut(..=sequence).next_back()
                    {
                        meta.acked += 1;
                        ack_log::encode(sequence, logs.entry(first).or_default());
                    }
                }
                let done: Vec<u64> = logs
                    .keys()
                    .copied()
                    .filter(|first| state.segments.get(first).is_some_and(|m| m.fully_acked()))
                    .collect();
                let reclaimed = forget_segments(&mut state, &done);
                topic.publish_gauges(&state);
                reclaimed
            };
            for (first, entries) in logs {
                if reclaimed.contains(&first) {
                    continue;
                }
                let path = ack_log_path(&topic.dir, first);
                if let Err(error) = append_to(&path, &entries) {
                    // A lost entry only means the record is published again after a restart.
                    warn!(topic = %topic.name, path = %path.display(), %error, "cannot record acknowledgements");
                }
            }
            remove_segment_files(&topic, &reclaimed);
        }
    }

    /// Graceful stop: everything written is forced to disk whatever the policy, and the
    /// readers end.
    fn close(&mut self) {
        for files in self.files.values_mut() {
            if let Err(error) = files.flush().and_then(|()| files.sync()) {
                error!(topic = %files.topic.name, %error, "cannot force the buffer to disk at close");
            }
            files.unsynced.drain(..).for_each(|target| target.sync());
        }
        for topic in self.topics.all() {
            topic.state().closed = true;
            topic.notify.notify_waiters();
        }
    }
}

impl TopicFiles {
    /// Encodes `record` into this group's staged bytes, starting a new segment first when
    /// the active one is full.
    fn stage(&mut self, record: &Record, now: u64, layout: &Layout) -> Result<(), AppendError> {
        let len = record.encoded_len() as u64;
        if let Some(active) = &self.active {
            let used = active.len + self.staged.len() as u64;
            if used > 0 && used + len > layout.segment_bytes {
                self.flush()?;
                self.seal(layout.fsync)?;
            }
        }
        if self.active.is_none() {
            self.start_segment(layout)?;
        }
        record.encode_frame(self.next_sequence, now, &mut self.staged);
        self.next_sequence += 1;
        self.staged_records += 1;
        self.staged_first_ms.get_or_insert(now);
        Ok(())
    }

    /// Writes the staged frames to the active segment and commits them (the reader may
    /// read them from now on). A failed write is cut back off the file.
    fn flush(&mut self) -> Result<(), AppendError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let staged = std::mem::take(&mut self.staged);
        let records = std::mem::take(&mut self.staged_records);
        let first_ms = self.staged_first_ms.take();
        let Some(active) = &mut self.active else {
            return Ok(());
        };
        if let Err(error) = active.file.write_all(&staged) {
            let error = Arc::new(error);
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
                source: error,
            });
        }
        let len = staged.len() as u64;
        active.len += len;
        self.dirty = true;
        {
            let mut state = self.topic.state();
            let state = &mut *state;
            let meta = state.segments.entry(active.first).or_default();
            meta.len += len;
            meta.records += records;
            if meta.first_appended_ms.is_none() {
                meta.first_appended_ms = first_ms;
            }
            state.bytes += len;
            state.unacked += records;
            self.topic.publish_gauges(state);
        }
        self.topic.metrics.appends.inc_by(records);
        self.topic.notify.notify_waiters();
        Ok(())
    }

    /// Moves what waits for the interval fsync to `targets`: sealed segments, new
    /// directory entries and the active segment if written since.
    fn take_unsynced(&mut self, targets: &mut Vec<SyncTarget>) {
        targets.append(&mut self.unsynced);
        if let Some(active) = &self.active
            && self.dirty
        {
            match active.file.try_clone() {
                Ok(file) => {
                    targets.push(SyncTarget {
                        path: active.path.clone(),
                        file,
                    });
                    self.dirty = false;
                }
                Err(error) => {
                    // Tried again at the next interval.
                    error!(path = %active.path.display(), %error, "cannot hand a segment to the sync thread");
                }
            }
        }
    }

    fn sync(&mut self) -> Result<(), AppendError> {
        if let Some(active) = &self.active
            && self.dirty
        {
            active
                .file
                .sync_data()
                .map_err(|source| AppendError::Fsync {
                    path: active.path.clone(),
                    source: Arc::new(source),
                })?;
        }
        self.dirty = false;
        Ok(())
    }

    /// Closes the active segment for appends (forced to disk now under `Always`, at the
    /// next interval under `Interval`); it is deleted at once when everything in it is
    /// acknowledged already.
    fn seal(&mut self, fsync: FsyncPolicy) -> Result<(), AppendError> {
        if fsync == FsyncPolicy::Always {
            self.sync()?;
        }
        let Some(active) = self.active.take() else {
            return Ok(());
        };
        if matches!(fsync, FsyncPolicy::Interval(_)) && self.dirty {
            self.unsynced.push(SyncTarget {
                path: active.path.clone(),
                file: active.file,
            });
        }
        self.dirty = false;
        let reclaimed = {
            let mut state = self.topic.state();
            let done = match state.segments.get_mut(&active.first) {
                Some(meta) => {
                    meta.sealed = true;
                    meta.fully_acked()
                }
                None => false,
            };
            let reclaimed = if done {
                forget_segments(&mut state, &[active.first])
            } else {
                Vec::new()
            };
            self.topic.publish_gauges(&state);
            reclaimed
        };
        // Wake a reader waiting at the end of this segment: it moves to the next one.
        self.topic.notify.notify_waiters();
        remove_segment_files(&self.topic, &reclaimed);
        Ok(())
    }

    /// Creates the next segment (and the topic's directory on first use).
    fn start_segment(&mut self, layout: &Layout) -> Result<(), AppendError> {
        if !self.dir_ready {
            create_topic_dir(&layout.root, &self.topic).map_err(|source| {
                AppendError::CreateTopicDir {
                    topic: self.topic.name.clone(),
                    path: self.topic.dir.clone(),
                    source: Arc::new(source),
                }
            })?;
            self.dir_ready = true;
        }
        let first = self.next_sequence;
        let path = segment_path(&self.topic.dir, first);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|source| AppendError::CreateSegment {
                path: path.clone(),
                source: Arc::new(source),
            })?;
        // The new directory entry is durable only once the directory is synced.
        let dir_error = |source| AppendError::Fsync {
            path: self.topic.dir.clone(),
            source: Arc::new(source),
        };
        match layout.fsync {
            FsyncPolicy::Never => {}
            FsyncPolicy::Interval(_) => self.unsynced.push(SyncTarget {
                path: self.topic.dir.clone(),
                file: File::open(&self.topic.dir).map_err(dir_error)?,
            }),
            FsyncPolicy::Always => sync_dir(&self.topic.dir).map_err(dir_error)?,
        }
        self.topic
            .state()
            .segments
            .insert(first, Default::default());
        self.active = Some(Active {
            first,
            path,
            file,
            len: 0,
        });
        Ok(())
    }
}

/// The writer's files of topic `name`, set up on first use.
fn topic_files<'a>(
    files: &'a mut HashMap<String, TopicFiles>,
    topics: &Topics,
    next_sequences: &mut HashMap<String, u64>,
    name: &str,
) -> &'a mut TopicFiles {
    files.entry(name.to_owned()).or_insert_with(|| {
        let recovered = next_sequences.remove(name);
        TopicFiles {
            topic: topics.get_or_create(name),
            dir_ready: recovered.is_some(),
            next_sequence: recovered.unwrap_or(0),
            active: None,
            dirty: false,
            unsynced: Vec::new(),
            broken: None,
            staged: Vec::new(),
            staged_records: 0,
            staged_first_ms: None,
        }
    })
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
fn remove_segment_files(topic: &Topic, firsts: &[u64]) {
    for &first in firsts {
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

fn append_to(path: &Path, bytes: &[u8]) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(bytes)
}
