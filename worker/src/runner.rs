//! The worker's loops.
//!
//! - **pump** (one dedicated session, which also LISTENs): one statement per batch,
//!   `api.complete_and_claim_jobs`, acknowledges the jobs that finished since the last
//!   one and claims as many jobs as that frees slots for, in one transaction and one
//!   round trip. While claims come back full it goes again at once (the queue is busy;
//!   it first gives the jobs it just started a moment to finish, so batches stay large);
//!   an empty claim waits for a notification, a finished job or the poll interval.
//!   Each poll it also enqueues due schedules (race-free in SQL, so every worker may).
//! - **job tasks**: one per claimed job, holding a slot; the handler runs under the
//!   kind's timeout with panics caught, so a bad job fails, never the worker. A
//!   successful job hands its slot to the pump, which frees it once its completion
//!   commits (back-pressure: unacknowledged work never outgrows the slots).
//! - **heartbeat**: every third of the lease, extends the leases of running jobs and
//!   abandons the ones the database says are no longer ours (expired, cancelled).
//!
//! With `WORKER_ONCE`, the pump also starts that shutdown itself once a claim comes
//! back empty while none of this process's jobs runs or awaits acknowledgement.
//!
//! Shutdown: stop claiming (the pump goes on acknowledging), wait up to the grace
//! period for running jobs, release the rest (pending again, no failed attempt
//! counted), then the pump flushes the last acknowledgements and stops.

use std::{
    collections::HashMap,
    future::Future,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use deadpool_postgres::Pool;
use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::{
    config::WorkerConfig,
    db, dispatch,
    jobs::{self, Completion, Job, JobContext},
    outbound::Services,
    queue::{self, ClaimedJob},
    CHANNEL,
};

/// Largest acknowledgement batch: bounds one statement's size.
const MAX_ACK_BATCH: usize = 1_000;

/// While the queue is busy, how long the pump lets the jobs it just started finish
/// before its next round trip, so each statement acknowledges and claims a large batch
/// instead of one job at a time. Bounded by the first job to finish, so it adds at most
/// this much to a busy queue's latency and nothing to an idle one's.
const BATCH_WINDOW: Duration = Duration::from_millis(2);

/// A finished job waiting for its batched acknowledgement, holding its slot.
type Ack = (i64, i32, OwnedSemaphorePermit);

/// What the pump does: claim and acknowledge, only acknowledge (stopping, waiting for
/// running jobs), or acknowledge what is left and stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Run,
    Drain,
    Finish,
}

/// Finished jobs not yet acknowledged, kept across sessions: a lost session's batch is
/// sent again by the next (completing twice is harmless: the second is ignored).
#[derive(Default)]
struct Pending {
    jobs: Vec<(i64, i32)>,
    slots: Vec<OwnedSemaphorePermit>,
}

impl Pending {
    fn push(&mut self, (id, attempt, slot): Ack) {
        self.jobs.push((id, attempt));
        self.slots.push(slot);
    }

    /// Takes every acknowledgement already queued, up to the batch limit.
    fn gather(&mut self, acks: &mut mpsc::UnboundedReceiver<Ack>) {
        while self.jobs.len() < MAX_ACK_BATCH {
            match acks.try_recv() {
                Ok(ack) => self.push(ack),
                Err(_) => break,
            }
        }
    }
}

/// A job being run by this process.
struct Running {
    attempt: i32,
    /// Tells the job task to stop waiting for its handler (lease lost, or shutdown).
    abandon: Option<oneshot::Sender<()>>,
}

/// State shared by the loops.
struct Shared {
    config: WorkerConfig,
    pool: Pool,
    slots: Arc<Semaphore>,
    running: Mutex<HashMap<i64, Running>>,
    /// Finished jobs to acknowledge, each with its slot: the slot is freed only once
    /// the acknowledgement commits, so unacknowledged work never outgrows the slots
    /// (without this back-pressure, claims outrun acknowledgements and leases expire).
    acks: mpsc::UnboundedSender<Ack>,
    /// `WORKER_ONCE`: told by the pump when the queue had nothing left for this worker.
    drained: Notify,
    /// Handlers' HTTP client and mail transport.
    services: Services,
}

