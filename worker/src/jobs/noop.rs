//! `noop`: does nothing, or on request sleeps, burns CPU, fails or panics: proves the
//! queue end to end and lets tests drive every path of the runner.

use std::time::Duration;

use serde::Deserialize;

use super::Completion;

/// Payload of a `noop` job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Noop {
    /// When true the job fails, to exercise retries.
    #[serde(default)]
    pub fail: bool,
    /// When true the handler panics, to show a panic fails the job, not the worker.
    #[serde(default)]
    pub panic: bool,
    /// Waits this long first (a long job: leases, heartbeats, shutdown, timeouts).
    #[serde(default)]
    pub sleep_ms: u64,
    /// Blocks a thread this long in `spawn_blocking`, as CPU work would.
    #[serde(default)]
    pub blocking_ms: u64,
}

impl Noop {
    /// Runs the job.
    ///
    /// # Errors
    /// When `fail` is set.
    ///
    /// # Panics
    /// When `panic` is set (on purpose).
    pub async fn run(self) -> Result<Completion, String> {
        if self.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        }
        if self.blocking_ms > 0 {
            let ms = self.blocking_ms;
            tokio::task::spawn_blocking(move || std::thread::sleep(Duration::from_millis(ms)))
                .await
                .map_err(|e| format!("blocking work: {e}"))?;
        }
        if self.panic {
            panic!("noop asked to panic");
        }
        if self.fail {
            return Err("noop asked to fail".into());
        }
        Ok(Completion::Batched)
    }
}
