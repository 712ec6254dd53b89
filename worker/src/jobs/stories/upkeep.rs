//! The daily upkeep of the stories domain.
//!
//! - `renew_instagram_tokens`: tokens expiring within `stories.renew_within_days`.
//!   Page tokens derived from a long-lived user token have no expiry (Meta), so only
//!   user tokens an admin gave come here. Facebook Login documents one server-side
//!   exchange, `fb_exchange_token`, from a valid user token to a long-lived one: it is
//!   tried, and the answer kept when it expires later than the token held. When Meta
//!   gives nothing later (or the app's credentials are not set), an audit row warns the
//!   admins once a day; an expired token makes the account `needs_reauth`; Meta
//!   refusing the token (190) does at once.
//! - `prune_stories`: unlinked stories older than `stories.retention_days`, with their
//!   media, in batches.

use maef_instagram::GraphError;

use super::{db_error, runtime};
use crate::jobs::{Completion, JobContext};

/// Stories per retention batch: one short transaction each.
const PRUNE_BATCH: i32 = 500;

/// `renew_instagram_tokens`.
///
/// # Errors
/// A database error (a Graph error is recorded per account instead).
pub async fn renew_tokens(ctx: &JobContext) -> Result<Completion, String> {
    let rt = runtime()?;
    let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
    let due = client
        .query(
            "select account_id, token_sealed, token_key_id, extract(epoch from expires_at)::float8 \
             from api.instagram_tokens_to_renew()",
            &[],
        )
        .await
        .map_err(|e| db_error("instagram_tokens_to_renew", &e))?;
    let (mut renewed, mut warned) = (0, 0);
    for row in due {
        let account_id: String = row.get(0);
        let sealed: Vec<u8> = row.get(1);
        let key_id: String = row.get(2);
        let expires_at: f64 = row.get(3);
        let outcome = match (&rt.config.app, rt.open(&account_id, &key_id, &sealed)) {
            (_, Err(e)) => Err(e),
            (None, _) => Err(
                "IG_APP_ID, IG_APP_SECRET and IG_REDIRECT_URI are not set: tokens cannot be renewed".into(),
            ),
            (Some(app), Ok(token)) => match rt.graph.long_lived(app, &token).await {
                Ok(answer) => match answer.expires_in {
                    Some(seconds) if now_secs() + seconds as f64 > expires_at + 60.0 => {
                        let key = rt.key()?;
                        let sealed = key.seal(&account_id, &answer.access_token);
                        client
                            .execute(
                                "select api.instagram_token_renewed($1, $2, $3, now() + make_interval(secs => $4))",
                                &[&account_id, &sealed, &key.id(), &(seconds as f64)],
                            )
                            .await
                            .map_err(|e| db_error("instagram_token_renewed", &e))?;
                        renewed += 1;
                        Ok(())
                    }
                    _ => Err(
                        "Meta returned no later expiry: connect the account again before it expires".into(),
                    ),
                },
                Err(e @ GraphError::Api { .. }) if e.is_auth() => {
                    client
                        .execute(
                            "select api.instagram_needs_reauth($1, $2)",
                            &[&account_id, &e.to_string()],
                        )
                        .await
                        .map_err(|e| db_error("instagram_needs_reauth", &e))?;
                    continue;
                }
                Err(e) => Err(e.to_string()),
            },
        };
        if let Err(reason) = outcome {
            warned += 1;
            client
                .execute(
                    "select api.instagram_token_not_renewed($1, $2)",
                    &[&account_id, &reason],
                )
                .await
                .map_err(|e| db_error("instagram_token_not_renewed", &e))?;
        }
    }
    tracing::info!(renewed, warned, "instagram tokens checked");
    Ok(Completion::Batched)
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `prune_stories`.
///
/// # Errors
/// A database error.
pub async fn prune_stories(ctx: &JobContext) -> Result<Completion, String> {
    let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
    let mut total = 0;
    loop {
        let n: i32 = client
            .query_one("select api.prune_stories($1)", &[&PRUNE_BATCH])
            .await
            .map_err(|e| db_error("prune_stories", &e))?
            .get(0);
        total += n;
        if n < PRUNE_BATCH {
            break;
        }
    }
    tracing::info!(deleted = total, "old unlinked stories pruned");
    Ok(Completion::Batched)
}
