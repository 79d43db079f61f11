//! What the operator of a gateway chooses: where the buffer lives, how much disk each topic
//! may hold, and when appended records are forced to the disk.

use std::path::PathBuf;
use std::time::Duration;

/// When appended records are forced from the OS page cache to the disk.
///
/// Every policy survives a crash of the process: an append is acknowledged only after its
/// bytes were handed to the kernel (`write(2)`). The policies differ in what a power loss
/// or a kernel crash can cost (see `docs/reliability.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Never call `fdatasync`; the kernel writes dirty pages back on its own (after about
    /// 30 s with Linux defaults). A power loss can cost that window of acknowledged hits.
    Never,
    /// `fdatasync` the touched segments at most this often. A power loss can cost the
    /// acknowledged appends of the last interval (plus one `fdatasync`).
    Interval(Duration),
    /// `fdatasync` after every group commit, before acknowledging it. A power loss costs
    /// no acknowledged append; each group waits for the disk.
    Always,
}

impl Default for FsyncPolicy {
    /// One second: bounded loss on power failure without the disk on the hit path.
    fn default() -> Self {
        FsyncPolicy::Interval(Duration::from_secs(1))
    }
}

/// The buffer's settings. Bounds apply to each topic separately, so one topic that
/// cannot be published fills only its own share of the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferConfig {
    /// The directory holding one subdirectory per topic; created when missing.
    pub dir: PathBuf,
    /// Bytes of segment files one topic may hold (acknowledged records count until their
    /// segment is deleted). An append that would pass it is refused with
    /// [`AppendError::Full`](crate::AppendError::Full).
    pub max_bytes_per_topic: u64,
    /// A segment is closed and a new one started once it reaches this size; space comes
    /// back one whole segment at a time.
    pub segment_bytes: u64,
    /// The largest encoded record accepted (Pub/Sub's own limit is 10 MB per message).
    pub max_record_bytes: u32,
    /// When appended records are forced to the disk.
    pub fsync: FsyncPolicy,
    /// Under [`FsyncPolicy::Always`], append calls waiting for their fsync at once; more
    /// wait for a slot (backpressure instead of unbounded memory when the disk is slow).
    /// The other policies never wait for the disk.
    pub max_pending_appends: usize,
    /// Encoded bytes of each topic's most recent records kept in memory until the reader
    /// takes them, so a reader that keeps up never reads the segment back; a reader that
    /// fell further behind reads the files. 0 reads everything from the files.
    pub memory_tail_bytes_per_topic: u64,
}

impl BufferConfig {
    /// Defaults: 256 MiB per topic in 8 MiB segments, 10 MiB records, fsync every second,
    /// a 4 MiB memory tail per topic.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        BufferConfig {
            dir: dir.into(),
            max_bytes_per_topic: 256 * 1024 * 1024,
            segment_bytes: 8 * 1024 * 1024,
            max_record_bytes: 10 * 1024 * 1024 + 64 * 1024,
            fsync: FsyncPolicy::default(),
            max_pending_appends: 4096,
            memory_tail_bytes_per_topic: 4 * 1024 * 1024,
        }
    }

    /// Why the settings cannot work, if they cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.segment_bytes == 0 {
            return Some("segment_bytes must be positive".to_owned());
        }
        if self.max_bytes_per_topic < self.segment_bytes {
            return Some(format!(
                "max_bytes_per_topic ({}) must be at least segment_bytes ({})",
                self.max_bytes_per_topic, self.segment_bytes
            ));
        }
        if u64::from(self.max_record_bytes) > self.max_bytes_per_topic {
            return Some(format!(
                "max_record_bytes ({}) must not exceed max_bytes_per_topic ({})",
                self.max_record_bytes, self.max_bytes_per_topic
            ));
        }
        if self.max_pending_appends == 0 {
            return Some("max_pending_appends must be positive".to_owned());
        }
        None
    }
}
