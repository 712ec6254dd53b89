//! Job kinds: one variant per kind, one module per kind (mini-redis's `Command`).
//!
//! Adding a kind means a variant here, its module, its name in [`KINDS`] and a row in
//! `shop.job_kind` (timeout) by migration.

pub mod deliver_webhook;
pub mod maintenance;
pub mod media;
pub mod noop;
pub mod payments;
pub mod reservations;
pub mod send_email;
pub mod stories;
pub mod write_audit;

use deadpool_postgres::Pool;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::outbound::Services;

/// The kinds this worker has handlers for (it claims every kind: an unknown one fails
/// with a clear error and retries with backoff, for a worker that knows it).
pub const KINDS: &[&str] = &[
    "noop",
    "write_audit",
    "pull_instagram_stories",
    "expire_stock_reservations",
    "refresh_materialized_views",
    "prune_jobs",
    "prune_idempotency_keys",
    "make_derivatives",
    "prune_orphan_media",
    "send_email",
    "deliver_webhook",
    "prune_events",
    "prune_emails",
    "renew_instagram_tokens",
    "prune_stories",
    "apply_retention",
    "verify_payment",
    "reconcile_payments",
];

/// A job to run, parsed from its kind and payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Does nothing (or sleeps, fails, panics on request); proves the queue end to end.
    Noop(noop::Noop),
    /// Writes an audit row in the transaction that completes the job (exactly once).
    WriteAudit(write_audit::WriteAudit),
    /// Pulls one account's Instagram stories, or enqueues a pull per account.
    PullInstagramStories(stories::PullInstagramStories),
    /// Expires unpaid orders past their reservation time (stock and coupon uses back).
    ExpireStockReservations,
    /// Refreshes the materialized views of schemas shop and report.
    RefreshMaterializedViews,
    /// Deletes finished jobs and attempts older than a retention period.
    PruneJobs(maintenance::PruneJobs),
    /// Deletes expired idempotency keys.
    PruneIdempotencyKeys,
    /// Makes an image's thumb, medium and webp derivatives.
    MakeDerivatives(media::MakeDerivatives),
    /// Deletes media assets nothing links to any more.
    PruneOrphanMedia(media::PruneOrphanMedia),
    /// Sends one e-mail over SMTP (or to the log), once.
    SendEmail(send_email::SendEmail),
    /// POSTs one event to one webhook endpoint and logs the attempt.
    DeliverWebhook(deliver_webhook::DeliverWebhook),
    /// Deletes events older than their retention, with their webhook deliveries.
    PruneEvents,
    /// Deletes e-mail records older than their retention.
    PruneEmails,
    /// Renews Instagram tokens that expire soon, where Meta allows it.
    RenewInstagramTokens,
    /// Deletes unlinked stories past their retention, with their media.
    PruneStories,
    /// The data-lifecycle policies: funnel days recorded, abandoned carts, old audit rows
    /// and search logs deleted, guest orders past the accounting period anonymised.
    ApplyRetention,
    /// Re-fetches one payment from its provider and applies the answer.
    VerifyPayment(payments::VerifyPayment),
    /// Enqueues the verification of payments pending too long.
    ReconcilePayments,
}

/// How a job that ran successfully is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The runner completes it, batched with others, in the statement that claims the
    /// next batch (`api.complete_and_claim_jobs`).
    Batched,
    /// The handler completed it itself, in the transaction holding its effects.
    InTransaction,
    /// The attempt failed and the handler recorded that itself, with its own retry
    /// delay, in the transaction holding its effects (a webhook's backoff schedule, an
    /// e-mail waiting for another attempt's send lease).
    RetryScheduled,
}

/// What a handler knows about the job it runs and how it reaches the database.
#[derive(Clone)]
pub struct JobContext {
    /// Connections for the handler's own SQL.
    pub pool: Pool,
    /// The job's id.
    pub id: i64,
    /// The attempt being run (fencing token).
    pub attempt: i32,
    /// The HTTP client and mail transport.
    pub services: Services,
}

impl JobContext {
    /// Completes the job inside the handler's transaction, so its effects commit if and
    /// only if this attempt still holds the job: exactly-once effects under crashes and
    /// lease takeovers.
    ///
    /// # Errors
    /// The lease was lost (another worker owns the job now): roll back.
    pub async fn complete_in(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), String> {
        let held: bool = tx
            .query_one("select api.complete_job($1, $2)", &[&self.id, &self.attempt])
            .await
            .map_err(|e| format!("completing job: {e}"))?
            .get(0);
        if held {
            Ok(())
        } else {
            Err("lease lost before completion: effects rolled back".into())
        }
    }
}

