//! `write_audit`: writes one `shop.audit_log` row off the request path. Its effect and
//! its completion commit in one transaction, fenced by the attempt number, so the row
//! is written exactly once even when a worker dies or loses its lease mid-job.

use std::time::Duration;

use serde::Deserialize;

use super::{Completion, JobContext};

/// Payload of a `write_audit` job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteAudit {
    /// `audit_log.action`.
    pub action: String,
    /// `audit_log.entity`.
    pub entity: String,
    /// `audit_log.entity_id`.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// `audit_log.data`.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// Waits this long before writing (tests: a worker killed mid-job).
    #[serde(default)]
    pub delay_ms: u64,
}

impl WriteAudit {
    /// Completes the job and writes the row in one statement (so one transaction and
    /// one round trip): the row is inserted only if this attempt still held the job.
    ///
    /// # Errors
    /// Database errors, or the lease lost (nothing is written then).
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        if self.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
        }
        let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
        let statement = client
            .prepare_cached(
                "with held as (select api.complete_job($1, $2) as ok)
                 insert into shop.audit_log (action, entity, entity_id, data)
                 select $3, $4, $5, $6 from held where ok",
            )
            .await
            .map_err(|e| format!("preparing: {e}"))?;
        let written = client
            .execute(
                &statement,
                &[
                    &ctx.id,
                    &ctx.attempt,
                    &self.action,
                    &self.entity,
                    &self.entity_id,
                    &self.data.unwrap_or_else(|| serde_json::json!({})),
                ],
            )
            .await
            .map_err(|e| format!("writing the audit row: {e}"))?;
        if written == 1 {
            Ok(Completion::InTransaction)
        } else {
            Err("lease lost before completion: nothing written".into())
        }
    }
}
