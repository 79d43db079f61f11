//! One record on disk: a message for a topic, framed with its length and a CRC-32 so a
//! torn or damaged write is recognised instead of replayed as garbage.
//!
//! Frame: `body length (u32 LE) | CRC-32 of body (u32 LE) | body`.
//! Body: `sequence (u64) | append time, ms since the Unix epoch (u64) |
//! ordering key (u32 length + UTF-8) | attribute count (u32) |
//! per attribute: key (u32 length + UTF-8), value (u32 length + UTF-8) | payload (rest)`.

use std::collections::BTreeMap;

use bytes::Bytes;

/// Bytes before the body: length and checksum.
pub(crate) const FRAME_HEADER: usize = 8;

/// A message as the hit path renders it and a publisher lane gets it back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The full topic name, `projects/P/topics/T`; it picks the topic's queue.
    pub topic: String,
    /// Message attributes (`hermes_event_id` among them: consumers de-duplicate on it).
    pub attributes: BTreeMap<String, String>,
    /// Pub/Sub ordering key; `None` (or empty) means no ordering.
    pub ordering_key: Option<String>,
    /// The payload.
    pub data: Bytes,
}

impl Record {
    /// A record without attributes or ordering key.
    pub fn new(topic: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Record {
            topic: topic.into(),
            data: data.into(),
            ..Record::default()
        }
    }

    /// Adds (or replaces) an attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the ordering key.
    pub fn with_ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }

    /// The ordering key, `None` when absent or empty (an empty key means no ordering).
    pub fn ordering_key(&self) -> Option<&str> {
        self.ordering_key.as_deref().filter(|k| !k.is_empty())
    }

    /// The size of this record's frame on disk.
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER + self.body_len()
    }

    fn body_len(&self) -> usize {
        let key = self.ordering_key().map_or(0, str::len);
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len())
            .sum();
        8 + 8 + 4 + key + 4 + attributes + self.data.len()
    }

    /// Appends the frame of this record, numbered `sequence`, to `out`.
    pub(crate) fn encode_frame(&self, sequence: u64, appended_ms: u64, out: &mut Vec<u8>) {
        let body_len = self.body_len();
        out.reserve(FRAME_HEADER + body_len);
        let start = out.len();
        out.extend_from_slice(&[0; FRAME_HEADER]);
        out.extend_from_slice(&sequence.to_le_bytes());
        out.extend_from_slice(&appended_ms.to_le_bytes());
        put_str(out, self.ordering_key().unwrap_or(""));
        put_len(out, self.attributes.len());
        for (key, value) in &self.attributes {
            put_str(out, key);
            put_str(out, value);
        }
        out.extend_from_slice(&self.data);
        let body = &out[start + FRAME_HEADER..];
        let crc = crc32fast::hash(body);
        let len = len_u32(body.len());
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The frames of one topic's records in one append, encoded before their sequence
/// numbers are known (outside the topic's writer lock); [`Frames::number`] gives them
/// their numbers under the lock, which costs a checksum per frame, not an encoding.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// The frames, back to back, as they go to the segment.
    pub bytes: Vec<u8>,
    /// Each frame's length, in order.
    pub lens: Vec<u64>,
}

impl Frames {
    /// Encodes `records` (sequence numbers left at 0) appended at `appended_ms`.
    pub fn encode(records: &[Record], appended_ms: u64) -> Self {
        let total = records.iter().map(Record::encoded_len).sum();
        let mut frames = Frames {
            bytes: Vec::with_capacity(total),
            lens: Vec::with_capacity(records.len()),
        };
        for record in records {
            let start = frames.bytes.len();
            record.encode_frame(0, appended_ms, &mut frames.bytes);
            frames.lens.push((frames.bytes.len() - start) as u64);
        }
        frames
    }

