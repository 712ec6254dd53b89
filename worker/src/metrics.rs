//! Prometheus metrics of one worker process, served on `WORKER_METRICS_ADDR`.
//!
//! - `maef_worker_jobs_claimed_total{kind}`, `maef_worker_jobs_completed_total{kind}`,
//!   `maef_worker_jobs_failed_total{kind}`, `maef_worker_jobs_abandoned_total{kind}`
//!   and `maef_worker_job_duration_seconds{kind}` (histogram): counted by the runner;
//! - `maef_worker_schedule_runs_total`: schedule runs this worker enqueued (each run is
//!   enqueued by exactly one worker, so the sum over workers is the number of runs);
//! - `maef_worker_queue_depth{queue}` (ready jobs), `maef_worker_queue_lag_seconds{queue}`
//!   (age of the oldest ready job), `maef_worker_queue_running{queue}`,
//!   `maef_worker_queue_dead{queue}` (discarded jobs): read from the database every
//!   `WORKER_METRICS_SAMPLE_MS` by [`sample_queues`]. Every worker reports the same
//!   queue figures: aggregate them with `max`, not `sum`.
//!
//! The recorder is process-global (one worker per process); without
//! `WORKER_METRICS_ADDR` none is installed and every count is a no-op.

use std::collections::BTreeSet;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

use crate::config::WorkerConfig;

/// Job duration buckets in seconds: from a no-op to a long media job.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Installs the recorder and its HTTP listener, and starts sampling the queues.
/// Does nothing without `WORKER_METRICS_ADDR`.
///
/// # Errors
/// The address cannot be bound, or another recorder is already installed.
pub fn install(config: &WorkerConfig) -> anyhow::Result<()> {
    let Some(addr) = config.metrics_addr else {
        return Ok(());
    };
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)?
        .install()
        .map_err(|e| anyhow::anyhow!("WORKER_METRICS_ADDR {addr}: {e}"))?;
    tracing::info!(%addr, "metrics served");
    tokio::spawn(sample_queues(config.clone()));
    Ok(())
}

/// Per queue: jobs ready to run, age of the oldest one, jobs running, dead jobs. The
/// queue table holds only live jobs and dead letters (completed rows are deleted), so
/// this stays small.
const QUEUE_FIGURES: &str = "select queue,
        count(*) filter (where status = 'pending' and run_at <= now()),
        coalesce(extract(epoch from now() - min(run_at) filter (where status = 'pending' and run_at <= now())), 0)::float8,
        count(*) filter (where status = 'running'),
        count(*) filter (where status = 'discarded')
    from shop.job_queue group by queue";

/// Reads the queue figures every `WORKER_METRICS_SAMPLE_MS`, on a session of its own
/// (re-opened after a failure), so a busy pool never delays them.
async fn sample_queues(config: WorkerConfig) {
    let mut seen = BTreeSet::new();
    let mut tick = tokio::time::interval(config.metrics_sample);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut client = None;
    loop {
        tick.tick().await;
        if client
            .as_ref()
            .is_none_or(|c: &tokio_postgres::Client| c.is_closed())
        {
            client = connect(&config).await;
        }
        let Some(session) = &client else { continue };
        match session.query(QUEUE_FIGURES, &[]).await {
            Ok(rows) => {
                let mut now = BTreeSet::new();
                for row in rows {
                    let queue: String = row.get(0);
                    set_queue(
                        &queue,
                        row.get::<_, i64>(1) as f64,
                        row.get(2),
                        row.get::<_, i64>(3) as f64,
                        row.get::<_, i64>(4) as f64,
                    );
                    now.insert(queue);
                }
                // A queue that emptied reads 0, not its last value.
                for queue in seen.difference(&now) {
                    set_queue(queue, 0.0, 0.0, 0.0, 0.0);
                }
                seen.extend(now);
            }
            Err(e) => {
                tracing::warn!(error = %e, "queue metrics not read");
                client = None;
            }
        }
    }
}

fn set_queue(queue: &str, ready: f64, lag: f64, running: f64, dead: f64) {
    let queue = queue.to_owned();
    metrics::gauge!("maef_worker_queue_depth", "queue" => queue.clone()).set(ready);
    metrics::gauge!("maef_worker_queue_lag_seconds", "queue" => queue.clone()).set(lag);
    metrics::gauge!("maef_worker_queue_running", "queue" => queue.clone()).set(running);
    metrics::gauge!("maef_worker_queue_dead", "queue" => queue).set(dead);
}

async fn connect(config: &WorkerConfig) -> Option<tokio_postgres::Client> {
    let pg = crate::db::pg_config(config).ok()?;
    match pg.connect(tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Some(client)
        }
        Err(e) => {
            tracing::warn!(error = %e, "queue metrics: cannot connect");
            None
        }
    }
}

/// Counts claimed jobs by kind.
pub fn claimed<'a>(kinds: impl IntoIterator<Item = &'a str>) {
    for kind in kinds {
        metrics::counter!("maef_worker_jobs_claimed_total", "kind" => kind.to_owned()).increment(1);
    }
}

/// How one attempt ended, for [`finished`].
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    /// The handler succeeded (or scheduled its own retry).
    Completed,
    /// The handler failed, timed out or panicked.
    Failed,
    /// The lease was lost or the worker stopped.
    Abandoned,
}

/// Counts a finished attempt and its duration.
pub fn finished(kind: &str, ending: Ending, seconds: f64) {
    let name = match ending {
        Ending::Completed => "maef_worker_jobs_completed_total",
        Ending::Failed => "maef_worker_jobs_failed_total",
        Ending::Abandoned => "maef_worker_jobs_abandoned_total",
    };
    metrics::counter!(name, "kind" => kind.to_owned()).increment(1);
    metrics::histogram!("maef_worker_job_duration_seconds", "kind" => kind.to_owned()).record(seconds);
}

/// Counts schedule runs this worker enqueued.
pub fn schedule_runs(n: i32) {
    if n > 0 {
        metrics::counter!("maef_worker_schedule_runs_total").increment(n as u64);
    }
}
