//! The `hermes-gateway` binary as a child process of a test: a builder for its flags (a
//! manifests folder or `--cluster`, the Pub/Sub emulator, a buffer directory), a free
//! loopback port, a wait until `/readyz` answers 200, and its log (printed if the test
//! fails, see [`Process`]).
//!
//! ```no_run
//! # async fn example(emulator: &hermes_tests::pubsub::PubSubEmulator) {
//! use hermes_tests::gateway_process::GatewayProcess;
//! let gateway = GatewayProcess::builder()
//!     .examples()
//!     .pubsub(emulator.host_port())
//!     .args(["--debug-token", "let-me-see"])
//!     .start()
//!     .await
//!     .unwrap();
//! let answer = reqwest::get(format!("{}/healthz", gateway.url())).await;
//! # }
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::error::ClusterError;
use crate::ports::free_port;
use crate::product::{Process, binary, examples_dir};
use crate::wait::wait_for;

/// How long a gateway may take to answer `/readyz` with 200 (connecting to the emulator
/// and loading the config, on a loaded two-core machine).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `hermes-gateway`, killed when dropped; the folders it was given by default
/// (buffer, logs) are removed with it.
pub struct GatewayProcess {
    /// The process: signals, exit status, log.
    pub process: Process,
    address: String,
    http: reqwest::Client,
    _folders: Vec<tempfile::TempDir>,
}

/// How to start a gateway; see [`GatewayProcess::builder`].
#[must_use]
pub struct GatewayBuilder {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    buffer_dir: Option<PathBuf>,
    logs: Option<(PathBuf, String)>,
    log_filter: String,
}

impl GatewayProcess {
    /// A gateway with no flags yet but `--listen` on a free loopback port and, unless
    /// [`GatewayBuilder::buffer_dir`] names one, a fresh buffer folder; logging at `warn`.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder {
            args: Vec::new(),
            env: Vec::new(),
            buffer_dir: None,
            logs: None,
            log_filter: "warn".into(),
        }
    }

    /// Where it listens, `127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Waits until `/readyz` answers 200; its body.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<String, ClusterError> {
        let readyz = format!("{}/readyz", self.url());
        let body = wait_for(timeout, || async {
            let response = self
                .http
                .get(&readyz)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response.text().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(body)
            } else {
                Err(format!("/readyz {status}: {body}"))
            }
        })
        .await?;
        Ok(body)
    }
}

impl GatewayBuilder {
    /// `--manifests DIR`: serve the Tags, Triggers and LookupTables in `dir`.
    pub fn manifests(self, dir: impl AsRef<Path>) -> Self {
        self.arg("--manifests").arg(dir.as_ref())
    }

    /// `--manifests examples/`: the repository's examples.
    pub fn examples(self) -> Self {
        self.manifests(examples_dir())
    }

    /// Publish to the Pub/Sub emulator at `host_port` (`PUBSUB_EMULATOR_HOST`).
    pub fn pubsub(self, host_port: impl Into<OsString>) -> Self {
        self.env("PUBSUB_EMULATOR_HOST", host_port)
    }

    /// `--buffer-dir DIR`, e.g. to restart a gateway on the buffer of a killed one.
    pub fn buffer_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.buffer_dir = Some(dir.into());
        self
    }

    /// Its log goes to `DIR/NAME.log` (default: `gateway.log` in a folder of its own).
    pub fn logs_in(mut self, dir: impl Into<PathBuf>, name: &str) -> Self {
        self.logs = Some((dir.into(), name.to_owned()));
        self
    }

    /// `RUST_LOG` (default `warn`).
    pub fn log_filter(mut self, filter: &str) -> Self {
        self.log_filter = filter.to_owned();
        self
    }

    /// One more flag or value.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// More flags and values.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts it and returns at once (a cluster-mode gateway is not ready before the
    /// operator wrote its config).
    pub fn spawn(self) -> Result<GatewayProcess, ClusterError> {
        let mut folders = Vec::new();
        let mut temporary = || {
            let folder = tempfile::tempdir().map_err(ClusterError::io("creating a folder"))?;
            let path = folder.path().to_owned();
            folders.push(folder);
            Ok::<_, ClusterError>(path)
        };
        let buffer_dir = match self.buffer_dir {
            Some(dir) => dir,
            None => temporary()?,
        };
        let (logs, name) = match self.logs {
            Some(logs) => logs,
            None => (temporary()?, "gateway".to_owned()),
        };
        let port = free_port().map_err(ClusterError::io("finding a free port"))?;
        let address = format!("127.0.0.1:{port}");
        let mut command = Command::new(binary("hermes-gateway")?);
        command
            .args(["--listen", &address])
            .arg("--buffer-dir")
            .arg(&buffer_dir)
            .args(&self.args)
            .env("RUST_LOG", &self.log_filter)
            .envs(self.env);
        Ok(GatewayProcess {
            process: Process::spawn(&name, command, &logs)?,
            address,
            http: reqwest::Client::new(),
            _folders: folders,
        })
    }

    /// Starts it and waits until `/readyz` answers 200 (up to [`READY_TIMEOUT`]).
    pub async fn start(self) -> Result<GatewayProcess, ClusterError> {
        let gateway = self.spawn()?;
        gateway.wait_ready(READY_TIMEOUT).await?;
        Ok(gateway)
    }
}
