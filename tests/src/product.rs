//! The workspace's own binaries (`hermes-gateway`, `hermes-operator`, `hermes`) as child
//! processes of a test, their output in a log file shown when the test fails.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::error::ClusterError;
use crate::process::log_tail;

/// How long a process may take to exit after SIGTERM.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);

/// A built binary of the workspace, found next to the running test executable
/// (`target/debug/deps/..`), or beside a binary of this crate (`operator-scale`, in
/// `target/release/`); `cargo build --workspace --bins` builds them (scripts/test does).
pub fn binary(name: &str) -> Result<PathBuf, ClusterError> {
    let exe = std::env::current_exe().map_err(ClusterError::io("finding the test executable"))?;
    let dir = exe.parent();
    let beside = dir.map(|dir| dir.join(name)).filter(|path| path.exists());
    let path = beside
        .or_else(|| dir.and_then(Path::parent).map(|dir| dir.join(name)))
        .unwrap_or_else(|| PathBuf::from(name));
    if path.exists() {
        Ok(path)
    } else {
        Err(ClusterError::MissingWorkspaceBinary { path })
    }
}

/// The repository's `examples/` folder of manifests.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A running product process; killed when dropped, its log's end printed if the test is
/// failing.
pub struct Process {
    /// Its name: the log file's, and for operators their identity.
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` with its output going to `LOGS/NAME.log`.
    pub fn spawn(name: &str, mut command: Command, logs: &Path) -> Result<Process, ClusterError> {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)
            .map_err(ClusterError::io(format!("creating {}", log.display())))?;
        let err = file
            .try_clone()
            .map_err(ClusterError::io("cloning a log handle"))?;
        command
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(ClusterError::io(format!("starting {name}")))?;
        Ok(Process {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// SIGTERM, as Kubernetes stops a pod; waits (up to 30 s) for the exit status.
    pub async fn terminate(&mut self) -> Result<ExitStatus, ClusterError> {
        self.sigterm();
        self.exited(TERMINATE_TIMEOUT).await
    }

    /// Sends SIGTERM and returns at once (see [`exited`](Self::exited)); a process that
    /// has already been waited for is left alone.
    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// SIGSTOP: the process freezes (timers, connections, everything) until [`Process::resume`].
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT after [`Process::pause`].
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Send `signal` to the process (nothing once it has exited).
    fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// Waits up to `timeout` for the process to exit; its exit status.
    pub async fn exited(&mut self, timeout: Duration) -> Result<ExitStatus, ClusterError> {
        let waited = tokio::time::timeout(timeout, self.child.wait()).await;
        let what = format!("waiting for {} to exit", self.name);
        match waited {
            Ok(status) => status.map_err(ClusterError::io(what)),
            Err(elapsed) => Err(ClusterError::io(what)(elapsed.into())),
        }
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: a crash, nothing released.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- last lines of {} ---", self.name);
            eprintln!("{}", log_tail(&self.log, 40));
        }
    }
}
