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
    /// `WORKER_CONCURRENCY` (default 10): jobs run at the same time; claims are sized
    /// to the free slots.
    pub concurrency: usize,
    /// `WORKER_DB_POOL` (default: concurrency + 2, at most 12): connections for
    /// failures, heartbeats, releases and handlers' SQL, besides the session that
    /// LISTENs, acknowledges and claims.
    pub pool_size: usize,
    /// `WORKER_QUEUES` (default: all): comma-separated queues this worker claims from.
    pub queues: Option<Vec<String>>,
    /// `WORKER_POLL_MS` (default 1000): how often the queue is polled when no
    /// notification arrives (a lost NOTIFY only delays a job by this much).
    pub poll_interval: Duration,
    /// `WORKER_LEASE_SECS` (default 30): lease of a claimed job; another worker may take
    /// it over once expired.
    pub lease: Duration,
    /// `WORKER_SHUTDOWN_GRACE_SECS` (default 20): how long a stopping worker waits for
    /// running jobs before releasing them to other workers.
    pub shutdown_grace: Duration,
    /// `WORKER_STATEMENT_TIMEOUT_MS` (default 30000): `statement_timeout` of the worker's
    /// sessions, so a stuck statement cannot hold locks forever.
    pub statement_timeout: Duration,
    /// `WORKER_SYNCHRONOUS_COMMIT` (default `off`): `synchronous_commit` of the worker's
    /// sessions. `off` is safe for the queue: a commit lost in a server crash loses a
    /// job's completion together with the effects committed with it, and the job runs
    /// again (the queue is at-least-once for effects outside the completing transaction
    /// anyway). Set `on` when handlers have effects that must never be rolled back.
    pub synchronous_commit: String,
    /// `WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS` (default 60000):
    /// `idle_in_transaction_session_timeout`, so a handler that stalls inside a
    /// transaction does not hold back vacuum on the queue tables.
    pub idle_in_transaction_timeout: Duration,
    /// `WORKER_ONCE` (default `false`): drain and exit. The worker stops (gracefully, as
    /// on SIGTERM) once a claim comes back empty while none of its jobs runs or awaits
    /// acknowledgement, as `graphile-worker --once`; `make bench-jobs` times a drain
    /// from the workers' launch to their exit, as it does graphile-worker's.
    pub once: bool,
    /// `SMTP_URL` (default: none): the SMTP server e-mails are sent through, e.g.
    /// `smtps://user:pass@smtp.example.com:465` (TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://127.0.0.1:1025` (development, no TLS). Without it, e-mails
    /// are written to the log and kept in `shop.email_message` (`GET
    /// /api/v1/admin/outbox/emails` shows them), not sent. Never logged (it may hold
    /// a password).
    pub smtp_url: Option<String>,
    /// `MAIL_FROM` (default `maef <no-reply@localhost>`): the From of every e-mail; its
    /// domain also names the Message-IDs.
    pub mail_from: String,
    /// `SMTP_TIMEOUT_SECS` (default 30): how long one SMTP command may take.
    pub smtp_timeout: Duration,
    /// `WEBHOOK_ALLOW_PRIVATE` (default `false`): deliver webhooks to loopback, private
    /// and link-local addresses and over plain http. For tests and development only:
    /// it turns the SSRF protection off.
    pub webhook_allow_private: bool,
    /// `WORKER_DISPATCH_EVENTS` (default `true`): run the webhook dispatcher (turns new
    /// events into deliveries). Any number of workers may run it; `false` leaves it to
    /// others.
    pub dispatch_events: bool,
    /// The Instagram integration (`IG_*`, `OAUTH_TOKEN_KEY`), as maef-api reads it.
    pub instagram: maef_instagram::InstagramConfig,
    /// The payment providers (`STRIPE_*`, `FEDAPAY_*`, `PAYSTACK_*`), as maef-api reads
    /// them: verify_payment re-fetches payments with them.
    pub payments: maef_payments::PaymentsConfig,
    /// Limits of the media the worker downloads (stories), as uploads have them.
    pub media: MediaLimits,
}

