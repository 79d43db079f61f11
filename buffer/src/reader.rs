//! A publisher lane's side of a topic: records in append order, each handed out once,
//! and acknowledgements in any order.
//!
//! Records still in the topic's memory tail are taken from there on the caller (no
//! file read, no decoding, no thread hop); older ones are read from the segment files on
//! tokio's blocking pool, never on a worker. The cursor is a position in the files
//! either way, so the reader switches from the files to memory where the tail begins and
//! back to the files when the tail evicted records before it got to them.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::error;

use crate::acknowledge::acknowledge;
use crate::encoded::EncodedRecord;
use crate::error::ReadError;
use crate::segment::{Frame, read_frame, segment_path};
use crate::tail::Position;
use crate::topic::{Topic, TopicState};

/// Which record a delivery was: give it back to [`Acker::ack`] (or [`Acker::ack_all`])
/// once Pub/Sub acknowledged
/// the message (or the publisher moved it elsewhere for good). Not `Clone`: a record is
/// acknowledged once.
#[must_use = "an unacknowledged record is published again after a restart"]
#[derive(Debug, PartialEq, Eq)]
pub struct RecordId {
    sequence: u64,
}

impl RecordId {
    /// The record's sequence number within its topic (increasing in append order).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

/// A record handed to a lane.
#[derive(Debug)]
pub struct Delivery {
    pub id: RecordId,
    /// The record as its frame holds it: read in place, [`EncodedRecord::to_record`]
    /// for an owned one.
    pub record: EncodedRecord,
    /// When the record was appended (for publish latency and age).
    pub appended_at: SystemTime,
}

/// Acknowledges records of one topic; clone it into the tasks that publish. Applies the
/// acknowledgement on the caller, without a thread hop: the topic's state at once, the
/// acknowledgement log with one short page-cache `write(2)` per call, never fsynced (a
/// crash can lose the last acknowledgements; their records are then published again,
/// which at-least-once allows).
#[derive(Debug, Clone)]
pub struct Acker {
    topic: Arc<Topic>,
}

impl Acker {
    /// The record `id` (delivered by this topic's reader) needs no more delivery. Once
    /// every record of a segment is acknowledged, the segment is deleted. After the
    /// buffer closed this does nothing (the record is published again after a restart).
    /// Prefer [`ack_all`](Self::ack_all) for many records: one log write for all.
    pub fn ack(&self, id: RecordId) {
        self.ack_all([id]);
    }

    /// [`ack`](Self::ack) for many records at once (a publish request's), with one
    /// acknowledgement-log write per segment they are in.
    pub fn ack_all(&self, ids: impl IntoIterator<Item = RecordId>) {
        acknowledge(&self.topic, ids.into_iter().map(|id| id.sequence));
    }
}

/// The only reader of one topic. Dropping it lets a new one be taken; the new one goes on
/// where this one stopped.
#[derive(Debug)]
pub struct TopicReader {
    topic: Arc<Topic>,
    core: Arc<Mutex<Cursor>>,
}

impl TopicReader {
    pub(crate) fn new(topic: Arc<Topic>, max_body: u32) -> Self {
        let position = topic.parked_position();
        let core = Cursor {
            topic: Arc::clone(&topic),
            max_body,
            position,
            file: None,
            ready: VecDeque::new(),
        };
        TopicReader {
            topic,
            core: Arc::new(Mutex::new(core)),
        }
    }

    /// The topic read.
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    /// An acknowledger for this topic's deliveries.
    pub fn acker(&self) -> Acker {
        Acker {
            topic: Arc::clone(&self.topic),
        }
    }

    /// The next records in append order, at most `max` (at least one), waiting until
    /// there are some. `None` once the buffer is closed and everything committed was
    /// read. Cancel-safe: records read for a cancelled call come with the next one.
    pub async fn next_batch(&mut self, max: usize) -> Result<Option<Vec<Delivery>>, ReadError> {
        let topic = Arc::clone(&self.topic);
        loop {
            let notified = topic.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch = self.try_next_batch(max).await?;
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
            if topic.is_closed() {
                return Ok(None);
            }
            notified.await;
        }
    }

