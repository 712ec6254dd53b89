//! Media kinds: `make_derivatives` (thumb, medium, webp of an uploaded image) and
//! `prune_orphan_media` (assets no product, story or review links any more).

use std::sync::OnceLock;

use maef_media::{DerivativeKind, ProbeError};
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::{Completion, JobContext};

/// Payload of `make_derivatives`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeDerivatives {
    /// The image.
    pub asset_id: uuid::Uuid,
    /// Re-make the derivatives that exist already (default: only the missing ones).
    #[serde(default)]
    pub replace: bool,
}

/// Decoding and resizing are CPU-bound and take tens of megabytes for a large photo:
/// at most one per core at a time, whatever the worker's slot count.
pub(crate) fn cpu_permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    })
}

async fn connect(ctx: &JobContext) -> Result<deadpool_postgres::Object, String> {
    ctx.pool.get().await.map_err(|e| format!("database: {e}"))
}

impl MakeDerivatives {
    /// Makes the missing derivatives (all of them with `replace`) and stores each;
    /// an (asset, kind) stored by an earlier run is kept, so running twice is harmless.
    ///
    /// # Errors
    /// The image cannot be decoded within the limits, or a database error.
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        let client = connect(ctx).await?;
        let Some(row) = client
            .query_opt(
                "select mime_type, data, existing from api.media_derivative_source($1)",
                &[&self.asset_id],
            )
            .await
            .map_err(|e| format!("media_derivative_source: {e}"))?
        else {
            tracing::info!(asset_id = %self.asset_id, "asset deleted before its derivatives were made");
            return Ok(Completion::Batched);
        };
        let mime_type: String = row.get(0);
        if !mime_type.starts_with("image/") {
            return Ok(Completion::Batched);
        }
        let existing: Vec<String> = row.get(2);
        let kinds: Vec<DerivativeKind> = DerivativeKind::ALL
            .into_iter()
            .filter(|k| self.replace || !existing.iter().any(|e| e == k.as_str()))
            .collect();
        if kinds.is_empty() {
            return Ok(Completion::Batched);
        }
        let bytes: Vec<u8> = row.get(1);
        drop(client); // not held during the CPU work

        let _permit = cpu_permits().acquire().await.map_err(|e| e.to_string())?;
        let derived = tokio::task::spawn_blocking(move || {
            maef_media::derive(&bytes, &mime_type, maef_media::probe::Limits::default(), &kinds)
        })
        .await
        .map_err(|e| format!("derivatives panicked: {e}"))?
        .map_err(|e: ProbeError| e.to_string())?;
        drop(_permit);

        let client = connect(ctx).await?;
        let statement = client
            .prepare_cached("select api.save_media_derivative($1, $2, $3, $4, $5, $6, $7)")
            .await
            .map_err(|e| e.to_string())?;
        for d in &derived {
            client
                .query_one(
                    &statement,
                    &[
                        &self.asset_id,
                        &d.kind.as_str(),
                        &d.mime_type,
                        &d.bytes,
                        &(d.width as i32),
                        &(d.height as i32),
                        &self.replace,
                    ],
                )
                .await
                .map_err(|e| format!("save_media_derivative: {e}"))?;
        }
        tracing::info!(asset_id = %self.asset_id, made = derived.len(), "derivatives stored");
        Ok(Completion::Batched)
    }
}

/// Payload of `prune_orphan_media`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PruneOrphanMedia {
    /// Retention as a PostgreSQL interval; default `MEDIA_ORPHAN_DAYS` days (30 when
    /// the variable is not set).
    pub older_than: Option<String>,
}

/// Assets per batch: each batch is one short transaction.
const PRUNE_BATCH: i32 = 500;

fn default_retention() -> Result<String, String> {
    match std::env::var("MEDIA_ORPHAN_DAYS") {
        Err(_) => Ok("30 days".into()),
        Ok(raw) => raw
            .trim()
            .parse::<u32>()
            .map(|days| format!("{days} days"))
            .map_err(|_| format!("MEDIA_ORPHAN_DAYS='{raw}' is not a whole number of days")),
    }
}

impl PruneOrphanMedia {
    /// Deletes unlinked assets older than the retention, batch by batch.
    ///
    /// # Errors
    /// A bad retention or a database error.
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        let older_than = match self.older_than {
            Some(interval) => interval,
            None => default_retention()?,
        };
        let client = connect(ctx).await?;
        let mut total = 0;
        loop {
            let n: i32 = client
                .query_one(
                    "select api.prune_orphan_media($1::text::interval, $2)",
                    &[&older_than, &PRUNE_BATCH],
                )
                .await
                .map_err(|e| format!("prune_orphan_media: {e}"))?
                .get(0);
            total += n;
            if n < PRUNE_BATCH {
                break;
            }
        }
        tracing::info!(deleted = total, %older_than, "orphan media pruned");
        Ok(Completion::Batched)
    }
}
