//! A publisher lane's side of a topic: records in append order, each handed out once,
//! and acknowledgements in any order. Segment reads run on tokio's blocking pool, never
//! on a worker.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::error;

use crate::error::ReadError;
use crate::record::{Record, StoredRecord};
use crate::segment::{Frame, read_frame, segment_path};
use crate::topic::Topic;
use crate::writer::Command;

/// Which record a delivery was: give it back to [`Acker::ack`] once Pub/Sub acknowledged
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
    pub record: Record,
    /// When the record was appended (for publish latency and age).
    pub appended_at: SystemTime,
}

/// Acknowledges records of one topic; clone it into the tasks that publish. Cheap and
/// never blocks: the acknowledgement is recorded by the writer thread.
#[derive(Debug, Clone)]
pub struct Acker {
    topic: Arc<Topic>,
    commands: Sender<Command>,
}

impl Acker {
    /// The record `id` (delivered by this topic's reader) needs no more delivery. Once
    /// every record of a segment is acknowledged, the segment is deleted. After the
    /// buffer closed this does nothing (the record is published again after a restart).
    pub fn ack(&self, id: RecordId) {
        let _ = self.commands.send(Command::Ack {
            topic: Arc::clone(&self.topic),
            sequence: id.sequence,
        });
    }
}

/// The only reader of one topic. Dropping it lets a new one be taken; the new one goes on
/// where this one stopped.
#[derive(Debug)]
pub struct TopicReader {
    topic: Arc<Topic>,
    commands: Sender<Command>,
    core: Arc<Mutex<Cursor>>,
}

impl TopicReader {
    pub(crate) fn new(topic: Arc<Topic>, commands: Sender<Command>, max_body: u32) -> Self {
        let position = topic
            .parked_position()
            .map(|(segment, offset)| Position { segment, offset });
        let core = Cursor {
            topic: Arc::clone(&topic),
            max_body,
            position,
            file: None,
            ready: VecDeque::new(),
        };
        TopicReader {
            topic,
            commands,
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
            commands: self.commands.clone(),
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
        let core = Arc::clone(&self.core);
        let filled = tokio::task::spawn_blocking(move || lock(&core).fill(max))
            .await
            .map_err(ReadError::ReadTask)?;
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
        self.topic
            .release_reader(position.map(|p| (p.segment, p.offset)));
    }
}

fn lock(core: &Mutex<Cursor>) -> MutexGuard<'_, Cursor> {
    core.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A place in a topic: segment (its first sequence) and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    segment: u64,
    offset: u64,
}

/// What to do next, decided from the committed state.
enum Step {
    /// Nothing committed beyond the position.
    Wait,
    /// Go to the start of this segment.
    Move(u64),
    /// Jump over a damaged region found at open.
    Skip(u64),
    /// Read frames up to `end`.
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
    /// Reads committed records into `ready` until it holds `max` or everything committed
    /// was read (records acknowledged before a restart are passed over).
    fn fill(&mut self, max: usize) -> Result<(), ReadError> {
        loop {
            let want = max.saturating_sub(self.ready.len());
            if want == 0 {
                return Ok(());
            }
            let mut found = Vec::new();
            let result = self.read_into(&mut found, want);
            let progressed = !found.is_empty();
            if progressed {
                let mut state = self.topic.state();
                for (position, stored) in found {
                    if state.acked_before_open.remove(&stored.sequence) {
                        continue;
                    }
                    state.in_flight.insert(stored.sequence, stored.appended_ms);
                    self.ready.push_back((position, delivery(stored)));
                }
            }
            result?;
            if !progressed {
                return Ok(());
            }
        }
    }

    fn read_into(
        &mut self,
        found: &mut Vec<(Position, StoredRecord)>,
        want: usize,
    ) -> Result<(), ReadError> {
        while found.len() < want {
            match self.next_step() {
                Step::Wait => return Ok(()),
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
                Step::Read { end, replayed } => {
                    if let Err(source) = self.read_frames(found, want, end, replayed) {
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
        Ok(())
    }

    fn next_step(&self) -> Step {
        let state = self.topic.state();
        let after = |segment: u64| {
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
            return after(position.segment);
        };
        if let Some(damaged) = meta.damaged.iter().find(|r| r.contains(&position.offset)) {
            return Step::Skip(damaged.end);
        }
        if position.offset < meta.len {
            let end = meta
                .damaged
                .iter()
                .map(|r| r.start)
                .filter(|&start| start > position.offset)
                .min()
                .unwrap_or(meta.len)
                .min(meta.len);
            return Step::Read {
                end,
                replayed: meta.replayed,
            };
        }
        if meta.sealed {
            return after(position.segment);
        }
        Step::Wait
    }

    /// Reads frames from the position up to `end`.
    fn read_frames(
        &mut self,
        found: &mut Vec<(Position, StoredRecord)>,
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
            match read_frame(&mut file, &self.topic.name, available, self.max_body)? {
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

fn delivery(stored: StoredRecord) -> Delivery {
    Delivery {
        id: RecordId {
            sequence: stored.sequence,
        },
        record: stored.record,
        appended_at: UNIX_EPOCH + Duration::from_millis(stored.appended_ms),
    }
}
