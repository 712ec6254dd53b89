//! One account's pull: `GET /{ig-user-id}/stories`, then each `paging.next` until
//! Meta gives none (a short page is not the end), each new story stored in its own
//! transaction (its media, its poster, the story row: all or nothing), so a pull that
//! dies half-way has stored whole stories only, and the next pull skips them.
//!
//! - Usage over 80 % (`X-App-Usage`, `X-Business-Use-Case-Usage`) or a rate-limit
//!   error (4, 17, 32, 613): the pull stops before its next Graph call; the account
//!   waits (`api.instagram_pull_throttled`: Meta's estimate, or a doubling backoff) and
//!   the job is rescheduled for then ([`Completion::RetryScheduled`]).
//! - A refused token (190, 102): the account is marked `needs_reauth` (audited) and the
//!   job fails once with Meta's message; its retry finds the account inactive and
//!   stops without calling Meta: no retry storm.
//! - Any other error envelope fails the job with Meta's words (code, subcode, type,
//!   message, fbtrace_id), retried with the queue's backoff.

use std::collections::HashSet;

use futures::StreamExt;

use maef_core::caption::{parse_caption, Currency};
use maef_instagram::{GraphError, StoryItem};
use serde_json::{json, Value};

use super::{
    db_error,
    fetch::{fetch, Fetched},
    Runtime,
};
use crate::jobs::{Completion, JobContext};

/// Stories of a page fetched and stored at the same time (each holds a connection and,
/// for an image, up to `MEDIA_MAX_IMAGE_BYTES` of memory).
const STORIES_AT_ONCE: usize = 4;