    /// The records committed now, in append order, at most `max` (at least one); empty
    /// when there are none, without waiting for more. For a lane that lingers to fill a
    /// publish request. Cancel-safe like [`next_batch`](Self::next_batch).
    pub async fn try_next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, ReadError> {
        let max = max.max(1);
        // Taking from the memory tail cannot fail: only reading the files can.
        let from_memory = lock(&self.core).fill(max, Source::MemoryOnly);
        let filled = match from_memory {
            Ok(Filled::NeedsFiles) => {
                let core = Arc::clone(&self.core);
                tokio::task::spawn_blocking(move || lock(&core).fill(max, Source::Any))
                    .await
                    .map_err(ReadError::ReadTask)?
            }
            other => other,
        };
        let batch: Vec<Delivery> = {
            let mut core = lock(&self.core);
            let n = core.ready.len().min(max);
            core.ready
                .drain(..n)
                .map(|(_, delivery)| delivery)
                .collect()
        };
        if batch.is_empty() {
            filled?;
        }
        Ok(batch)
    }
}

impl Drop for TopicReader {
    fn drop(&mut self) {
        let mut core = lock(&self.core);
        // Records read but not handed out go back: the next reader starts at the first.
        let position = match core.ready.front() {
            Some((position, _)) => Some(*position),
            None => core.position,
        };
        let unread: Vec<u64> = core.ready.drain(..).map(|(_, d)| d.id.sequence).collect();
        drop(core);
        let mut state = self.topic.state();
        for sequence in unread {
            state.in_flight.remove(&sequence);
        }
        drop(state);
        self.topic.release_reader(position);
    }
}

fn lock(core: &Mutex<Cursor>) -> MutexGuard<'_, Cursor> {
    core.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where [`Cursor::fill`] may take records from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The memory tail only: on the caller's thread, stopping where a file read is needed.
    MemoryOnly,
    /// The memory tail and the files (on the blocking pool).
    Any,
}

/// How far [`Cursor::fill`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filled {
    /// `max` records are ready, or everything committed was taken.
    Done,
    /// More is committed, in the files only: fill again with [`Source::Any`].
    NeedsFiles,
}

/// What to do next, decided from the committed state.
enum Step {
    /// Nothing committed beyond the position.
    Wait,
    /// Go to the start of this segment.
    Move(u64),
    /// Jump over a damaged region found at open.
    Skip(u64),
    /// The record at the position is in the memory tail: records were taken from there.
    Memory,
    /// Read frames from the file up to `end`.
    Read { end: u64, replayed: bool },
}

/// The reading state, moved to the blocking pool for each read.
#[derive(Debug)]
struct Cursor {
    topic: Arc<Topic>,
    max_body: u32,
    position: Option<Position>,
    /// The open segment and a reader standing at `position.offset`.
    file: Option<(u64, BufReader<File>)>,
    /// Read and not handed out yet, with the position each starts at.
    ready: VecDeque<(Position, Delivery)>,
}

impl Cursor {
    /// Takes committed records into `ready` until it holds `max` or everything committed
    /// was taken (records acknowledged before a restart are passed over); with
    /// [`Source::MemoryOnly`], stops where the next record must be read from a file.
    fn fill(&mut self, max: usize, source: Source) -> Result<Filled, ReadError> {
        loop {
            let want = max.saturating_sub(self.ready.len());
            if want == 0 {
                return Ok(Filled::Done);
            }
            let mut found = Vec::new();
            let result = self.read_into(&mut found, want, source);
            let progressed = !found.is_empty();
            if progressed {
                let mut state = self.topic.state();
                for (position, stored) in found {
                    if state.acked_before_open.remove(&stored.sequence()) {
                        continue;
                    }
                    state
                        .in_flight
                        .insert(stored.sequence(), stored.appended_ms());
                    self.ready.push_back((position, delivery(stored)));
                }
            }
            let filled = result?;
            if !progressed || filled == Filled::NeedsFiles {
                return Ok(filled);
            }
        }
    }

    fn read_into(
        &mut self,
        found: &mut Vec<(Position, EncodedRecord)>,
        want: usize,
        source: Source,
    ) -> Result<Filled, ReadError> {
        while found.len() < want {
            let step = {
                let topic = Arc::clone(&self.topic);
                let mut state = topic.state();
                let step = self.next_step(&mut state);
                if let Step::Memory = step {
                    self.take_from_memory(&mut state, found, want);
                }
                step
            };
            match step {
                Step::Wait => return Ok(Filled::Done),
                Step::Memory => {}
                Step::Move(segment) => {
                    self.position = Some(Position { segment, offset: 0 });
                    self.file = None;
                }
                Step::Skip(offset) => {
                    if let Some(position) = &mut self.position {
                        position.offset = offset;
                    }
                    self.file = None;
                }
                Step::Read { .. } if source == Source::MemoryOnly => {
                    return Ok(Filled::NeedsFiles);
                }
                Step::Read { end, replayed } => {
                    let before = found.len();
                    let read = self.read_frames(found, want, end, replayed);
                    let count = (found.len() - before) as u64;
                    self.topic.metrics.read_from_file.inc_by(count);
                    if let Err(source) = read {
                        self.file = None;
                        let path = self.position.map_or_else(
                            || self.topic.dir.clone(),
                            |p| segment_path(&self.topic.dir, p.segment),
                        );
                        return Err(ReadError::ReadSegment { path, source });
                    }
                }
            }
        }
        Ok(Filled::Done)
    }

