//! `noop`: does nothing (or fails on request), to prove the queue end to end.

use serde::Deserialize;

/// Payload of a `noop` job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Noop {
    /// When true the job fails, to exercise retries.
    #[serde(default)]
    pub fail: bool,
}

impl Noop {
    /// Runs the job.
    ///
    /// # Errors
    /// When `fail` is set.
    pub async fn run(self) -> Result<(), String> {
        if self.fail {
            return Err("noop asked to fail".into());
        }
        Ok(())
    }
}
