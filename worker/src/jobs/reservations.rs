//! `expire_stock_reservations` (scheduled every minute by migration V2): unpaid orders
//! whose reservation time has passed are expired — stock released, coupon use given
//! back, status `expired` — by `api.expire_next_order()`, one order per transaction, so
//! one order's trouble never holds back the others and locks are held briefly. An order
//! being paid at that moment is skipped (its row is locked): it ends paid or expired,
//! never both.

use super::{Completion, JobContext};

/// Orders expired per run at most; the next run (a minute later) takes the rest, so one
/// run stays well inside the kind's timeout.
const MAX_PER_RUN: usize = 5_000;

/// Expires every due order, one transaction each.
///
/// # Errors
/// A database error (the job is retried; orders already expired stay expired).
pub async fn expire_stock_reservations(ctx: &JobContext) -> Result<Completion, String> {
    let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
    let statement = client
        .prepare_cached("select api.expire_next_order()")
        .await
        .map_err(|e| format!("preparing: {e}"))?;
    let mut expired = 0;
    while expired < MAX_PER_RUN {
        // Autocommit: each call is its own transaction.
        let number: Option<String> = client
            .query_one(&statement, &[])
            .await
            .map_err(|e| format!("expire_next_order: {e}"))?
            .get(0);
        let Some(number) = number else { break };
        tracing::info!(order = %number, "unpaid order expired, its stock released");
        expired += 1;
    }
    if expired > 0 {
        tracing::info!(expired, "expire_stock_reservations done");
    }
    Ok(Completion::Batched)
}