    fn next_step(&self, state: &mut TopicState) -> Step {
        let after = |state: &TopicState, segment: u64| {
            state
                .segments
                .range(segment + 1..)
                .next()
                .map_or(Step::Wait, |(&next, _)| Step::Move(next))
        };
        let Some(position) = self.position else {
            return state
                .segments
                .first_key_value()
                .map_or(Step::Wait, |(&first, _)| Step::Move(first));
        };
        let Some(meta) = state.segments.get(&position.segment) else {
            // Deleted: everything in it was acknowledged.
            return after(state, position.segment);
        };
        if let Some(damaged) = meta.damaged.iter().find(|r| r.contains(&position.offset)) {
            return Step::Skip(damaged.end);
        }
        if position.offset < meta.len {
            let mut end = meta
                .damaged
                .iter()
                .map(|r| r.start)
                .filter(|&start| start > position.offset)
                .min()
                .unwrap_or(meta.len)
                .min(meta.len);
            let replayed = meta.replayed;
            // Records before the position were read from the files: no longer needed.
            state.tail.forget_before(position);
            match state.tail.front() {
                Some(front) if front == position => return Step::Memory,
                // Read the files only up to where memory takes over.
                Some(front) if front.segment == position.segment => end = end.min(front.offset),
                _ => {}
            }
            return Step::Read { end, replayed };
        }
        if meta.sealed {
            return after(state, position.segment);
        }
        Step::Wait
    }

    /// Takes records from the memory tail, starting at the position (where the tail
    /// begins), following the log into later segments; the position moves past them.
    fn take_from_memory(
        &mut self,
        state: &mut TopicState,
        found: &mut Vec<(Position, EncodedRecord)>,
        want: usize,
    ) {
        let Some(mut position) = self.position else {
            return;
        };
        let before = found.len();
        let mut next = state.tail.take_at(position);
        while let Some(entry) = next {
            position = entry.end();
            found.push((entry.position, entry.record));
            next = if found.len() < want {
                state.tail.take_following(position)
            } else {
                None
            };
        }
        self.position = Some(position);
        // The open file, if any, no longer stands at the position.
        self.file = None;
        let count = (found.len() - before) as u64;
        self.topic.metrics.read_from_memory.inc_by(count);
    }

    /// Reads frames from the position up to `end`.
    fn read_frames(
        &mut self,
        found: &mut Vec<(Position, EncodedRecord)>,
        want: usize,
        end: u64,
        replayed: bool,
    ) -> io::Result<()> {
        let Some(mut position) = self.position else {
            return Ok(());
        };
        let mut file = match self.file.take() {
            Some((segment, file)) if segment == position.segment => file,
            _ => {
                let mut file = File::open(segment_path(&self.topic.dir, position.segment))?;
                file.seek(SeekFrom::Start(position.offset))?;
                BufReader::with_capacity(64 * 1024, file)
            }
        };
        let mut framed = true;
        while position.offset < end && found.len() < want {
            let available = end - position.offset;
            match read_frame(&mut file, available, self.max_body)? {
                Frame::Record(stored, len) => {
                    found.push((position, stored));
                    position.offset += len;
                }
                Frame::Damaged(len) => {
                    self.report_damage(replayed, position);
                    position.offset += len;
                }
                Frame::Unframeable => {
                    self.report_damage(replayed, position);
                    position.offset = end;
                    framed = false;
                }
            }
            self.position = Some(position);
        }
        if framed {
            self.file = Some((position.segment, file));
        }
        Ok(())
    }

    /// Damage in a segment written by this process (damage in replayed segments was
    /// counted when they were checked at open).
    fn report_damage(&self, replayed: bool, position: Position) {
        if replayed {
            return;
        }
        error!(
            topic = %self.topic.name,
            segment = position.segment,
            offset = position.offset,
            "damaged record skipped"
        );
        self.topic.metrics.corrupt_records.inc();
    }
}

fn delivery(stored: EncodedRecord) -> Delivery {
    Delivery {
        id: RecordId {
            sequence: stored.sequence(),
        },
        appended_at: UNIX_EPOCH + Duration::from_millis(stored.appended_ms()),
        record: stored,
    }
}
