//! A segment's acknowledgement log: the sequence numbers a publisher acknowledged, so a
//! restart replays only what was not acknowledged. It is never fsynced: a lost entry
//! only means that record is published once more (at-least-once), never that one is lost.
//!
//! Entry: `sequence (u64 LE) | CRC-32 of those 8 bytes (u32 LE)`. A torn or damaged entry
//! is ignored (its record is replayed).

use std::collections::HashSet;

const ENTRY: usize = 12;

/// Appends the entry acknowledging `sequence` to `out`.
pub(crate) fn encode(sequence: u64, out: &mut Vec<u8>) {
    let bytes = sequence.to_le_bytes();
    out.extend_from_slice(&bytes);
    out.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
}

/// The acknowledged sequence numbers in a log's bytes.
pub(crate) fn decode(bytes: &[u8]) -> HashSet<u64> {
    bytes
        .chunks_exact(ENTRY)
        .filter_map(|entry| {
            let (sequence, crc) = entry.split_at(8);
            let crc = u32::from_le_bytes(crc.try_into().ok()?);
            let sequence: [u8; 8] = sequence.try_into().ok()?;
            (crc32fast::hash(&sequence) == crc).then(|| u64::from_le_bytes(sequence))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_torn_or_damaged_entry_is_ignored() {
        let mut log = Vec::new();
        for sequence in [5, 9, 7] {
            encode(sequence, &mut log);
        }
        log[ENTRY + 2] ^= 0x10; // damage the entry for 9
        log.extend_from_slice(&[1, 2, 3]); // torn tail
        assert_eq!(decode(&log), HashSet::from([5, 7]));
    }
}
