//! Server processes (etcd, kube-apiserver) that die with the test binary.
//!
//! Each server runs in its own process group, killed on drop. A shared cluster lives in
//! a static that is never dropped, so a reaper (`sh` reading a pipe only this process
//! holds) kills the recorded groups and removes the cluster folder as soon as the test
//! binary exits, however it exits. A `KEEP` file in the folder keeps it for debugging.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use crate::error::ClusterError;

const REAPER_SCRIPT: &str = r#"read -r _
for group in $(cat "$1/pgids" 2>/dev/null); do kill -KILL "-$group" 2>/dev/null; done
[ -e "$1/KEEP" ] || rm -rf "$1""#;

/// Kills the recorded process groups and removes `dir` once this process lets go of it.
pub(crate) struct Reaper {
    dir: PathBuf,
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Reaper {
    pub(crate) fn spawn(dir: &Path) -> Result<Self, ClusterError> {
        Self::spawn_running(dir, REAPER_SCRIPT, &[])
    }

    /// A reaper that runs `script` (`sh -c`, `$1` = `dir`, then `args`) when this process
    /// lets go; the script reads one line from stdin first, which returns at that moment.
    pub(crate) fn spawn_running(
        dir: &Path,
        script: &str,
        args: &[&str],
    ) -> Result<Self, ClusterError> {
        let mut child = Command::new("sh")
            .args(["-c", script, "hermes-reaper"])
            .arg(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(ClusterError::io("spawning the reaper (sh)"))?;
        let pipe = child.stdin.take();
        Ok(Self {
            dir: dir.to_owned(),
            child,
            pipe,
        })
    }

    fn record(&self, group: u32) -> Result<(), ClusterError> {
        let path = self.dir.join("pgids");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(ClusterError::io(format!("writing {}", path.display())))?;
        writeln!(file, "{group}").map_err(ClusterError::io(format!("writing {}", path.display())))
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        // The servers are already dead and reaped: forget their ids before the reaper runs.
        let _ = std::fs::write(self.dir.join("pgids"), "");
        drop(self.pipe.take());
        let _ = self.child.wait();
    }
}

/// A running server whose output goes to a log file.
pub(crate) struct ServerProcess {
    pub(crate) name: &'static str,
    pub(crate) log: PathBuf,
    child: Child,
}

impl ServerProcess {
    /// Starts `program` in a new process group recorded with the reaper.
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        reaper: &Reaper,
    ) -> Result<Self, ClusterError> {
        let out =
            File::create(&log).map_err(ClusterError::io(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(ClusterError::io("cloning a log handle"))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(ClusterError::io(format!("starting {}", program.display())))?;
        let process = Self { name, log, child };
        reaper.record(process.child.id())?;
        Ok(process)
    }

    /// Resolves when the process has exited, as the error to report.
    pub(crate) async fn exited(&mut self) -> ClusterError {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return ClusterError::ProcessExited {
                        process: self.name,
                        status: status.to_string(),
                        log: self.log.clone(),
                        tail: log_tail(&self.log, 40),
                    };
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(source) => {
                    return ClusterError::Io {
                        what: format!("waiting for {}", self.name),
                        source,
                    };
                }
            }
        }
    }

    /// The end of the log, headed by the process name and log path.
    pub(crate) fn report(&self, lines: usize) -> String {
        format!(
            "--- {} ({}) ---\n{}",
            self.name,
            self.log.display(),
            log_tail(&self.log, lines)
        )
    }
}

impl ServerProcess {
    /// SIGKILL the process group and reap the process (an abrupt stop, as a crash).
    pub(crate) fn kill(&mut self) {
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: killpg only sends a signal; the group is the one this child leads.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a log file (or why it cannot be read).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
}