/// Pulls one account.
///
/// # Errors
/// The job's failure text.
pub async fn pull(rt: &Runtime, ctx: &JobContext, account_id: &str) -> Result<Completion, String> {
    let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
    let Some(row) = client
        .query_opt(
            "select status, token_sealed, token_key_id, \
             extract(epoch from greatest(throttled_until - now(), interval '0'))::float8 \
             from api.instagram_account_for_pull($1)",
            &[&account_id],
        )
        .await
        .map_err(|e| db_error("instagram_account_for_pull", &e))?
    else {
        tracing::info!(account_id, "account disconnected before its pull");
        return Ok(Completion::Batched);
    };
    let status: String = row.get(0);
    if status != "active" {
        tracing::info!(account_id, status, "account not active: pull skipped");
        return Ok(Completion::Batched);
    }
    let wait: Option<f64> = row.get(3);
    if let Some(wait) = wait.filter(|w| *w > 0.0) {
        return reschedule(ctx, &format!("account {account_id} is rate limited"), wait).await;
    }
    let sealed: Vec<u8> = row.get(1);
    let key_id: String = row.get(2);
    let token = match rt.open(account_id, &key_id, &sealed) {
        Ok(token) => token,
        Err(e) => return fail(ctx, account_id, e).await,
    };
    let currencies: Vec<(String, i32)> = client
        .query("select code, exponent from api.story_currencies()", &[])
        .await
        .map_err(|e| db_error("story_currencies", &e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    drop(client);

    let mut pull = Pull {
        rt,
        ctx,
        account_id,
        currencies,
        seen: 0,
        stored: 0,
        transient: Vec::new(),
    };
    let mut page = match rt.graph.stories(account_id, &token).await {
        Ok(page) => page,
        Err(e) => return pull.graph_failed(e).await,
    };
    loop {
        pull.page(&page.body.data).await?;
        let Some(next) = page.body.next().map(str::to_string) else {
            break;
        };
        if page.usage.over_threshold() {
            return pull
                .throttled(
                    &format!(
                        "usage at {} % of a Graph API quota (over 80 %)",
                        page.usage.percent
                    ),
                    page.usage.regain_minutes,
                )
                .await;
        }
        page = match rt.graph.next_page(&next).await {
            Ok(page) => page,
            Err(e) => return pull.graph_failed(e).await,
        };
    }
    pull.finish().await
}

/// A pull in progress.
struct Pull<'a> {
    rt: &'a Runtime,
    ctx: &'a JobContext,
    account_id: &'a str,
    currencies: Vec<(String, i32)>,
    /// Stories listed by Meta.
    seen: usize,
    /// Stories stored by this pull.
    stored: usize,
    /// Stories whose media could not be fetched this time.
    transient: Vec<String>,
}

impl Pull<'_> {
    async fn page(&mut self, items: &[StoryItem]) -> Result<(), String> {
        self.seen += items.len();
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        let known: HashSet<String> = {
            let client = self.ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
            client
                .query("select api.known_stories($1)", &[&ids])
                .await
                .map_err(|e| db_error("known_stories", &e))?
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        // A few stories at a time: a CDN's latency overlaps with decoding and writing
        // (each story is still its own transaction).
        let this: &Self = self;
        let mut tasks: Vec<futures::future::BoxFuture<'_, (String, Result<(), Transient>)>> = Vec::new();
        for item in items {
            if !known.contains(&item.id) {
                tasks.push(Box::pin(async move { (item.id.clone(), this.story(item).await) }));
            }
        }
        let outcomes: Vec<(String, Result<(), Transient>)> = futures::stream::iter(tasks)
            .buffer_unordered(STORIES_AT_ONCE)
            .collect()
            .await;
        for (id, outcome) in outcomes {
            match outcome {
                Ok(()) => self.stored += 1,
                Err(Transient(e)) => {
                    tracing::warn!(account_id = self.account_id, story = %id, error = %e, "story left for the next pull");
                    self.transient.push(format!("{id}: {e}"));
                }
            }
        }
        Ok(())
    }

    /// Fetches a story's media and saves it, in one transaction.
    async fn story(&self, item: &StoryItem) -> Result<(), Transient> {
        let currencies: Vec<Currency<'_>> = self
            .currencies
            .iter()
            .map(|(code, exponent)| Currency {
                code,
                exponent: (*exponent).max(0) as u32,
            })
            .collect();
        let caption = parse_caption(item.caption.as_deref().unwrap_or(""), &currencies);
        let caption = json!({
            "title": caption.title, "description": caption.description, "hashtags": caption.hashtags,
            "price": caption.price.map(|p| json!({"currency": p.currency, "amount": p.amount, "text": p.text})),
        });
        let is_video = item.media_type.as_deref() == Some("VIDEO");
        let name = format!("instagram-{}", item.id);
        // The poster (a video's thumbnail) first: an image, buffered before the
        // transaction opens.
        let poster = match (&item.thumbnail_url, is_video) {
            (Some(url), true) => Some(
                fetch(self.rt, url, &format!("{name}-poster"))
                    .await
                    .map_err(Transient)?,
            ),
            _ => None,
        };
        let (main, source) = match (&item.media_url, &item.thumbnail_url) {
            (Some(url), _) => (
                Some(fetch(self.rt, url, &name).await.map_err(Transient)?),
                "media_url",
            ),
            // Instagram omits media_url for media with licensed music: the thumbnail
            // is all there is to show.
            (None, Some(_)) if is_video => (None, "thumbnail_url"),
            _ => (None, "media_url"),
        };
        let mut client = self
            .ctx
            .pool
            .get()
            .await
            .map_err(|e| Transient(format!("database: {e}")))?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| Transient(db_error("begin", &e)))?;
        let (poster_asset, poster_refused) = match poster {
            Some(Fetched::Image(bytes, meta)) => (Some(store(&tx, &meta, &bytes).await?), None),
            Some(Fetched::Refused(reason)) => (None, Some(reason)),
            Some(Fetched::Video(_)) => (None, Some("the thumbnail is not an image".to_string())),
            None => (None, None),
        };
        let mut media = json!({"media_source": source});
        match main {
            Some(Fetched::Image(bytes, meta)) => {
                let asset = store(&tx, &meta, &bytes).await?;
                media["asset_id"] = asset.clone();
                media["poster_asset_id"] = poster_asset.unwrap_or(asset);
            }
            Some(Fetched::Video(video)) => {
                match video
                    .store(&tx, self.rt.limits.chunk_bytes, self.rt.config.download_timeout)
                    .await
                    .map_err(Transient)?
                {
                    Ok(asset) => {
                        media["asset_id"] = asset["asset_id"].clone();
                        media["poster_asset_id"] = poster_asset.unwrap_or(Value::Null);
                    }
                    Err(refused) => {
                        // The large object written so far goes with the rollback; the
                        // story is kept with the reason, in a transaction of its own.
                        tx.rollback()
                            .await
                            .map_err(|e| Transient(db_error("rollback", &e)))?;
                        return self.refused(item, &caption, source, refused).await;
                    }
                }
            }
            Some(Fetched::Refused(reason)) => {
                tx.rollback()
                    .await
                    .map_err(|e| Transient(db_error("rollback", &e)))?;
                return self.refused(item, &caption, source, reason).await;
            }
            None => match poster_asset {
                Some(asset) if source == "thumbnail_url" => {
                    media["asset_id"] = asset.clone();
                    media["poster_asset_id"] = asset;
                }
                _ => {
                    let reason = poster_refused
                        .unwrap_or_else(|| "Instagram gave neither media_url nor thumbnail_url".into());
                    tx.rollback()
                        .await
                        .map_err(|e| Transient(db_error("rollback", &e)))?;
                    return self.refused(item, &caption, source, reason).await;
                }
            },
        }
        save(&tx, self.account_id, item, &media, &caption).await?;
        tx.commit().await.map_err(|e| Transient(db_error("commit", &e)))?;
        Ok(())
    }

    /// Saves a story whose media was refused for good, with the reason.
    async fn refused(
        &self,
        item: &StoryItem,
        caption: &Value,
        source: &str,
        reason: String,
    ) -> Result<(), Transient> {
        tracing::warn!(account_id = self.account_id, story = %item.id, %reason, "story media refused");
        let client = self
            .ctx
            .pool
            .get()
            .await
            .map_err(|e| Transient(format!("database: {e}")))?;
        let media = json!({"media_source": source, "media_error": reason});
        client
            .query_one(
                "select api.save_instagram_story($1, $2, $3, $4)",
                &[&self.account_id, &item_json(item), &media, caption],
            )
            .await
            .map_err(|e| Transient(db_error("save_instagram_story", &e)))?;
        Ok(())
    }

    /// Records a complete pull; fails the job if some stories must be fetched again.
    async fn finish(self) -> Result<Completion, String> {
        let client = self.ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
        let stories = self.seen as i32;
        client
            .execute(
                "select api.instagram_pull_finished($1, $2)",
                &[&self.account_id, &stories],
            )
            .await
            .map_err(|e| db_error("instagram_pull_finished", &e))?;
        tracing::info!(
            account_id = self.account_id,
            seen = self.seen,
            stored = self.stored,
            "instagram pull done"
        );
        if self.transient.is_empty() {
            return Ok(Completion::Batched);
        }
        let error = format!(
            "{} of {} stories could not be fetched (retried): {}",
            self.transient.len(),
            self.seen,
            self.transient.join("; ")
        );
        fail(self.ctx, self.account_id, error).await
    }

    /// A Graph API error: throttling, a refused token, or a job error.
    async fn graph_failed(self, e: GraphError) -> Result<Completion, String> {
        if e.is_rate_limit() {
            return self.throttled(&e.to_string(), e.usage().regain_minutes).await;
        }
        if e.is_auth() {
            let client = self.ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
            client
                .execute(
                    "select api.instagram_needs_reauth($1, $2)",
                    &[&self.account_id, &e.to_string()],
                )
                .await
                .map_err(|e| db_error("instagram_needs_reauth", &e))?;
            return Err(format!(
                "{e}; account {} marked needs_reauth: an admin must connect it again",
                self.account_id
            ));
        }
        fail(self.ctx, self.account_id, e.to_string()).await
    }

    /// Stops the pull: the account waits, the job runs again after that.
    async fn throttled(self, reason: &str, regain_minutes: u32) -> Result<Completion, String> {
        let client = self.ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
        let regain = regain_minutes as i32;
        let wait: f64 = client
            .query_one(
                "select extract(epoch from api.instagram_pull_throttled($1, $2, $3))::float8",
                &[&self.account_id, &reason, &regain],
            )
            .await
            .map_err(|e| db_error("instagram_pull_throttled", &e))?
            .get(0);
        drop(client);
        tracing::warn!(
            account_id = self.account_id,
            reason,
            wait_secs = wait,
            stored = self.stored,
            "instagram pull throttled"
        );
        reschedule(
            self.ctx,
            &format!(
                "rate limited ({reason}); {} stories stored before stopping",
                self.stored
            ),
            wait,
        )
        .await
    }
}

