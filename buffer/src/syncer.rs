//! The buffer's one background thread: it forces written files to disk, so the hit path
//! never waits for a slow `fsync` unless [`FsyncPolicy::Always`] asks it to, and refreshes
//! the age gauges every second.
//!
//! - Under [`FsyncPolicy::Interval`] it takes, every interval, what each topic wrote
//!   since the last one and syncs it; appends never wait for it.
//! - Under [`FsyncPolicy::Always`] each append, once written, hands it the files it wrote
//!   and waits; the thread takes every append queued meanwhile (a group), syncs each file
//!   once and answers them all: group commit, so concurrent hits share an `fdatasync`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::error;

use crate::config::FsyncPolicy;
use crate::error::AppendError;
use crate::topic::{Topics, now_ms};

/// Appends taken in one group commit at most.
const MAX_GROUP: usize = 4096;
/// How often the oldest-age gauges are refreshed.
const AGE_PERIOD: Duration = Duration::from_secs(1);

/// A file or directory to force to disk.
#[derive(Debug)]
pub(crate) struct SyncTarget {
    pub path: PathBuf,
    file: Arc<File>,
    /// A directory (its entries must reach the disk: `fsync`); a segment needs only its
    /// data (`fdatasync`).
    directory: bool,
}

impl SyncTarget {
    pub fn segment(path: PathBuf, file: Arc<File>) -> Self {
        SyncTarget {
            path,
            file,
            directory: false,
        }
    }

    pub fn directory(path: PathBuf, file: Arc<File>) -> Self {
        SyncTarget {
            path,
            file,
            directory: true,
        }
    }

    pub fn sync(&self) -> io::Result<()> {
        if self.directory {
            self.file.sync_all()
        } else {
            self.file.sync_data()
        }
    }
}

/// An append waiting for its files to reach the disk.
struct Commit {
    targets: Vec<SyncTarget>,
    reply: oneshot::Sender<Result<(), AppendError>>,
}

/// The handle of the sync thread; the thread stops once the handle is dropped.
#[derive(Debug)]
pub(crate) struct Syncer {
    commits: Sender<Commit>,
}

impl Syncer {
    pub fn spawn(topics: Arc<Topics>, fsync: FsyncPolicy) -> io::Result<Self> {
        let (commits, receiver) = mpsc::channel();
        let thread = SyncThread {
            topics,
            fsync,
            last_sync: Instant::now(),
            last_age: Instant::now(),
        };
        std::thread::Builder::new()
            .name("hermes-buffer-sync".to_owned())
            .spawn(move || thread.run(receiver))?;
        Ok(Syncer { commits })
    }

    /// Forces `targets` (files one append wrote) to disk with the next group commit.
    pub async fn commit(&self, targets: Vec<SyncTarget>) -> Result<(), AppendError> {
        if targets.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.commits
            .send(Commit { targets, reply })
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }
}

struct SyncThread {
    topics: Arc<Topics>,
    fsync: FsyncPolicy,
    last_sync: Instant,
    last_age: Instant,
}

impl SyncThread {
    fn run(mut self, commits: Receiver<Commit>) {
        loop {
            match commits.recv_timeout(self.idle_wait()) {
                Ok(first) => {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match commits.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                    commit_group(group);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.tick();
        }
    }

    /// How long to wait for a group commit before periodic work is due.
    fn idle_wait(&self) -> Duration {
        let age = AGE_PERIOD.saturating_sub(self.last_age.elapsed());
        match self.fsync {
            FsyncPolicy::Interval(every) => age.min(every.saturating_sub(self.last_sync.elapsed())),
            _ => age,
        }
    }

    /// Periodic work: the interval fsync and the age gauges.
    fn tick(&mut self) {
        if let FsyncPolicy::Interval(every) = self.fsync
            && self.last_sync.elapsed() >= every
        {
            let mut targets = Vec::new();
            for topic in self.topics.all() {
                topic.writer().take_unsynced(&mut targets);
            }
            for target in targets {
                if let Err(error) = target.sync() {
                    error!(path = %target.path.display(), %error, "fsync failed");
                }
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
}

/// Syncs each file of the group once, then answers every append: `Ok`, or the error of
/// the first of its files that could not be synced.
fn commit_group(group: Vec<Commit>) {
    let mut outcomes: BTreeMap<PathBuf, Option<Arc<io::Error>>> = BTreeMap::new();
    for commit in &group {
        for target in &commit.targets {
            if !outcomes.contains_key(&target.path) {
                let outcome = target.sync().err().map(Arc::new);
                outcomes.insert(target.path.clone(), outcome);
            }
        }
    }
    for commit in group {
        let failed = commit.targets.iter().find_map(|target| {
            outcomes
                .get(&target.path)
                .and_then(Option::as_ref)
                .map(|source| AppendError::Fsync {
                    path: target.path.clone(),
                    source: Arc::clone(source),
                })
        });
        let _ = commit.reply.send(failed.map_or(Ok(()), Err));
    }
}
