//! `deliver_webhook`: POSTs one event to one endpoint, signed per Standard Webhooks,
//! and logs the attempt. SQL decides everything around the request
//! (`api.webhook_delivery_begin`: what to send, or nothing; `api.webhook_delivery_record`:
//! success, retry after a backoff delay, failure, disabling), in the transactions that
//! also complete or fail the job, so the delivery's state and the job's never disagree.
//!
//! At-least-once: a worker that dies after the receiver answered and before the record
//! commits leaves the job to be retried, and the receiver gets the event again with
//! the same `webhook-id` (its deduplication key, as the specification says).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use maef_outbound::{address, signature};
use serde::Deserialize;
use serde_json::Value;

use super::{Completion, JobContext};

/// Payload of a `deliver_webhook` job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverWebhook {
    /// The `shop.webhook_delivery` row.
    pub webhook_delivery_id: i64,
}

/// The longest response excerpt kept in the delivery log.
const EXCERPT_BYTES: usize = 2048;

/// What one HTTP attempt gave.
#[derive(Debug, Default)]
struct Attempt {
    status: Option<i32>,
    error: Option<String>,
    excerpt: Option<String>,
    retry_after_secs: Option<i32>,
}

impl DeliverWebhook {
    /// Runs one attempt.
    ///
    /// # Errors
    /// Database errors (the runner then fails the job with the queue's own backoff).
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        let begin: Value = {
            let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
            client
                .query_one(
                    "select api.webhook_delivery_begin($1, $2, $3)",
                    &[&self.webhook_delivery_id, &ctx.id, &ctx.attempt],
                )
                .await
                .map_err(|e| format!("webhook_delivery_begin: {e}"))?
                .get(0)
        }; // no connection is held during the request
        if begin["action"] != "deliver" {
            tracing::info!(delivery = self.webhook_delivery_id, reason = %begin["reason"], "nothing to deliver");
            return Ok(Completion::InTransaction);
        }
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let attempt = post(ctx, &begin).await;
        let latency_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);

        let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
        let recorded: Value = client
            .query_one(
                "select api.webhook_delivery_record($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &self.webhook_delivery_id,
                    &ctx.id,
                    &ctx.attempt,
                    &started_at,
                    &latency_ms,
                    &attempt.status,
                    &attempt.error,
                    &attempt.excerpt,
                    &attempt.retry_after_secs,
                ],
            )
            .await
            .map_err(|e| format!("webhook_delivery_record: {e}"))?
            .get(0);
        let outcome = recorded["outcome"].as_str().unwrap_or("?");
        tracing::info!(delivery = self.webhook_delivery_id, status = ?attempt.status,
            error = ?attempt.error, latency_ms, outcome, "webhook attempt");
        Ok(if outcome == "retrying" {
            Completion::RetryScheduled
        } else {
            Completion::InTransaction
        })
    }
}

/// Makes the request: address check, signature, POST, the answer's status and the
/// beginning of its body. Never fails: what went wrong is the attempt's error.
async fn post(ctx: &JobContext, begin: &Value) -> Attempt {
    let text = |key: &str| begin[key].as_str().unwrap_or_default().to_string();
    let (url, body, webhook_id) = (text("url"), text("body"), text("webhook_id"));
    let secrets: Vec<String> = serde_json::from_value(begin["secrets"].clone()).unwrap_or_default();
    let timeout = Duration::from_secs(begin["timeout_secs"].as_u64().unwrap_or(10));
    let failed = |error: String| Attempt {
        error: Some(error),
        ..Attempt::default()
    };
    // Literal addresses are checked here; names are resolved (and checked) by the
    // client's resolver at connection time.
    if let Err(refusal) = address::parse(&url, ctx.services.policy) {
        return failed(format!("refused: {refusal}"));
    }
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let signatures = match signature::header(&secrets, &webhook_id, timestamp, body.as_bytes()) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return failed("the endpoint has no valid signing secret".into()),
        Err(e) => return failed(e.to_string()),
    };
    let request = ctx
        .services
        .http
        .post(&url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signatures)
        .body(body);
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return failed(format!("no answer within {} s", timeout.as_secs())),
        Err(e) => return failed(error_chain(&e)),
    };
    let status = i32::from(response.status().as_u16());
    let retry_after_secs = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|s| *s >= 0);
    // Only the beginning of the answer is read: a receiver cannot make us buffer much.
    let mut excerpt = Vec::new();
    let mut read_error = None;
    while excerpt.len() < EXCERPT_BYTES {
        match tokio::time::timeout(timeout, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                excerpt.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - excerpt.len())])
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                read_error = Some(format!("reading the answer: {}", error_chain(&e)));
                break;
            }
            Err(_) => break, // a slow body does not turn a 2xx into a failure
        }
    }
    let mut excerpt = String::from_utf8_lossy(&excerpt).into_owned();
    while excerpt.len() > EXCERPT_BYTES {
        excerpt.pop(); // lossy decoding may have grown it
    }
    Attempt {
        status: Some(status),
        error: read_error.filter(|_| !(200..300).contains(&status)),
        excerpt: Some(excerpt),
        retry_after_secs,
    }
}

/// An error with its causes ("error sending request: …: 127.0.0.1 is not public").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}
