//! Payments the worker checks with their providers:
//!
//! - `verify_payment` `{payment_id}`: re-fetches one payment (FedaPay `GET
//!   /v1/transactions/{id}`, Paystack `GET /transaction/verify/{reference}`, Stripe `GET
//!   /v1/payment_intents/{id}`) and applies what the provider says with
//!   `api.payment_verified`, in the transaction that completes the job: for FedaPay and
//!   Paystack this — not their webhook — is what marks an order paid, as both advise.
//!   A provider that does not answer fails the attempt, retried with backoff.
//! - `reconcile_payments` (every 5 minutes, migration V28): enqueues `verify_payment` for
//!   payments pending longer than `payments.reconcile_after_secs`, which catches lost
//!   webhooks.

use maef_payments::Provider;
use serde::Deserialize;

use super::{Completion, JobContext};

/// Payload of `verify_payment`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerifyPayment {
    /// The payment to re-fetch.
    pub payment_id: uuid::Uuid,
}

impl VerifyPayment {
    /// Re-fetches the payment and applies the answer.
    ///
    /// # Errors
    /// The provider did not answer (or is not configured here), or the database failed:
    /// the attempt fails and is retried.
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        let mut client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
        let payment: Option<serde_json::Value> = client
            .query_one("select api.payment_to_verify($1)", &[&self.payment_id])
            .await
            .map_err(|e| format!("payment_to_verify: {e}"))?
            .get(0);
        // Unknown, cash on delivery, or not yet created at its provider: nothing to ask.
        let Some(payment) = payment else {
            return Ok(Completion::Batched);
        };
        let name = payment["provider"].as_str().unwrap_or_default();
        let provider = Provider::parse(name).ok_or_else(|| format!("unknown provider {name}"))?;
        let reference = payment["provider_ref"].as_str().unwrap_or_default();
        let observed = maef_payments::retrieve_payment(&ctx.services.payments, provider, reference)
            .await
            .map_err(|e| e.to_string())?;
        let observed = serde_json::to_value(&observed).map_err(|e| e.to_string())?;
        let tx = client.transaction().await.map_err(|e| format!("begin: {e}"))?;
        let outcome: serde_json::Value = tx
            .query_one(
                "select api.payment_verified($1, $2)",
                &[&self.payment_id, &observed],
            )
            .await
            .map_err(|e| format!("payment_verified: {e}"))?
            .get(0);
        ctx.complete_in(&tx).await?;
        tx.commit().await.map_err(|e| format!("commit: {e}"))?;
        tracing::info!(payment = %self.payment_id, provider = name, outcome = %outcome["outcome"], "payment verified");
        Ok(Completion::InTransaction)
    }
}

/// Enqueues the verification of every payment pending too long.
///
/// # Errors
/// A database error (the schedule runs again in 5 minutes anyway).
pub async fn reconcile_payments(ctx: &JobContext) -> Result<Completion, String> {
    let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
    let enqueued: i32 = client
        .query_one("select api.enqueue_payment_reconciliation()", &[])
        .await
        .map_err(|e| format!("enqueue_payment_reconciliation: {e}"))?
        .get(0);
    if enqueued > 0 {
        tracing::info!(enqueued, "payments pending too long sent for verification");
    }
    Ok(Completion::Batched)
}
