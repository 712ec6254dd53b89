//! Housekeeping kinds run by the default schedules: pruning finished jobs and expired
//! idempotency keys, refreshing materialized views. The work is in SQL functions; the
//! handlers call them in short batches so no transaction holds locks for long.

use serde::Deserialize;

use super::{Completion, JobContext};

/// Rows per batch: each call is one short transaction.
const BATCH: i32 = 10_000;

/// Payload of a `prune_jobs` job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneJobs {
    /// Retention as a PostgreSQL interval (default `"7 days"`).
    #[serde(default = "seven_days")]
    pub older_than: String,
}

fn seven_days() -> String {
    "7 days".into()
}

async fn client(ctx: &JobContext) -> Result<deadpool_postgres::Object, String> {
    ctx.pool.get().await.map_err(|e| format!("database: {e}"))
}

impl PruneJobs {
    /// Deletes finished jobs and attempts older than the retention, batch by batch.
    ///
    /// # Errors
    /// A bad interval or a database error.
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        let client = client(ctx).await?;
        let mut total = 0;
        loop {
            let n: i64 = client
                .query_one(
                    "select api.prune_jobs($1::text::interval, $2)",
                    &[&self.older_than, &BATCH],
                )
                .await
                .map_err(|e| format!("prune_jobs: {e}"))?
                .get(0);
            total += n;
            if n < i64::from(BATCH) {
                break;
            }
        }
        tracing::info!(deleted = total, "finished jobs pruned");
        Ok(Completion::Batched)
    }
}

/// Deletes expired idempotency keys, batch by batch, and rate-limit windows older than
/// a day (both are short-lived request-protection data).
///
/// # Errors
/// A database error.
pub async fn prune_idempotency_keys(ctx: &JobContext) -> Result<Completion, String> {
    let client = client(ctx).await?;
    loop {
        let n: i64 = client
            .query_one("select api.prune_expired_idempotency_keys($1)", &[&BATCH])
            .await
            .map_err(|e| format!("prune_idempotency_keys: {e}"))?
            .get(0);
        if n < i64::from(BATCH) {
            break;
        }
    }
    client
        .query_one("select api.prune_rate_limit_counters()", &[])
        .await
        .map_err(|e| format!("prune_rate_limit_counters: {e}"))?;
    Ok(Completion::Batched)
}

/// Refreshes the materialized views of schemas shop and report.
///
/// # Errors
/// A database error.
pub async fn refresh_materialized_views(ctx: &JobContext) -> Result<Completion, String> {
    let n: i32 = client(ctx)
        .await?
        .query_one("select api.refresh_materialized_views()", &[])
        .await
        .map_err(|e| format!("refresh_materialized_views: {e}"))?
        .get(0);
    tracing::debug!(views = n, "materialized views refreshed");
    Ok(Completion::Batched)
}

/// Applies the retention policies (`api.apply_retention`: funnel days recorded, abandoned
/// carts, old audit rows and search logs deleted, guest orders past the accounting period
/// anonymised), batch after batch while a step filled its batch. Each batch is one short
/// transaction; what it did is counted in `shop.retention_run` (`report.retention`).
///
/// # Errors
/// A database error.
pub async fn apply_retention(ctx: &JobContext) -> Result<Completion, String> {
    let client = client(ctx).await?;
    loop {
        let done: serde_json::Value = client
            .query_one("select api.apply_retention($1)", &[&(BATCH / 2)])
            .await
            .map_err(|e| format!("apply_retention: {e}"))?
            .get(0);
        tracing::info!(%done, "retention applied");
        if done["more"] != serde_json::Value::Bool(true) {
            break;
        }
    }
    Ok(Completion::Batched)
}

/// Deletes events older than `events.retention_days` (their webhook deliveries with
/// them), batch by batch.
///
/// # Errors
/// A database error.
pub async fn prune_events(ctx: &JobContext) -> Result<Completion, String> {
    prune(ctx, "select api.prune_events($1)", "events").await
}

/// Deletes e-mail records older than `email.retention_days`, batch by batch.
///
/// # Errors
/// A database error.
pub async fn prune_emails(ctx: &JobContext) -> Result<Completion, String> {
    prune(ctx, "select api.prune_emails($1)", "e-mails").await
}

async fn prune(ctx: &JobContext, sql: &str, what: &str) -> Result<Completion, String> {
    let client = client(ctx).await?;
    let mut total = 0;
    loop {
        let n: i64 = client
            .query_one(sql, &[&BATCH])
            .await
            .map_err(|e| format!("{sql}: {e}"))?
            .get(0);
        total += n;
        if n < i64::from(BATCH) {
            break;
        }
    }
    tracing::info!(deleted = total, "old {what} pruned");
    Ok(Completion::Batched)
}