/// Runs the worker until `shutdown` resolves, then stops gracefully (see the module
/// documentation). A lost database session is re-opened with backoff.
///
/// # Errors
/// A configuration the connection pool refuses.
pub async fn run(config: WorkerConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let pool = db::pool(&config)?;
    let services = Services::new(&config)?;
    let dispatcher = config
        .dispatch_events
        .then(|| tokio::spawn(dispatch::dispatch_forever(config.clone())));
    jobs::stories::configure(&config).map_err(anyhow::Error::msg)?;
    crate::metrics::install(&config)?;
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(config.concurrency)),
        config,
        pool,
        running: Mutex::new(HashMap::new()),
        acks: ack_tx,
        drained: Notify::new(),
        services,
    });
    let heartbeat = tokio::spawn(heartbeat(shared.clone()));
    let (phase_tx, phase_rx) = watch::channel(Phase::Run);
    let pump = tokio::spawn(pump_forever(shared.clone(), ack_rx, phase_rx));
    tokio::select! {
        () = shutdown => {}
        () = shared.drained.notified(), if shared.config.once => {
            tracing::info!("queue drained (WORKER_ONCE)");
        }
    }
    let _ = phase_tx.send(Phase::Drain);
    if let Some(dispatcher) = dispatcher {
        dispatcher.abort(); // a half-done dispatch rolls back: its events are dispatched later
    }

    let concurrency = shared.config.concurrency as u32;
    tracing::info!("worker stopping: no more claims; waiting for running jobs");
    let drained = tokio::time::timeout(
        shared.config.shutdown_grace,
        shared.slots.acquire_many(concurrency),
    )
    .await;
    if drained.is_err() {
        release_running(&shared).await;
    }
    heartbeat.abort();
    let _ = phase_tx.send(Phase::Finish);
    let _ = tokio::time::timeout(Duration::from_secs(10), pump).await;
    tracing::info!("worker stopped");
    Ok(())
}

/// After the grace period: abandon the jobs still running and give them back.
async fn release_running(shared: &Shared) {
    let held: Vec<(i64, i32)> = {
        let mut running = shared.running.lock().unwrap();
        running
            .iter_mut()
            .map(|(id, job)| {
                if let Some(abandon) = job.abandon.take() {
                    let _ = abandon.send(());
                }
                (*id, job.attempt)
            })
            .collect()
    };
    tracing::warn!(jobs = held.len(), "grace period over: releasing running jobs");
    let concurrency = shared.config.concurrency as u32;
    let _ = tokio::time::timeout(Duration::from_secs(2), shared.slots.acquire_many(concurrency)).await;
    match shared.pool.get().await {
        Ok(client) => match queue::release(&**client, &shared.config.worker_id, &held).await {
            Ok(n) => tracing::info!(released = n, "jobs released"),
            Err(e) => tracing::error!(error = %e, "release failed; the jobs' leases will expire"),
        },
        Err(e) => tracing::error!(error = %e, "release failed; the jobs' leases will expire"),
    }
}

