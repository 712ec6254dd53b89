//! maef-worker: claims jobs from the PostgreSQL job queue and runs them.
//!
//! The queue's rules live in SQL (`api.claim_jobs`, `api.complete_job`,
//! `api.fail_job`); this crate only waits for work, runs it and reports back.
//!
//! # Layout
//! - [`config`]: typed configuration from the environment.
//! - [`jobs`]: the `Job` enum and one module per job kind.
//! - [`run`]: the claim loop (LISTEN + poll, bounded concurrency, graceful shutdown).

pub mod config;
pub mod jobs;

use std::{future::Future, sync::Arc, time::Duration};

use futures::StreamExt;
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_postgres::{AsyncMessage, Client, NoTls};

use crate::{config::WorkerConfig, jobs::Job};

/// The channel `api.enqueue_job` notifies.
pub const CHANNEL: &str = "maef_jobs";

/// Runs the worker until `shutdown` resolves: reconnects after a lost connection, then
/// waits (up to the grace period) for running jobs. A job still running after that is
/// left to its lease: another worker takes it over when the lease expires.
///
/// # Errors
/// Only start-up errors that retrying cannot fix (none today: connection errors are
/// retried with backoff).
pub async fn run(config: WorkerConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(200);
    let in_flight = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
    loop {
        let outcome = tokio::select! {
            () = &mut shutdown => break,
            outcome = session(&config, in_flight.clone()) => outcome,
        };
        match outcome {
            Ok(()) => break,
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?backoff, "worker lost its database session");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    tracing::info!("worker stopping: waiting for running jobs");
    let mut running = in_flight.lock().await;
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            still_running = running.len(),
            "grace period over; their leases will expire"
        );
    }
    Ok(())
}

/// One database session: LISTEN, then claim and run jobs until the connection fails.
async fn session(
    config: &WorkerConfig,
    in_flight: Arc<tokio::sync::Mutex<JoinSet<()>>>,
) -> anyhow::Result<()> {
    let mut pg: tokio_postgres::Config = config.database_url.parse()?;
    pg.application_name("maef-worker");
    let (client, mut connection) = pg.connect(NoTls).await?;
    let (wake_tx, mut wake_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    let _ = wake_tx.send(());
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = closed_tx.send(e.to_string());
                    return;
                }
            }
        }
        let _ = closed_tx.send("connection closed".into());
    });
    let client = Arc::new(client);
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    tracing::info!(worker = %config.worker_id, kinds = ?jobs::KINDS, "worker listening");

    let slots = Arc::new(Semaphore::new(config.concurrency));
    let kinds: Vec<String> = jobs::KINDS.iter().map(|k| k.to_string()).collect();
    let lease_secs = config.lease.as_secs_f64();
    let claim = client
        .prepare("select job_id, kind, payload, attempt from api.claim_jobs($1, $2, $3, make_interval(secs => $4))")
        .await?;
    loop {
        let free = slots.available_permits();
        let mut claimed_all = false;
        if free > 0 {
            let rows = client
                .query(&claim, &[&config.worker_id, &kinds, &(free as i32), &lease_secs])
                .await?;
            claimed_all = rows.len() == free;
            let mut running = in_flight.lock().await;
            while running.try_join_next().is_some() {}
            for row in rows {
                let permit = slots.clone().acquire_owned().await?;
                let client = client.clone();
                let (job_id, kind, payload, attempt): (i64, String, serde_json::Value, i32) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                running.spawn(async move {
                    run_job(&client, job_id, &kind, payload, attempt).await;
                    drop(permit);
                });
            }
        }
        if claimed_all {
            continue; // more may be ready right now
        }
        tokio::select! {
            reason = &mut closed_rx => anyhow::bail!("database connection closed: {}", reason.unwrap_or_default()),
            _ = wake_rx.recv() => { while wake_rx.try_recv().is_ok() {} }
            () = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}

/// Runs one claimed job and records the outcome with its attempt number (the fencing
/// token: a stale attempt is refused by SQL and only logged here).
async fn run_job(client: &Client, job_id: i64, kind: &str, payload: serde_json::Value, attempt: i32) {
    let span = tracing::info_span!("job", job_id, kind, attempt);
    let _enter = span.enter();
    let outcome = match Job::parse(kind, payload) {
        Ok(job) => job.run().await,
        Err(e) => Err(e),
    };
    let recorded = match &outcome {
        Ok(()) => {
            client
                .query_one("select api.complete_job($1, $2)", &[&job_id, &attempt])
                .await
        }
        Err(error) => {
            client
                .query_one("select api.fail_job($1, $2, $3)", &[&job_id, &attempt, error])
                .await
        }
    };
    match (recorded.map(|row| row.get::<_, bool>(0)), outcome) {
        (Ok(true), Ok(())) => tracing::info!("job completed"),
        (Ok(true), Err(error)) => tracing::warn!(%error, "job failed"),
        (Ok(false), _) => tracing::warn!("job outcome not recorded: the lease was lost"),
        (Err(e), _) => tracing::error!(error = %e, "could not record the job outcome; its lease will expire"),
    }
}
