//! Scheduled kinds whose real work belongs to other issues. They exist now so their
//! schedules (seeded by migration V2) run, show up in `report.job_stats`, and start
//! doing work the day their handler lands, with no schedule change.
//! (`pull_instagram_stories` has its handler now: [`super::stories`].)

use super::Completion;

/// `expire_stock_reservations`: a no-op until the model has stock reservations (the
/// current model keeps only `inventory.qty_on_hand`).
///
/// # Errors
/// None today.
pub async fn expire_stock_reservations() -> Result<Completion, String> {
    tracing::debug!("expire_stock_reservations: no reservations in the model yet");
    Ok(Completion::Batched)
}