/// A story to fetch again at the next pull.
struct Transient(String);

/// Stores an image's bytes as an asset; its id as JSON.
async fn store(
    tx: &deadpool_postgres::Transaction<'_>,
    meta: &Value,
    bytes: &[u8],
) -> Result<Value, Transient> {
    let asset: Value = tx
        .query_one("select api.ingest_media($1, $2)", &[meta, &bytes])
        .await
        .map_err(|e| Transient(db_error("ingest_media", &e)))?
        .get(0);
    Ok(asset["asset_id"].clone())
}

async fn save(
    tx: &deadpool_postgres::Transaction<'_>,
    account_id: &str,
    item: &StoryItem,
    media: &Value,
    caption: &Value,
) -> Result<(), Transient> {
    tx.query_one(
        "select api.save_instagram_story($1, $2, $3, $4)",
        &[&account_id, &item_json(item), media, caption],
    )
    .await
    .map_err(|e| Transient(db_error("save_instagram_story", &e)))?;
    Ok(())
}

/// The IG Media object as SQL reads it (media URLs left out: they expire, and carry
/// signatures).
fn item_json(item: &StoryItem) -> Value {
    json!({
        "id": item.id, "media_type": item.media_type, "media_product_type": item.media_product_type,
        "permalink": item.permalink, "timestamp": item.timestamp, "caption": item.caption,
    })
}

/// Records the failure on the account, and fails the job with it.
async fn fail(ctx: &JobContext, account_id: &str, error: String) -> Result<Completion, String> {
    if let Ok(client) = ctx.pool.get().await {
        let _ = client
            .execute("select api.instagram_pull_failed($1, $2)", &[&account_id, &error])
            .await;
    }
    Err(error)
}

/// Fails this attempt with `error` and schedules the next one in `wait_secs`.
async fn reschedule(ctx: &JobContext, error: &str, wait_secs: f64) -> Result<Completion, String> {
    let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
    let held: bool = client
        .query_one(
            "select api.fail_job($1, $2, $3, make_interval(secs => $4))",
            &[&ctx.id, &ctx.attempt, &error, &wait_secs.max(1.0)],
        )
        .await
        .map_err(|e| db_error("fail_job", &e))?
        .get(0);
    if held {
        Ok(Completion::RetryScheduled)
    } else {
        Err("lease lost before the retry was scheduled".into())
    }
}
