//! Segment files: how they are named, how a segment left by an earlier process is checked
//! (torn tail found, damaged records located), and how records are read back in order.
//!
//! A segment is `<first sequence, 20 digits>.seg` in its topic's directory; it holds
//! frames (see [`crate::record`]) with increasing sequence numbers. Its acknowledgements
//! are appended to `<first sequence>.ack` beside it (see [`crate::ack_log`]).

use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::encoded::{self, EncodedRecord};
use crate::record::{FRAME_HEADER, FrameHeader};

/// The smallest valid body: sequence, append time, ordering key length, attribute count.
const MIN_BODY: u32 = 8 + 8 + 4 + 4;

/// The file of the segment starting at `first_sequence`.
pub(crate) fn segment_path(dir: &Path, first_sequence: u64) -> PathBuf {
    dir.join(format!("{first_sequence:020}.seg"))
}

/// The acknowledgement log of the segment starting at `first_sequence`.
pub(crate) fn ack_log_path(dir: &Path, first_sequence: u64) -> PathBuf {
    dir.join(format!("{first_sequence:020}.ack"))
}

/// What a file in a topic directory is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentFile {
    Segment(u64),
    AckLog(u64),
}

impl SegmentFile {
    pub fn parse(name: &str) -> Option<Self> {
        let (stem, ext) = name.split_once('.')?;
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let first = stem.parse().ok()?;
        match ext {
            "seg" => Some(SegmentFile::Segment(first)),
            "ack" => Some(SegmentFile::AckLog(first)),
            _ => None,
        }
    }
}

/// A valid record found by [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScannedRecord {
    pub sequence: u64,
    pub appended_ms: u64,
}

/// What [`scan`] found in a segment's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Scan {
    /// Valid records, in file order.
    pub records: Vec<ScannedRecord>,
    /// The end of the last valid record: what follows is a torn tail.
    pub valid_end: u64,
    /// Damaged regions before `valid_end` (each one counted as one corrupt record), to be
    /// skipped when reading.
    pub damaged: Vec<Range<u64>>,
}

/// Checks a whole segment: every frame whose length, checksum and fields hold is a record;
/// a damaged frame (or a damaged length, after which the next valid frame is searched
/// byte by byte) is a damaged region when a valid record follows it, and part of the torn
/// tail otherwise. Never panics on any input.
pub(crate) fn scan(bytes: &[u8], max_body: u32) -> Scan {
    let mut scan = Scan::default();
    let mut pos = 0usize;
    let mut damaged_from: Option<usize> = None;
    let mut last_sequence: Option<u64> = None;
    while pos < bytes.len() {
        match frame_at(bytes, pos, max_body, last_sequence) {
            Some((record, len)) => {
                if let Some(from) = damaged_from.take() {
                    scan.damaged.push(from as u64..pos as u64);
                }
                last_sequence = Some(record.sequence);
                scan.records.push(record);
                pos += len;
                scan.valid_end = pos as u64;
            }
            None => {
                damaged_from.get_or_insert(pos);
                pos += 1;
            }
        }
    }
    scan
}

/// The valid frame at `pos`, if there is one, and its length. Reads the body in place.
fn frame_at(
    bytes: &[u8],
    pos: usize,
    max_body: u32,
    after: Option<u64>,
) -> Option<(ScannedRecord, usize)> {
    let header: [u8; FRAME_HEADER] = bytes.get(pos..pos + FRAME_HEADER)?.try_into().ok()?;
    let header = FrameHeader::parse(header);
    if !(MIN_BODY..=max_body).contains(&header.body_len) {
        return None;
    }
    let body_start = pos + FRAME_HEADER;
    let body = bytes.get(body_start..body_start + header.body_len as usize)?;
    if !header.matches(body) {
        return None;
    }
    let (sequence, appended_ms) = encoded::sequence_and_appended_ms(body)?;
    if after.is_some_and(|last| sequence <= last) {
        return None;
    }
    let record = ScannedRecord {
        sequence,
        appended_ms,
    };
    Some((record, FRAME_HEADER + body.len()))
}

/// One step of reading a segment front to back.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A valid record and its frame's length.
    Record(EncodedRecord, u64),
    /// A frame whose checksum or fields do not hold; its length is known, so reading can
    /// go on after it.
    Damaged(u64),
    /// A length that cannot be right: the rest of the readable bytes cannot be framed.
    Unframeable,
}

