//! The queue's SQL API as typed calls. Every rule (leases, fencing, backoff) is in
//! `sql/jobs.sql`; this module only names parameters and reads rows.

use std::time::{Duration, SystemTime};

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

/// Where the next claim starts in the ready index: the last job of the previous claim in
/// claim order (priority desc, run_at, id). See `api.complete_and_claim_jobs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The job's priority.
    pub priority: i16,
    /// The job's run_at.
    pub run_at: SystemTime,
    /// The job's id.
    pub id: i64,
}

impl Cursor {
    /// The last of `cursors` in claim order: lowest priority, then latest run_at, then
    /// highest id.
    pub fn last(cursors: impl IntoIterator<Item = Cursor>) -> Option<Cursor> {
        cursors
            .into_iter()
            .max_by_key(|c| (std::cmp::Reverse(c.priority), c.run_at, c.id))
    }
}

/// SQL of the worker's one round trip per batch, prepared once per session: completes
/// the finished jobs ($1 ids, $2 attempts), then claims up to $5 jobs, starting after
/// the cursor ($8 priority, $9 run_at, $10 id; nulls: from the ready index's start).
pub const COMPLETE_AND_CLAIM_SQL: &str = "select job_id, kind, payload, attempt, \
     extract(epoch from timeout)::float8, done_count, priority, run_at \
     from api.complete_and_claim_jobs($1, $2, $3, $4, $5, make_interval(secs => $6), $7, $8, $9, $10)";

/// What one [`COMPLETE_AND_CLAIM_SQL`] round trip returned.
#[derive(Debug)]
pub struct Claimed {
    /// The claimed jobs.
    pub jobs: Vec<ClaimedJob>,
    /// How many of the finished jobs were completed (the others had lost their lease).
    pub done: usize,
    /// The last claimed job, in claim order: where the next claim may start.
    pub cursor: Option<Cursor>,
}

/// Reads the rows of [`COMPLETE_AND_CLAIM_SQL`].
pub fn claimed(rows: Vec<tokio_postgres::Row>) -> Claimed {
    let done = rows.first().map_or(0, |row| row.get::<_, i32>(5).max(0) as usize);
    let mut cursors = Vec::with_capacity(rows.len());
    let jobs = rows
        .into_iter()
        .filter_map(|row| {
            // With nothing claimed, one row of nulls carries done_count.
            let id: Option<i64> = row.get(0);
            let id = id?;
            cursors.push(Cursor {
                priority: row.get(6),
                run_at: row.get(7),
                id,
            });
            Some(ClaimedJob {
                id,
                kind: row.get(1),
                payload: row.get(2),
                attempt: row.get(3),
                timeout: Duration::from_secs_f64(row.get::<_, f64>(4).max(0.001)),
            })
        })
        .collect();
    Claimed {
        jobs,
        done,
        cursor: Cursor::last(cursors),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_is_the_last_job_in_claim_order() {
        let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let c = |priority, secs, id| Cursor {
            priority,
            run_at: at(secs),
            id,
        };
        // Lower priority comes later; then later run_at; then higher id.
        assert_eq!(
            Cursor::last([c(5, 90, 9), c(0, 10, 1), c(0, 20, 2), c(0, 20, 3), c(5, 99, 4)]),
            Some(c(0, 20, 3))
        );
        assert_eq!(Cursor::last([]), None);
    }
}