    /// Numbers the frames `first`, `first + 1`, …: writes each sequence number into its
    /// body and the body's checksum into its header.
    pub fn number(&mut self, first: u64) {
        let mut start = 0usize;
        for (sequence, &len) in (first..).zip(&self.lens) {
            let Some(frame) = usize::try_from(len)
                .ok()
                .and_then(|len| self.bytes.get_mut(start..start + len))
            else {
                return;
            };
            let (header, body) = frame.split_at_mut(FRAME_HEADER);
            body[..8].copy_from_slice(&sequence.to_le_bytes());
            header[4..8].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
            start += frame.len();
        }
    }
}

/// The header of a frame: the body's length and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub body_len: u32,
    pub crc: u32,
}

impl FrameHeader {
    pub fn parse(bytes: [u8; FRAME_HEADER]) -> Self {
        let [a, b, c, d, e, f, g, h] = bytes;
        FrameHeader {
            body_len: u32::from_le_bytes([a, b, c, d]),
            crc: u32::from_le_bytes([e, f, g, h]),
        }
    }

    /// Whether `body` is the body this header announced.
    pub fn matches(&self, body: &[u8]) -> bool {
        crc32fast::hash(body) == self.crc
    }
}

fn len_u32(len: usize) -> u32 {
    // Records are checked against `max_record_bytes` (a u32) before they are encoded.
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&len_u32(len).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoded::EncodedRecord;

    fn sample() -> Record {
        Record::new("projects/p/topics/t", &b"{\"sku\":\"BOWL-10\"}"[..])
            .with_attribute("hermes_event_id", "e-1")
            .with_attribute("hermes_tag", "low-stock")
            .with_ordering_key("client-1")
    }

    fn frame(record: &Record) -> Vec<u8> {
        let mut out = Vec::new();
        record.encode_frame(42, 1_700_000_000_000, &mut out);
        out
    }

    #[test]
    fn a_frame_decodes_to_the_record_it_encoded() {
        let record = sample();
        let out = frame(&record);
        assert_eq!(out.len(), record.encoded_len());
        let header = FrameHeader::parse(out[..FRAME_HEADER].try_into().unwrap());
        let body = &out[FRAME_HEADER..];
        assert_eq!(header.body_len as usize, body.len());
        assert!(header.matches(body));
        let stored = EncodedRecord::parse(Bytes::copy_from_slice(body)).unwrap();
        assert_eq!(stored.sequence(), 42);
        assert_eq!(stored.appended_ms(), 1_700_000_000_000);
        assert_eq!(stored.to_record("projects/p/topics/t"), record);
    }

    #[test]
    fn an_empty_ordering_key_means_no_ordering() {
        let record = Record::new("t", "x").with_ordering_key("");
        assert_eq!(record.ordering_key(), None);
        let record = record.with_ordering_key("client-1");
        assert_eq!(record.ordering_key(), Some("client-1"));
    }

    #[test]
    fn frames_numbered_after_encoding_equal_frames_encoded_with_their_numbers() {
        let records = [sample(), Record::new("projects/p/topics/t", "second")];
        let mut frames = Frames::encode(&records, 1_700_000_000_000);
        frames.number(41);
        let mut direct = Vec::new();
        records[0].encode_frame(41, 1_700_000_000_000, &mut direct);
        records[1].encode_frame(42, 1_700_000_000_000, &mut direct);
        assert_eq!(frames.bytes, direct);
        assert_eq!(
            frames.lens,
            [
                records[0].encoded_len() as u64,
                records[1].encoded_len() as u64
            ]
        );
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut out = frame(&sample());
        let last = out.len() - 1;
        out[last] ^= 1;
        let header = FrameHeader::parse(out[..FRAME_HEADER].try_into().unwrap());
        assert!(!header.matches(&out[FRAME_HEADER..]));
    }

    #[test]
    fn a_body_with_inconsistent_lengths_does_not_decode() {
        let out = frame(&sample());
        // Cut inside the attributes: lengths point past the end.
        let cut = Bytes::copy_from_slice(&out[FRAME_HEADER..FRAME_HEADER + 30]);
        assert_eq!(EncodedRecord::parse(cut), None);
    }
}