fn payload<T: DeserializeOwned>(kind: &str, payload: Value) -> Result<T, String> {
    serde_json::from_value(payload).map_err(|e| format!("{kind} payload: {e}"))
}

impl Job {
    /// Parses a claimed job.
    ///
    /// # Errors
    /// An unknown kind or a payload of the wrong shape (the job fails with this text).
    pub fn parse(kind: &str, value: Value) -> Result<Self, String> {
        Ok(match kind {
            "noop" => Job::Noop(payload(kind, value)?),
            "write_audit" => Job::WriteAudit(payload(kind, value)?),
            "pull_instagram_stories" => Job::PullInstagramStories(payload(kind, value)?),
            "expire_stock_reservations" => Job::ExpireStockReservations,
            "refresh_materialized_views" => Job::RefreshMaterializedViews,
            "prune_jobs" => Job::PruneJobs(payload(kind, value)?),
            "prune_idempotency_keys" => Job::PruneIdempotencyKeys,
            "make_derivatives" => Job::MakeDerivatives(payload(kind, value)?),
            "prune_orphan_media" => Job::PruneOrphanMedia(payload(kind, value)?),
            "send_email" => Job::SendEmail(payload(kind, value)?),
            "deliver_webhook" => Job::DeliverWebhook(payload(kind, value)?),
            "prune_events" => Job::PruneEvents,
            "prune_emails" => Job::PruneEmails,
            "renew_instagram_tokens" => Job::RenewInstagramTokens,
            "prune_stories" => Job::PruneStories,
            "apply_retention" => Job::ApplyRetention,
            "verify_payment" => Job::VerifyPayment(payload(kind, value)?),
            "reconcile_payments" => Job::ReconcilePayments,
            other => return Err(format!("unknown job kind '{other}': no handler in this worker")),
        })
    }

    /// Runs the job.
    ///
    /// # Errors
    /// The job's failure, recorded in `job_attempt.error`.
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        match self {
            Job::Noop(job) => job.run().await,
            Job::WriteAudit(job) => job.run(ctx).await,
            Job::PullInstagramStories(job) => job.run(ctx).await,
            Job::ExpireStockReservations => reservations::expire_stock_reservations(ctx).await,
            Job::RefreshMaterializedViews => maintenance::refresh_materialized_views(ctx).await,
            Job::PruneJobs(job) => job.run(ctx).await,
            Job::PruneIdempotencyKeys => maintenance::prune_idempotency_keys(ctx).await,
            Job::MakeDerivatives(job) => job.run(ctx).await,
            Job::PruneOrphanMedia(job) => job.run(ctx).await,
            Job::SendEmail(job) => job.run(ctx).await,
            Job::DeliverWebhook(job) => job.run(ctx).await,
            Job::PruneEvents => maintenance::prune_events(ctx).await,
            Job::PruneEmails => maintenance::prune_emails(ctx).await,
            Job::RenewInstagramTokens => stories::upkeep::renew_tokens(ctx).await,
            Job::PruneStories => stories::upkeep::prune_stories(ctx).await,
            Job::ApplyRetention => maintenance::apply_retention(ctx).await,
            Job::VerifyPayment(job) => job.run(ctx).await,
            Job::ReconcilePayments => payments::reconcile_payments(ctx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_and_bad_payloads_are_refused() {
        assert!(Job::parse("noop", serde_json::json!({})).is_ok());
        assert!(Job::parse("launch_rocket", serde_json::json!({}))
            .unwrap_err()
            .contains("unknown job kind"));
        assert!(Job::parse("noop", serde_json::json!({"fail": "yes"})).is_err());
        assert!(Job::parse("write_audit", serde_json::json!({})).is_err());
    }

    #[test]
    fn every_listed_kind_parses_with_its_default_payload() {
        for kind in KINDS {
            let payload = match *kind {
                "write_audit" => serde_json::json!({"action": "a", "entity": "e"}),
                "make_derivatives" => serde_json::json!({"asset_id": "00000000-0000-0000-0000-000000000000"}),
                "send_email" => serde_json::json!({"email_message_id": 1}),
                "deliver_webhook" => serde_json::json!({"webhook_delivery_id": 1}),
                "verify_payment" => serde_json::json!({"payment_id": "00000000-0000-0000-0000-000000000000"}),
                _ => serde_json::json!({}),
            };
            assert!(Job::parse(kind, payload).is_ok(), "{kind}");
        }
    }
}