/// Opens pump sessions until finished, with backoff between failed sessions.
async fn pump_forever(
    shared: Arc<Shared>,
    mut acks: mpsc::UnboundedReceiver<Ack>,
    mut phase: watch::Receiver<Phase>,
) {
    let mut pending = Pending::default();
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        match pump_session(&shared, &mut acks, &mut pending, &mut phase).await {
            Ok(()) => break,
            Err(err) => {
                if started.elapsed() > Duration::from_secs(5) {
                    backoff = Duration::from_millis(100);
                }
                tracing::warn!(error = %err, retry_in = ?backoff, "worker lost its database session");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// One pump session: LISTEN, then acknowledge finished jobs and claim new ones, one
/// round trip per batch, until finished or the connection fails.
async fn pump_session(
    shared: &Arc<Shared>,
    acks: &mut mpsc::UnboundedReceiver<Ack>,
    pending: &mut Pending,
    phase: &mut watch::Receiver<Phase>,
) -> anyhow::Result<()> {
    let config = &shared.config;
    let (client, mut connection) = db::pg_config(config)?.connect(NoTls).await?;
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel::<()>();
    let (closed_tx, mut closed_rx) = oneshot::channel::<String>();
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
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    tracing::info!(worker = %config.worker_id, kinds = ?jobs::KINDS, "worker listening");

    // Every kind: one without a handler here fails with a clear error and retries with
    // backoff, so a worker that knows it (a newer deploy) runs it later.
    let kinds: Option<Vec<String>> = None;
    let lease_secs = config.lease.as_secs_f64();
    let statement = client.prepare(queue::COMPLETE_AND_CLAIM_SQL).await?;
    let mut schedules_due = Instant::now();
    // Where the next claim starts in the ready index (after a full claim: the queue is
    // busy), so claims do not step over the dead entries of every job claimed since the
    // last vacuum. Dropped at every poll interval, and after a short claim (which went
    // on from the index's start anyway): a job that became ready behind the cursor
    // waits at most one poll interval. See `api.complete_and_claim_jobs`.
    let mut cursor: Option<queue::Cursor> = None;
    // Whether a claim is worth a round trip of its own: after a full claim, a
    // notification or a poll (a round trip made for acknowledgements claims anyway).
    let mut look = true;
    loop {
        let now = *phase.borrow();
        pending.gather(acks);
        if now == Phase::Finish && pending.jobs.is_empty() {
            return Ok(());
        }
        let claiming = now == Phase::Run;
        if claiming && Instant::now() >= schedules_due {
            crate::metrics::schedule_runs(queue::enqueue_due_schedules(&client).await?);
            schedules_due = Instant::now() + config.poll_interval;
            look = true;
            cursor = None;
        }
        // The slots of the jobs acknowledged now are free once the statement commits.
        let free = if claiming {
            shared.slots.available_permits() + pending.jobs.len()
        } else {
            0
        };
        let mut full = false;
        if !pending.jobs.is_empty() || (look && free > 0) {
            let ids: Vec<i64> = pending.jobs.iter().map(|j| j.0).collect();
            let attempts: Vec<i32> = pending.jobs.iter().map(|j| j.1).collect();
            // A round trip made for acknowledgements claims too: jobs enqueued since the
            // last claim start now rather than at the next notification.
            let limit = free as i32;
            let rows = client
                .query(
                    &statement,
                    &[
                        &ids,
                        &attempts,
                        &config.worker_id,
                        &kinds,
                        &limit,
                        &lease_secs,
                        &config.queues,
                        &cursor.map(|c| c.priority),
                        &cursor.map(|c| c.run_at),
                        &cursor.map(|c| c.id),
                    ],
                )
                .await?;
            let queue::Claimed {
                jobs: claimed,
                done,
                cursor: last,
            } = queue::claimed(rows);
            crate::metrics::claimed(claimed.iter().map(|job| job.kind.as_str()));
            if done < pending.jobs.len() {
                tracing::warn!(
                    stale = pending.jobs.len() - done,
                    "some completions refused: leases lost"
                );
            }
            pending.jobs.clear();
            pending.slots.clear(); // committed: these slots take the claimed jobs
            full = limit > 0 && claimed.len() == limit as usize;
            look = full;
            // A round trip that claimed nothing by design (no free slot) keeps it.
            if limit > 0 {
                cursor = if full { last } else { None };
            }
            // Nothing claimed, nothing running, nothing left to acknowledge (the
            // batch just committed): a WORKER_ONCE worker is done.
            if config.once
                && claiming
                && claimed.is_empty()
                && shared.slots.available_permits() == config.concurrency
            {
                shared.drained.notify_one();
            }
            for job in claimed {
                // Only this loop takes permits, and it claimed no more than were free.
                let permit = shared.slots.clone().try_acquire_owned()?;
                start(shared, job, permit);
            }
        }
        if full {
            // Busy queue: claim again at once, with the acknowledgements of the jobs
            // that finish within the batch window (all of them, for short jobs).
            let window = tokio::time::sleep(BATCH_WINDOW);
            tokio::pin!(window);
            while pending.jobs.len() + shared.slots.available_permits() < config.concurrency {
                tokio::select! {
                    ack = acks.recv() => match ack {
                        Some(ack) => pending.push(ack),
                        None => break,
                    },
                    () = &mut window => break,
                }
            }
            continue;
        }
        tokio::select! {
            reason = &mut closed_rx => anyhow::bail!("database connection closed: {}", reason.unwrap_or_default()),
            changed = phase.changed() => if changed.is_err() { return Ok(()) },
            ack = acks.recv() => if let Some(ack) = ack { pending.push(ack) },
            _ = wake_rx.recv() => { while wake_rx.try_recv().is_ok() {} look = true; }
            _ = shared.slots.acquire(), if claiming && free == 0 => { look = true; }
            () = tokio::time::sleep(config.poll_interval) => { look = true; }
        }
    }
}

/// Registers a claimed job as running and spawns its task.
fn start(shared: &Arc<Shared>, job: ClaimedJob, permit: OwnedSemaphorePermit) {
    let (abandon_tx, abandon_rx) = oneshot::channel();
    shared.running.lock().unwrap().insert(
        job.id,
        Running {
            attempt: job.attempt,
            abandon: Some(abandon_tx),
        },
    );
    tokio::spawn(execute(shared.clone(), job, abandon_rx, permit));
}

/// What became of one attempt.
enum Outcome {
    Done(Completion),
    Failed(String),
    Abandoned,
}

/// Runs one job and reports its outcome with its attempt number (the fencing token: a
/// stale attempt is refused by SQL and only logged here).
async fn execute(
    shared: Arc<Shared>,
    job: ClaimedJob,
    abandon: oneshot::Receiver<()>,
    permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let ctx = JobContext {
        pool: shared.pool.clone(),
        id: job.id,
        attempt: job.attempt,
        services: shared.services.clone(),
    };
    let work = async {
        match Job::parse(&job.kind, job.payload.clone()) {
            Ok(parsed) => parsed.run(&ctx).await,
            Err(e) => Err(e),
        }
    };
    let span = job_span(&job);
    let work = tracing::Instrument::instrument(work, span.clone());
    let outcome = tokio::select! {
        // A handler that finished wins over a late abandon signal.
        biased;
        result = tokio::time::timeout(job.timeout, AssertUnwindSafe(work).catch_unwind()) => match result {
            Err(_) => Outcome::Failed(format!("timed out after {:?}", job.timeout)),
            Ok(Err(panic)) => Outcome::Failed(format!("handler panicked: {}", panic_message(&*panic))),
            Ok(Ok(Err(error))) => Outcome::Failed(error),
            Ok(Ok(Ok(completion))) => Outcome::Done(completion),
        },
        _ = abandon => Outcome::Abandoned,
    };
    shared.running.lock().unwrap().remove(&job.id);
    let duration_ms = started.elapsed().as_secs_f64() * 1e3;
    let (id, kind, attempt) = (job.id, job.kind.as_str(), job.attempt);
    let ending = match outcome {
        Outcome::Done(_) => crate::metrics::Ending::Completed,
        Outcome::Failed(_) => crate::metrics::Ending::Failed,
        Outcome::Abandoned => crate::metrics::Ending::Abandoned,
    };
    crate::metrics::finished(kind, ending, duration_ms / 1e3);
    if !matches!(
        outcome,
        Outcome::Done(Completion::Batched | Completion::InTransaction)
    ) {
        maef_telemetry::mark_error(&span);
    }
    drop(span);
    match outcome {
        Outcome::Done(Completion::Batched) => {
            tracing::info!(job_id = id, kind, attempt, duration_ms, "job done");
            let _ = shared.acks.send((id, attempt, permit));
            return;
        }
        Outcome::Done(Completion::InTransaction) => {
            tracing::info!(job_id = id, kind, attempt, duration_ms, "job done and completed");
        }
        Outcome::Done(Completion::RetryScheduled) => {
            tracing::info!(
                job_id = id,
                kind,
                attempt,
                duration_ms,
                "job failed; its handler scheduled the retry"
            );
        }
        Outcome::Abandoned => {
            tracing::warn!(
                job_id = id,
                kind,
                attempt,
                duration_ms,
                "job abandoned (lease lost or shutdown)"
            );
        }
        Outcome::Failed(error) => {
            let recorded = match shared.pool.get().await {
                Ok(client) => queue::fail_job(&**client, id, attempt, &error)
                    .await
                    .map_err(|e| describe(&e)),
                Err(e) => Err(e.to_string()),
            };
            match recorded {
                Ok(true) => tracing::warn!(job_id = id, kind, attempt, duration_ms, %error, "job failed"),
                Ok(false) => {
                    tracing::warn!(job_id = id, kind, attempt, %error, "job failed after losing its lease")
                }
                Err(e) => tracing::error!(job_id = id, kind, attempt, %error, db_error = %e,
                    "could not record the failure; the lease will expire"),
            }
        }
    }
    drop(permit);
}

/// The span of one job run when traces are exported (none otherwise: the job's log
/// lines stay as they were). Its kind, id and attempt, never its payload.
fn job_span(job: &ClaimedJob) -> tracing::Span {
    if !maef_telemetry::traces_enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "job.run",
        otel.name = format!("job {}", job.kind),
        job.kind = %job.kind,
        job.id = job.id,
        job.attempt = job.attempt,
    )
}

/// A database error with its SQLSTATE and message (`Display` says only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Extends the leases of running jobs every third of the lease; abandons the jobs the
/// database no longer lets us hold.
async fn heartbeat(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.config.lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let held: Vec<(i64, i32)> = {
            let running = shared.running.lock().unwrap();
            running.iter().map(|(id, job)| (*id, job.attempt)).collect()
        };
        if held.is_empty() {
            continue;
        }
        let result = match shared.pool.get().await {
            Ok(client) => queue::heartbeat(&**client, &shared.config.worker_id, &held, shared.config.lease)
                .await
                .map_err(|e| describe(&e)),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(still_held) => {
                let mut running = shared.running.lock().unwrap();
                for (id, _) in held.iter().filter(|(id, _)| !still_held.contains(id)) {
                    if let Some(abandon) = running.get_mut(id).and_then(|job| job.abandon.take()) {
                        tracing::warn!(
                            job_id = id,
                            "lease lost (expired or cancelled): abandoning the job"
                        );
                        let _ = abandon.send(());
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
        }
    }
}
