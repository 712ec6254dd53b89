//! Worker configuration from the environment; a bad value stops start-up with one
//! line naming the variable.

use std::time::Duration;

/// Configuration of `maef-worker`.
#[derive(Clone)]
pub struct WorkerConfig {
    /// `DATABASE_URL` (required): the database holding the job queue.
    pub database_url: String,
    /// `WORKER_ID` (default `<hostname>-<pid>`): name recorded in `locked_by` and
    /// `job_attempt.worker`.
    pub worker_id: String,
    /// `WORKER_CONCURRENCY` (default 4): jobs run at the same time.
    pub concurrency: usize,
    /// `WORKER_POLL_MS` (default 1000): how often the queue is polled when no
    /// notification arrives (a lost NOTIFY only delays a job by this much).
    pub poll_interval: Duration,
    /// `WORKER_LEASE_SECS` (default 30): lease of a claimed job; another worker may take
    /// it over once expired.
    pub lease: Duration,
    /// `WORKER_SHUTDOWN_GRACE_SECS` (default 20): how long a stopping worker waits for
    /// running jobs.
    pub shutdown_grace: Duration,
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("worker_id", &self.worker_id)
            .field("concurrency", &self.concurrency)
            .field("poll_interval", &self.poll_interval)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl WorkerConfig {
    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// `"VARIABLE: problem"` for the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match var(name) {
                None => Ok(default),
                Some(raw) => match raw.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{name}: '{raw}' is not a positive integer")),
                },
            }
        };
        let database_url = var("DATABASE_URL").ok_or("DATABASE_URL: is not set")?;
        database_url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| format!("DATABASE_URL: is not a valid PostgreSQL URL: {e}"))?;
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        Ok(Self {
            database_url,
            worker_id: var("WORKER_ID").unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    if host.is_empty() { "worker" } else { &host },
                    std::process::id()
                )
            }),
            concurrency: number("WORKER_CONCURRENCY", 4)? as usize,
            poll_interval: Duration::from_millis(number("WORKER_POLL_MS", 1000)?),
            lease: Duration::from_secs(number("WORKER_LEASE_SECS", 30)?),
            shutdown_grace: Duration::from_secs(number("WORKER_SHUTDOWN_GRACE_SECS", 20)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_numbers_name_their_variable() {
        let url = |k: &str| (k == "DATABASE_URL").then(|| "postgres://u@localhost/db".to_string());
        let c = WorkerConfig::from_lookup(url).unwrap();
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.poll_interval, Duration::from_secs(1));
        let bad = WorkerConfig::from_lookup(|k| match k {
            "DATABASE_URL" => Some("postgres://u@localhost/db".into()),
            "WORKER_CONCURRENCY" => Some("0".into()),
            _ => None,
        });
        assert!(bad.unwrap_err().starts_with("WORKER_CONCURRENCY"));
        assert!(WorkerConfig::from_lookup(|_| None)
            .unwrap_err()
            .starts_with("DATABASE_URL"));
    }
}
