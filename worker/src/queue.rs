//! The queue's SQL API as typed calls. Every rule (leases, fencing, backoff) is in
//! `sql/jobs.sql`; this module only names parameters and reads rows.

use std::time::Duration;

use tokio_postgres::GenericClient;

/// A job handed to this worker by `api.claim_jobs`.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// `job_queue.job_id`.
    pub id: i64,
    /// Job kind (dispatches to a handler).
    pub kind: String,
    /// Job payload.
    pub payload: serde_json::Value,
    /// Attempt number: the fencing token every acknowledgement presents.
    pub attempt: i32,
    /// The kind's timeout (`shop.job_kind`).
    pub timeout: Duration,
}

/// SQL of the worker's one round trip per batch, prepared once per session: completes
/// the finished jobs ($1 ids, $2 attempts), then claims up to $5 jobs.
pub const COMPLETE_AND_CLAIM_SQL: &str = "select job_id, kind, payload, attempt, \
     extract(epoch from timeout)::float8, done_count \
     from api.complete_and_claim_jobs($1, $2, $3, $4, $5, make_interval(secs => $6), $7)";

/// Reads the rows of [`COMPLETE_AND_CLAIM_SQL`]: the claimed jobs, and how many of the
/// finished jobs were completed (the others had lost their lease).
pub fn claimed(rows: Vec<tokio_postgres::Row>) -> (Vec<ClaimedJob>, usize) {
    let done = rows.first().map_or(0, |row| row.get::<_, i32>(5).max(0) as usize);
    let jobs = rows
        .into_iter()
        .filter_map(|row| {
            // With nothing claimed, one row of nulls carries done_count.
            let id: Option<i64> = row.get(0);
            Some(ClaimedJob {
                id: id?,
                kind: row.get(1),
                payload: row.get(2),
                attempt: row.get(3),
                timeout: Duration::from_secs_f64(row.get::<_, f64>(4).max(0.001)),
            })
        })
        .collect();
    (jobs, done)
}

/// Completes many jobs in one statement; returns how many were still held (the rest
/// had lost their lease). The runner completes through [`COMPLETE_AND_CLAIM_SQL`]; this
/// is for callers that only acknowledge.
///
/// # Errors
/// Database errors (the caller retries: completing twice is harmless).
pub async fn complete_jobs(
    client: &impl GenericClient,
    jobs: &[(i64, i32)],
) -> Result<usize, tokio_postgres::Error> {
    let ids: Vec<i64> = jobs.iter().map(|j| j.0).collect();
    let attempts: Vec<i32> = jobs.iter().map(|j| j.1).collect();
    let rows = client
        .query("select job_id from api.complete_jobs($1, $2)", &[&ids, &attempts])
        .await?;
    Ok(rows.len())
}

/// Records a failed attempt; false when the attempt was stale.
///
/// # Errors
/// Database errors.
pub async fn fail_job(
    client: &impl GenericClient,
    id: i64,
    attempt: i32,
    error: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("select api.fail_job($1, $2, $3)", &[&id, &attempt, &error])
        .await?
        .get(0))
}

/// Extends the leases of running jobs; returns the ids still held.
///
/// # Errors
/// Database errors.
pub async fn heartbeat(
    client: &impl GenericClient,
    worker: &str,
    jobs: &[(i64, i32)],
    lease: Duration,
) -> Result<Vec<i64>, tokio_postgres::Error> {
    let ids: Vec<i64> = jobs.iter().map(|j| j.0).collect();
    let attempts: Vec<i32> = jobs.iter().map(|j| j.1).collect();
    let rows = client
        .query(
            "select job_id from api.heartbeat_jobs($1, $2, $3, make_interval(secs => $4))",
            &[&worker, &ids, &attempts, &lease.as_secs_f64()],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Gives jobs back without counting a failure; returns how many were released.
///
/// # Errors
/// Database errors.
pub async fn release(
    client: &impl GenericClient,
    worker: &str,
    jobs: &[(i64, i32)],
) -> Result<i32, tokio_postgres::Error> {
    let ids: Vec<i64> = jobs.iter().map(|j| j.0).collect();
    let attempts: Vec<i32> = jobs.iter().map(|j| j.1).collect();
    Ok(client
        .query_one("select api.release_jobs($1, $2, $3)", &[&worker, &ids, &attempts])
        .await?
        .get(0))
}

/// Enqueues due schedules (safe from every worker at once); returns how many.
///
/// # Errors
/// Database errors.
pub async fn enqueue_due_schedules(client: &impl GenericClient) -> Result<i32, tokio_postgres::Error> {
    Ok(client
        .query_one("select api.enqueue_due_schedules()", &[])
        .await?
        .get(0))
}
