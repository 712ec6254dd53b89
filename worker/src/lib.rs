//! maef-worker: claims jobs from the PostgreSQL job queue and runs them.
//!
//! The queue's rules live in SQL (`sql/jobs.sql`: claim with leases, fencing by
//! attempt number, backoff, schedules); this crate waits for work, runs it with bounded
//! concurrency, and reports back in batches. No leader: any number of workers run the
//! same loop, and schedules are enqueued once per time bucket by SQL.
//!
//! # Layout
//! - [`config`]: typed configuration from the environment.
//! - [`db`]: session settings (timeouts) and the connection pool.
//! - [`queue`]: the queue's SQL API as typed calls.
//! - [`runner`]: the pump (LISTEN + poll; one round trip acknowledges a batch and
//!   claims the next), job execution (timeouts, panics), heartbeats and graceful
//!   shutdown.
//! - [`jobs`]: the `Job` enum and one module per job kind.
//! - [`outbound`]: the HTTP client (webhooks, with the outbound address policy) and
//!   the mail transport the handlers share.
//! - [`metrics`]: Prometheus metrics on `WORKER_METRICS_ADDR`.
//! - [`dispatch`]: the webhook dispatcher (events → deliveries), woken by
//!   `maef_events`.

pub mod config;
pub mod db;
pub mod dispatch;
pub mod jobs;
pub mod metrics;
pub mod outbound;
pub mod queue;
pub mod runner;

pub use runner::run;

/// The channel the queue's SQL functions notify.
pub const CHANNEL: &str = "maef_jobs";
