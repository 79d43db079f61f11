//! A delivered record as the buffer holds it: the body of its frame, read in place.
//!
//! Why not the [`Record`] the hit path handed over: a record waits in the memory tail and
//! then in its lane's batch for the linger (milliseconds), and a `Record` is a dozen
//! small allocations (attribute strings, map nodes). Kept alive that long they spread the
//! allocator's pages between the hit path's short-lived objects, and `malloc` cost
//! doubled on the buffered hit path (docs/performance-log.md, round 17). The encoded body is
//! one reference-counted slice of the append's frames, and what a lane needs of it (the
//! tag attribute, the ordering key, the payload) is read from it without allocating.

use bytes::Bytes;

use crate::record::Record;

/// Body bytes before the ordering key: sequence and append time.
const FIXED: usize = 16;

/// One record's encoded body (module docs). Checked when made: every length fits and
/// every string is UTF-8, so the accessors cannot meet a malformed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    body: Bytes,
    /// Where the payload starts (after the attributes).
    data_start: usize,
}

impl EncodedRecord {
    /// `body` (a frame's body, its checksum matched) if its fields are consistent; `None`
    /// when they do not add up (a damaged record whose checksum collided, or a writer
    /// bug), which callers treat as corruption.
    pub(crate) fn parse(body: Bytes) -> Option<Self> {
        let data_start = data_start(&body)?;
        Some(EncodedRecord { body, data_start })
    }

    /// `record` encoded as a frame body numbered `sequence` (for tests).
    #[cfg(test)]
    pub(crate) fn encode(record: &Record, sequence: u64, appended_ms: u64) -> Self {
        let mut out = Vec::new();
        record.encode_frame(sequence, appended_ms, &mut out);
        let body = Bytes::from(out).slice(crate::record::FRAME_HEADER..);
        match Self::parse(body) {
            Some(encoded) => encoded,
            None => unreachable!("a record's own frame parses"),
        }
    }

    /// The record's sequence number (as written in its frame).
    pub(crate) fn sequence(&self) -> u64 {
        self.fixed(0)
    }

    /// When the record was appended, ms since the Unix epoch.
    pub(crate) fn appended_ms(&self) -> u64 {
        self.fixed(8)
    }

    fn fixed(&self, at: usize) -> u64 {
        fixed(&self.body, at)
    }

    /// The ordering key, `None` when absent or empty (as [`Record::ordering_key`]).
    pub fn ordering_key(&self) -> Option<&str> {
        Fields::at(&self.body, FIXED)
            .and_then(|mut f| f.string())
            .filter(|k| !k.is_empty())
    }

    /// The message attributes in key order.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut fields = Fields::at(&self.body, FIXED);
        let count = fields
            .as_mut()
            .and_then(|f| f.string().and_then(|_| f.len()))
            .unwrap_or(0);
        (0..count).map_while(move |_| {
            let fields = fields.as_mut()?;
            Some((fields.string()?, fields.string()?))
        })
    }

    /// The attribute `key`'s value.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The payload, sharing the body's bytes.
    pub fn data(&self) -> Bytes {
        self.body.slice(self.data_start..)
    }

    /// The payload's length in bytes.
    pub fn data_len(&self) -> usize {
        self.body.len() - self.data_start
    }

    /// The owned [`Record`] of `topic` (for dead letters, which are rare; the publish path
    /// reads the body in place).
    pub fn to_record(&self, topic: &str) -> Record {
        Record {
            topic: topic.to_owned(),
            attributes: self
                .attributes()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ordering_key: self.ordering_key().map(str::to_owned),
            data: self.data(),
        }
    }
}

/// The fixed fields of `body` if its fields are consistent (as [`EncodedRecord::parse`]): its sequence number and append
/// time. For the open-time scan, which needs no more of a record and so copies none.
pub(crate) fn sequence_and_appended_ms(body: &[u8]) -> Option<(u64, u64)> {
    data_start(body)?;
    Some((fixed(body, 0), fixed(body, 8)))
}

/// Where the payload of `body` starts, `None` when its fields do not add up.
fn data_start(body: &[u8]) -> Option<usize> {
    let mut fields = Fields::at(body, FIXED)?;
    fields.string()?;
    let count = fields.len()?;
    for _ in 0..count {
        fields.string()?;
        fields.string()?;
    }
    Some(body.len() - fields.rest.len())
}

fn fixed(body: &[u8], at: usize) -> u64 {
    body.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Reads a body's length-prefixed fields front to back.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn at(body: &'a [u8], start: usize) -> Option<Self> {
        Some(Fields {
            rest: body.get(start..)?,
        })
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn len(&mut self) -> Option<usize> {
        let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    }

    fn string(&mut self) -> Option<&'a str> {
        let len = self.len()?;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::FRAME_HEADER;

    fn encoded(record: &Record) -> EncodedRecord {
        EncodedRecord::encode(record, 7, 1_700_000_000_000)
    }

    #[test]
    fn the_body_reads_back_every_field_of_the_record() {
        let record = Record::new("projects/p/topics/t", "{\"sku\":\"BOWL-10\"}")
            .with_attribute("hermes_tag", "low-stock")
            .with_attribute("hermes_event_id", "e-1")
            .with_ordering_key("client-1");
        let body = encoded(&record);
        assert_eq!(body.sequence(), 7);
        assert_eq!(body.appended_ms(), 1_700_000_000_000);
        assert_eq!(body.ordering_key(), Some("client-1"));
        assert_eq!(body.attribute("hermes_tag"), Some("low-stock"));
        assert_eq!(body.attribute("missing"), None);
        assert_eq!(
            body.attributes().collect::<Vec<_>>(),
            [("hermes_event_id", "e-1"), ("hermes_tag", "low-stock")]
        );
        assert_eq!(body.data(), "{\"sku\":\"BOWL-10\"}");
        assert_eq!(body.data_len(), 17);
        assert_eq!(body.to_record("projects/p/topics/t"), record);
    }

    #[test]
    fn an_empty_ordering_key_reads_as_none() {
        let body = encoded(&Record::new("t", "x").with_ordering_key(""));
        assert_eq!(body.ordering_key(), None);
        assert_eq!(body.to_record("t").ordering_key, None);
    }

    #[test]
    fn a_body_whose_lengths_point_past_its_end_is_refused() {
        let mut out = Vec::new();
        Record::new("t", "x")
            .with_attribute("hermes_tag", "low-stock")
            .encode_frame(1, 1, &mut out);
        let cut = Bytes::from(out).slice(FRAME_HEADER..FRAME_HEADER + 30);
        assert_eq!(EncodedRecord::parse(cut), None);
    }

    #[test]
    fn a_body_with_a_string_that_is_not_utf8_is_refused() {
        let mut out = Vec::new();
        Record::new("t", "x")
            .with_ordering_key("ab")
            .encode_frame(1, 1, &mut out);
        // The ordering key's first byte.
        out[FRAME_HEADER + FIXED + 4] = 0xff;
        assert_eq!(
            EncodedRecord::parse(Bytes::from(out).slice(FRAME_HEADER..)),
            None
        );
    }
}