/// Reads the frame at the reader's position, `available` bytes being readable (the part
/// of the segment appends have committed).
pub(crate) fn read_frame(
    reader: &mut impl Read,
    available: u64,
    max_body: u32,
) -> io::Result<Frame> {
    if available < FRAME_HEADER as u64 {
        return Ok(Frame::Unframeable);
    }
    let mut header = [0u8; FRAME_HEADER];
    reader.read_exact(&mut header)?;
    let header = FrameHeader::parse(header);
    let frame_len = FRAME_HEADER as u64 + u64::from(header.body_len);
    if !(MIN_BODY..=max_body).contains(&header.body_len) || frame_len > available {
        return Ok(Frame::Unframeable);
    }
    let mut body = vec![0u8; header.body_len as usize];
    reader.read_exact(&mut body)?;
    if !header.matches(&body) {
        return Ok(Frame::Damaged(frame_len));
    }
    Ok(match EncodedRecord::parse(Bytes::from(body)) {
        Some(stored) => Frame::Record(stored, frame_len),
        None => Frame::Damaged(frame_len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    const MAX: u32 = 1 << 20;

    fn segment(sequences: &[u64]) -> (Vec<u8>, Vec<Range<usize>>) {
        let mut out = Vec::new();
        let mut frames = Vec::new();
        for &sequence in sequences {
            let start = out.len();
            Record::new("t", format!("payload {sequence}"))
                .with_attribute("hermes_event_id", format!("e-{sequence}"))
                .encode_frame(sequence, 1000 + sequence, &mut out);
            frames.push(start..out.len());
        }
        (out, frames)
    }

    fn sequences(scan: &Scan) -> Vec<u64> {
        scan.records.iter().map(|r| r.sequence).collect()
    }

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let dir = Path::new("/b");
        let name = segment_path(dir, 7);
        let name = name.file_name().unwrap().to_str().unwrap();
        assert_eq!(SegmentFile::parse(name), Some(SegmentFile::Segment(7)));
        let ack = ack_log_path(dir, 7);
        let ack = ack.file_name().unwrap().to_str().unwrap();
        assert_eq!(SegmentFile::parse(ack), Some(SegmentFile::AckLog(7)));
        assert_eq!(SegmentFile::parse("topic"), None);
        assert_eq!(SegmentFile::parse("7.seg"), None);
        assert_eq!(SegmentFile::parse("0000000000000000000x.seg"), None);
    }

    #[test]
    fn a_clean_segment_scans_to_all_its_records() {
        let (bytes, _) = segment(&[3, 4, 5]);
        let scan = scan(&bytes, MAX);
        assert_eq!(sequences(&scan), [3, 4, 5]);
        assert_eq!(scan.valid_end, bytes.len() as u64);
        assert!(scan.damaged.is_empty());
        assert_eq!(scan.records[0].appended_ms, 1003);
    }

    #[test]
    fn a_torn_last_record_is_left_out_of_the_valid_part() {
        let (mut bytes, frames) = segment(&[0, 1, 2]);
        bytes.truncate(frames[2].start + 5);
        let scan = scan(&bytes, MAX);
        assert_eq!(sequences(&scan), [0, 1]);
        assert_eq!(scan.valid_end, frames[1].end as u64);
        assert!(scan.damaged.is_empty());
    }

    #[test]
    fn a_damaged_record_in_the_middle_is_located_and_the_rest_kept() {
        let (mut bytes, frames) = segment(&[0, 1, 2]);
        bytes[frames[1].end - 1] ^= 0xff;
        let scan = scan(&bytes, MAX);
        assert_eq!(sequences(&scan), [0, 2]);
        let second = frames[1].start as u64..frames[1].end as u64;
        assert_eq!(scan.damaged, vec![second]);
        assert_eq!(scan.valid_end, bytes.len() as u64);
    }

    #[test]
    fn a_damaged_length_is_passed_by_finding_the_next_valid_frame() {
        let (mut bytes, frames) = segment(&[0, 1, 2]);
        bytes[frames[1].start..frames[1].start + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let scan = scan(&bytes, MAX);
        assert_eq!(sequences(&scan), [0, 2]);
        let second = frames[1].start as u64..frames[1].end as u64;
        assert_eq!(scan.damaged, vec![second]);
    }

    #[test]
    fn garbage_and_zeros_scan_to_nothing_without_panicking() {
        for bytes in [vec![0u8; 4096], (0..=255u8).cycle().take(5000).collect()] {
            let scan = scan(&bytes, MAX);
            assert!(scan.records.is_empty());
            assert_eq!(scan.valid_end, 0);
        }
    }

    #[test]
    fn read_frame_reports_records_damage_and_impossible_lengths() {
        let (mut bytes, frames) = segment(&[0, 1]);
        bytes[frames[1].end - 1] ^= 0xff;
        let mut reader = &bytes[..];
        let available = bytes.len() as u64;
        match read_frame(&mut reader, available, MAX).unwrap() {
            Frame::Record(stored, len) => {
                assert_eq!(stored.sequence(), 0);
                assert_eq!(len, frames[0].len() as u64);
            }
            other => panic!("expected a record, got {other:?}"),
        }
        let rest = available - frames[0].len() as u64;
        assert!(matches!(
            read_frame(&mut reader, rest, MAX).unwrap(),
            Frame::Damaged(len) if len == frames[1].len() as u64
        ));
        let mut short = &bytes[..];
        assert!(matches!(
            read_frame(&mut short, 10, MAX).unwrap(),
            Frame::Unframeable
        ));
    }
}
