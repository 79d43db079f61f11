//! The memory tail: the records appended last, kept as the frames written (each entry a
//! slice of its append's one shared buffer, `encoded.rs` says why), so a reader that
//! keeps up takes them from memory instead of reading the segment back.
//!
//! Each entry carries the place of its frame on disk ([`Position`]), so the reader's
//! cursor is the same whichever way it read a record. The tail is a contiguous run of the
//! topic's log: appends push at the back (in file order, under the topic's writer lock),
//! entries leave at the front only, when the reader takes them, when the reader passed
//! them reading the files, or when the byte budget evicts them. A reader that fell
//! behind the front reads the files up to it and switches to memory there.

use std::collections::VecDeque;

use crate::encoded::EncodedRecord;

/// A place in a topic's log: segment (its first sequence number) and byte offset in it.
/// Ordered as the log is: by segment, then by offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// One record appended by this process, not read yet.
#[derive(Debug)]
pub(crate) struct TailEntry {
    /// Where its frame starts on disk.
    pub position: Position,
    /// Its frame's length on disk.
    pub len: u64,
    /// Its sequence number and append time are in its body.
    pub record: EncodedRecord,
}

impl TailEntry {
    /// The position just after this record's frame.
    pub fn end(&self) -> Position {
        Position {
            segment: self.position.segment,
            offset: self.position.offset + self.len,
        }
    }
}

/// The records appended last, at most `budget` encoded bytes of them.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    entries: VecDeque<TailEntry>,
    /// Encoded bytes of the entries held.
    bytes: u64,
    budget: u64,
}

impl Tail {
    pub fn new(budget: u64) -> Self {
        Tail {
            budget,
            ..Tail::default()
        }
    }

    /// Keeps `entry` (the newest record), dropping the oldest entries beyond the budget;
    /// those are read from the files when the reader gets there.
    pub fn push(&mut self, entry: TailEntry) {
        if entry.len > self.budget {
            self.clear();
            return;
        }
        self.bytes += entry.len;
        self.entries.push_back(entry);
        while self.bytes > self.budget {
            self.pop_front();
        }
    }

    /// Where the oldest entry held starts.
    pub fn front(&self) -> Option<Position> {
        self.entries.front().map(|e| e.position)
    }

    /// Drops entries before `position`: the reader read them from the files.
    pub fn forget_before(&mut self, position: Position) {
        while self.front().is_some_and(|front| front < position) {
            self.pop_front();
        }
    }

    /// Takes the oldest entry if it starts at `position` (where the reader stands).
    pub fn take_at(&mut self, position: Position) -> Option<TailEntry> {
        if self.front() != Some(position) {
            return None;
        }
        self.pop_front()
    }

    /// Takes the oldest entry if it is the next in the log after a record ending at
    /// `end`: starting there, or at the start of a later segment (the segment of `end`
    /// was sealed after that record).
    pub fn take_following(&mut self, end: Position) -> Option<TailEntry> {
        let front = self.front()?;
        let follows = front == end || (front.offset == 0 && front.segment > end.segment);
        if !follows {
            return None;
        }
        self.pop_front()
    }

    fn pop_front(&mut self) -> Option<TailEntry> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.len;
        Some(entry)
    }

    /// Drops every entry: the reader reads the files up to the next entry pushed.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn entry(segment: u64, offset: u64, len: u64, sequence: u64) -> TailEntry {
        TailEntry {
            position: Position { segment, offset },
            len,
            record: EncodedRecord::encode(&Record::new("t", sequence.to_string()), sequence, 0),
        }
    }

    #[test]
    fn the_budget_evicts_the_oldest_entries_first() {
        let mut tail = Tail::new(100);
        tail.push(entry(0, 0, 40, 0));
        tail.push(entry(0, 40, 40, 1));
        tail.push(entry(0, 80, 40, 2));
        assert_eq!(
            tail.front(),
            Some(Position {
                segment: 0,
                offset: 40
            })
        );
        assert_eq!(tail.bytes, 80);
    }

    #[test]
    fn a_record_larger_than_the_budget_empties_the_tail_so_it_stays_contiguous() {
        let mut tail = Tail::new(100);
        tail.push(entry(0, 0, 40, 0));
        tail.push(entry(0, 40, 200, 1));
        assert_eq!(tail.front(), None);
        tail.push(entry(0, 240, 40, 2));
        assert_eq!(
            tail.front(),
            Some(Position {
                segment: 0,
                offset: 240
            })
        );
    }

    #[test]
    fn entries_are_taken_only_where_the_reader_stands_and_passed_ones_forgotten() {
        let mut tail = Tail::new(1000);
        for i in 0..4 {
            tail.push(entry(0, i * 10, 10, i));
        }
        assert!(
            tail.take_at(Position {
                segment: 0,
                offset: 10
            })
            .is_none()
        );
        tail.forget_before(Position {
            segment: 0,
            offset: 20,
        });
        let taken = tail
            .take_at(Position {
                segment: 0,
                offset: 20,
            })
            .unwrap();
        assert_eq!(taken.record.sequence(), 2);
        assert_eq!(
            taken.end(),
            Position {
                segment: 0,
                offset: 30
            }
        );
        assert_eq!(
            tail.take_following(taken.end())
                .map(|e| e.record.sequence()),
            Some(3)
        );
        assert!(
            tail.take_following(Position {
                segment: 0,
                offset: 40
            })
            .is_none()
        );
        assert_eq!(tail.bytes, 0);
    }

    #[test]
    fn the_next_entry_follows_at_the_start_of_a_later_segment_but_not_after_a_gap() {
        let mut tail = Tail::new(1000);
        tail.push(entry(5, 0, 10, 5));
        tail.push(entry(5, 10, 10, 6));
        let end_of_earlier = Position {
            segment: 0,
            offset: 70,
        };
        assert_eq!(
            tail.take_following(end_of_earlier)
                .map(|e| e.record.sequence()),
            Some(5)
        );
        let gap = Position {
            segment: 5,
            offset: 5,
        };
        assert!(tail.take_following(gap).is_none());
    }

    #[test]
    fn positions_order_by_segment_then_offset() {
        let early = Position {
            segment: 0,
            offset: 900,
        };
        let late = Position {
            segment: 7,
            offset: 0,
        };
        assert!(early < late);
    }
}
