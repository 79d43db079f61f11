//! The interval fsync on a thread of its own: under [`FsyncPolicy::Interval`] the writer
//! hands over the files written since the last sync and goes on appending while the disk
//! catches up, so a slow `fsync` never holds up the hit path.
//!
//! [`FsyncPolicy::Interval`]: crate::FsyncPolicy::Interval

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};

use tracing::error;

/// A file or directory to force to disk.
pub(crate) struct SyncTarget {
    pub path: PathBuf,
    pub file: File,
}

impl SyncTarget {
    pub fn sync(&self) {
        if let Err(error) = self.file.sync_all() {
            error!(path = %self.path.display(), %error, "fsync failed");
        }
    }
}

/// The handle of the sync thread.
pub(crate) struct Syncer {
    targets: Sender<Vec<SyncTarget>>,
    busy: Arc<AtomicBool>,
}

impl Syncer {
    pub fn spawn() -> io::Result<Self> {
        let (targets, receiver) = mpsc::channel::<Vec<SyncTarget>>();
        let busy = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&busy);
        std::thread::Builder::new()
            .name("hermes-buffer-sync".to_owned())
            .spawn(move || {
                for batch in receiver {
                    batch.iter().for_each(SyncTarget::sync);
                    done.store(false, Ordering::Release);
                }
            })?;
        Ok(Syncer { targets, busy })
    }

    /// Still syncing the previous batch (the next one waits, gathering more).
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// Syncs `targets` in the background (inline should the thread be gone).
    pub fn submit(&self, targets: Vec<SyncTarget>) {
        self.busy.store(true, Ordering::Release);
        if let Err(mpsc::SendError(targets)) = self.targets.send(targets) {
            targets.iter().for_each(SyncTarget::sync);
            self.busy.store(false, Ordering::Release);
        }
    }
}
