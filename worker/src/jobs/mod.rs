//! Job kinds: one variant per kind, one module per kind (mini-redis's `Command`).
//!
//! Adding a kind means a variant here, its module, and its name in [`KINDS`].

pub mod noop;

use serde_json::Value;

/// The kinds this worker claims.
pub const KINDS: &[&str] = &["noop"];

/// A job to run, parsed from its kind and payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Does nothing; proves the queue end to end.
    Noop(noop::Noop),
}

impl Job {
    /// Parses a claimed job.
    ///
    /// # Errors
    /// An unknown kind or a payload of the wrong shape (the job fails with this text).
    pub fn parse(kind: &str, payload: Value) -> Result<Self, String> {
        match kind {
            "noop" => Ok(Job::Noop(
                serde_json::from_value(payload).map_err(|e| format!("noop payload: {e}"))?,
            )),
            other => Err(format!("unknown job kind '{other}'")),
        }
    }

    /// Runs the job.
    ///
    /// # Errors
    /// The job's failure, recorded in `job_attempt.error`.
    pub async fn run(self) -> Result<(), String> {
        match self {
            Job::Noop(job) => job.run().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_and_bad_payloads_are_refused() {
        assert!(Job::parse("noop", serde_json::json!({})).is_ok());
        assert!(Job::parse("launch_rocket", serde_json::json!({}))
            .unwrap_err()
            .contains("unknown job kind"));
        assert!(Job::parse("noop", serde_json::json!({"fail": "yes"})).is_err());
    }
}
