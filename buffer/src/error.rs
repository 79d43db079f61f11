//! What can go wrong, one variant per step, each carrying its cause.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Why [`Buffer::open`](crate::Buffer::open) failed. Nothing is served from a buffer that
/// did not open: the caller stops rather than accept hits it cannot keep.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid buffer settings: {0}")]
    InvalidConfig(String),
    #[error("cannot create buffer directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot list buffer directory {path}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the topic name in {path}")]
    ReadTopicName {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read segment {path}")]
    ReadSegment {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot truncate the torn tail of segment {path}")]
    TruncateSegment {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read acknowledgement log {path}")]
    ReadAckLog {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot remove acknowledged file {path}")]
    RemoveFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The buffer's background thread (interval fsync, group commit under `Always`, age
    /// gauges) could not be started. (The name stays from when it was the writer thread.)
    #[error("cannot start the buffer's sync thread")]
    SpawnWriter(#[source] io::Error),
}

/// Why an append was refused. Nothing of a refused append is acknowledged to the caller;
/// after an I/O error part of it may still be on disk and be published (at-least-once).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// These topics' queues cannot take the records without passing their byte bound;
    /// nothing of the append was written. The hit path applies its full policy (503 with
    /// `Retry-After`, or drop and count).
    #[error("buffer full for topic(s) {}", topics.join(", "))]
    Full { topics: Vec<String> },
    /// One record is larger than `max_record_bytes`; nothing was written.
    #[error("record for topic {topic} is {bytes} bytes encoded, more than the {max} allowed")]
    RecordTooLarge {
        topic: String,
        bytes: usize,
        max: u32,
    },
    #[error("cannot create the directory of topic {topic} ({path})")]
    CreateTopicDir {
        topic: String,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("cannot create segment {path}")]
    CreateSegment {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("cannot write to segment {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// A failed write could not be cut back off the segment: the topic takes no more
    /// appends until the buffer is reopened (which finds and truncates the torn tail).
    #[error("cannot truncate segment {path} after a failed write")]
    Truncate {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("cannot fsync {path}")]
    Fsync {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// The buffer was closed (shutdown); nothing was written.
    #[error("buffer is closed")]
    Closed,
}

/// Why a publisher lane could not read its topic.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read segment {path}")]
    ReadSegment {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The blocking task reading the segment panicked or was cancelled by the runtime.
    #[error("segment reading task failed")]
    ReadTask(#[source] tokio::task::JoinError),
}

/// Why a reader could not be had for a topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderError {
    /// Each topic has one lane: records are handed out once, in order.
    #[error("topic {0} already has a reader")]
    AlreadyTaken(String),
}
