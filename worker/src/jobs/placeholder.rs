//! Scheduled kinds whose real work belongs to other issues. They exist now so their
//! schedules (seeded by migration V2) run, show up in `report.job_stats`, and start
//! doing work the day their handler lands, with no schedule change.

use super::Completion;

/// `pull_instagram_stories`: a no-op until the Instagram stories issue lands (there is
/// no Instagram client or token flow yet).
///
/// # Errors
/// None today.
pub async fn pull_instagram_stories() -> Result<Completion, String> {
    tracing::debug!("pull_instagram_stories: not implemented yet (stories issue)");
    Ok(Completion::Batched)
}