/// Limits of downloaded media: the same variables and defaults as maef-api's uploads,
/// so a story is refused exactly when the same file uploaded would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    /// `MEDIA_MAX_IMAGE_BYTES` (default 10 MiB): largest image (decoded in memory).
    pub max_image_bytes: u64,
    /// `MEDIA_MAX_VIDEO_BYTES` (default 200 MiB): largest video (streamed).
    pub max_video_bytes: u64,
    /// `MEDIA_CHUNK_BYTES` (default 256 KiB): bytes per large-object write.
    pub chunk_bytes: usize,
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("worker_id", &self.worker_id)
            .field("concurrency", &self.concurrency)
            .field("poll_interval", &self.poll_interval)
            .field("lease", &self.lease)
            .field("queues", &self.queues)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("once", &self.once)
            .field("smtp", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("mail_from", &self.mail_from)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("dispatch_events", &self.dispatch_events)
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
        let flag = |name: &str, default: bool| -> Result<bool, String> {
            match var(name).as_deref().map(str::trim) {
                None => Ok(default),
                Some("1" | "true") => Ok(true),
                Some("0" | "false") => Ok(false),
                Some(other) => Err(format!("{name}: '{other}' is not true, false, 1 or 0")),
            }
        };
        let mail_from = var("MAIL_FROM").unwrap_or_else(|| "maef <no-reply@localhost>".into());
        mail_from.parse::<lettre::message::Mailbox>().map_err(|e| {
            format!("MAIL_FROM: '{mail_from}' is not an address such as 'Shop <no-reply@shop.example>': {e}")
        })?;
        let smtp_url = var("SMTP_URL");
        if let Some(url) = &smtp_url {
            // The URL may hold a password: the error never repeats it.
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                .map_err(|e| format!("SMTP_URL: not a usable smtp:// or smtps:// URL ({e})"))?;
        }
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
            concurrency: number("WORKER_CONCURRENCY", 10)? as usize,
            pool_size: number(
                "WORKER_DB_POOL",
                (number("WORKER_CONCURRENCY", 10)? + 2).min(12),
            )? as usize,
            queues: var("WORKER_QUEUES").map(|raw| {
                raw.split(',')
                    .map(|q| q.trim().to_string())
                    .filter(|q| !q.is_empty())
                    .collect()
            }),
            poll_interval: Duration::from_millis(number("WORKER_POLL_MS", 1000)?),
            lease: Duration::from_secs(number("WORKER_LEASE_SECS", 30)?),
            shutdown_grace: Duration::from_secs(number("WORKER_SHUTDOWN_GRACE_SECS", 20)?),
            synchronous_commit: match var("WORKER_SYNCHRONOUS_COMMIT").as_deref().map(str::trim) {
                None => "off".into(),
                Some(v @ ("on" | "off" | "local" | "remote_write" | "remote_apply")) => v.into(),
                Some(other) => {
                    return Err(format!(
                        "WORKER_SYNCHRONOUS_COMMIT: '{other}' is not on, off, local, remote_write or remote_apply"
                    ))
                }
            },
            statement_timeout: Duration::from_millis(number("WORKER_STATEMENT_TIMEOUT_MS", 30_000)?),
            idle_in_transaction_timeout: Duration::from_millis(number(
                "WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                60_000,
            )?),
            once: flag("WORKER_ONCE", false)?,
            smtp_url,
            mail_from,
            smtp_timeout: Duration::from_secs(number("SMTP_TIMEOUT_SECS", 30)?),
            webhook_allow_private: flag("WEBHOOK_ALLOW_PRIVATE", false)?,
            dispatch_events: flag("WORKER_DISPATCH_EVENTS", true)?,
            media: MediaLimits {
                max_image_bytes: number("MEDIA_MAX_IMAGE_BYTES", 10 << 20)?,
                max_video_bytes: number("MEDIA_MAX_VIDEO_BYTES", 200 << 20)?,
                chunk_bytes: number("MEDIA_CHUNK_BYTES", 256 << 10)? as usize,
            },
            instagram: maef_instagram::InstagramConfig::from_lookup(var).map_err(|p| p.to_string())?,
            payments: maef_payments::PaymentsConfig::from_lookup(var).map_err(|p| p.to_string())?,
        })
    }

    /// The session settings every worker connection starts with (libpq `options`).
    pub fn session_options(&self) -> String {
        format!(
            "-c statement_timeout={} -c idle_in_transaction_session_timeout={} -c synchronous_commit={}",
            self.statement_timeout.as_millis(),
            self.idle_in_transaction_timeout.as_millis(),
            self.synchronous_commit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_numbers_name_their_variable() {
        let url = |k: &str| (k == "DATABASE_URL").then(|| "postgres://u@localhost/db".to_string());
        let c = WorkerConfig::from_lookup(url).unwrap();
        assert_eq!(c.concurrency, 10);
        assert_eq!(c.queues, None);
        assert!(c.session_options().contains("statement_timeout=30000"));
        assert_eq!(c.poll_interval, Duration::from_secs(1));
        assert!(!c.once);
        let once = |k: &str| match k {
            "DATABASE_URL" => Some("postgres://u@localhost/db".to_string()),
            "WORKER_ONCE" => Some("1".into()),
            _ => None,
        };
        assert!(WorkerConfig::from_lookup(once).unwrap().once);
        let bad_once = WorkerConfig::from_lookup(|k| match k {
            "DATABASE_URL" => Some("postgres://u@localhost/db".into()),
            "WORKER_ONCE" => Some("yes".into()),
            _ => None,
        });
        assert!(bad_once.unwrap_err().starts_with("WORKER_ONCE"));
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

    #[test]
    fn mail_settings_are_checked_and_the_smtp_password_is_never_shown() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            WorkerConfig::from_lookup(move |k| {
                if k == "DATABASE_URL" {
                    return Some("postgres://u@localhost/db".into());
                }
                pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
            })
        };
        let c = with(&[]).unwrap();
        assert_eq!(
            (c.smtp_url.as_deref(), c.mail_from.as_str()),
            (None, "maef <no-reply@localhost>")
        );
        assert!(c.dispatch_events && !c.webhook_allow_private);
        let c = with(&[
            ("SMTP_URL", "smtps://user:hunter2@smtp.example.com:465"),
            ("WEBHOOK_ALLOW_PRIVATE", "1"),
        ])
        .unwrap();
        assert!(c.webhook_allow_private);
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(with(&[("MAIL_FROM", "not an address")])
            .unwrap_err()
            .starts_with("MAIL_FROM"));
        let bad = with(&[("SMTP_URL", "http://user:hunter2@x")]).unwrap_err();
        assert!(bad.starts_with("SMTP_URL") && !bad.contains("hunter2"), "{bad}");
    }
}
