//! Polling with a deadline: the only way tests wait for the cluster, the operator or the
//! gateway to reach a state (never bare sleeps).

use std::fmt::Display;
use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

/// A wait that ran out of time, with the last state the probe observed.
#[derive(Debug, thiserror::Error)]
#[error(
    "timed out after {timeout:?} waiting at {location} ({attempts} attempts); last observed: {last}"
)]
pub struct WaitError {
    /// Where `wait_for` was called.
    pub location: String,
    /// The time allowed.
    pub timeout: Duration,
    /// How many times the probe ran.
    pub attempts: u32,
    /// The probe's last error: what it saw instead of the awaited state.
    pub last: String,
}

/// Runs `probe` until it returns `Ok`, and returns that value; polls every 20 ms at first,
/// backing off to 200 ms.
///
/// The probe's `Err` means "not yet" and should describe what it observed (e.g. the
/// current status), because the last one is reported when `timeout` passes. A probe
/// still running at the deadline is abandoned.
#[track_caller]
pub fn wait_for<T, E, F, Fut>(
    timeout: Duration,
    mut probe: F,
) -> impl Future<Output = Result<T, WaitError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    let location = Location::caller().to_string();
    async move {
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(20);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let last = match tokio::time::timeout(remaining, probe()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error.to_string(),
                Err(_) => "the probe was still running at the deadline".to_owned(),
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError {
                    location,
                    timeout,
                    attempts,
                    last,
                });
            }
            tokio::time::sleep(interval.min(deadline - now)).await;
            interval = (interval * 2).min(Duration::from_millis(200));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn wait_for_returns_the_value_once_the_probe_succeeds() {
        let calls = AtomicU32::new(0);
        let value = wait_for(Duration::from_secs(5), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err("not yet"),
                n => Ok(n),
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn wait_for_times_out_with_the_last_observed_state_and_caller() {
        let calls = AtomicU32::new(0);
        let error = wait_for(Duration::from_millis(150), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(format!("ready=False (attempt {n})"))
        })
        .await
        .unwrap_err();
        let seen = calls.load(Ordering::SeqCst);
        assert!(error.attempts >= 2);
        assert_eq!(error.last, format!("ready=False (attempt {})", seen - 1));
        assert!(error.location.contains("wait.rs"), "{}", error.location);
        assert!(error.to_string().contains("last observed: ready=False"));
    }

    #[tokio::test]
    async fn wait_for_abandons_a_probe_that_hangs_past_the_deadline() {
        let error = wait_for(Duration::from_millis(50), || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<(), String>(())
        })
        .await
        .unwrap_err();
        assert!(error.last.contains("still running"));
    }
}
