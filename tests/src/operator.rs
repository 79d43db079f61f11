//! The operator running in the test's own process against the test cluster: started with
//! test options, stopped gracefully (as on SIGTERM) or killed (a crash: nothing released).

use std::time::Duration;

use hermes_compiler::contract;
use hermes_operator::{LeaderOptions, Options};
use kube::Client;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

use crate::namespace::TestNamespace;

/// Operator options for one test namespace: fast debounce, no election.
pub fn options(ns: &TestNamespace, identity: &str) -> Options {
    let mut options = Options::new(vec![ns.name().to_string()], identity);
    options.debounce = Duration::from_millis(50);
    options
}

/// [`options`] with leader election on the operator Lease in the test namespace, held
/// for `lease`.
pub fn elected(ns: &TestNamespace, identity: &str, lease: Duration) -> Options {
    let mut options = options(ns, identity);
    options.leader = Some(LeaderOptions {
        namespace: ns.name().to_string(),
        lease_name: contract::OPERATOR_LEASE.to_string(),
        identity: identity.to_string(),
        duration: lease,
    });
    options
}

/// Why an in-process operator did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum OperatorStopError {
    /// Its task panicked or was aborted.
    #[error("the operator task did not finish: {0}")]
    Task(#[source] JoinError),
    /// It returned an error.
    #[error("the operator failed: {0}")]
    Run(#[source] hermes_operator::Error),
}

/// An operator running in this process; aborted when dropped.
pub struct Operator {
    /// The identity it runs (and, with election, holds the Lease) as.
    pub identity: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), hermes_operator::Error>>,
}

impl Operator {
    /// Starts `hermes_operator::run` with `client` and `options`.
    pub fn start(client: Client, options: Options) -> Self {
        crate::logs::capture_logs();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let identity = options.identity.clone();
        let task = tokio::spawn(hermes_operator::run(client, options, async move {
            let _ = stopped.await;
        }));
        Operator {
            identity,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// Graceful shutdown (SIGTERM): workers stop, the leader Lease is released.
    pub async fn stop(mut self) -> Result<(), OperatorStopError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task)
            .await
            .map_err(OperatorStopError::Task)?
            .map_err(OperatorStopError::Run)
    }

    /// A crash: everything stops, nothing is released.
    pub async fn kill(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
